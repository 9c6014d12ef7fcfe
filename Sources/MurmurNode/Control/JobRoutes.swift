#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MurmurAPI
import MurmurCore
import MurmurCrypto
import MurmurHTTP
import MurmurInference
import MurmurJobs
import MurmurWire

/// The job and model routes of the node's API (Specs/api.md) over `JobsService`:
/// `POST /v1/jobs`, `GET /v1/jobs/{id}[?wait=S]`, `GET /v1/models`, `POST /v1/models`,
/// `GET /v1/reputation`. Request validation and the JSON shapes come from MurmurAPI
/// (`JobSubmission`, `JobView`, `APIViews`); this file joins them to the node's state.
public enum JobRoutes {
    // MARK: jobs

    /// `POST /v1/jobs`: validates, converts the input against the model's declared inputs,
    /// signs the `Job` record as this node, hands it to gossip (which stores and spreads it and
    /// delivers it to the jobs machine), answers 202.
    public static func submit(_ request: HTTPRequest, jobs: JobsService) throws(APIError) -> HTTPResponse {
        let submission = try JobSubmission.parse(request)
        let manifest = try submission.model.resolve(in: Array(jobs.store.known.values))
        // The manifest's declared element types apply where the client gave none (this node
        // may not have the model loaded, or not hold it at all).
        var typed = submission.input.objectValue ?? [:]
        for spec in manifest.body.inputs where spec.dtype != .float16 {
            if case var .object(form)? = typed[spec.name] {
                if form["dtype"] == nil { form["dtype"] = .string(spec.dtype.description); typed[spec.name] = .object(form) }
            } else if let value = typed[spec.name] {
                typed[spec.name] = .object(["data": value, "dtype": .string(spec.dtype.description)])
            }
        }
        let inputBytes: [UInt8]
        do {
            let declared = jobs.loadedModels.get(manifest.body.modelHash)?.inputs ?? []
            let tensors = try directFloat32Tensors(typed)
                ?? InputJSON.parse(JSONValue.object(typed).serialized(), for: declared)
            inputBytes = canonicalInput(tensors)
        } catch {
            throw .unprocessable("invalid_input", "\(error)")
        }
        guard UInt64(inputBytes.count) <= Limits.maxJobInputBytes else {
            throw APIError(.payloadTooLarge, "input_too_large",
                           "the input is \(inputBytes.count) bytes in canonical form; a job input may be at most \(Limits.maxJobInputBytes)")
        }
        let now = JobsService.wallNow().unixMs
        // Two draws of the system generator (one getrandom each), not one per byte.
        var rng = SystemRandomNumberGenerator()
        var nonce: [UInt8] = []
        nonce.reserveCapacity(16)
        for _ in 0..<2 { withUnsafeBytes(of: rng.next()) { nonce.append(contentsOf: $0) } }
        let job: Job
        var offered: [UInt8]? = nil
        if inputBytes.count <= Limits.maxInlineInputBytes {
            job = Job(modelHash: manifest.body.modelHash, input: inputBytes, redundancy: submission.redundancy,
                      quorum: submission.quorum, deadline: now + submission.deadlineMs, nonce: nonce)
        } else {
            // Too large to ride in the record: the record names it by hash and size, and the
            // executors fetch it from this node (Specs/node-jobs.md §7).
            job = Job(modelHash: manifest.body.modelHash, inputHash: Hash.of(inputBytes), inputSize: UInt64(inputBytes.count),
                      inlineInput: nil, redundancy: submission.redundancy, quorum: submission.quorum,
                      deadline: now + submission.deadlineMs, nonce: nonce)
            offered = inputBytes
        }
        let signed: Signed<Job>
        do {
            let record = try SignedRecord.sign(job, by: jobs.identity, issuedAt: now, expiresAt: now + submission.deadlineMs + 600_000)
            signed = try Signed<Job>(record)
        } catch {
            throw APIError(.internalServerError, "internal", "cannot sign the job: \(error)")
        }
        do {
            try jobs.submitDurably(signed.envelope, offeredInput: offered)
        } catch {
            // Not durable, so not accepted: nothing was published.
            throw APIError(.serviceUnavailable, "store_unavailable", "the job could not be stored: \(error)")
        }
        return JobSubmission.accepted(signed)
    }

