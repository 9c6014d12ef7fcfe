/// Element-wise operators: arithmetic with broadcasting, comparisons, logic, unary math,
/// activations, Clip, Where, Cast. Each output element depends on one element of each input,
/// so there is no reduction order to fix; float32 math follows `ScalarMath`.
import MurmurKernels

enum ElementwiseOps {
    static let all: [OpDefinition] = arithmetic + comparisons + logic + unaryMath + activations + [clip, whereOp, cast, castLike, prelu, mod]
        + variadic + predicates

    // MARK: binary arithmetic

    struct Arith: Sendable {
        let f32: @Sendable (Float, Float) -> Float
        let f64: @Sendable (Double, Double) -> Double
        let i64: @Sendable (Int64, Int64) -> Int64
        let i32: @Sendable (Int32, Int32) -> Int32
        let i8: @Sendable (Int8, Int8) -> Int8
        let u8: @Sendable (UInt8, UInt8) -> UInt8
    }

    static func apply(_ a: Tensor, _ b: Tensor, _ op: Arith) throws -> Tensor {
        guard a.dtype == b.dtype else { throw OpError("operand types differ: \(a.dtype) and \(b.dtype)") }
        switch (a.storage, b.storage) {
        case let (.float32(x), .float32(y)): let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape, op.f32); return Tensor(shape: s, floats: r)
        case let (.float64(x), .float64(y)): let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape, op.f64); return Tensor(shape: s, doubles: r)
        case let (.int64(x), .int64(y)): let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape, op.i64); return Tensor(shape: s, int64s: r)
        case let (.int32(x), .int32(y)): let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape, op.i32); return Tensor(shape: s, int32s: r)
        case let (.int8(x), .int8(y)): let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape, op.i8); return Tensor(shape: s, values: r)
        case let (.uint8(x), .uint8(y)): let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape, op.u8); return Tensor(shape: s, values: r)
        default: throw OpError("unsupported operand type \(a.dtype)")
        }
    }

    /// Integer division truncates toward zero (C semantics); x / 0 is defined as 0 and
    /// Int.min / −1 wraps, so no input traps.
    @inline(__always) static func idiv<T: FixedWidthInteger>(_ a: T, _ b: T) -> T {
        if b == 0 { return 0 }
        return a.dividedReportingOverflow(by: b).partialValue
    }

    static func binary(_ name: String, fast: Int = -1, _ op: Arith) -> OpDefinition {
        OpDefinition(name, make: K.simple { ins, _ in
            let a = try K.input(ins, 0), b = try K.input(ins, 1)
            if fast >= 0, let x = a.floats, let y = b.floats { return [try floatArith(x, a.shape, y, b.shape, fast)] }
            return [try apply(a, b, op)]
        })
    }

    /// float32 + − × ÷ with the operation known at compile time in each branch (inlined loops).
    static func floatArith(_ x: [Float], _ sx: [Int], _ y: [Float], _ sy: [Int], _ op: Int) throws -> Tensor {
        let (r, s): ([Float], [Int])
        switch op {
        case 0: (r, s) = try Broadcast.binary(x, sx, y, sy) { $0 + $1 }
        case 1: (r, s) = try Broadcast.binary(x, sx, y, sy) { $0 - $1 }
        case 2: (r, s) = try Broadcast.binary(x, sx, y, sy) { $0 * $1 }
        default: (r, s) = try Broadcast.binary(x, sx, y, sy) { $0 / $1 }
        }
        return Tensor(shape: s, floats: r)
    }

    static let arithmetic: [OpDefinition] = [
        binary("Add", fast: 0, Arith(f32: { $0 + $1 }, f64: { $0 + $1 }, i64: { $0 &+ $1 }, i32: { $0 &+ $1 }, i8: { $0 &+ $1 }, u8: { $0 &+ $1 })),
        binary("Sub", fast: 1, Arith(f32: { $0 - $1 }, f64: { $0 - $1 }, i64: { $0 &- $1 }, i32: { $0 &- $1 }, i8: { $0 &- $1 }, u8: { $0 &- $1 })),
        binary("Mul", fast: 2, Arith(f32: { $0 * $1 }, f64: { $0 * $1 }, i64: { $0 &* $1 }, i32: { $0 &* $1 }, i8: { $0 &* $1 }, u8: { $0 &* $1 })),
        binary("Div", fast: 3, Arith(f32: { $0 / $1 }, f64: { $0 / $1 }, i64: idiv, i32: idiv, i8: idiv, u8: idiv)),
        OpDefinition("Pow", make: K.simple { ins, _ in [try pow(K.input(ins, 0), K.input(ins, 1))] }),
    ]

    /// Pow: the result has the base's type; a mixed-type exponent is converted first.
    static func pow(_ x: Tensor, _ y: Tensor) throws -> Tensor {
        let ys = y.doubleValues()
        switch x.storage {
        case let .float32(a):
            if let yf = y.floats, yf.count == 1 {
                // One exponent (LayerNorm's x^2 in exported graphs): the buffer form of DetMath.pow,
                // which gives the same bits as the scalar form per element (Specs/kernels.md §4);
                // y = 2 is x × x there (its last select), so that case is computed directly.
                let shape = try Broadcast.shape([x.shape, y.shape])
                let e = yf[0]
                var out = [Float](repeating: 0, count: a.count)
                if e == 2 {
                    a.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
                        for i in 0..<px.count { po[i] = px[i] * px[i] }
                    } }
                } else {
                    a.withUnsafeBufferPointer { px in yf.withUnsafeBufferPointer { py in out.withUnsafeMutableBufferPointer { po in
                        DetMath.pow(px, py, into: po)
                    } } }
                }
                return Tensor(shape: shape, floats: out)
            }
            if let yf = y.floats {
                let (r, s) = try Broadcast.binary(a, x.shape, yf, y.shape) { ScalarMath.pow($0, $1) }
                return Tensor(shape: s, floats: r)
            }
            let (r, s) = try Broadcast.binary(a, x.shape, ys, y.shape) { Float(ScalarMath.powD(Double($0), $1)) }
            return Tensor(shape: s, floats: r)
        case let .float64(a):
            let (r, s) = try Broadcast.binary(a, x.shape, ys, y.shape) { ScalarMath.powD($0, $1) }
            return Tensor(shape: s, doubles: r)
        case let .int64(a):
            let (r, s) = try Broadcast.binary(a, x.shape, ys, y.shape) { Cast.toInt64(ScalarMath.powD(Double($0), $1)) }
            return Tensor(shape: s, int64s: r)
        case let .int32(a):
            let (r, s) = try Broadcast.binary(a, x.shape, ys, y.shape) { Int32(truncatingIfNeeded: Cast.toInt64(ScalarMath.powD(Double($0), $1))) }
            return Tensor(shape: s, int32s: r)
        default: throw OpError("Pow does not support \(x.dtype)")
        }
    }

    // MARK: variadic Max / Min / Sum / Mean (left to right)

    static func variadic(_ name: String, _ op: Arith, mean: Bool = false) -> OpDefinition {
        OpDefinition(name, make: K.simple { ins, _ in
            let ts = ins.compactMap { $0 }
            guard var acc = ts.first else { throw OpError("needs at least one input") }
            for t in ts.dropFirst() { acc = try apply(acc, t, op) }
            if mean {
                let n = Float(ts.count)
                switch acc.storage {
                case let .float32(a): acc = Tensor(shape: acc.shape, floats: a.map { $0 / n })
                case let .float64(a): acc = Tensor(shape: acc.shape, doubles: a.map { $0 / Double(ts.count) })
                default: throw OpError("Mean needs floating-point inputs")
                }
            }
            return [acc]
        })
    }

    /// NaN-propagating max / min (as numpy.maximum / minimum).
    @inline(__always) static func fmax<T: FloatingPoint>(_ a: T, _ b: T) -> T { a.isNaN || b.isNaN ? .nan : (a < b ? b : a) }
    @inline(__always) static func fmin<T: FloatingPoint>(_ a: T, _ b: T) -> T { a.isNaN || b.isNaN ? .nan : (b < a ? b : a) }

    static let variadic: [OpDefinition] = [
        variadic("Max", Arith(f32: fmax, f64: fmax, i64: { Swift.max($0, $1) }, i32: { Swift.max($0, $1) }, i8: { Swift.max($0, $1) }, u8: { Swift.max($0, $1) })),
        variadic("Min", Arith(f32: fmin, f64: fmin, i64: { Swift.min($0, $1) }, i32: { Swift.min($0, $1) }, i8: { Swift.min($0, $1) }, u8: { Swift.min($0, $1) })),
        variadic("Sum", Arith(f32: { $0 + $1 }, f64: { $0 + $1 }, i64: { $0 &+ $1 }, i32: { $0 &+ $1 }, i8: { $0 &+ $1 }, u8: { $0 &+ $1 })),
        variadic("Mean", Arith(f32: { $0 + $1 }, f64: { $0 + $1 }, i64: { $0 &+ $1 }, i32: { $0 &+ $1 }, i8: { $0 &+ $1 }, u8: { $0 &+ $1 }), mean: true),
    ]

    // MARK: comparisons

    struct Compare: TensorVisitor {
        let other: Tensor
        let aShape: [Int]
        let kind: Int  // 0 ==, 1 <, 2 >, 3 <=, 4 >=
        func visit<T: TensorElement>(_ a: [T]) throws -> Tensor {
            guard let b = other.array(T.self) else { throw OpError("operand types differ: \(T.dtype) and \(other.dtype)") }
            func cmp<U: Comparable>(_ a: [U], _ b: [U]) throws -> Tensor {
                let k = kind
                let (r, s) = try Broadcast.binary(a, aShape, b, other.shape) { (x: U, y: U) -> Bool in
                    switch k {
                    case 0: return x == y
                    case 1: return x < y
                    case 2: return x > y
                    case 3: return x <= y
                    default: return x >= y
                    }
                }
                return Tensor(shape: s, bools: r)
            }
            switch (a, b) {
            case let (x as [Float], y as [Float]): return try cmp(x, y)
            case let (x as [Double], y as [Double]): return try cmp(x, y)
            case let (x as [Int64], y as [Int64]): return try cmp(x, y)
            case let (x as [Int32], y as [Int32]): return try cmp(x, y)
            case let (x as [Int8], y as [Int8]): return try cmp(x, y)
            case let (x as [UInt8], y as [UInt8]): return try cmp(x, y)
            case let (x as [Bool], y as [Bool]):
                guard kind == 0 else { throw OpError("bool operands only support Equal") }
                let (r, s) = try Broadcast.binary(x, aShape, y, other.shape) { $0 == $1 }
                return Tensor(shape: s, bools: r)
            default: throw OpError("unsupported operand type \(T.dtype)")
            }
        }
    }

    static func compare(_ name: String, _ kind: Int) -> OpDefinition {
        OpDefinition(name, make: K.simple { ins, _ in
            let a = try K.input(ins, 0)
            return [try a.visit(Compare(other: try K.input(ins, 1), aShape: a.shape, kind: kind))]
        })
    }

    static let comparisons: [OpDefinition] = [
        compare("Equal", 0), compare("Less", 1), compare("Greater", 2), compare("LessOrEqual", 3), compare("GreaterOrEqual", 4),
    ]

    // MARK: logic

    static func logical(_ name: String, _ f: @escaping @Sendable (Bool, Bool) -> Bool) -> OpDefinition {
        OpDefinition(name, make: K.simple { ins, _ in
            let a = try K.input(ins, 0), b = try K.input(ins, 1)
            guard let x = a.bools, let y = b.bools else { throw OpError("\(name) needs bool inputs") }
            let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape, f)
            return [Tensor(shape: s, bools: r)]
        })
    }

    static let logic: [OpDefinition] = [
        logical("And") { $0 && $1 }, logical("Or") { $0 || $1 }, logical("Xor") { $0 != $1 },
        OpDefinition("Not", make: K.simple { ins, _ in
            let a = try K.input(ins, 0)
            guard let x = a.bools else { throw OpError("Not needs a bool input") }
            return [Tensor(shape: a.shape, bools: x.map { !$0 })]
        }),
    ]

    // MARK: unary math

    /// A float op; `ints` (if given) also handles int64/int32/int8 inputs; `vector` computes
    /// float32 arrays with DetMath's vector form (same bits as `f`).
    static func unary(_ name: String, versions: ClosedRange<Int> = 1...22,
                      _ f: @escaping @Sendable (Float) -> Float, _ d: @escaping @Sendable (Double) -> Double,
                      ints: (@Sendable (Int64) -> Int64)? = nil, vector: UnaryMath? = nil) -> OpDefinition {
        OpDefinition(name, versions: versions, make: K.simple { ins, _ in
            let x = try K.input(ins, 0)
            if let vector, let a = x.floats { return [Tensor(shape: x.shape, floats: ScalarMath.map(vector, a))] }
            return [try mapUnary(x, f, d, ints)]
        })
    }

    static func mapUnary(_ t: Tensor, _ f: (Float) -> Float, _ d: (Double) -> Double, _ ints: ((Int64) -> Int64)?) throws -> Tensor {
        switch t.storage {
        case let .float32(a): return Tensor(shape: t.shape, floats: a.map(f))
        case let .float64(a): return Tensor(shape: t.shape, doubles: a.map(d))
        case let .int64(a) where ints != nil: return Tensor(shape: t.shape, int64s: a.map(ints!))
        case let .int32(a) where ints != nil: return Tensor(shape: t.shape, int32s: a.map { Int32(truncatingIfNeeded: ints!(Int64($0))) })
        case let .int8(a) where ints != nil: return Tensor(shape: t.shape, values: a.map { Int8(truncatingIfNeeded: ints!(Int64($0))) })
        case let .uint8(a) where ints != nil: return Tensor(shape: t.shape, values: a.map { UInt8(truncatingIfNeeded: ints!(Int64($0))) })
        default: throw OpError("unsupported input type \(t.dtype)")
        }
    }

    static let unaryMath: [OpDefinition] = [
        unary("Sqrt", { $0.squareRoot() }, { $0.squareRoot() }),
        unary("Exp", ScalarMath.exp, ScalarMath.expD, vector: .exp),
        unary("Log", ScalarMath.log, ScalarMath.logD, vector: .log),
        unary("Abs", { Swift.abs($0) }, { Swift.abs($0) }, ints: { $0 == .min ? $0 : Swift.abs($0) }),
        unary("Neg", { -$0 }, { -$0 }, ints: { 0 &- $0 }),
        unary("Reciprocal", { 1 / $0 }, { 1 / $0 }),
        unary("Floor", { $0.rounded(.down) }, { $0.rounded(.down) }),
        unary("Ceil", { $0.rounded(.up) }, { $0.rounded(.up) }),
        unary("Round", { $0.rounded(.toNearestOrEven) }, { $0.rounded(.toNearestOrEven) }),
        unary("Sign", { $0 > 0 ? 1 : ($0 < 0 ? -1 : ($0.isNaN ? $0 : 0)) }, { $0 > 0 ? 1 : ($0 < 0 ? -1 : ($0.isNaN ? $0 : 0)) },
              ints: { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }),
        unary("Erf", ScalarMath.erf, ScalarMath.erfD, vector: .erf),
        unary("Tanh", ScalarMath.tanh, ScalarMath.tanhD, vector: .tanh),
        unary("Sigmoid", ScalarMath.sigmoid, ScalarMath.sigmoidD, vector: .sigmoid),
        OpDefinition("Identity", make: K.simple { ins, _ in [try K.input(ins, 0)] }),
    ] + trig

    /// Trigonometric and hyperbolic functions: binary64 `ScalarMath`, rounded once to float32.
    static let trig: [OpDefinition] = [
        ("Sin", ScalarMath.sinD), ("Cos", ScalarMath.cosD), ("Tan", ScalarMath.tanD),
        ("Asin", ScalarMath.asinD), ("Acos", ScalarMath.acosD), ("Atan", ScalarMath.atanD),
        ("Sinh", ScalarMath.sinhD), ("Cosh", ScalarMath.coshD), ("Asinh", ScalarMath.asinhD),
        ("Acosh", ScalarMath.acoshD), ("Atanh", ScalarMath.atanhD),
    ].map { (name, d) in unary(name, { Float(d(Double($0))) }, d) }

    // MARK: activations with attributes

    static func relu(_ x: Float) -> Float { x > 0 ? x : (x.isNaN ? x : 0) }
    static func reluD(_ x: Double) -> Double { x > 0 ? x : (x.isNaN ? x : 0) }

    static let activations: [OpDefinition] = [
        OpDefinition("Relu", make: K.simple { ins, _ in
            let x = try K.input(ins, 0)
            if let a = x.floats {
                // Inlined loop (the generic path calls a closure per element).
                return [Tensor(shape: x.shape, floats: [Float](unsafeUninitializedCapacity: a.count) { buf, c in
                    a.withUnsafeBufferPointer { src in for i in 0..<a.count { buf[i] = relu(src[i]) } }
                    c = a.count
                })]
            }
            return [try mapUnary(x, relu, reluD, { Swift.max($0, 0) })]
        }),
        OpDefinition("LeakyRelu") { n in
            let alpha = n.float("alpha", default: 0.01)
            return ClosureKernel { ins, _ in
                let x = try K.input(ins, 0)
                if let a = x.floats {
                    return [Tensor(shape: x.shape, floats: [Float](unsafeUninitializedCapacity: a.count) { buf, c in
                        a.withUnsafeBufferPointer { src in for i in 0..<a.count { let v = src[i]; buf[i] = v < 0 ? v * alpha : v } }
                        c = a.count
                    })]
                }
                return [try mapUnary(x, { $0 < 0 ? $0 * alpha : $0 }, { $0 < 0 ? $0 * Double(alpha) : $0 }, nil)]
            }
        },
        OpDefinition("Elu") { n in
            let alpha = n.float("alpha", default: 1)
            return ClosureKernel { ins, _ in
                [try mapUnary(K.input(ins, 0), { $0 < 0 ? alpha * (ScalarMath.exp($0) - 1) : $0 },
                              { $0 < 0 ? Double(alpha) * (ScalarMath.expD($0) - 1) : $0 }, nil)]
            }
        },
        OpDefinition("Selu") { n in
            let alpha = n.float("alpha", default: 1.67326319217681884765625)
            let gamma = n.float("gamma", default: 1.05070102214813232421875)
            return ClosureKernel { ins, _ in
                [try mapUnary(K.input(ins, 0), { $0 <= 0 ? gamma * (alpha * ScalarMath.exp($0) - alpha) : gamma * $0 },
                              { $0 <= 0 ? Double(gamma) * (Double(alpha) * ScalarMath.expD($0) - Double(alpha)) : Double(gamma) * $0 }, nil)]
            }
        },
        OpDefinition("HardSigmoid") { n in
            let alpha = n.float("alpha", default: 0.2), beta = n.float("beta", default: 0.5)
            return ClosureKernel { ins, _ in
                [try mapUnary(K.input(ins, 0), { Swift.max(0, Swift.min(1, alpha * $0 + beta)) },
                              { Swift.max(0, Swift.min(1, Double(alpha) * $0 + Double(beta))) }, nil)]
            }
        },
        unary("HardSwish", { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) }, { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) }),
        unary("Softsign", { $0 / (1 + Swift.abs($0)) }, { $0 / (1 + Swift.abs($0)) }),
        unary("Softplus", { ScalarMath.log1p(ScalarMath.exp($0)) }, { ScalarMath.logD(ScalarMath.expD($0) + 1) }),
        OpDefinition("Gelu", versions: 20...22) { n in
            let approx = n.string("approximate") ?? "none"
            guard approx == "none" || approx == "tanh" else { throw OpError("unknown approximate '\(approx)'") }
            if approx == "tanh" {
                return ClosureKernel { ins, _ in
                    [try mapUnary(K.input(ins, 0), { x in
                        0.5 * x * (1 + ScalarMath.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
                    }, { x in 0.5 * x * (1 + ScalarMath.tanhD(0.7978845608028654 * (x + 0.044715 * x * x * x))) }, nil)]
                }
            }
            return ClosureKernel { ins, _ in
                let t = try K.input(ins, 0)
                if let a = t.floats { return [Tensor(shape: t.shape, floats: ScalarMath.map(.gelu, a))] }
                return [try mapUnary(t, { x in DetMath.gelu(x) },
                              { x in 0.5 * x * (1 + ScalarMath.erfD(x * 0.70710678118654752)) }, nil)]
            }
        },
    ]

    /// PRelu; before opset 7 a 1-D slope of length C applies per channel (axis 1).
    static let prelu = OpDefinition("PRelu") { n in
      let legacy = n.opset < 7
      return ClosureKernel { ins, _ in
        let x = try K.input(ins, 0)
        var s = try K.input(ins, 1)
        if legacy, s.rank == 1, x.rank >= 2, s.count == x.shape[1], s.count != x.shape.last {
            s = s.reshaped([s.count] + Array(repeating: 1, count: x.rank - 2))
        }
        switch (x.storage, s.storage) {
        case let (.float32(a), .float32(b)):
            let (r, sh) = try Broadcast.binary(a, x.shape, b, s.shape) { $0 < 0 ? $0 * $1 : $0 }
            return [Tensor(shape: sh, floats: r)]
        case let (.float64(a), .float64(b)):
            let (r, sh) = try Broadcast.binary(a, x.shape, b, s.shape) { $0 < 0 ? $0 * $1 : $0 }
            return [Tensor(shape: sh, doubles: r)]
        default: throw OpError("PRelu needs float inputs of one type")
        }
      }
    }

    // MARK: Mod, IsInf, IsNaN

    /// Mod: fmod=1 → C fmod (sign of the dividend, exact); fmod=0 → integer modulo with the
    /// divisor's sign (Python). x mod 0 = 0 for integers.
    static let mod = OpDefinition("Mod") { n in
        let fmod = n.int("fmod", default: 0) != 0
        return ClosureKernel { ins, _ in
            let op = Arith(f32: { $0.truncatingRemainder(dividingBy: $1) }, f64: { $0.truncatingRemainder(dividingBy: $1) },
                           i64: { intMod($0, $1, fmod) }, i32: { intMod($0, $1, fmod) },
                           i8: { intMod($0, $1, fmod) }, u8: { intMod($0, $1, fmod) })
            return [try apply(K.input(ins, 0), K.input(ins, 1), op)]
        }
    }

    @inline(__always) static func intMod<T: FixedWidthInteger>(_ a: T, _ b: T, _ fmod: Bool) -> T {
        if b == 0 { return 0 }
        let r = a.remainderReportingOverflow(dividingBy: b).partialValue
        if fmod { return r }
        return (r != 0 && ((r < 0) != (b < 0))) ? r &+ b : r
    }


    static let predicates: [OpDefinition] = [
        OpDefinition("BitShift") { n in
            let left = (n.string("direction") ?? "") == "LEFT"
            guard left || n.string("direction") == "RIGHT" else { throw OpError("direction must be LEFT or RIGHT") }
            return ClosureKernel { ins, _ in
                let a = try K.input(ins, 0), b = try K.input(ins, 1)
                guard case let .uint8(x) = a.storage, case let .uint8(y) = b.storage else {
                    throw OpError("BitShift supports uint8 only (uint16/32/64 tensors are not supported)")
                }
                let (r, s) = try Broadcast.binary(x, a.shape, y, b.shape) { v, k in k >= 8 ? 0 : (left ? v << k : v >> k) }
                return [Tensor(shape: s, values: r)]
            }
        },
        OpDefinition("IsNaN", make: K.simple { ins, _ in
            let x = try K.input(ins, 0)
            guard x.dtype.isFloatingPoint else { throw OpError("IsNaN needs a float input") }
            return [Tensor(shape: x.shape, bools: x.doubleValues().map(\.isNaN))]
        }),
        OpDefinition("IsInf") { n in
            let neg = n.int("detect_negative", default: 1) != 0, pos = n.int("detect_positive", default: 1) != 0
            return ClosureKernel { ins, _ in
                let x = try K.input(ins, 0)
                guard x.dtype.isFloatingPoint else { throw OpError("IsInf needs a float input") }
                return [Tensor(shape: x.shape, bools: x.doubleValues().map { $0.isInfinite && (($0 > 0 && pos) || ($0 < 0 && neg)) })]
            }
        },
        OpDefinition("ThresholdedRelu") { n in
            let alpha = n.float("alpha", default: 1)
            return ClosureKernel { ins, _ in
                [try mapUnary(K.input(ins, 0), { $0 > alpha ? $0 : 0 }, { $0 > Double(alpha) ? $0 : 0 }, nil)]
            }
        },
        OpDefinition("Shrink") { n in
            let lambd = n.float("lambd", default: 0.5), bias = n.float("bias", default: 0)
            return ClosureKernel { ins, _ in
                let x = try K.input(ins, 0)
                if x.dtype.isFloatingPoint {
                    return [try mapUnary(x, { $0 < -lambd ? $0 + bias : ($0 > lambd ? $0 - bias : 0) },
                                         { $0 < -Double(lambd) ? $0 + Double(bias) : ($0 > Double(lambd) ? $0 - Double(bias) : 0) }, nil)]
                }
                let l = Double(lambd), b = Double(bias)
                let v = x.doubleValues().map { $0 < -l ? $0 + b : ($0 > l ? $0 - b : 0) }
                return [Cast.convert(Tensor(shape: x.shape, doubles: v), to: x.dtype)]
            }
        },
    ]

    // MARK: Clip

    static let clip = OpDefinition("Clip") { n in
        let attrMin = n.float("min"), attrMax = n.float("max")
        let opset = n.opset
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let lo = opset < 11 ? attrMin.map { Tensor.scalar($0) } : K.optional(ins, 1)
            let hi = opset < 11 ? attrMax.map { Tensor.scalar($0) } : K.optional(ins, 2)
            func bound<T: TensorElement>(_ t: Tensor?, _: T.Type) throws -> T? {
                guard let t else { return nil }
                guard let a = t.array(T.self), a.count == 1 else { throw OpError("min/max must be scalars of the input's type") }
                return a[0]
            }
            switch x.storage {
            case let .float32(a):
                let l = try bound(lo, Float.self), h = try bound(hi, Float.self)
                // A missing bound is ±∞: `r < −∞` and `r > +∞` are never true, so the result is the
                // same as skipping the comparison (NaN stays NaN, −0.0 stays −0.0).
                let lv = l ?? -.infinity, hv = h ?? .infinity
                let n = a.count
                let out = a.withUnsafeBufferPointer { p in
                    [Float](unsafeUninitializedCapacity: n) { buf, c in
                        for i in 0..<n {
                            var r = p[i]
                            r = r < lv ? lv : r
                            r = r > hv ? hv : r
                            buf[i] = r
                        }
                        c = n
                    }
                }
                return [Tensor(shape: x.shape, floats: out)]
            case let .float64(a):
                let l = try bound(lo, Double.self), h = try bound(hi, Double.self)
                return [Tensor(shape: x.shape, doubles: a.map { v in
                    var r = v
                    if let l, r < l { r = l }
                    if let h, r > h { r = h }
                    return r
                })]
            case let .int64(a):
                let l = try bound(lo, Int64.self), h = try bound(hi, Int64.self)
                return [Tensor(shape: x.shape, int64s: a.map { Swift.min(h ?? .max, Swift.max(l ?? .min, $0)) })]
            case let .int32(a):
                let l = try bound(lo, Int32.self), h = try bound(hi, Int32.self)
                return [Tensor(shape: x.shape, int32s: a.map { Swift.min(h ?? .max, Swift.max(l ?? .min, $0)) })]
            case let .int8(a):
                let l = try bound(lo, Int8.self), h = try bound(hi, Int8.self)
                return [Tensor(shape: x.shape, values: a.map { Swift.min(h ?? .max, Swift.max(l ?? .min, $0)) })]
            case let .uint8(a):
                let l = try bound(lo, UInt8.self), h = try bound(hi, UInt8.self)
                return [Tensor(shape: x.shape, values: a.map { Swift.min(h ?? .max, Swift.max(l ?? .min, $0)) })]
            default: throw OpError("Clip does not support \(x.dtype)")
            }
        }
    }

    // MARK: Where

    struct Select: TensorVisitor {
        let cond: [Bool], cShape: [Int], xShape: [Int], y: Tensor
        func visit<T: TensorElement>(_ x: [T]) throws -> Tensor {
            guard let yv = y.array(T.self) else { throw OpError("X and Y types differ: \(T.dtype) and \(y.dtype)") }
            let out = try Broadcast.shape([cShape, xShape, y.shape])
            let ic = Broadcast.indices(cShape, to: out), ix = Broadcast.indices(xShape, to: out), iy = Broadcast.indices(y.shape, to: out)
            var r = [T]()
            r.reserveCapacity(ic.count)
            for i in 0..<ic.count { r.append(cond[ic[i]] ? x[ix[i]] : yv[iy[i]]) }
            return Tensor(shape: out, values: r)
        }
    }

    static let whereOp = OpDefinition("Where", make: K.simple { ins, _ in
        let c = try K.input(ins, 0), x = try K.input(ins, 1), y = try K.input(ins, 2)
        guard let cb = c.bools else { throw OpError("condition must be bool") }
        return [try x.visit(Select(cond: cb, cShape: c.shape, xShape: x.shape, y: y))]
    })

    // MARK: Cast

    static let cast = OpDefinition("Cast") { n in
        let to = try n.require(n.int("to"), "to")
        guard let dt = DType(rawValue: to) else { throw InferenceError.unsupportedDataType(to, context: "Cast 'to'") }
        return ClosureKernel { ins, _ in [Cast.convert(try K.input(ins, 0), to: dt)] }
    }

    static let castLike = OpDefinition("CastLike", versions: 15...22, make: K.simple { ins, _ in
        [Cast.convert(try K.input(ins, 0), to: try K.input(ins, 1).dtype)]
    })
}

