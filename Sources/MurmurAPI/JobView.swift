import MurmurCore
import MurmurHTTP
import MurmurJobs
import MurmurStore
import MurmurWire

/// `GET /v1/jobs/{id}`: the job's state as this node sees it, with everything a client needs to
/// check a verified result without trusting the node (Specs/api.md, "Checking a result"): the
/// signed job record and the signed attestation records (hex of their exact bytes), the output
/// bytes whose BLAKE2b-256 is the attested output hash, and the decoded fields for convenience.
public enum JobView {
    /// Parses the `{id}` path parameter (64 hex digits).
    public static func jobID(_ text: String) throws(APIError) -> Hash {
        guard text.utf8.count == 64, let h = Hash(hex: text) else {
            throw .badRequest("invalid_job_id", "job id must be 64 hex digits (the job_id returned by POST /v1/jobs)")
        }
        return h
    }

    /// `?wait=SECONDS` (a number in 0…`Limits.maxAPIWaitSeconds`): how long to park the
    /// request until the job is final. Nil when absent; 400 on anything else.
    public static func waitSeconds(_ query: String) throws(APIError) -> Double? {
        let params: [String: String]
        do throws(QueryString.Failure) {
            params = try QueryString.parse(query)
        } catch {
            throw .badRequest("invalid_query", "\(error)")
        }
        if let unknown = params.keys.filter({ $0 != "wait" }).sorted().first {
            throw .badRequest("invalid_query", "unknown query parameter \(unknown.prefix(32)); only wait=SECONDS is supported")
        }
        guard let text = params["wait"] else { return nil }
        // Any decimal or exponent form of a number in range ("2", "2.5", "1e-3").
        guard text.utf8.count <= 32, let s = Double(text), s.isFinite, s >= 0, s <= Double(Limits.maxAPIWaitSeconds) else {
            throw .badRequest("invalid_wait", "wait must be a number of seconds in 0…\(Limits.maxAPIWaitSeconds)")
        }
        return s
    }

    /// The response body. `job` is the signed job record if this node has it; `state` its state
    /// (nil: known only by id, e.g. claims arrived first → `pending`); `known` every attestation
    /// the node holds (shown while undecided); `output` the canonical output bytes if the node
    /// has them (otherwise taken from an inline attestation output when one matches).
    public static func json(jobID: Hash, job: Signed<Job>?, state: JobState?, known: [Signed<Attestation>] = [],
                            output: [UInt8]? = nil) -> JSONValue {
        switch state {
        case let .verified(result)?:
            return build(jobID: jobID, job: job, state: "verified", reason: nil, failure: .null, outputHash: result.outputHash,
                         disputed: result.disputed, attestations: result.attestations, output: output)
        case let .failed(failure)?:
            return build(jobID: jobID, job: job, state: "failed", reason: failure.description, failure: failureJSON(failure),
                         outputHash: nil, disputed: false, attestations: known, output: nil)
        default:
            return build(jobID: jobID, job: job, state: state?.name ?? "pending", reason: nil, failure: .null, outputHash: nil,
                         disputed: false, attestations: known, output: nil)
        }
    }

    public static func response(jobID: Hash, job: Signed<Job>?, state: JobState?, known: [Signed<Attestation>] = [],
                                output: [UInt8]? = nil) -> HTTPResponse {
        .json(.ok, json(jobID: jobID, job: job, state: state, known: known, output: output))
    }

    /// The same body from the store, for jobs the state machine no longer tracks (evicted, or
    /// after a restart: a replayed job past its deadline would otherwise read `seenAfterDeadline`).
    /// `attestations`: the records named by `stored.attestationIDs`, in that order.
    public static func json(stored: StoredJob, job: Signed<Job>?, attestations: [Signed<Attestation>], output: [UInt8]?) -> JSONValue {
        let failure = stored.failure.flatMap { try? JSONParser.parse(Array($0.utf8)) } ?? .null
        return build(jobID: stored.id, job: job, state: stored.state, reason: stored.reason, failure: failure,
                     outputHash: stored.state == "verified" ? stored.outputHash : nil, disputed: stored.disputed,
                     attestations: attestations, output: output)
    }

