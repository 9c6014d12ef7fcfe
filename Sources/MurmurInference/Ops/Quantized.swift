/// Quantisation operators: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and
/// MatMulInteger. Integer arithmetic is exact (MatMulInteger accumulates in int32, which no
/// order can change); float steps are single IEEE operations in the order the ONNX spec
/// writes them, with rounding half to even.
enum QuantizedOps {
    static let all: [OpDefinition] = [quantize, dequantize, dynamicQuantize, matMulInteger, convInteger, qlinearMatMul, qlinearConv]

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
    /// A (1-D, length M) or per column of B (1-D, length N). A constant B (with a constant or
    /// absent zero point) is widened once at load.
    static let matMulInteger = OpDefinition("MatMulInteger", versions: 10...22) { n in
        var prepared: [Int32]? = nil
        if let b = n.constantInput(1), n.node.inputs.count <= 3 || n.node.inputs[3].isEmpty || n.constantInput(3) != nil {
            prepared = try? bMinusZero(b, n.constantInput(3))
        }
        let constantB = prepared
        return ClosureKernel { ins, ctx in
            let a = try K.input(ins, 0), b = try K.input(ins, 1)
            var av = try widen(a, "A")
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
            let bv = try constantB ?? bMinusZero(b, K.optional(ins, 3))
            if b.rank == 2 && a.rank >= 1 && a.shape[a.rank - 1] == b.shape[0] {
                let k = b.shape[0], nCols = b.shape[1]
                let rows = a.count / Swift.max(k, 1)
                let outShape = a.rank == 1 ? [nCols] : Array(a.shape.dropLast()) + [nCols]
                return [Tensor(shape: outShape, int32s: imatmul(av, bv, rows: rows, k: k, n: nCols, ctx))]
            }
            return [try MatMulOps.matmul(Tensor(shape: a.shape, int32s: av), Tensor(shape: b.shape, int32s: bv), ctx)]
        }
    }

    /// B − b_zero_point as int32 (scalar or per-column zero point).
    static func bMinusZero(_ b: Tensor, _ z: Tensor?) throws -> [Int32] {
        var bv = try widen(b, "B")
        guard let z else { return bv }
        let zs = try widen(z, "b_zero_point")
        guard b.rank >= 1 else { throw OpError("B must have rank ≥ 1") }
        let n = b.rank >= 2 ? b.shape[b.rank - 1] : 1
        if zs.count == 1 {
            for i in bv.indices { bv[i] = bv[i] &- zs[0] }
        } else {
            guard zs.count == n else { throw OpError("b_zero_point has \(zs.count) values, B has \(n) columns") }
            for i in bv.indices { bv[i] = bv[i] &- zs[i % n] }
        }
        return bv
    }