    /// The client's float32 inputs taken straight from the parsed request, skipping the general
    /// reader (Foundation JSON, the largest per-job cost of the entry node), when that gives
    /// exactly its tensors: every input `{"data": [flat numbers], "dtype": "float32"[, "shape":
    /// [ints]]}` and every number a float32 value (a double equal to its float32 rounding, or an
    /// integer of magnitude ≤ 2²⁴), so that no reading of the decimal text can round elsewhere.
    /// Anything else (other dtypes, nested data, strings, a mismatched shape): nil, and the general
    /// reader decides (and words the error).
    static func directFloat32Tensors(_ typed: [String: JSONValue]) -> [String: Tensor]? {
        var out: [String: Tensor] = [:]
        for (name, value) in typed {
            guard case let .object(form) = value, form["dtype"] == .string("float32"),
                  case let .array(items)? = form["data"], items.count <= Limits.maxTensorElements else { return nil }
            for key in form.keys where key != "data" && key != "dtype" && key != "shape" { return nil }
            var values: [Float] = []
            values.reserveCapacity(items.count)
            for item in items {
                switch item {
                case let .double(d):
                    let f = Float(d)
                    guard d.isFinite, Double(f) == d else { return nil }
                    values.append(f)
                case let .int(i):
                    guard i >= -(1 << 24), i <= 1 << 24 else { return nil }
                    values.append(Float(i))
                default:
                    return nil
                }
            }
            var shape = [items.count]
            if let declared = form["shape"] {
                guard case let .array(dims) = declared, dims.count <= Limits.maxTensorRank else { return nil }
                shape = []
                var n = 1
                for dim in dims {
                    guard case let .int(v) = dim, v >= 0, v <= Int64(Limits.maxTensorElements) else { return nil }
                    let (m, overflow) = n.multipliedReportingOverflow(by: Int(v))
                    guard !overflow else { return nil }
                    n = m
                    shape.append(Int(v))
                }
                guard n == items.count else { return nil }
            }
            guard let tensor = try? Tensor.checked(shape: shape, storage: .float32(values)) else { return nil }
            out[name] = tensor
        }
        return out
    }

