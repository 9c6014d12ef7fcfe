import MurmurCore

/// Element types the engine computes with. Raw values are ONNX `TensorProto.DataType` numbers.
public enum DType: Int, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, bool = 9, float64 = 11

    /// Bytes per element in the canonical little-endian encoding (bool: one byte, 0 or 1).
    public var byteWidth: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .uint8, .int8, .bool: return 1
        }
    }

    /// The name used in input JSON, `--json` output and the output-hash encoding.
    public var name: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        case .int64: return "int64"
        case .int32: return "int32"
        case .int8: return "int8"
        case .uint8: return "uint8"
        case .bool: return "bool"
        }
    }
    public var description: String { name }

    public init?(name: String) {
        switch name {
        case "float32", "float": self = .float32
        case "float64", "double": self = .float64
        case "int64": self = .int64
        case "int32": self = .int32
        case "int8": self = .int8
        case "uint8": self = .uint8
        case "bool": self = .bool
        default: return nil
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    /// ONNX's name for any data type number (for error messages).
    public static func onnxName(_ t: Int) -> String {
        let names = [0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32",
                     7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32",
                     13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16"]
        return names[t] ?? "type \(t)"
    }
}

/// Contiguous row-major element storage.
public enum TensorStorage: Sendable, Equatable {
    case float32([Float])
    case float64([Double])
    case int64([Int64])
    case int32([Int32])
    case int8([Int8])
    case uint8([UInt8])
    case bool([Bool])

    public var dtype: DType {
        switch self {
        case .float32: return .float32
        case .float64: return .float64
        case .int64: return .int64
        case .int32: return .int32
        case .int8: return .int8
        case .uint8: return .uint8
        case .bool: return .bool
        }
    }

    public var count: Int {
        switch self {
        case let .float32(a): return a.count
        case let .float64(a): return a.count
        case let .int64(a): return a.count
        case let .int32(a): return a.count
        case let .int8(a): return a.count
        case let .uint8(a): return a.count
        case let .bool(a): return a.count
        }
    }
}

/// A dense tensor: element type, shape and row-major contiguous data. Value type; copies share
/// storage until written (Swift arrays are copy-on-write).
public struct Tensor: Sendable, Equatable {
    public let shape: [Int]
    public let storage: TensorStorage

    public var dtype: DType { storage.dtype }
    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// Precondition: the element count matches the shape (a programmer error otherwise).
    public init(shape: [Int], storage: TensorStorage) {
        precondition(shape.reduce(1, *) == storage.count, "tensor shape \(shape) does not match \(storage.count) elements")
        self.shape = shape
        self.storage = storage
    }

    /// Validating initialiser for data from outside (files, JSON, the network).
    public static func checked(shape: [Int], storage: TensorStorage) throws(InferenceError) -> Tensor {
        guard shape.count <= Limits.maxTensorRank else {
            throw .limitExceeded(what: "tensor rank", limit: Limits.maxTensorRank, actual: shape.count)
        }
        let n = try elementCount(shape)
        guard n == storage.count else {
            throw .invalidInput("shape \(shape) needs \(n) elements, got \(storage.count)")
        }
        return Tensor(shape: shape, storage: storage)
    }

    public init(shape: [Int], floats: [Float]) { self.init(shape: shape, storage: .float32(floats)) }
    public init(shape: [Int], doubles: [Double]) { self.init(shape: shape, storage: .float64(doubles)) }
    public init(shape: [Int], int64s: [Int64]) { self.init(shape: shape, storage: .int64(int64s)) }
    public init(shape: [Int], int32s: [Int32]) { self.init(shape: shape, storage: .int32(int32s)) }
    public init(shape: [Int], bools: [Bool]) { self.init(shape: shape, storage: .bool(bools)) }

    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], floats: [v]) }
    public static func scalar(_ v: Int64) -> Tensor { Tensor(shape: [], int64s: [v]) }

    public var floats: [Float]? { if case let .float32(a) = storage { return a }; return nil }
    public var doubles: [Double]? { if case let .float64(a) = storage { return a }; return nil }
    public var int64s: [Int64]? { if case let .int64(a) = storage { return a }; return nil }
    public var int32s: [Int32]? { if case let .int32(a) = storage { return a }; return nil }
    public var bools: [Bool]? { if case let .bool(a) = storage { return a }; return nil }

    /// Same data, new shape (same element count).
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, storage: storage) }

    /// Integer elements as `Int` (for shape-like inputs: int64 or int32 tensors).
    public func intValues() -> [Int]? {
        switch storage {
        case let .int64(a): return a.map { Int($0) }
        case let .int32(a): return a.map { Int($0) }
        default: return nil
        }
    }

    /// Each element as Double (for tolerance comparisons and display; bool → 0/1).
    public func doubleValues() -> [Double] {
        switch storage {
        case let .float32(a): return a.map { Double($0) }
        case let .float64(a): return a
        case let .int64(a): return a.map { Double($0) }
        case let .int32(a): return a.map { Double($0) }
        case let .int8(a): return a.map { Double($0) }
        case let .uint8(a): return a.map { Double($0) }
        case let .bool(a): return a.map { $0 ? 1 : 0 }
        }
    }

    /// Product of the dims, checked against `Limits.maxTensorElements` and for overflow.
    public static func elementCount(_ shape: [Int]) throws(InferenceError) -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw .invalidInput("negative dimension \(d) in shape \(shape)") }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o, p <= Limits.maxTensorElements else {
                throw .limitExceeded(what: "tensor element count of shape \(shape)", limit: Limits.maxTensorElements, actual: o ? Int.max : p)
            }
            n = p
        }
        return n
    }

    /// Canonical little-endian bytes of the elements (bool: 0x00 / 0x01).
    public func littleEndianBytes() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count * dtype.byteWidth)
        func put<T: FixedWidthInteger>(_ v: T) {
            var le = v.littleEndian
            withUnsafeBytes(of: &le) { out.append(contentsOf: $0) }
        }
        switch storage {
        case let .float32(a): for v in a { put(v.bitPattern) }
        case let .float64(a): for v in a { put(v.bitPattern) }
        case let .int64(a): for v in a { put(v) }
        case let .int32(a): for v in a { put(v) }
        case let .int8(a): for v in a { out.append(UInt8(bitPattern: v)) }
        case let .uint8(a): out.append(contentsOf: a)
        case let .bool(a): for v in a { out.append(v ? 1 : 0) }
        }
        return out
    }
}