    /// Looks the job up in the store (job record, the result's attestation records, the output
    /// blob) and builds the body; nil if the store has no state for it.
    public static func json(from store: NodeStore, jobID: Hash) throws(StoreError) -> JSONValue? {
        guard let stored = try store.job(id: jobID) else { return nil }
        let job = try store.record(id: jobID).flatMap { try? Signed<Job>($0) }
        var attestations: [Signed<Attestation>] = []
        for id in stored.attestationIDs {
            if let a = try store.record(id: id).flatMap({ try? Signed<Attestation>($0) }) { attestations.append(a) }
        }
        let output = try stored.outputHash.flatMap { h throws(StoreError) in try store.blob(hash: h) }
        return json(stored: stored, job: job, attestations: attestations, output: output)
    }

    static func build(jobID: Hash, job: Signed<Job>?, state: String, reason: String?, failure: JSONValue, outputHash: Hash?,
                      disputed: Bool, attestations: [Signed<Attestation>], output: [UInt8]?) -> JSONValue {
        var o: [String: JSONValue] = [
            "job_id": .string(jobID.hex),
            "state": .string(state),
            "reason": .optional(reason),
            "failure": failure,
            "output_hash": .null,
            "output": .null,
            "output_bytes": .null,
            "disputed": .bool(disputed),
            "executors": [],
            "attestations": .array(attestations.map(attestationJSON)),
        ]
        if let job {
            o["job"] = .object([
                "record": .string(hex(job.envelope.encoded)),
                "client": .string(job.author.hex),
                "model_hash": .string(job.body.modelHash.hex),
                "input_hash": .string(job.body.inputHash.hex),
                "input_size": .int(job.body.inputSize),
                "redundancy": .int(Int64(job.body.redundancy)),
                "quorum": .int(Int64(job.body.quorum)),
                "deadline": .int(job.body.deadline),
                "issued_at": .int(job.issuedAt),
                "expires_at": .int(job.expiresAt),
            ])
        } else {
            o["job"] = .null
        }
        if let outputHash {
            o["output_hash"] = .string(outputHash.hex)
            o["executors"] = .array(attestations.map { .string($0.author.hex) })
            let bytes = output.flatMap { Hash.of($0) == outputHash ? $0 : nil }
                ?? attestations.lazy.compactMap(\.body.inlineOutput).first { Hash.of($0) == outputHash }
            if let bytes {
                o["output_bytes"] = .string(hex(bytes))
                o["output"] = OutputTensors.json(bytes) ?? .null
            }
        }
        return .object(o)
    }

    /// Lower-case hex of record and output bytes (`Hex.encode`, written in place: a job view
    /// carries several KiB of them).
    static func hex(_ bytes: [UInt8]) -> String {
        guard !bytes.isEmpty else { return "" }
        @inline(__always) func digit(_ d: UInt8) -> UInt8 { d < 10 ? 0x30 + d : 0x57 + d }
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            bytes.withUnsafeBufferPointer { src in
                for (i, b) in src.enumerated() {
                    out[2 * i] = digit(b >> 4)
                    out[2 * i + 1] = digit(b & 0x0F)
                }
            }
            return bytes.count * 2
        }
    }

    public static func failureJSON(_ f: JobFailure) -> JSONValue {
        switch f {
        case .noExecutors: return ["code": "no_executors"]
        case let .notEnoughAttestations(a, n): return ["code": "not_enough_attestations", "agreeing": .int(a), "needed": .int(n)]
        case let .disputeUnresolved(b, n): return ["code": "dispute_unresolved", "best": .int(b), "needed": .int(n)]
        case .seenAfterDeadline: return ["code": "seen_after_deadline"]
        }
    }

    public static func attestationJSON(_ a: Signed<Attestation>) -> JSONValue {
        [
            "record": .string(hex(a.envelope.encoded)),
            "id": .string(a.id.hex),
            "executor": .string(a.author.hex),
            "job_id": .string(a.body.jobID.hex),
            "model_hash": .string(a.body.modelHash.hex),
            "input_hash": .string(a.body.inputHash.hex),
            "output_hash": .string(a.body.outputHash.hex),
            "output_size": .int(a.body.outputSize),
            "engine_version": .string(a.body.engineVersion),
            "elapsed_us": .int(a.body.elapsedMicros),
            "stage": .int(Int64(a.body.stage)),
            "issued_at": .int(a.issuedAt),
            "expires_at": .int(a.expiresAt),
        ]
    }
}

