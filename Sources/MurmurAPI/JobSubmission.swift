import MurmurCore
import MurmurHTTP
import MurmurWire

/// How a submission names its model.
public enum ModelReference: Sendable, Equatable, CustomStringConvertible {
    case hash(Hash)
    case name(String)

    /// 64 hex digits name a model hash; anything else is a manifest name.
    public init(_ text: String) {
        if text.utf8.count == 64, let h = Hash(hex: text) { self = .hash(h) } else { self = .name(text) }
    }

    public var description: String {
        switch self {
        case let .hash(h): return h.hex
        case let .name(n): return n
        }
    }

    /// The manifest this reference names among those the node knows: by hash; by name the most
    /// recently issued manifest with that name (ties: lowest record id). 404 if none.
    public func resolve(in manifests: [Signed<ModelManifest>]) throws(APIError) -> Signed<ModelManifest> {
        let candidates: [Signed<ModelManifest>]
        switch self {
        case let .hash(h): candidates = manifests.filter { $0.body.modelHash == h }
        case let .name(n): candidates = manifests.filter { $0.body.name == n }
        }
        guard let best = candidates.max(by: { ($0.issuedAt, $1.id) < ($1.issuedAt, $0.id) }) else {
            throw APIError(.notFound, "unknown_model", "no model \(self) is known to this node: publish it (murmur publish) or check GET /v1/models")
        }
        return best
    }
}

/// A validated `POST /v1/jobs` body (Specs/api.md). Structure and ranges are checked here; the
/// node then checks the input against the model's declared inputs (422 `invalid_input`).
public struct JobSubmission: Sendable, Equatable {
    public var model: ModelReference
    /// The `input` object as sent (the `murmur infer` JSON format).
    public var input: JSONValue
    /// `input` re-serialized canonically: what the node hands to the input JSON reader
    /// (`InputJSON.parse(_:for:)` in MurmurInference). Numbers keep their exact values. Written
    /// when asked (the node's route reads float32 inputs from `input` directly, and writing
    /// hundreds of numbers as text per submission cost the entry node more than signing).
    public var inputJSON: [UInt8] { input.serialized() }
    public var redundancy: UInt8
    public var quorum: UInt8
    /// Relative deadline in milliseconds from acceptance.
    public var deadlineMs: Int64

    static let allowedKeys: Set<String> = ["model", "input", "redundancy", "quorum", "deadline_ms"]
    static let dtypes: Set<String> = ["float32", "float64", "int64", "int32", "int8", "uint8", "bool"]