extension Tensor {
    /// Converts a `TensorProto` (initializer, Constant attribute or test-data file) to a tensor.
    public init(proto p: TensorProto) throws(InferenceError) {
        if p.isExternal { throw .externalData(tensor: p.name) }
        let n = try Tensor.elementCount(p.dims)
        let shape = p.dims
        let context = "tensor '\(p.name)'"
        // float16 (10) is decoded to float32: cheap and exact.
        guard let dt = DType(rawValue: p.dataType) ?? (p.dataType == 10 ? .float32 : nil) else {
            throw .unsupportedDataType(p.dataType, context: context)
        }
        if let raw = p.rawData {
            let width = p.dataType == 10 ? 2 : dt.byteWidth
            guard raw.count == n * width else {
                throw .malformed("\(context): raw_data has \(raw.count) bytes, shape \(shape) needs \(n * width)")
            }
            let base = raw.startIndex
            func le<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T {
                var v: T = 0
                for b in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: raw[base + i * MemoryLayout<T>.size + b]) << (8 * b) }
                return v
            }
            /// Host-order copy (little-endian hosts only; the element loop below is the reference).
            func copied<T>(_: T.Type) -> [T]? {
                #if _endian(little)
                return [T](unsafeUninitializedCapacity: n) { buf, c in
                    raw.withUnsafeBytes { src in
                        UnsafeMutableRawBufferPointer(buf).copyMemory(from: src)
                    }
                    c = n
                }
                #else
                return nil
                #endif
            }
            let storage: TensorStorage
            switch p.dataType {
            case 1 where n > 0: storage = .float32(copied(Float.self) ?? (0..<n).map { Float(bitPattern: le($0, UInt32.self)) })
            case 7 where n > 0: storage = .int64(copied(Int64.self) ?? (0..<n).map { Int64(bitPattern: le($0, UInt64.self)) })
            case 10: storage = .float32((0..<n).map { Float(Float16Bits.toFloat(le($0, UInt16.self))) })
            default:
                switch dt {
                case .float32: storage = .float32((0..<n).map { Float(bitPattern: le($0, UInt32.self)) })
                case .float64: storage = .float64((0..<n).map { Double(bitPattern: le($0, UInt64.self)) })
                case .int64: storage = .int64((0..<n).map { Int64(bitPattern: le($0, UInt64.self)) })
                case .int32: storage = .int32((0..<n).map { Int32(bitPattern: le($0, UInt32.self)) })
                case .int8: storage = .int8(raw.map { Int8(bitPattern: $0) })
                case .uint8: storage = .uint8(Array(raw))
                case .bool: storage = .bool(raw.map { $0 != 0 })
                }
            }
            self.init(shape: shape, storage: storage)
            return
        }
        func need(_ have: Int) throws(InferenceError) {
            guard have == n else { throw .malformed("\(context): has \(have) values, shape \(shape) needs \(n)") }
        }
        let storage: TensorStorage
        switch p.dataType {
        case 10:
            try need(p.int32Data.count)
            storage = .float32(p.int32Data.map { Float16Bits.toFloat(UInt16(truncatingIfNeeded: $0)) })
        default:
            switch dt {
            case .float32: try need(p.floatData.count); storage = .float32(p.floatData.map { Float(bitPattern: $0) })
            case .float64: try need(p.doubleData.count); storage = .float64(p.doubleData.map { Double(bitPattern: $0) })
            case .int64: try need(p.int64Data.count); storage = .int64(p.int64Data.map { Int64(bitPattern: $0) })
            case .int32: try need(p.int32Data.count); storage = .int32(p.int32Data.map { Int32(truncatingIfNeeded: $0) })
            case .int8: try need(p.int32Data.count); storage = .int8(p.int32Data.map { Int8(truncatingIfNeeded: $0) })
            case .uint8: try need(p.int32Data.count); storage = .uint8(p.int32Data.map { UInt8(truncatingIfNeeded: $0) })
            case .bool: try need(p.int32Data.count); storage = .bool(p.int32Data.map { $0 != 0 })
            }
        }
        self.init(shape: shape, storage: storage)
    }
}

/// IEEE binary16 → binary32, exact, without relying on the platform's `Float16` support.
enum Float16Bits {
    static func toFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            // subnormal: mant * 2^-24
            let v = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }
}

extension Tensor {
    /// The first `n` elements as a 1-D tensor (for display).
    public func flatPrefix(_ n: Int) -> Tensor {
        gathered(Array(0..<min(n, count)), shape: [min(n, count)])
    }
}
