import Foundation
import MurmurCore

/// The JSON forms of inputs and outputs used by `murmur infer` and the node's HTTP API.
///
/// Input: one object, keys are input names; each value is either
/// `{"shape": [2, 3], "dtype": "float32", "data": [1, 2, 3, 4, 5, 6]}` (data flat or nested,
/// row-major) or bare nested arrays (`[[1, 2, 3], [4, 5, 6]]`), whose shape is their nesting
/// and whose dtype is the model's declared input type. Numbers are JSON numbers; for floats
/// the strings "NaN", "Infinity", "-Infinity" are also accepted; bools are true/false (or 0/1).
public enum InputJSON {
    public static func parse(_ bytes: [UInt8], for inputs: [ValueInfo]) throws(InferenceError) -> [String: Tensor] {
        guard bytes.count <= Limits.maxInputJSONBytes else {
            throw .limitExceeded(what: "input JSON", limit: Limits.maxInputJSONBytes, actual: bytes.count)
        }
        // The canonical job input (every executor parses it) has a fast path; it gives the same
        // tensors as the general parser below or declines.
        if let canonical = CanonicalInputParser.parse(bytes) { return canonical }
        return try parseGeneral(bytes, for: inputs)
    }

    /// The general parser (Foundation JSON), bypassing the canonical fast path (tests compare them).
    public static func parseGeneral(_ bytes: [UInt8], for inputs: [ValueInfo]) throws(InferenceError) -> [String: Tensor] {
        guard bytes.count <= Limits.maxInputJSONBytes else {
            throw .limitExceeded(what: "input JSON", limit: Limits.maxInputJSONBytes, actual: bytes.count)
        }
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) } catch {
            throw .invalidInput("input is not valid JSON: \(error.localizedDescription)")
        }
        guard let obj = root as? [String: Any] else {
            throw .invalidInput("input JSON must be an object {\"input name\": value, ...}")
        }
        var out: [String: Tensor] = [:]
        for (name, value) in obj {
            let declared = inputs.first { $0.name == name }
            let declaredType = declared.flatMap { DType(rawValue: $0.elementType) }
            if let d = value as? [String: Any] {
                guard let data = d["data"] else { throw .invalidInput("input '\(name)': object form needs \"data\"") }
                var dtype = declaredType ?? .float32
                if let s = d["dtype"] {
                    guard let str = s as? String, let dt = DType(name: str) else {
                        throw .invalidInput("input '\(name)': unknown dtype \(s); use one of \(DType.allCases.map(\.name).joined(separator: ", "))")
                    }
                    dtype = dt
                }
                var (flat, nestedShape) = try flatten(data, name: name)
                var shape = nestedShape
                if let s = d["shape"] {
                    guard let arr = s as? [Any] else { throw .invalidInput("input '\(name)': shape must be an array of integers") }
                    shape = try arr.map { v throws(InferenceError) -> Int in
                        guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue), i >= 0 else {
                            throw .invalidInput("input '\(name)': shape entries must be non-negative integers, got \(v)")
                        }
                        return i
                    }
                    if nestedShape.count > 1 && nestedShape != shape {
                        let n = try Tensor.elementCount(shape)
                        guard n == flat.count else {
                            throw .invalidInput("input '\(name)': data has shape \(nestedShape), declared shape \(shape)")
                        }
                    }
                }
                nestedShape = shape
                let n = try Tensor.elementCount(shape)
                guard n == flat.count else {
                    throw .invalidInput("input '\(name)': shape \(shape) needs \(n) values, data has \(flat.count)")
                }
                out[name] = try makeTensor(&flat, shape: shape, dtype: dtype, name: name)
            } else {
                var (flat, shape) = try flatten(value, name: name)
                out[name] = try makeTensor(&flat, shape: shape, dtype: declaredType ?? .float32, name: name)
            }
        }
        return out
    }

    /// Flattens nested arrays row-major; checks they are rectangular.
    static func flatten(_ v: Any, name: String) throws(InferenceError) -> ([Any], [Int]) {
        guard let arr = v as? [Any] else { return ([v], []) }
        if arr.isEmpty { return ([], [0]) }
        var flat: [Any] = []
        var inner: [Int]?
        for e in arr {
            let (f, s) = try flatten(e, name: name)
            if let inner, inner != s { throw .invalidInput("input '\(name)': nested arrays are not rectangular") }
            inner = s
            flat += f
            guard flat.count <= Limits.maxTensorElements else {
                throw .limitExceeded(what: "input '\(name)' elements", limit: Limits.maxTensorElements, actual: flat.count)
            }
        }
        let shape = [arr.count] + (inner ?? [])
        guard shape.count <= Limits.maxTensorRank else {
            throw .limitExceeded(what: "input '\(name)' rank", limit: Limits.maxTensorRank, actual: shape.count)
        }
        return (flat, shape)
    }

    static func number(_ v: Any, name: String) throws(InferenceError) -> Double {
        if let s = v as? String {
            switch s {
            case "NaN", "nan": return .nan
            case "Infinity", "inf": return .infinity
            case "-Infinity", "-inf": return -.infinity
            default: break
            }
        }
        if let n = v as? NSNumber { return n.doubleValue }
        if let b = v as? Bool { return b ? 1 : 0 }
        throw .invalidInput("input '\(name)': \(v) is not a number")
    }

    static func integer(_ v: Any, name: String) throws(InferenceError) -> Int64 {
        if let n = v as? NSNumber {
            let d = n.doubleValue
            guard d == d.rounded(), abs(d) < 9.2e18 else { throw .invalidInput("input '\(name)': \(v) is not an integer") }
            if abs(d) < 9.0e15 { return Int64(d) }
            return n.int64Value
        }
        throw .invalidInput("input '\(name)': \(v) is not an integer")
    }

    static func makeTensor(_ flat: inout [Any], shape: [Int], dtype: DType, name: String) throws(InferenceError) -> Tensor {
        let storage: TensorStorage
        switch dtype {
        case .float32:
            var a: [Float] = []; a.reserveCapacity(flat.count)
            for v in flat { a.append(Float(try number(v, name: name))) }
            storage = .float32(a)
        case .float64:
            var a: [Double] = []; a.reserveCapacity(flat.count)
            for v in flat { a.append(try number(v, name: name)) }
            storage = .float64(a)
        case .bool:
            var a: [Bool] = []; a.reserveCapacity(flat.count)
            for v in flat { a.append(try number(v, name: name) != 0) }
            storage = .bool(a)
        case .int64, .int32, .int8, .uint8:
            var a: [Int64] = []; a.reserveCapacity(flat.count)
            for v in flat {
                let i = try integer(v, name: name)
                let ok: Bool
                switch dtype {
                case .int32: ok = i >= Int64(Int32.min) && i <= Int64(Int32.max)
                case .int8: ok = i >= -128 && i <= 127
                case .uint8: ok = i >= 0 && i <= 255
                default: ok = true
                }
                guard ok else { throw .invalidInput("input '\(name)': \(i) does not fit in \(dtype)") }
                a.append(i)
            }
            storage = Cast.convert(Tensor(shape: [a.count], int64s: a), to: dtype).storage
        }
        return try Tensor.checked(shape: shape, storage: storage)
    }
}

