/// Quantisation operators: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and
/// MatMulInteger. Integer arithmetic is exact (MatMulInteger accumulates in int32, which no
/// order can change); float steps are single IEEE operations in the order the ONNX spec
/// writes them, with rounding half to even.
enum QuantizedOps {
    static let all: [OpDefinition] = [quantize, dequantize, dynamicQuantize, matMulInteger]

    /// Per-tensor or per-axis parameters: for element `i` of a tensor of `shape`, the index
    /// into a 1-D parameter of length shape[axis] (or 0 for a scalar parameter).
    struct Broadcaster {
        let perAxis: Bool
        let inner: Int
        let len: Int
        init(shape: [Int], paramCount: Int, paramRank: Int, axis: Int) throws {
            if paramCount == 1 && paramRank <= 1 {
                perAxis = false; inner = 1; len = 1
                return
            }
            guard paramRank == 1 else { throw OpError("scale / zero point must be a scalar or 1-D (blocked quantisation is not supported)") }
            let a = try K.axis(axis, rank: shape.count)
            guard shape[a] == paramCount else {
                throw OpError("per-axis parameters have \(paramCount) values, axis \(a) of \(shape) has \(shape[a])")
            }
            perAxis = true
            len = shape[a]
            inner = shape[(a + 1)...].reduce(1, *)
        }
        @inline(__always) func index(_ i: Int) -> Int { perAxis ? (i / inner) % len : 0 }
    }

    /// Round half to even, then saturate to [lo, hi]; NaN maps to the zero point.
    @inline(__always)
    static func quantizeOne(_ x: Float, scale: Float, zeroPoint: Int32, lo: Float, hi: Float) -> Int32 {
        let q = (x / scale).rounded(.toNearestOrEven)
        if q.isNaN { return zeroPoint }
        let v = q + Float(zeroPoint)
        return Int32(Swift.min(hi, Swift.max(lo, v)))
    }

