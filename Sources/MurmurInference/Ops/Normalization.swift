/// Softmax, LogSoftmax, BatchNormalization, LayerNormalization, InstanceNormalization.
/// Reductions run sequentially in ascending index order from +0.0 (Specs/inference.md).
import MurmurKernels

enum NormalizationOps {
    static let all: [OpDefinition] = [softmax(log: false), softmax(log: true), batchNorm, layerNorm, instanceNorm, lrn]

    /// LRN: y = x / (bias + (alpha / size) × Σ x²)^beta, the sum over channels
    /// c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉ ascending with one FMA each; pow is DetMath.pow.
    static let lrn = OpDefinition("LRN") { n in
        let alpha = n.float("alpha", default: 1e-4), beta = n.float("beta", default: 0.75), bias = n.float("bias", default: 1)
        let size = try n.require(n.int("size"), "size")
        guard size > 0 && size < 1 << 16 else { throw OpError("size must be positive") }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let xs = try K.floats(x, "X")
            guard x.rank >= 3 else { throw OpError("X must have rank ≥ 3") }
            let nb = x.shape[0], c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
            let lo = (size - 1) / 2, hi = size - 1 - lo
            var y = xs
            for b in 0..<nb { for ch in 0..<c { for i in 0..<inner {
                var s: Float = 0
                for k in Swift.max(0, ch - lo)...Swift.min(c - 1, ch + hi) {
                    let v = xs[(b * c + k) * inner + i]
                    s = s.addingProduct(v, v)
                }
                let at = (b * c + ch) * inner + i
                y[at] = xs[at] / DetMath.pow(bias + (alpha / Float(size)) * s, beta)
            } } }
            return [Tensor(shape: x.shape, floats: y)]
        }
    }

    /// (outer, axis length, inner) view of `shape` around `axis`.
    static func split(_ shape: [Int], _ axis: Int) -> (Int, Int, Int) {
        // A scalar (or an axis a caller failed to check) is one row of one element: never a trap.
        guard axis >= 0, axis < shape.count else { return (shape.reduce(1, *), 1, 1) }
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// float64 Softmax along one axis: m = max (ascending; NaN propagates); e_i = exp(x_i − m);
    /// s = Σ e_i ascending; y_i = e_i / s. LogSoftmax: y_i = (x_i − m) − log(s).
    static func softmaxCore<T: BinaryFloatingPoint>(_ x: [T], outer: Int, len: Int, inner: Int, log: Bool,
                                                    exp: (T) -> T, ln: (T) -> T) -> [T] {
        var y = [T](repeating: 0, count: x.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * len * inner + i
                var m = -T.infinity
                for k in 0..<len { let v = x[base + k * inner]; if v > m || v.isNaN { m = v } }
                var s: T = 0
                for k in 0..<len {
                    let e = exp(x[base + k * inner] - m)
                    if !log { y[base + k * inner] = e }
                    s = s + e
                }
                if log {
                    let ls = ln(s)
                    for k in 0..<len { y[base + k * inner] = (x[base + k * inner] - m) - ls }
                } else {
                    for k in 0..<len { y[base + k * inner] = y[base + k * inner] / s }
                }
            }
        }
        return y
    }

    /// float32 Softmax / LogSoftmax over slices of length `len` with stride `inner`: each slice
    /// is gathered into a contiguous vector; m = Reduce.max; e = DetMath.exp(x − m);
    /// s = Reduce.sum(e) (Specs/kernels.md §5); y = e / s, or (x − m) − log(s).
    static func softmaxFloat(_ x: [Float], outer: Int, len: Int, inner: Int, log: Bool) -> [Float] {
        if inner == 1 && len > 0 {
            // Contiguous rows: the same steps inside the ISA module (one call for all rows).
            return [Float](unsafeUninitializedCapacity: x.count) { buf, count in
                x.withUnsafeBufferPointer { px in
                    if let p = px.baseAddress, let q = buf.baseAddress { Elementwise.softmaxRows(p, q, rows: outer, len: len, log: log) }
                }
                count = x.count
            }
        }
        var y = [Float](repeating: 0, count: x.count)
        if len == 0 { return y }
        var v = [Float](repeating: 0, count: len), e = [Float](repeating: 0, count: len)
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
            v.withUnsafeMutableBufferPointer { pv in e.withUnsafeMutableBufferPointer { pe in
                for o in 0..<outer { for i in 0..<inner {
                    let base = o * len * inner + i
                    for k in 0..<len { pv[k] = px[base + k * inner] }
                    let m = Reduce.max(UnsafeBufferPointer(pv))
                    for k in 0..<len { pe[k] = pv[k] - m }
                    DetMath.exp(UnsafeBufferPointer(pe), into: pe)
                    let s = Reduce.sum(UnsafeBufferPointer(pe))
                    if log {
                        let ls = DetMath.log(s)
                        for k in 0..<len { py[base + k * inner] = (pv[k] - m) - ls }
                    } else {
                        for k in 0..<len { py[base + k * inner] = pe[k] / s }
                    }
                } }
            } }
        } }
        return y
    }

    /// Contiguous rows (inner = 1).
    static func softmaxRows(_ x: [Float], rows: Int, len: Int, log: Bool) -> [Float] {
        softmaxFloat(x, outer: rows, len: len, inner: 1, log: log)
    }

    static func softmax(log: Bool) -> OpDefinition {
        OpDefinition(log ? "LogSoftmax" : "Softmax") { n in
            let opset = n.opset
            let axisAttr = n.int("axis", default: opset < 13 ? 1 : -1)
            return ClosureKernel { ins, _ in
                let x = try K.input(ins, 0)
                let axis = try K.axis(axisAttr, rank: x.rank)
                let (outer, len, inner): (Int, Int, Int)
                if x.rank == 0 { (outer, len, inner) = (1, 1, 1) }
                else if opset < 13 { (outer, len, inner) = (x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *), 1) }
                else { (outer, len, inner) = split(x.shape, axis) }
                switch x.storage {
                case let .float32(a):
                    return [Tensor(shape: x.shape, floats: softmaxFloat(a, outer: outer, len: len, inner: inner, log: log))]
                case let .float64(a):
                    return [Tensor(shape: x.shape, doubles: softmaxCore(a, outer: outer, len: len, inner: inner, log: log,
                                                                     exp: ScalarMath.expD, ln: ScalarMath.logD))]
                default: throw OpError("unsupported type \(x.dtype)")
                }
            }
        }
    }

    /// y = (x − mean) / √(var + ε) × scale + B, left to right, per channel (inference mode).
    static let batchNorm = OpDefinition("BatchNormalization") { n in
        let eps = n.float("epsilon", default: 1e-5)
        let training = n.int("training_mode", default: 0) != 0
        let momentum = n.float("momentum", default: 0.9)
        if training { return ClosureKernel { ins, _ in try batchNormTraining(ins, eps: eps, momentum: momentum) } }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let scale = try K.input(ins, 1), bias = try K.input(ins, 2), mean = try K.input(ins, 3), variance = try K.input(ins, 4)
            guard x.rank >= 2 else { throw OpError("X must have rank ≥ 2") }
            let c = x.shape[1]
            let inner = x.shape.dropFirst(2).reduce(1, *)
            func run<T: BinaryFloatingPoint>(_ xs: [T], _ s: [T], _ b: [T], _ m: [T], _ v: [T], _ e: T) throws -> [T] {
                guard s.count == c, b.count == c, m.count == c, v.count == c else { throw OpError("per-channel inputs must have \(c) values") }
                var y = xs
                for nIdx in 0..<x.shape[0] { for ch in 0..<c {
                    let den = (v[ch] + e).squareRoot()
                    let base = (nIdx * c + ch) * inner
                    for i in 0..<inner { y[base + i] = (xs[base + i] - m[ch]) / den * s[ch] + b[ch] }
                } }
                return y
            }
            switch x.storage {
            case let .float32(a):
                let s = try K.floats(scale, "scale"), b = try K.floats(bias, "B"), m = try K.floats(mean, "mean"), v = try K.floats(variance, "var")
                guard s.count == c, b.count == c, m.count == c, v.count == c else { throw OpError("per-channel inputs must have \(c) values") }
                // Same expression per element as `run`, over unsafe pointers.
                let y = [Float](unsafeUninitializedCapacity: a.count) { buf, count in
                    a.withUnsafeBufferPointer { src in
                        guard let xs = src.baseAddress, let ys = buf.baseAddress else { return }
                        for nIdx in 0..<x.shape[0] { for ch in 0..<c {
                            let den = (v[ch] + eps).squareRoot()
                            let mc = m[ch], sc = s[ch], bc = b[ch]
                            let base = (nIdx * c + ch) * inner
                            let xp = xs + base, yp = ys + base
                            for i in 0..<inner { yp[i] = (xp[i] - mc) / den * sc + bc }
                        } }
                    }
                    count = a.count
                }
                return [Tensor(shape: x.shape, floats: y)]
            case let .float64(a):
                guard let s = scale.doubles, let b = bias.doubles, let m = mean.doubles, let v = variance.doubles else { throw OpError("parameter types differ from X") }
                return [Tensor(shape: x.shape, doubles: try run(a, s, b, m, v, Double(eps)))]
            default: throw OpError("unsupported type \(x.dtype)")
            }
        }
    }

    /// training_mode=1: batch statistics per channel over (N, spatial) in ascending order —
    /// mean = (Σ x) / m; var = (Σ fma(x − mean, x − mean)) / m (population) — then the
    /// inference formula with them; running stats = (input × momentum) + (batch × (1 − momentum)).
    static func batchNormTraining(_ ins: [Tensor?], eps: Float, momentum: Float) throws -> [Tensor] {
        let x = try K.input(ins, 0)
        let xs = try K.floats(x, "X")
        let scale = try K.floats(K.input(ins, 1), "scale"), bias = try K.floats(K.input(ins, 2), "B")
        let rm = try K.floats(K.input(ins, 3), "input_mean"), rv = try K.floats(K.input(ins, 4), "input_var")
        guard x.rank >= 2 else { throw OpError("X must have rank ≥ 2") }
        let nb = x.shape[0], c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
        guard scale.count == c, bias.count == c, rm.count == c, rv.count == c, nb * inner > 0 else { throw OpError("per-channel inputs must have \(c) values") }
        let m = Float(nb * inner)
        var y = xs, mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            var s: Float = 0
            for i in 0..<nb { for j in 0..<inner { s = s + xs[(i * c + ch) * inner + j] } }
            mean[ch] = s / m
            var v: Float = 0
            for i in 0..<nb { for j in 0..<inner { let d = xs[(i * c + ch) * inner + j] - mean[ch]; v = v.addingProduct(d, d) } }
            variance[ch] = v / m
            let den = (variance[ch] + eps).squareRoot()
            for i in 0..<nb { for j in 0..<inner {
                let k = (i * c + ch) * inner + j
                y[k] = (xs[k] - mean[ch]) / den * scale[ch] + bias[ch]
            } }
        }
        let runMean = (0..<c).map { rm[$0] * momentum + mean[$0] * (1 - momentum) }
        let runVar = (0..<c).map { rv[$0] * momentum + variance[$0] * (1 - momentum) }
        return [Tensor(shape: x.shape, floats: y), Tensor(shape: [c], floats: runMean), Tensor(shape: [c], floats: runVar)]
    }

    /// One row: mean = Reduce.sum(x) / n; d = x − mean (stored in y); var = Reduce.dot(d, d) / n;
    /// r = 1 / √(var + ε); y = ((d × r) × scale) + bias.
    static func layerNormRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, eps: Float,
                             scale: UnsafePointer<Float>, bias: UnsafePointer<Float>?) -> (Float, Float) {
        let mean = Reduce.sum(UnsafeBufferPointer(start: x, count: n)) / Float(n)
        for i in 0..<n { y[i] = x[i] - mean }
        let d = UnsafeBufferPointer(start: UnsafePointer(y), count: n)
        let variance = Reduce.dot(d, d) / Float(n)
        let r = 1 / (variance + eps).squareRoot()
        if let bias {
            for i in 0..<n { y[i] = ((y[i] * r) * scale[i]) + bias[i] }
        } else {
            for i in 0..<n { y[i] = (y[i] * r) * scale[i] }
        }
        return (mean, r)
    }

    static let layerNorm = OpDefinition("LayerNormalization", versions: 17...22) { n in
        let axisAttr = n.int("axis", default: -1)
        let eps = n.float("epsilon", default: 1e-5)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), scale = try K.input(ins, 1), bias = K.optional(ins, 2)
            let xs = try K.floats(x, "X")
            let axis = try K.axis(axisAttr, rank: x.rank)
            let normShape = Array(x.shape[axis...])
            let rows = x.shape[..<axis].reduce(1, *), len = normShape.reduce(1, *)
            if len == 0 || rows == 0 { return [x] }
            // Unidirectional: Scale and B must broadcast *to* the normalised shape.
            guard try Broadcast.shape([scale.shape, normShape]) == normShape,
                  try bias.map({ try Broadcast.shape([$0.shape, normShape]) == normShape }) ?? true else {
                throw OpError("Scale \(scale.shape) / B \(bias?.shape ?? []) do not broadcast to \(normShape)")
            }
            // Scale and bias materialised at the normalised shape.
            let sv = Broadcast.expand(try K.floats(scale, "Scale"), scale.shape, to: normShape)
            let bv = try bias.map { Broadcast.expand(try K.floats($0, "B"), $0.shape, to: normShape) }
            var y = [Float](repeating: 0, count: xs.count)
            var means = [Float](repeating: 0, count: rows), invs = [Float](repeating: 0, count: rows)
            xs.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                guard let bx = px.baseAddress, let by = py.baseAddress else { return }
                sv.withUnsafeBufferPointer { ps in (bv ?? []).withUnsafeBufferPointer { pb in
                    for r in 0..<rows {
                        let (m, iv) = layerNormRow(bx + r * len, by + r * len, n: len, eps: eps,
                                                   scale: ps.baseAddress!, bias: bv == nil ? nil : pb.baseAddress)
                        means[r] = m; invs[r] = iv
                    }
                } }
            } }
            let statShape = Array(x.shape[..<axis]) + Array(repeating: 1, count: x.rank - axis)
            return [Tensor(shape: x.shape, floats: y), Tensor(shape: statShape, floats: means), Tensor(shape: statShape, floats: invs)]
        }
    }

    /// InstanceNormalization: LayerNorm's row formula per (n, c) over the spatial dims, then
    /// per-channel scale and bias.
    static let instanceNorm = OpDefinition("InstanceNormalization") { n in
        let eps = n.float("epsilon", default: 1e-5)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let xs = try K.floats(x, "X"), sv = try K.floats(K.input(ins, 1), "scale"), bv = try K.floats(K.input(ins, 2), "B")
            guard x.rank >= 3, sv.count == x.shape[1], bv.count == x.shape[1] else { throw OpError("bad shapes") }
            let c = x.shape[1], len = x.shape.dropFirst(2).reduce(1, *)
            if len == 0 || x.count == 0 { return [x] }
            var y = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                guard let bx = px.baseAddress, let by = py.baseAddress else { return }
                var sRow = [Float](repeating: 0, count: len), bRow = [Float](repeating: 0, count: len)
                for r in 0..<(x.shape[0] * c) {
                    for i in 0..<len { sRow[i] = sv[r % c]; bRow[i] = bv[r % c] }
                    sRow.withUnsafeBufferPointer { ps in bRow.withUnsafeBufferPointer { pbb in
                        _ = layerNormRow(bx + r * len, by + r * len, n: len, eps: eps, scale: ps.baseAddress!, bias: pbb.baseAddress!)
                    } }
                }
            } }
            return [Tensor(shape: x.shape, floats: y)]
        }
    }
}
