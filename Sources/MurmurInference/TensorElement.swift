/// Swift element types that map one-to-one to a `TensorStorage` case.
public protocol TensorElement: Sendable, Equatable {
    static var dtype: DType { get }
    static func wrap(_ a: [Self]) -> TensorStorage
    static func unwrap(_ s: TensorStorage) -> [Self]?
    static var zero: Self { get }
}

extension Float: TensorElement {
    public static var dtype: DType { .float32 }
    public static func wrap(_ a: [Float]) -> TensorStorage { .float32(a) }
    public static func unwrap(_ s: TensorStorage) -> [Float]? { if case let .float32(a) = s { return a }; return nil }
}
extension Double: TensorElement {
    public static var dtype: DType { .float64 }
    public static func wrap(_ a: [Double]) -> TensorStorage { .float64(a) }
    public static func unwrap(_ s: TensorStorage) -> [Double]? { if case let .float64(a) = s { return a }; return nil }
}
extension Int64: TensorElement {
    public static var dtype: DType { .int64 }
    public static func wrap(_ a: [Int64]) -> TensorStorage { .int64(a) }
    public static func unwrap(_ s: TensorStorage) -> [Int64]? { if case let .int64(a) = s { return a }; return nil }
}
extension Int32: TensorElement {
    public static var dtype: DType { .int32 }
    public static func wrap(_ a: [Int32]) -> TensorStorage { .int32(a) }
    public static func unwrap(_ s: TensorStorage) -> [Int32]? { if case let .int32(a) = s { return a }; return nil }
}
extension Int8: TensorElement {
    public static var dtype: DType { .int8 }
    public static func wrap(_ a: [Int8]) -> TensorStorage { .int8(a) }
    public static func unwrap(_ s: TensorStorage) -> [Int8]? { if case let .int8(a) = s { return a }; return nil }
}
extension UInt8: TensorElement {
    public static var dtype: DType { .uint8 }
    public static func wrap(_ a: [UInt8]) -> TensorStorage { .uint8(a) }
    public static func unwrap(_ s: TensorStorage) -> [UInt8]? { if case let .uint8(a) = s { return a }; return nil }
}
extension Bool: TensorElement {
    public static var dtype: DType { .bool }
    public static func wrap(_ a: [Bool]) -> TensorStorage { .bool(a) }
    public static func unwrap(_ s: TensorStorage) -> [Bool]? { if case let .bool(a) = s { return a }; return nil }
    public static var zero: Bool { false }
}

extension Tensor {
    public init<T: TensorElement>(shape: [Int], values: [T]) { self.init(shape: shape, storage: T.wrap(values)) }
    public func array<T: TensorElement>(_: T.Type) -> [T]? { T.unwrap(storage) }
}

/// Applies a generic body to whichever element type a tensor holds.
protocol TensorVisitor {
    associatedtype Result
    func visit<T: TensorElement>(_ values: [T]) throws -> Result
}

extension Tensor {
    func visit<V: TensorVisitor>(_ v: V) throws -> V.Result {
        switch storage {
        case let .float32(a): return try v.visit(a)
        case let .float64(a): return try v.visit(a)
        case let .int64(a): return try v.visit(a)
        case let .int32(a): return try v.visit(a)
        case let .int8(a): return try v.visit(a)
        case let .uint8(a): return try v.visit(a)
        case let .bool(a): return try v.visit(a)
        }
    }
}

/// Helpers shared by kernels.
enum K {
    static func input(_ inputs: [Tensor?], _ i: Int, _ what: String = "input") throws -> Tensor {
        guard i < inputs.count, let t = inputs[i] else { throw OpError("missing \(what) \(i)") }
        return t
    }
    static func optional(_ inputs: [Tensor?], _ i: Int) -> Tensor? {
        i < inputs.count ? inputs[i] : nil
    }
    static func floats(_ t: Tensor, _ what: String) throws -> [Float] {
        guard let a = t.floats else { throw OpError("\(what) must be float32, got \(t.dtype)") }
        return a
    }
    static func ints(_ t: Tensor, _ what: String) throws -> [Int] {
        guard let a = t.intValues() else { throw OpError("\(what) must be int64 or int32, got \(t.dtype)") }
        return a
    }
    /// Normalises a possibly negative axis into 0..<rank.
    static func axis(_ a: Int, rank: Int) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0 && r < max(rank, 1) else { throw OpError("axis \(a) out of range for rank \(rank)") }
        return r
    }
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }
    static func count(_ shape: [Int]) throws -> Int {
        do { return try Tensor.elementCount(shape) } catch { throw OpError("\(error)") }
    }
    /// Kernel factory for kernels without attributes.
    static func simple(_ f: @escaping @Sendable ([Tensor?], RunContext) throws -> [Tensor]) -> @Sendable (NodeContext) throws -> any OpKernel {
        { _ in ClosureKernel(f) }
    }
}

/// A kernel defined by a closure (attributes captured at load time).
struct ClosureKernel: OpKernel {
    let body: @Sendable ([Tensor?], RunContext) throws -> [Tensor]
    init(_ body: @escaping @Sendable ([Tensor?], RunContext) throws -> [Tensor]) { self.body = body }
    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] { try body(inputs, context) }
}