    /// The job input bytes: the inputs as compact JSON in the `murmur infer` form, names sorted,
    /// floats as the shortest text that reads back to the same value (so equal tensors give
    /// equal bytes and one input hash).
    public static func canonicalInput(_ tensors: [String: Tensor]) -> [UInt8] {
        // Written byte by byte (the same bytes as joining `OutputJSON.values` and removing its
        // spaces, which cost the entry node more than the rest of the route).
        var out: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        for (name, t) in tensors.sorted(by: { $0.key < $1.key }) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: quote(name).utf8)
            out.append(contentsOf: #":{"shape":["#.utf8)
            for (k, d) in t.shape.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: String(d).utf8)
            }
            out.append(contentsOf: #"],"dtype":""#.utf8)
            out.append(contentsOf: t.dtype.name.utf8)
            out.append(contentsOf: #"","data":["#.utf8)
            switch t.storage {
            case let .float32(a): appendFloats(a, to: &out)
            case let .float64(a): appendFloats(a, to: &out)
            case let .int64(a): appendIntegers(a, to: &out)
            case let .int32(a): appendIntegers(a, to: &out)
            case let .int8(a): appendIntegers(a, to: &out)
            case let .uint8(a): appendIntegers(a, to: &out)
            case let .bool(a):
                for (k, v) in a.enumerated() {
                    if k > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: (v ? "true" : "false").utf8)
                }
            }
            out.append(contentsOf: "]}".utf8)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Shortest round-trip text; NaN and infinities as the strings `OutputJSON` writes.
    private static func appendFloats<T: BinaryFloatingPoint & LosslessStringConvertible>(_ values: [T], to out: inout [UInt8]) {
        for (k, v) in values.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            if v.isNaN {
                out.append(contentsOf: #""NaN""#.utf8)
            } else if v.isInfinite {
                out.append(contentsOf: (v > 0 ? #""Infinity""# : #""-Infinity""#).utf8)
            } else {
                out.append(contentsOf: v.description.utf8)
            }
        }
    }

    private static func appendIntegers<T: BinaryInteger>(_ values: [T], to out: inout [UInt8]) {
        for (k, v) in values.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: String(v).utf8)
        }
    }

    /// `GET /v1/jobs/{id}[?wait=S]`: answers at once, or parks the exchange (never the loop)
    /// until the job is final or the wait is over.
    public static func getJob(_ exchange: APIExchange, idText: String, jobs: JobsService) throws(APIError) {
        let id = try JobView.jobID(idText)
        let wait = try JobView.waitSeconds(exchange.request.queryString) ?? 0
        jobs.refreshNow(id)
        guard jobs.state(of: id) != nil else { throw .notFound("no job \(id.hex) is known to this node") }
        guard wait > 0, jobs.state(of: id)?.isFinal != true else {
            exchange.respond(viewResponse(id, jobs: jobs))
            return
        }
        jobs.whenFinal(id, until: jobs.node.loop.now + .seconds(wait)) { jobs in
            guard exchange.isOpen else { return }
            jobs.refreshNow(id)
            exchange.respond(viewResponse(id, jobs: jobs))
        }
    }

    /// `view` as the response: its bytes written directly (`JobView.bytes`, the same bytes).
    public static func viewResponse(_ id: Hash, jobs: JobsService) -> HTTPResponse {
        let state = jobs.state(of: id)
        var output: [UInt8]? = nil
        if case let .verified(result)? = state { output = jobs.output(result.outputHash) }
        let body = JobView.bytes(jobID: id, job: jobs.jobRecords[id], state: state, known: jobs.jobs.attestations(of: id), output: output,
                                 assigned: jobs.jobs.executors(of: id, now: JobsService.wallNow()))
        return HTTPResponse(status: .ok, headers: HTTPHeaders([("Content-Type", "application/json")]), body: body)
    }

    /// The job view of Specs/api.md, plus `assigned`: the executors this node's ranking names now.
    public static func view(_ id: Hash, jobs: JobsService) -> JSONValue {
        let state = jobs.state(of: id)
        var output: [UInt8]? = nil
        if case let .verified(result)? = state { output = jobs.output(result.outputHash) }
        var body = JobView.json(jobID: id, job: jobs.jobRecords[id], state: state, known: jobs.jobs.attestations(of: id), output: output)
        if case var .object(o) = body {
            o["assigned"] = .array(jobs.jobs.executors(of: id, now: JobsService.wallNow()).map { .string($0.hex) })
            body = .object(o)
        }
        return body
    }

    // MARK: models

    /// `GET /v1/models`.
    public static func models(_ jobs: JobsService, holders: (Hash) -> Int) -> HTTPResponse {
        let listings = jobs.store.known.values.sorted { ($0.body.name, $0.body.modelHash.hex) < ($1.body.name, $1.body.modelHash.hex) }.map { m in
            let held = jobs.store.held[m.body.modelHash] != nil
            return ModelListing(manifest: m, chunksVerified: held ? m.body.chunkHashes.count : 0, held: held, holders: holders(m.body.modelHash))
        }
        return APIViews.models(listings)
    }

    /// `POST /v1/models` `{"path": "/abs/model.onnx", "name": "optional"}` (loopback clients
    /// only: it reads a file of the node's machine): the node loads it with its engine on a
    /// worker, stores it, signs and gossips the manifest; 201, or 422 with the reason.
    public static func publish(_ exchange: APIExchange, jobs: JobsService) throws(APIError) {
        guard exchange.clientIsLoopback else {
            throw APIError(.forbidden, "forbidden", "publishing reads a file on the node's machine: only loopback clients may do it")
        }
        let body: JSONValue
        do throws(JSONError) { body = try JSONParser.parse(exchange.request.body) } catch {
            throw .badRequest("invalid_json", "request body is not valid JSON: \(error)")
        }
        guard let o = body.objectValue, let path = o["path"]?.stringValue, !path.isEmpty else {
            throw .badRequest("invalid_request", "body must be {\"path\": \"/abs/model.onnx\", \"name\": \"optional\"}")
        }
        if let unknown = o.keys.filter({ $0 != "path" && $0 != "name" }).sorted().first {
            throw .badRequest("unknown_field", "unknown field \"\(unknown.prefix(64))\"; allowed: path, name")
        }
        var name: String? = nil
        if let n = o["name"], !n.isNull {
            guard let s = n.stringValue, !s.isEmpty, s.utf8.count <= Limits.maxModelNameBytes else {
                throw .badRequest("invalid_name", "\"name\" must be a string of 1…\(Limits.maxModelNameBytes) bytes")
            }
            name = s
        }
        guard path.hasPrefix("/"), path.utf8.count <= 4096, !path.utf8.contains(0) else {
            throw .badRequest("invalid_path", "\"path\" must be an absolute file path")
        }
        // Only a regular file of bounded size (never a FIFO or device that would hang a worker).
        var st = stat()
        guard stat(path, &st) == 0 else { throw .unprocessable("cannot_publish", "cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .unprocessable("cannot_publish", "\(path) is not a regular file") }
        guard st.st_size <= Limits.maxPublishedModelBytes else {
            throw .unprocessable("cannot_publish", "\(path) is larger than \(Limits.maxPublishedModelBytes) bytes")
        }
        jobs.publishModel(path: path, name: name) { result in
            switch result {
            case let .success(m):
                exchange.respond(.json(APIStatus.created, [
                    "model_hash": .string(m.body.modelHash.hex), "name": .string(m.body.name), "size": .int(m.body.size),
                    "chunks": .int(m.body.chunkHashes.count), "manifest_id": .string(m.id.hex),
                ]))
            case let .failure(why):
                exchange.respond(APIError.unprocessable("cannot_publish", why.description).response)
            }
        }
    }

    /// `GET /v1/reputation`: proven liars this node no longer ranks.
    public static func reputation(_ jobs: JobsService) -> HTTPResponse {
        .json(.ok, ["excluded": .array(jobs.jobs.excluded.map(\.hex).sorted().map { .string($0) })])
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out += c.value < 0x20 ? " " : String(c)
            }
        }
        return out + "\""
    }
}