    /// Parses and validates a request: content type, JSON, fields, ranges, input structure.
    public static func parse(_ request: HTTPRequest) throws(APIError) -> JobSubmission {
        if let type = request.headers["content-type"] {
            let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: " \t").lowercased() } ?? ""
            guard media == "application/json" else {
                throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the job as JSON with Content-Type: application/json (got \(type.prefix(60)))")
            }
        }
        return try parse(body: request.body)
    }

    public static func parse(body: [UInt8]) throws(APIError) -> JobSubmission {
        let json: JSONValue
        do throws(JSONError) {
            json = try JSONParser.parse(body)
        } catch {
            throw .badRequest("invalid_json", "request body is not valid JSON: \(error)")
        }
        guard let object = json.objectValue else {
            throw .badRequest("invalid_request", "request body must be a JSON object {\"model\": …, \"input\": {…}}")
        }
        if let unknown = object.keys.filter({ !allowedKeys.contains($0) }).sorted().first {
            throw .badRequest("unknown_field", "unknown field \"\(unknown.prefix(64))\"; allowed: model, input, redundancy, quorum, deadline_ms")
        }
        guard let modelText = object["model"]?.stringValue else {
            throw .badRequest("invalid_model", "\"model\" is required: a 64-hex-digit model hash or a model name")
        }
        guard !modelText.isEmpty, modelText.utf8.count <= Limits.maxModelNameBytes else {
            throw .badRequest("invalid_model", "\"model\" must be 1…\(Limits.maxModelNameBytes) bytes")
        }
        guard let input = object["input"] else {
            throw .badRequest("invalid_input", "\"input\" is required: {input name: {\"shape\", \"dtype\", \"data\"} or nested arrays}")
        }
        try validateInput(input)

        let r = try integer(object["redundancy"], name: "redundancy", default: 3, range: 1...Int64(Limits.maxRedundancy))
        let q = try integer(object["quorum"], name: "quorum", default: r / 2 + 1, range: 1...r)
        let deadline = try integer(object["deadline_ms"], name: "deadline_ms", default: Limits.defaultAPIJobDeadlineMs,
                                   range: Limits.minAPIJobDeadlineMs...Limits.maxJobDurationMs)
        return JobSubmission(model: ModelReference(modelText), input: input,
                             redundancy: UInt8(r), quorum: UInt8(q), deadlineMs: deadline)
    }

    static func integer(_ v: JSONValue?, name: String, default d: Int64, range: ClosedRange<Int64>) throws(APIError) -> Int64 {
        guard let v, !v.isNull else { return d }
        guard let i = v.intValue else { throw .badRequest("invalid_\(name)", "\"\(name)\" must be an integer, got \(v.typeName)") }
        guard range.contains(i) else { throw .badRequest("invalid_\(name)", "\"\(name)\" must be in \(range.lowerBound)…\(range.upperBound), got \(i)") }
        return i
    }

    /// The structure of the `murmur infer` input format (Specs/inference.md, "Input JSON").
    static func validateInput(_ input: JSONValue) throws(APIError) {
        guard let tensors = input.objectValue, !tensors.isEmpty else {
            throw .badRequest("invalid_input", "\"input\" must be a non-empty object {input name: tensor}")
        }
        guard tensors.count <= Limits.maxAPIInputTensors else {
            throw .badRequest("invalid_input", "\"input\" has \(tensors.count) tensors, at most \(Limits.maxAPIInputTensors)")
        }
        for (name, value) in tensors.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name.utf8.count <= Limits.maxModelNameBytes else {
                throw .badRequest("invalid_input", "input names must be 1…\(Limits.maxModelNameBytes) bytes")
            }
            if let form = value.objectValue {
                if let extra = form.keys.filter({ !["shape", "dtype", "data"].contains($0) }).sorted().first {
                    throw .badRequest("invalid_input", "input '\(name)': unknown key \"\(extra.prefix(64))\" (use shape, dtype, data)")
                }
                guard let data = form["data"] else { throw .badRequest("invalid_input", "input '\(name)': object form needs \"data\"") }
                if let dtype = form["dtype"] {
                    guard let s = dtype.stringValue, dtypes.contains(s) else {
                        throw .badRequest("invalid_input", "input '\(name)': dtype must be one of \(dtypes.sorted().joined(separator: ", "))")
                    }
                }
                var declared: Int64 = 1
                if let shape = form["shape"] {
                    guard let dims = shape.arrayValue, dims.count <= Limits.maxManifestTensorRank else {
                        throw .badRequest("invalid_input", "input '\(name)': shape must be an array of at most \(Limits.maxManifestTensorRank) integers")
                    }
                    for d in dims {
                        guard let n = d.intValue, n >= 0, n <= Int64(Int32.max) else {
                            throw .badRequest("invalid_input", "input '\(name)': shape entries must be non-negative integers")
                        }
                        let (p, overflow) = declared.multipliedReportingOverflow(by: n)
                        guard !overflow, p <= Int64(Limits.maxHTTPBodyBytes) else {
                            throw .badRequest("invalid_input", "input '\(name)': shape \(dims.compactMap(\.intValue)) is too large")
                        }
                        declared = p
                    }
                }
                let count = try elements(data, name: name, depth: 0).count
                if form["shape"] != nil, Int64(count) != declared {
                    throw .badRequest("invalid_input", "input '\(name)': shape needs \(declared) values, data has \(count)")
                }
            } else {
                _ = try elements(value, name: name, depth: 0)
            }
        }
    }

    /// Element count and shape of nested arrays; checks they are rectangular and hold numbers,
    /// booleans or the strings "NaN", "Infinity", "-Infinity".
    static func elements(_ v: JSONValue, name: String, depth: Int) throws(APIError) -> (count: Int, shape: [Int]) {
        switch v {
        case .int, .double, .bool: return (1, [])
        case let .string(s):
            guard s == "NaN" || s == "Infinity" || s == "-Infinity" else {
                throw .badRequest("invalid_input", "input '\(name)': \"\(s.prefix(32))\" is not a number")
            }
            return (1, [])
        case let .array(items):
            guard depth < Limits.maxManifestTensorRank else {
                throw .badRequest("invalid_input", "input '\(name)': nested deeper than rank \(Limits.maxManifestTensorRank)")
            }
            var inner: [Int]? = nil
            var total = 0
            for item in items {
                let (n, s) = try elements(item, name: name, depth: depth + 1)
                if let inner, inner != s { throw .badRequest("invalid_input", "input '\(name)': nested arrays are not rectangular") }
                inner = s
                total += n
            }
            return (total, [items.count] + (inner ?? []))
        case .null, .object:
            throw .badRequest("invalid_input", "input '\(name)': values must be numbers or arrays, got \(v.typeName)")
        }
    }

    /// `202 Accepted` with the job id, `Location: /v1/jobs/{id}`.
    public static func accepted(_ job: Signed<Job>) -> HTTPResponse {
        var r = HTTPResponse.json(.accepted, [
            "job_id": .string(job.id.hex),
            "model_hash": .string(job.body.modelHash.hex),
            "input_hash": .string(job.body.inputHash.hex),
            "deadline": .int(job.body.deadline),
            "status_url": .string("/v1/jobs/\(job.id.hex)"),
        ])
        r.headers.add("Location", "/v1/jobs/\(job.id.hex)")
        return r
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