/// Decodes the canonical output encoding (`murmur-outputs-v1`, Specs/inference.md "Output
/// hash") into the `murmur infer --json` tensor form `{name: {"shape", "dtype", "data"}}`.
/// Bounded by the input length; nil on any malformed byte string.
public enum OutputTensors {
    static let domain = Array("murmur-outputs-v1".utf8)

    public static func json(_ bytes: [UInt8]) -> JSONValue? {
        var r = ByteReader(bytes)
        do throws(DecodeError) {
            guard try r.raw(domain.count) == domain else { return nil }
            let count = try r.count32(field: "outputs", max: 4096)
            var out: [String: JSONValue] = [:]
            for _ in 0..<count {
                let nameBytes = try r.bytes32(field: "output name", max: 4096)
                guard let name = String(validating: nameBytes, as: UTF8.self) else { return nil }
                let dtype = try r.u8()
                let rank = try r.count32(field: "rank", max: 16)
                var shape: [Int] = []
                var elements = 1
                for _ in 0..<rank {
                    let d = try r.u64()
                    guard d <= UInt64(bytes.count) else { return nil }
                    shape.append(Int(d))
                    let (p, o) = elements.multipliedReportingOverflow(by: Int(d))
                    guard !o, p <= bytes.count else { return nil }
                    elements = p
                }
                let (name_, width): (String, Int)
                switch dtype {
                case 1: (name_, width) = ("float32", 4)
                case 2: (name_, width) = ("uint8", 1)
                case 3: (name_, width) = ("int8", 1)
                case 6: (name_, width) = ("int32", 4)
                case 7: (name_, width) = ("int64", 8)
                case 9: (name_, width) = ("bool", 1)
                case 11: (name_, width) = ("float64", 8)
                default: return nil
                }
                let raw = try r.raw(elements * width)
                var data: [JSONValue] = []
                data.reserveCapacity(elements)
                for i in 0..<elements {
                    var u: UInt64 = 0
                    for b in 0..<width { u |= UInt64(raw[i * width + b]) << (8 * UInt64(b)) }  // little-endian
                    switch dtype {
                    case 1: data.append(float(Float(bitPattern: UInt32(truncatingIfNeeded: u))))
                    case 11: data.append(double(Double(bitPattern: u)))
                    case 2: data.append(.int(Int64(u)))
                    case 3: data.append(.int(Int64(Int8(truncatingIfNeeded: u))))
                    case 6: data.append(.int(Int64(Int32(truncatingIfNeeded: u))))
                    case 7: data.append(.int(Int64(bitPattern: u)))
                    default: data.append(.bool(u != 0))
                    }
                }
                out[name] = ["shape": .array(shape.map { .int($0) }), "dtype": .string(name_), "data": .array(data)]
            }
            try r.expectEnd("outputs")
            return .object(out)
        } catch {
            return nil
        }
    }

    /// Floats as the shortest decimal that reads back (via binary64, as the input reader does)
    /// to the same float32; non-finite values as the strings "NaN", "Infinity", "-Infinity".
    static func float(_ f: Float) -> JSONValue {
        if f.isNaN { return "NaN" }
        if f.isInfinite { return f > 0 ? "Infinity" : "-Infinity" }
        return .double(Double(f.description) ?? Double(f))
    }

    static func double(_ d: Double) -> JSONValue {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
        return .double(d)
    }
}

extension StoredJob {
    /// What the node persists on `JobsEffect.stateChanged` (API name, reason and failure JSON,
    /// output hash, the agreeing attestations' record ids in rank order).
    public init(jobID: Hash, state: JobState, updatedAt: Int64) {
        switch state {
        case let .verified(r):
            self.init(id: jobID, state: "verified", updatedAt: updatedAt, outputHash: r.outputHash, disputed: r.disputed,
                      attestationIDs: r.attestations.map(\.id))
        case let .failed(f):
            self.init(id: jobID, state: "failed", reason: f.description, failure: JobView.failureJSON(f).text, updatedAt: updatedAt)
        default:
            self.init(id: jobID, state: state.name, updatedAt: updatedAt)
        }
    }
}