    /// C[rows×n] = A[rows×k]·B[k×n] in int32 (exact, wrapping); rows split across threads.
    static func imatmul(_ a: [Int32], _ b: [Int32], rows: Int, k: Int, n: Int, _ ctx: RunContext) -> [Int32] {
        var c = [Int32](repeating: 0, count: rows * n)
        guard rows > 0, n > 0, k > 0 else { return c }
        if let exact = exactThroughFloat(a, b, rows: rows, k: k, n: n, ctx) { return exact }
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            let cs = SendablePointer(cp.baseAddress!)
            let (pa, pb) = (UncheckedBox(ap.baseAddress!), UncheckedBox(bp.baseAddress!))
            ctx.parallelFor(rows, minChunk: Swift.max(1, 65536 / Swift.max(1, n * k))) { range in
                for i in range {
                    let row = cs.p + i * n
                    for p in 0..<k {
                        let av = pa.value[i * k + p]
                        if av == 0 { continue }
                        let br = pb.value + p * n
                        for j in 0..<n { row[j] = row[j] &+ av &* br[j] }
                    }
                }
            }
        } } }
        return c
    }

    /// The integer product through the float32 GEMM when that is exact: if k·max|a|·max|b| < 2^24,
    /// every product and every partial sum is an integer below 2^24 in magnitude, which float32
    /// holds exactly, so each fused multiply-add is exact and the result equals the integer sum
    /// (which then cannot wrap either). Integer sums do not depend on order, so the bits are the
    /// same as the integer loop's. nil when the bound does not hold.
    static func exactThroughFloat(_ a: [Int32], _ b: [Int32], rows: Int, k: Int, n: Int, _ ctx: RunContext) -> [Int32]? {
        func maxAbs(_ v: [Int32]) -> Int64 {
            var m: Int64 = 0
            v.withUnsafeBufferPointer { p in for x in p { let y = Int64(x).magnitude; if y > m { m = Int64(y) } } }
            return m
        }
        let limit: Int64 = 1 << 24
        let ma = maxAbs(a), mb = maxAbs(b)
        guard ma < limit, mb < limit else { return nil }
        let (ab, o1) = ma.multipliedReportingOverflow(by: mb)
        let (bound, o2) = ab.multipliedReportingOverflow(by: Int64(k))
        guard !o1, !o2, bound < limit, a.count >= rows * k, b.count >= k * n else { return nil }
        let af = a.map { Float($0) }, bf = b.map { Float($0) }
        var cf = [Float](repeating: 0, count: rows * n)
        af.withUnsafeBufferPointer { pa in bf.withUnsafeBufferPointer { pb in cf.withUnsafeMutableBufferPointer { pc in
            MatMulOps.sgemm(pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, m: rows, n: n, k: k, context: ctx)
        } } }
        return cf.map { Int32($0) }
    }

    // MARK: integer convolution and QLinear operators

    /// Widens uint8 / int8 elements to int32.
    static func widen(_ t: Tensor, _ what: String) throws -> [Int32] {
        switch t.storage {
        case let .uint8(v): return v.map { Int32($0) }
        case let .int8(v): return v.map { Int32($0) }
        case let .int32(v): return v
        default: throw OpError("\(what) must be uint8 or int8, got \(t.dtype)")
        }
    }

    /// int32 convolution of (x − xZero) with (w − wZero[m]); taps in the padding contribute
    /// nothing (they hold the zero point). Exact integer sums, any order gives the same value.
    static func convInt32(_ x: Tensor, _ w: Tensor, xZero: Int32, wZero: [Int32], window: Window, group: Int,
                          prepared: [Int32]? = nil, context: RunContext = RunContext()) throws -> Tensor {
        let xs = try widen(x, "x")
        guard x.rank >= 3, w.rank == x.rank else { throw OpError("x \(x.shape) and w \(w.shape) must have the same rank ≥ 3") }
        let r = x.rank - 2
        let batch = x.shape[0], cIn = x.shape[1], mOut = w.shape[0]
        guard group >= 1, cIn % group == 0, mOut % group == 0, w.shape[1] == cIn / group else {
            throw OpError("w \(w.shape) does not match \(cIn) input channels in \(group) groups")
        }
        guard wZero.count == 1 || wZero.count == mOut else { throw OpError("w_zero_point has \(wZero.count) values for \(mOut) output channels") }
        let ws = try prepared ?? weightsMinusZero(w, wZero)
        var win = window
        if win.kernel.isEmpty { win.kernel = Array(w.shape[2...]) }
        let bound = 1 << 20
        for (name, v) in [("kernel_shape", win.kernel), ("strides", win.strides), ("dilations", win.dilations), ("pads", win.pads)]
            where v.contains(where: { $0 < 0 || $0 > bound }) {
            throw OpError("\(name) \(v) must hold values in 0...\(bound)")
        }
        guard win.kernel == Array(w.shape[2...]) else { throw OpError("kernel_shape \(win.kernel) differs from w \(w.shape)") }
        let inSp = Array(x.shape[2...])
        let (outSp, pb, _, rw) = try win.resolve(inSp)
        let cPerGroup = cIn / group, mPerGroup = mOut / group
        let outPlane = outSp.reduce(1, *), inPlane = inSp.reduce(1, *), kPlane = win.kernel.reduce(1, *)
        let kernel = win.kernel
        if r == 2 {
            return Tensor(shape: [batch, mOut] + outSp, int32s: convInt32Planar(
                xs, ws, xZero: xZero, batch: batch, cIn: cIn, mOut: mOut, group: group,
                inH: inSp[0], inW: inSp[1], outH: outSp[0], outW: outSp[1], kH: kernel[0], kW: kernel[1],
                strides: rw.strides, dilations: rw.dilations, padTop: pb[0], padLeft: pb[1], context: context))
        }
        // For each output position, (kernel offset, input offset) of the taps inside the input.
        var tapStart = [Int](repeating: 0, count: outPlane + 1)
        var tapK: [Int] = [], tapX: [Int] = []
        let iStr = K.strides(inSp)
        var oc = [Int](repeating: 0, count: r)
        for p in 0..<outPlane {
            tapStart[p] = tapK.count
            var kc = [Int](repeating: 0, count: r)
            for kf in 0..<kPlane {
                var inside = true, xf = 0
                for d in 0..<r {
                    let i = oc[d] * rw.strides[d] - pb[d] + kc[d] * rw.dilations[d]
                    if i < 0 || i >= inSp[d] { inside = false; break }
                    xf += i * iStr[d]
                }
                if inside { tapK.append(kf); tapX.append(xf) }
                var d = r - 1
                while d >= 0 { kc[d] += 1; if kc[d] < kernel[d] { break }; kc[d] = 0; d -= 1 }
            }
            var d = r - 1
            while d >= 0 { oc[d] += 1; if oc[d] < outSp[d] { break }; oc[d] = 0; d -= 1 }
        }
        tapStart[outPlane] = tapK.count
        var y = [Int32](repeating: 0, count: batch * mOut * outPlane)
        for n in 0..<batch {
            for m in 0..<mOut {
                let g = m / mPerGroup
                for p in 0..<outPlane {
                    var acc: Int32 = 0
                    for cg in 0..<cPerGroup {
                        let c = g * cPerGroup + cg
                        let xb = (n * cIn + c) * inPlane, wb = (m * cPerGroup + cg) * kPlane
                        for t in tapStart[p]..<tapStart[p + 1] {
                            acc = acc &+ (xs[xb + tapX[t]] &- xZero) &* ws[wb + tapK[t]]
                        }
                    }
                    y[(n * mOut + m) * outPlane + p] = acc
                }
            }
        }
        return Tensor(shape: [batch, mOut] + outSp, int32s: y)
    }

    /// 2-D integer convolution as im2col (padding taps hold 0 = x − x_zero_point) followed by
    /// the int32 product W[m, (c, kh, kw)] · col[(c, kh, kw), p] per group. Integer sums are
    /// exact, so this order gives the same values as any other.
    static func convInt32Planar(_ xs: [Int32], _ ws: [Int32], xZero: Int32, batch: Int, cIn: Int, mOut: Int, group: Int,
                                inH: Int, inW: Int, outH: Int, outW: Int, kH: Int, kW: Int,
                                strides: [Int], dilations: [Int], padTop: Int, padLeft: Int,
                                context: RunContext = RunContext()) -> [Int32] {
        let cPerGroup = cIn / group, mPerGroup = mOut / group
        let (sh, sw, dh, dw) = (strides[0], strides[1], dilations[0], dilations[1])
        let plane = outH * outW, kk = cPerGroup * kH * kW
        var y = [Int32](repeating: 0, count: batch * mOut * plane)
        guard plane > 0, kk > 0, mPerGroup > 0 else { return y }
        let pointwise = kH == 1 && kW == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 && outH == inH && outW == inW
        var col = [Int32](repeating: 0, count: pointwise ? 0 : kk * plane)
        for n in 0..<batch {
            for g in 0..<group {
                let b: [Int32]
                if pointwise {
                    let start = (n * cIn + g * cPerGroup) * plane
                    b = xs[start..<(start + kk * plane)].map { $0 &- xZero }
                } else {
                    col.withUnsafeMutableBufferPointer { cb in xs.withUnsafeBufferPointer { xb in
                        let cp = cb.baseAddress!
                        for cg in 0..<cPerGroup {
                            let xc = xb.baseAddress! + (n * cIn + g * cPerGroup + cg) * inH * inW
                            for kh in 0..<kH { for kw in 0..<kW {
                                let row = cp + ((cg * kH + kh) * kW + kw) * plane
                                for oh in 0..<outH {
                                    let ih = oh * sh - padTop + kh * dh
                                    let dst = row + oh * outW
                                    if ih < 0 || ih >= inH { dst.update(repeating: 0, count: outW); continue }
                                    for ow in 0..<outW {
                                        let iw = ow * sw - padLeft + kw * dw
                                        dst[ow] = iw < 0 || iw >= inW ? 0 : xc[ih * inW + iw] &- xZero
                                    }
                                }
                            } }
                        }
                    } }
                    b = col
                }
                let wg = Array(ws[(g * mPerGroup * kk)..<((g + 1) * mPerGroup * kk)])
                let part = imatmul(wg, b, rows: mPerGroup, k: kk, n: plane, context)
                let dst = (n * mOut + g * mPerGroup) * plane
                y.replaceSubrange(dst..<(dst + mPerGroup * plane), with: part)
            }
        }
        return y
    }

    /// w − w_zero_point[m] as int32 (zero point scalar or per output channel m).
    static func weightsMinusZero(_ w: Tensor, _ wZero: [Int32]) throws -> [Int32] {
        var ws = try widen(w, "w")
        guard w.rank >= 1, w.shape[0] > 0 else { return ws }
        let per = ws.count / w.shape[0]
        guard wZero.count == 1 || wZero.count == w.shape[0] else { throw OpError("w_zero_point has \(wZero.count) values for \(w.shape[0]) output channels") }
        for i in ws.indices { ws[i] = ws[i] &- (wZero.count == 1 ? wZero[0] : wZero[i / Swift.max(per, 1)]) }
        return ws
    }

    static func zeroPoint(_ t: Tensor?, _ what: String) throws -> [Int32] {
        guard let t else { return [0] }
        return try widen(t, what)
    }

    static let convInteger = OpDefinition("ConvInteger", versions: 10...22) { n in
        let window = Window(n, kernel: n.ints("kernel_shape"))
        let group = n.int("group", default: 1)
        // Constant weights (and zero point) are widened once at load.
        var prepared: [Int32]? = nil
        if let w = n.constantInput(1), n.node.inputs.count <= 3 || n.node.inputs[3].isEmpty || n.constantInput(3) != nil {
            prepared = try? weightsMinusZero(w, zeroPoint(n.constantInput(3), "w_zero_point"))
        }
        let constantW = prepared
        return ClosureKernel { ins, ctx in
            let xz = try zeroPoint(K.optional(ins, 2), "x_zero_point")
            guard xz.count == 1 else { throw OpError("x_zero_point must be a scalar") }
            return [try convInt32(K.input(ins, 0), K.input(ins, 1), xZero: xz[0], wZero: zeroPoint(K.optional(ins, 3), "w_zero_point"),
                                  window: window, group: group, prepared: constantW, context: ctx)]
        }
    }

    /// Requantises int32 accumulators: y = saturate(round_half_even(Float(acc) · (sa·sb / sy)) + zy),
    /// the multiplier computed once per output channel as (sa · sb) / sy in float32.
    static func requantize(_ acc: [Int32], channelOf: (Int) -> Int, multipliers: [Float], zero: Int32, type: DType, shape: [Int]) throws -> Tensor {
        let (lo, hi): (Float, Float) = type == .uint8 ? (0, 255) : (-128, 127)
        guard type == .uint8 || type == .int8 else { throw OpError("y_zero_point must be uint8 or int8, got \(type)") }
        var q = [Int32](repeating: 0, count: acc.count)
        for i in 0..<acc.count {
            let v = (Float(acc[i]) * multipliers[channelOf(i)]).rounded(.toNearestOrEven) + Float(zero)
            q[i] = Int32(Swift.min(hi, Swift.max(lo, v.isNaN ? Float(zero) : v)))
        }
        if type == .uint8 { return Tensor(shape: shape, values: q.map { UInt8($0) }) }
        return Tensor(shape: shape, values: q.map { Int8($0) })
    }

    static let qlinearMatMul = OpDefinition("QLinearMatMul", versions: 10...22, make: K.simple { ins, ctx in
        let a = try K.input(ins, 0), b = try K.input(ins, 3)
        let sa = try K.floats(K.input(ins, 1, "a_scale"), "a_scale"), sb = try K.floats(K.input(ins, 4, "b_scale"), "b_scale")
        let sy = try K.floats(K.input(ins, 6, "y_scale"), "y_scale")
        let za = try widen(K.input(ins, 2, "a_zero_point"), "a_zero_point"), zb = try widen(K.input(ins, 5, "b_zero_point"), "b_zero_point")
        let zyT = try K.input(ins, 7, "y_zero_point")
        let zy = try widen(zyT, "y_zero_point")
        guard sa.count == 1, za.count == 1, sy.count == 1, zy.count == 1 else { throw OpError("a and y quantisation parameters must be scalars") }
        let n = b.rank >= 2 ? b.shape[b.rank - 1] : 1
        guard (sb.count == 1 || sb.count == n), (zb.count == 1 || zb.count == n) else { throw OpError("b parameters must be scalars or per column") }
        var av = try widen(a, "a"), bv = try widen(b, "b")
        for i in av.indices { av[i] = av[i] &- za[0] }
        for i in bv.indices { bv[i] = bv[i] &- zb[zb.count == 1 ? 0 : i % n] }
        let acc = try MatMulOps.matmul(Tensor(shape: a.shape, int32s: av), Tensor(shape: b.shape, int32s: bv), ctx)
        let mult = sb.map { (sa[0] * $0) / sy[0] }
        return [try requantize(acc.int32s ?? [], channelOf: { mult.count == 1 ? 0 : $0 % n }, multipliers: mult, zero: zy[0], type: zyT.dtype, shape: acc.shape)]
    })

    static let qlinearConv = OpDefinition("QLinearConv", versions: 10...22) { n in
        let window = Window(n, kernel: n.ints("kernel_shape"))
        let group = n.int("group", default: 1)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), w = try K.input(ins, 3)
            let sx = try K.floats(K.input(ins, 1, "x_scale"), "x_scale"), sw = try K.floats(K.input(ins, 4, "w_scale"), "w_scale")
            let sy = try K.floats(K.input(ins, 6, "y_scale"), "y_scale")
            let zx = try widen(K.input(ins, 2, "x_zero_point"), "x_zero_point"), zw = try widen(K.input(ins, 5, "w_zero_point"), "w_zero_point")
            let zyT = try K.input(ins, 7, "y_zero_point")
            let zy = try widen(zyT, "y_zero_point")
            guard sx.count == 1, zx.count == 1, sy.count == 1, zy.count == 1 else { throw OpError("x and y quantisation parameters must be scalars") }
            var acc = try convInt32(x, w, xZero: zx[0], wZero: zw, window: window, group: group)
            let m = acc.shape[1], plane = acc.shape[2...].reduce(1, *)
            guard sw.count == 1 || sw.count == m else { throw OpError("w_scale has \(sw.count) values for \(m) channels") }
            if let bT = K.optional(ins, 8) {
                guard let bias = bT.int32s, bias.count == m else { throw OpError("B must be int32 with \(m) values") }
                var v = acc.int32s ?? []
                for i in v.indices { v[i] = v[i] &+ bias[(i / plane) % m] }
                acc = Tensor(shape: acc.shape, int32s: v)
            }
            let mult = sw.map { (sx[0] * $0) / sy[0] }
            return [try requantize(acc.int32s ?? [], channelOf: { mult.count == 1 ? 0 : ($0 / plane) % m }, multipliers: mult,
                                   zero: zy[0], type: zyT.dtype, shape: acc.shape)]
        }
    }
}
