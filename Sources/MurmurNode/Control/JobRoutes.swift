import Foundation
import MurmurCore
import MurmurCrypto
import MurmurInference
import MurmurJobs
import MurmurWire

/// Job and model routes of the control endpoint, in the shapes of Specs/api.md (branch `store`)
/// so that moving them onto MurmurHTTP/MurmurAPI is mechanical:
///
/// | method, path | answer |
/// |---|---|
/// | `POST /v1/models` `{"path": FILE, "name": NAME?}` | the node loads FILE with its engine (422 with the reason if it cannot run it), stores it under `models/<hash>`, signs and gossips a `ModelManifest`, announces it; `201 {"model_hash", "name", "size", "chunks"}` |
/// | `GET /v1/models` | `{"models": [{"model_hash", "name", "size", "held"}]}` |
/// | `POST /v1/jobs` `{"model", "input", "redundancy", "quorum", "deadline_ms"}` | `202 {"job_id", …}` |
/// | `GET /v1/jobs/ID[?wait=S]` | state, output, attestations (Specs/api.md) |
/// | `GET /v1/reputation` | `{"excluded": [node ids]}`: proven liars this node no longer ranks |
public enum JobRoutes {
    public static func deferredHandler(jobs: JobsService) -> (ControlRequest, @escaping (ControlResponse) -> Void) -> TimeSpan? {
        return { [unowned jobs] request, respond in
            switch (request.method, request.path) {
            case ("POST", "/v1/models"):
                publish(request, jobs: jobs, respond: respond)
                return .seconds(Int64(120))
            case ("GET", "/v1/models"):
                respond(models(jobs))
                return .zero
            case ("GET", "/v1/reputation"):
                let ids = jobs.jobs.excluded.map(\.hex).sorted().map { "\"\($0)\"" }
                respond(.json("{\"excluded\":[\(ids.joined(separator: ","))]}"))
                return .zero
            case ("POST", "/v1/jobs"):
                respond(submit(request, jobs: jobs))
                return .zero
            case ("GET", let path) where path.hasPrefix("/v1/jobs/"):
                return getJob(String(path.dropFirst("/v1/jobs/".count)), query: request.query, jobs: jobs, respond: respond)
            default:
                return nil
            }
        }
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> ControlResponse {
        .json("{\"error\":{\"code\":\(quote(code)),\"message\":\(quote(message))}}", status: status)
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

    static func object(_ body: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    // MARK: models

    static func publish(_ request: ControlRequest, jobs: JobsService, respond: @escaping (ControlResponse) -> Void) {
        guard let o = object(request.body), let path = o["path"] as? String, !path.isEmpty else {
            respond(error(400, "invalid_request", "body must be {\"path\": \"/abs/model.onnx\", \"name\": \"optional\"}"))
            return
        }
        let name = o["name"] as? String
        jobs.publishModel(path: path, name: name) { result in
            switch result {
            case let .success(m):
                respond(.json("{\"model_hash\":\"\(m.body.modelHash.hex)\",\"name\":\(quote(m.body.name)),\"size\":\(m.body.size),\"chunks\":\(m.body.chunkHashes.count),\"manifest_id\":\"\(m.id.hex)\"}", status: 201))
            case let .failure(why):
                respond(error(422, "cannot_publish", why.description))
            }
        }
    }

    static func models(_ jobs: JobsService) -> ControlResponse {
        let rows = jobs.store.known.values.sorted { $0.body.name < $1.body.name }.map { m in
            "{\"model_hash\":\"\(m.body.modelHash.hex)\",\"name\":\(quote(m.body.name)),\"size\":\(m.body.size),\"held\":\(jobs.store.held[m.body.modelHash] != nil)}"
        }
        return .json("{\"models\":[\(rows.joined(separator: ","))]}")
    }

    // MARK: jobs

    static func submit(_ request: ControlRequest, jobs: JobsService) -> ControlResponse {
        guard let o = object(request.body) else { return error(400, "invalid_json", "body is not a JSON object") }
        for key in o.keys where !["model", "input", "redundancy", "quorum", "deadline_ms"].contains(key) {
            return error(400, "unknown_field", "unknown field \"\(key)\"")
        }
        guard let reference = o["model"] as? String else { return error(400, "invalid_model", "\"model\" (a hash or a name) is required") }
        guard let manifest = jobs.store.resolve(reference) else {
            return error(404, "unknown_model", "no manifest for model \"\(reference)\" is known to this node")
        }
        guard let input = o["input"] as? [String: Any] else { return error(400, "invalid_input", "\"input\" must be an object") }
        let r = (o["redundancy"] as? Int) ?? 3
        guard (1...15).contains(r) else { return error(400, "invalid_redundancy", "\"redundancy\" must be in 1…15, got \(r)") }
        let q = (o["quorum"] as? Int) ?? (r / 2 + 1)
        guard (1...r).contains(q) else { return error(400, "invalid_quorum", "\"quorum\" must be in 1…\(r), got \(q)") }
        let deadlineMs = (o["deadline_ms"] as? Int) ?? 30_000
        guard (1000...3_600_000).contains(deadlineMs) else {
            return error(400, "invalid_deadline_ms", "\"deadline_ms\" must be in 1000…3600000, got \(deadlineMs)")
        }
        // The manifest's declared element types apply where the client gave none (this node
        // may not have the model loaded, or not hold it at all).
        var typed = input
        for spec in manifest.body.inputs where spec.dtype != .float16 {
            if var object = typed[spec.name] as? [String: Any] {
                if object["dtype"] == nil { object["dtype"] = spec.dtype.description; typed[spec.name] = object }
            } else if let value = typed[spec.name] {
                typed[spec.name] = ["data": value, "dtype": spec.dtype.description] as [String: Any]
            }
        }
        let inputBytes: [UInt8]
        do {
            let raw = try JSONSerialization.data(withJSONObject: typed)
            let declared = jobs.loadedModels.get(manifest.body.modelHash)?.inputs ?? []
            let tensors = try InputJSON.parse(Array(raw), for: declared)
            inputBytes = canonicalInput(tensors)
        } catch {
            return JobRoutes.error(422, "invalid_input", "\(error)")
        }
        guard inputBytes.count <= Limits.maxInlineInputBytes else {
            return error(413, "input_too_large", "inputs over \(Limits.maxInlineInputBytes) bytes (canonical form) are not supported yet")
        }
        let now = JobsService.wallNow().unixMs
        var nonce = [UInt8](repeating: 0, count: 16)
        for i in nonce.indices { nonce[i] = UInt8.random(in: 0...255) }
        let job = Job(modelHash: manifest.body.modelHash, input: inputBytes, redundancy: UInt8(r), quorum: UInt8(q),
                      deadline: now + Int64(deadlineMs), nonce: nonce)
        let record: SignedRecord
        do {
            record = try SignedRecord.sign(job, by: jobs.identity, issuedAt: now,
                                           expiresAt: now + Int64(deadlineMs) + 600_000)
        } catch {
            return JobRoutes.error(500, "internal", "cannot sign the job: \(error)")
        }
        jobs.node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: record.encoded))
        let id = record.id.hex
        return .json("{\"job_id\":\"\(id)\",\"model_hash\":\"\(manifest.body.modelHash.hex)\",\"input_hash\":\"\(job.inputHash.hex)\",\"deadline\":\(job.deadline),\"status_url\":\"/v1/jobs/\(id)\"}", status: 202)
    }

    /// The job input bytes: the inputs as compact JSON in the `murmur infer` form, names sorted,
    /// floats as the shortest text that reads back to the same value (so equal tensors give
    /// equal bytes and one input hash).
    public static func canonicalInput(_ tensors: [String: Tensor]) -> [UInt8] {
        let parts = tensors.sorted(by: { $0.key < $1.key }).map { name, t -> String in
            let values = OutputJSON.values(t).replacingOccurrences(of: " ", with: "")
            return "\(quote(name)):{\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"dtype\":\"\(t.dtype.name)\",\"data\":[\(values)]}"
        }
        return Array("{\(parts.joined(separator: ","))}".utf8)
    }

    static func getJob(_ idText: String, query: [String: String], jobs: JobsService, respond: @escaping (ControlResponse) -> Void) -> TimeSpan {
        guard idText.count == 64, let value = Bytes32(hex: idText.lowercased()) else {
            respond(error(400, "invalid_job_id", "a job id is 64 hex digits"))
            return .zero
        }
        var wait = 0.0
        if let w = query["wait"] {
            guard let s = Double(w), s >= 0, s <= 60 else { respond(error(400, "invalid_wait", "wait must be 0…60 seconds")); return .zero }
            wait = s
        }
        let id = Hash(value)
        jobs.refreshNow(id)
        guard jobs.state(of: id) != nil else { respond(error(404, "not_found", "no job \(idText) on this node")); return .zero }
        if wait > 0 {
            let until = jobs.node.loop.now + .seconds(wait)
            jobs.whenFinal(id, until: until) { jobs in
                jobs.refreshNow(id)
                respond(.json(view(id, jobs: jobs)))
            }
            return .seconds(wait)
        }
        respond(.json(view(id, jobs: jobs)))
        return .zero
    }

    /// The job view of Specs/api.md.
    public static func view(_ id: Hash, jobs: JobsService) -> String {
        let state = jobs.state(of: id) ?? .pending
        var f: [String] = ["\"job_id\":\"\(id.hex)\"", "\"state\":\"\(state.name)\""]
        if case let .failed(why) = state { f.append("\"reason\":\(quote(why.description))") } else { f.append("\"reason\":null") }
        if let j = jobs.jobRecords[id] {
            f.append("\"job\":{\"record\":\"\(Hex.encode(j.envelope.encoded))\",\"client\":\"\(j.author.hex)\",\"model_hash\":\"\(j.body.modelHash.hex)\",\"input_hash\":\"\(j.body.inputHash.hex)\",\"input_size\":\(j.body.inputSize),\"redundancy\":\(j.body.redundancy),\"quorum\":\(j.body.quorum),\"deadline\":\(j.body.deadline),\"issued_at\":\(j.issuedAt),\"expires_at\":\(j.expiresAt)}")
        } else {
            f.append("\"job\":null")
        }
        var attestations = jobs.jobs.attestations(of: id)
        if case let .verified(result) = state {
            attestations = result.attestations
            f.append("\"output_hash\":\"\(result.outputHash.hex)\"")
            if let bytes = jobs.output(result.outputHash) {
                f.append("\"output_bytes\":\"\(Hex.encode(bytes))\"")
                f.append("\"output\":\(OutputDecoding.json(bytes) ?? "null")")
            } else {
                f.append("\"output_bytes\":null,\"output\":null")
            }
            f.append("\"disputed\":\(result.disputed)")
            f.append("\"executors\":[\(result.attesters.map { "\"\($0.hex)\"" }.joined(separator: ","))]")
        } else {
            f.append("\"output_hash\":null,\"output_bytes\":null,\"output\":null,\"disputed\":false,\"executors\":[]")
        }
        let rows = attestations.map { a in
            "{\"record\":\"\(Hex.encode(a.envelope.encoded))\",\"id\":\"\(a.id.hex)\",\"executor\":\"\(a.author.hex)\",\"job_id\":\"\(a.body.jobID.hex)\",\"model_hash\":\"\(a.body.modelHash.hex)\",\"input_hash\":\"\(a.body.inputHash.hex)\",\"output_hash\":\"\(a.body.outputHash.hex)\",\"output_size\":\(a.body.outputSize),\"engine_version\":\(quote(a.body.engineVersion)),\"elapsed_us\":\(a.body.elapsedMicros),\"stage\":\(a.body.stage),\"issued_at\":\(a.issuedAt),\"expires_at\":\(a.expiresAt)}"
        }
        f.append("\"attestations\":[\(rows.joined(separator: ","))]")
        // Not in Specs/api.md yet: the executor set this node sees now (demo, debugging).
        f.append("\"assigned\":[\(jobs.jobs.executors(of: id, now: JobsService.wallNow()).map { "\"\($0.hex)\"" }.joined(separator: ","))]")
        return "{\(f.joined(separator: ","))}"
    }
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