enum APIStatus {
    static let created = HTTPStatus(201, "Created")
}

/// Decodes canonical output bytes (Specs/inference.md, "Output hash") into the API's
/// `{name: {"shape", "dtype", "data"}}` JSON.
public enum OutputDecoding {
    public static func json(_ bytes: [UInt8]) -> String? {
        var r = ByteReader(bytes)
        guard let domain = try? r.raw(OutputHash.domain.count), domain == OutputHash.domain,
              let count = try? r.u32(), count <= 4096 else { return nil }
        var parts: [String] = []
        for _ in 0..<count {
            guard let name = try? r.bytes32(field: "name", max: 4096), let dtype = try? r.u8(), let rank = try? r.u32(), rank <= 64 else { return nil }
            var shape: [Int] = []
            var n = 1
            for _ in 0..<rank {
                guard let d = try? r.u64(), d < 1 << 40 else { return nil }
                shape.append(Int(d)); n = n.multipliedReportingOverflow(by: Int(d)).partialValue
            }
            let width: Int
            let dname: String
            switch dtype {
            case 1: width = 4; dname = "float32"
            case 11: width = 8; dname = "float64"
            case 7: width = 8; dname = "int64"
            case 6: width = 4; dname = "int32"
            case 9: width = 1; dname = "bool"
            case 2: width = 1; dname = "uint8"
            case 3: width = 1; dname = "int8"
            default: return nil
            }
            guard n >= 0, n <= 1 << 26, let data = try? r.raw(n * width) else { return nil }
            var values: [String] = []
            values.reserveCapacity(n)
            for i in 0..<n {
                var u: UInt64 = 0
                for k in 0..<width { u |= UInt64(data[i * width + k]) << (8 * k) }
                switch dtype {
                case 1:
                    let v = Float(bitPattern: UInt32(truncatingIfNeeded: u))
                    values.append(v.isNaN ? "\"NaN\"" : v.isInfinite ? (v > 0 ? "\"Infinity\"" : "\"-Infinity\"") : v.description)
                case 11:
                    let v = Double(bitPattern: u)
                    values.append(v.isNaN ? "\"NaN\"" : v.isInfinite ? (v > 0 ? "\"Infinity\"" : "\"-Infinity\"") : v.description)
                case 7: values.append(String(Int64(bitPattern: u)))
                case 6: values.append(String(Int32(truncatingIfNeeded: u)))
                case 9: values.append(u != 0 ? "true" : "false")
                case 3: values.append(String(Int8(truncatingIfNeeded: u)))
                default: values.append(String(u))
                }
            }
            parts.append("\(JobRoutes.quote(String(decoding: name, as: UTF8.self))):{\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"dtype\":\"\(dname)\",\"data\":[\(values.joined(separator: ","))]}")
        }
        return "{\(parts.joined(separator: ","))}"
    }
}