    static let quantize = OpDefinition("QuantizeLinear", versions: 10...22) { n in
        let axis = n.int("axis", default: 1)
        if let b = n.int("block_size"), b != 0 { throw OpError("blocked quantisation (block_size) is not supported") }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let scaleT = try K.input(ins, 1, "y_scale")
            let xs: [Float]
            switch x.storage {
            case let .float32(a): xs = a
            case let .int32(a): xs = a.map { Float($0) }
            default: throw OpError("x must be float32 or int32, got \(x.dtype)")
            }
            let scale = try K.floats(scaleT, "y_scale")
            let zpT = K.optional(ins, 2)
            let zps: [Int32] = zpT.map { $0.doubleValues().map { Int32($0) } } ?? [0]
            let outType = zpT?.dtype ?? .uint8
            let b = try Broadcaster(shape: x.shape, paramCount: scale.count, paramRank: scaleT.rank, axis: axis)
            let zb = try Broadcaster(shape: x.shape, paramCount: zps.count, paramRank: zpT?.rank ?? 0, axis: axis)
            let (lo, hi): (Float, Float)
            switch outType {
            case .uint8: (lo, hi) = (0, 255)
            case .int8: (lo, hi) = (-128, 127)
            default: throw OpError("y_zero_point must be uint8 or int8, got \(outType)")
            }
            var q = [Int32](repeating: 0, count: xs.count)
            for i in 0..<xs.count {
                q[i] = quantizeOne(xs[i], scale: scale[b.index(i)], zeroPoint: zps[zb.index(i)], lo: lo, hi: hi)
            }
            if outType == .uint8 { return [Tensor(shape: x.shape, values: q.map { UInt8($0) })] }
            return [Tensor(shape: x.shape, values: q.map { Int8($0) })]
        }
    }

    /// y = Float(x − zero_point) · scale (the subtraction exact in int32).
    static let dequantize = OpDefinition("DequantizeLinear", versions: 10...22) { n in
        let axis = n.int("axis", default: 1)
        if let b = n.int("block_size"), b != 0 { throw OpError("blocked quantisation (block_size) is not supported") }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let xs: [Int32]
            switch x.storage {
            case let .uint8(a): xs = a.map { Int32($0) }
            case let .int8(a): xs = a.map { Int32($0) }
            case let .int32(a): xs = a
            default: throw OpError("x must be uint8, int8 or int32, got \(x.dtype)")
            }
            let scaleT = try K.input(ins, 1, "x_scale")
            let scale = try K.floats(scaleT, "x_scale")
            let zpT = K.optional(ins, 2)
            if let zpT, zpT.dtype != x.dtype { throw OpError("x_zero_point type \(zpT.dtype) differs from x type \(x.dtype)") }
            let zps: [Int32] = zpT.map { $0.doubleValues().map { Int32($0) } } ?? [0]
            let b = try Broadcaster(shape: x.shape, paramCount: scale.count, paramRank: scaleT.rank, axis: axis)
            let zb = try Broadcaster(shape: x.shape, paramCount: zps.count, paramRank: zpT?.rank ?? 0, axis: axis)
            var y = [Float](repeating: 0, count: xs.count)
            for i in 0..<xs.count { y[i] = Float(xs[i] &- zps[zb.index(i)]) * scale[b.index(i)] }
            return [Tensor(shape: x.shape, floats: y)]
        }
    }

    /// uint8 quantisation with a range that includes 0: scale = (max − min) / 255,
    /// zero point = saturate(round(0 − min / scale)), y = saturate(round(x / scale) + zp).
    /// min and max are taken in ascending element order (order-independent anyway).
    static let dynamicQuantize = OpDefinition("DynamicQuantizeLinear", versions: 11...22, make: K.simple { ins, _ in
        let x = try K.input(ins, 0)
        let xs = try K.floats(x, "x")
        var lo: Float = 0, hi: Float = 0
        for v in xs {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let scale = (hi - lo) / 255
        var zp: Float = 0
        if scale != 0 && scale.isFinite {
            zp = Swift.min(255, Swift.max(0, (0 - lo / scale).rounded(.toNearestOrEven)))
        }
        let zpi = Int32(zp)
        var y = [UInt8](repeating: 0, count: xs.count)
        if scale != 0 && scale.isFinite {
            for i in 0..<xs.count { y[i] = UInt8(quantizeOne(xs[i], scale: scale, zeroPoint: zpi, lo: 0, hi: 255)) }
        }
        return [Tensor(shape: x.shape, values: y), Tensor(shape: [], floats: [scale]), Tensor(shape: [], values: [UInt8(zpi)])]
    })

    /// int32 A·B of (A − a_zero_point) and (B − b_zero_point); zero points scalar, per row of
    /// A (1-D, length M) or per column of B (1-D, length N).
    static let matMulInteger = OpDefinition("MatMulInteger", versions: 10...22, make: K.simple { ins, ctx in
        let a = try K.input(ins, 0), b = try K.input(ins, 1)
        func widen(_ t: Tensor, _ what: String) throws -> [Int32] {
            switch t.storage {
            case let .uint8(v): return v.map { Int32($0) }
            case let .int8(v): return v.map { Int32($0) }
            default: throw OpError("\(what) must be uint8 or int8, got \(t.dtype)")
            }
        }
        var av = try widen(a, "A"), bv = try widen(b, "B")
        if let z = K.optional(ins, 2) {
            let zs = try widen(z, "a_zero_point")
            guard a.rank >= 1 else { throw OpError("A must have rank ≥ 1") }
            let k = a.shape[a.rank - 1]
            if zs.count == 1 {
                for i in av.indices { av[i] = av[i] &- zs[0] }
            } else {
                let m = a.rank >= 2 ? a.shape[a.rank - 2] : 1
                guard zs.count == m else { throw OpError("a_zero_point has \(zs.count) values, A has \(m) rows") }
                for i in av.indices { av[i] = av[i] &- zs[(i / Swift.max(k, 1)) % m] }
            }
        }
        if let z = K.optional(ins, 3) {
            let zs = try widen(z, "b_zero_point")
            guard b.rank >= 1 else { throw OpError("B must have rank ≥ 1") }
            let n = b.rank >= 2 ? b.shape[b.rank - 1] : 1
            if zs.count == 1 {
                for i in bv.indices { bv[i] = bv[i] &- zs[0] }
            } else {
                guard zs.count == n else { throw OpError("b_zero_point has \(zs.count) values, B has \(n) columns") }
                for i in bv.indices { bv[i] = bv[i] &- zs[i % n] }
            }
        }
        return [try MatMulOps.matmul(Tensor(shape: a.shape, int32s: av), Tensor(shape: b.shape, int32s: bv), ctx)]
    })
}