/// `{"outputs": {name: {"shape", "dtype", "data"}}, "output_hash", "model_hash"}`. Floats are
/// printed with the shortest decimal that reads back to the same value; NaN and infinities
/// as the strings "NaN", "Infinity", "-Infinity".
public enum OutputJSON {
    public static func encode(_ result: InferenceResult, modelHash: Hash) -> String {
        var s = "{\"outputs\": {"
        s += result.outputs.map { o in
            "\(JSONText.quote(o.name)): {\"shape\": [\(o.tensor.shape.map(String.init).joined(separator: ", "))], \"dtype\": \"\(o.tensor.dtype.name)\", \"data\": [\(values(o.tensor))]}"
        }.joined(separator: ", ")
        s += "}, \"output_hash\": \"\(result.hash.hex)\", \"model_hash\": \"\(modelHash.hex)\"}"
        return s
    }

    static func float<T: BinaryFloatingPoint & LosslessStringConvertible>(_ v: T) -> String {
        if v.isNaN { return "\"NaN\"" }
        if v.isInfinite { return v > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        return v.description
    }

    public static func values(_ t: Tensor) -> String {
        switch t.storage {
        case let .float32(a): return a.map { float($0) }.joined(separator: ", ")
        case let .float64(a): return a.map { float($0) }.joined(separator: ", ")
        case let .int64(a): return a.map(String.init).joined(separator: ", ")
        case let .int32(a): return a.map(String.init).joined(separator: ", ")
        case let .int8(a): return a.map(String.init).joined(separator: ", ")
        case let .uint8(a): return a.map(String.init).joined(separator: ", ")
        case let .bool(a): return a.map { $0 ? "true" : "false" }.joined(separator: ", ")
        }
    }
}