/// Element type conversion with defined results for every input (no traps): float → integer
/// truncates toward zero; NaN, ±∞ and out-of-range values give Int64.min before narrowing
/// (what x86's cvttsd2si returns); narrowing integer conversions wrap (two's complement).
public enum Cast {
    @inline(__always) static func toInt64(_ d: Double) -> Int64 {
        guard d.isFinite, d > -9.223372036854775808e18, d < 9.223372036854775808e18 else { return .min }
        return Int64(d)
    }

    public static func convert(_ t: Tensor, to dt: DType) -> Tensor {
        if t.dtype == dt { return t }
        let storage: TensorStorage
        switch t.storage {
        case let .float32(a):
            switch dt {
            case .float64: storage = .float64(a.map { Double($0) })
            default: return fromInt64(a.map { toInt64(Double($0)) }, bools: a.map { $0 != 0 }, shape: t.shape, to: dt)
            }
        case let .float64(a):
            switch dt {
            case .float32: storage = .float32(a.map { Float($0) })
            default: return fromInt64(a.map { toInt64($0) }, bools: a.map { $0 != 0 }, shape: t.shape, to: dt)
            }
        case let .int64(a): return fromInteger(a, shape: t.shape, to: dt)
        case let .int32(a): return fromInteger(a, shape: t.shape, to: dt)
        case let .int8(a): return fromInteger(a, shape: t.shape, to: dt)
        case let .uint8(a): return fromInteger(a, shape: t.shape, to: dt)
        case let .bool(a): return fromInteger(a.map { Int64($0 ? 1 : 0) }, shape: t.shape, to: dt)
        }
        return Tensor(shape: t.shape, storage: storage)
    }

    static func fromInt64(_ a: [Int64], bools: [Bool], shape: [Int], to dt: DType) -> Tensor {
        if dt == .bool { return Tensor(shape: shape, bools: bools) }
        return fromInteger(a, shape: shape, to: dt)
    }

    static func fromInteger<I: BinaryInteger>(_ a: [I], shape: [Int], to dt: DType) -> Tensor {
        let s: TensorStorage
        switch dt {
        case .float32: s = .float32(a.map { Float($0) })
        case .float64: s = .float64(a.map { Double($0) })
        case .int64: s = .int64(a.map { Int64(truncatingIfNeeded: $0) })
        case .int32: s = .int32(a.map { Int32(truncatingIfNeeded: $0) })
        case .int8: s = .int8(a.map { Int8(truncatingIfNeeded: $0) })
        case .uint8: s = .uint8(a.map { UInt8(truncatingIfNeeded: $0) })
        case .bool: s = .bool(a.map { $0 != 0 })
        }
        return Tensor(shape: shape, storage: s)
    }
}
