import MurmurCore
import MurmurHTTP
import MurmurJobs
import MurmurWire

/// The job view written straight into bytes: the same bytes as `JobView.json(…).serialized()`
/// (compact, keys sorted by their UTF-8 bytes), without building the value tree first. A view
/// carries several KiB of record hex, which the tree held as strings, scanned for escapes and
/// copied again; the entry node answers one per job (`GET /v1/jobs/ID?wait=`). Tested equal to
/// the tree's serialization for every state.
extension JobView {
    /// The body of `json(jobID:job:state:known:output:)`, plus `"assigned"` (node ids) when given,
    /// and the trailing newline `HTTPResponse.json` adds.
    public static func bytes(jobID: Hash, job: Signed<Job>?, state: JobState?, known: [Signed<Attestation>] = [],
                             output: [UInt8]? = nil, assigned: [NodeID]? = nil) -> [UInt8] {
        var o = RawObject()
        let outputHash: Hash?
        let attestations: [Signed<Attestation>]
        switch state {
        case let .verified(result)?:
            o.string("state", "verified"); o.raw("reason", JSONValue.null)
            o.raw("failure", JSONValue.null); o.raw("disputed", .bool(result.disputed))
            outputHash = result.outputHash; attestations = result.attestations
        case let .failed(failure)?:
            o.string("state", "failed"); o.string("reason", failure.description)
            o.raw("failure", failureJSON(failure)); o.raw("disputed", .bool(false))
            outputHash = nil; attestations = known
        default:
            o.string("state", state?.name ?? "pending"); o.raw("reason", JSONValue.null)
            o.raw("failure", JSONValue.null); o.raw("disputed", .bool(false))
            outputHash = nil; attestations = known
        }
        o.hex("job_id", jobID.bytes)
        var list: [UInt8] = [UInt8(ascii: "[")]
        for (i, a) in attestations.enumerated() {
            if i > 0 { list.append(UInt8(ascii: ",")) }
            list.append(contentsOf: attestationBytes(a))
        }
        list.append(UInt8(ascii: "]"))
        o.bytes("attestations", list)
        if let job {
            var j = RawObject()
            j.hex("record", job.envelope.encoded)
            j.hex("client", job.author.bytes)
            j.hex("model_hash", job.body.modelHash.bytes)
            j.hex("input_hash", job.body.inputHash.bytes)
            j.uint("input_size", job.body.inputSize)
            j.int("redundancy", Int64(job.body.redundancy))
            j.int("quorum", Int64(job.body.quorum))
            j.int("deadline", job.body.deadline)
            j.int("issued_at", job.issuedAt)
            j.int("expires_at", job.expiresAt)
            o.bytes("job", j.serialized())
        } else {
            o.raw("job", JSONValue.null)
        }
        o.raw("output_hash", JSONValue.null); o.raw("output", JSONValue.null); o.raw("output_bytes", JSONValue.null)
        o.bytes("executors", Array("[]".utf8))
        if let outputHash {
            o.hex("output_hash", outputHash.bytes)
            var executors: [UInt8] = [UInt8(ascii: "[")]
            for (i, a) in attestations.enumerated() {
                if i > 0 { executors.append(UInt8(ascii: ",")) }
                RawObject.appendHex(a.author.bytes, to: &executors)
            }
            executors.append(UInt8(ascii: "]"))
            o.bytes("executors", executors)
            let outputBytes = output.flatMap { Hash.of($0) == outputHash ? $0 : nil }
                ?? attestations.lazy.compactMap(\.body.inlineOutput).first { Hash.of($0) == outputHash }
            if let outputBytes {
                o.hex("output_bytes", outputBytes)
                o.raw("output", OutputTensors.json(outputBytes) ?? .null)
            }
        }
        if let assigned {
            var a: [UInt8] = [UInt8(ascii: "[")]
            for (i, n) in assigned.enumerated() {
                if i > 0 { a.append(UInt8(ascii: ",")) }
                RawObject.appendHex(n.bytes, to: &a)
            }
            a.append(UInt8(ascii: "]"))
            o.bytes("assigned", a)
        }
        var out = o.serialized()
        out.append(0x0A)
        return out
    }

    static func attestationBytes(_ a: Signed<Attestation>) -> [UInt8] {
        var o = RawObject()
        o.hex("record", a.envelope.encoded)
        o.hex("id", a.id.bytes)
        o.hex("executor", a.author.bytes)
        o.hex("job_id", a.body.jobID.bytes)
        o.hex("model_hash", a.body.modelHash.bytes)
        o.hex("input_hash", a.body.inputHash.bytes)
        o.hex("output_hash", a.body.outputHash.bytes)
        o.uint("output_size", a.body.outputSize)
        o.string("engine_version", a.body.engineVersion)
        o.uint("elapsed_us", a.body.elapsedMicros)
        o.int("stage", Int64(a.body.stage))
        o.int("issued_at", a.issuedAt)
        o.int("expires_at", a.expiresAt)
        return o.serialized()
    }
}

/// A JSON object of already-written member values; a later write of a key replaces the earlier
/// one. `serialized()` orders the keys as `JSONValue.write` does (by their UTF-8 bytes).
struct RawObject {
    private var members: [(key: String, value: [UInt8])] = []

    mutating func bytes(_ key: String, _ value: [UInt8]) {
        if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else { members.append((key, value)) }
    }
    mutating func raw(_ key: String, _ value: JSONValue) { bytes(key, value.serialized()) }
    mutating func string(_ key: String, _ value: String) { raw(key, .string(value)) }
    mutating func int(_ key: String, _ value: Int64) { bytes(key, Array(String(value).utf8)) }
    /// As `JSONValue.int(_: UInt64)`: a double beyond `Int64.max`.
    mutating func uint(_ key: String, _ value: UInt64) { raw(key, .int(value)) }
    /// A string of lower-case hex digits (never needs an escape).
    mutating func hex(_ key: String, _ value: [UInt8]) {
        var out: [UInt8] = []
        Self.appendHex(value, to: &out)
        bytes(key, out)
    }

    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.reserveCapacity(out.count + bytes.count * 2 + 2)
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            let hi = b >> 4, lo = b & 0x0F
            out.append(hi < 10 ? 0x30 + hi : 0x57 + hi)
            out.append(lo < 10 ? 0x30 + lo : 0x57 + lo)
        }
        out.append(UInt8(ascii: "\""))
    }

    func serialized() -> [UInt8] {
        let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(sorted.reduce(2) { $0 + $1.key.utf8.count + $1.value.count + 4 })
        for (i, m) in sorted.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: JSONValue.string(m.key).serialized())
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: m.value)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
