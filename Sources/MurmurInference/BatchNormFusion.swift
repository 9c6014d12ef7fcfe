import MurmurKernels
import MurmurKernelBodies

/// Inference-mode BatchNormalization followed by a one-input element-wise group on its output
/// (`BatchNormalization+Fused`, Specs/inference.md §4). Per (n, c) row the BN expression runs as
/// four kernel instructions — ((x − mean) / den) × scale + B with den = √(var + ε), the operations
/// and order of the BN kernel — then the group's program, in one pass over the row: the bits of the
/// two nodes run one after the other. Other types and shapes run the two kernels in sequence.
struct BatchNormFused: OpKernel {
    let bn: any OpKernel
    let post: FusedElementwise
    let eps: Float
    /// A 2×2 stride-2 MaxPool / AveragePool that alone reads the group's output
    /// (`BatchNormalization+Fused(…)+MaxPool`): each finished (n, c) plane is pooled from a
    /// scratch plane (`PoolOps.pool2x2s2Plane`, the pool's own visits), so the pre-pool tensor is
    /// never stored. nil: the step produces the group's output.
    var pool: (kernel: any OpKernel, average: Bool)? = nil
    /// Rows shorter than this run the two kernels in sequence (a kernel call per row would cost more).
    static let minRow = 64

    /// nil for training mode (several outputs, batch statistics).
    static func make(_ n: NodeContext, bn: any OpKernel, post: FusedElementwise) -> BatchNormFused? {
        guard n.int("training_mode", default: 0) == 0, post.externalCount == 1 else { return nil }
        return BatchNormFused(bn: bn, post: post, eps: n.float("epsilon", default: 1e-5))
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        guard inputs.count == 5, let x = inputs[0], x.rank >= 2, let a = x.floats, !a.isEmpty,
              let s = inputs[1]?.floats, let b = inputs[2]?.floats, let m = inputs[3]?.floats, let v = inputs[4]?.floats
        else { return try sequence(inputs, context) }
        let c = x.shape[1]
        let inner = x.shape.dropFirst(2).reduce(1, *)
        guard c > 0, inner >= Self.minRow, s.count == c, b.count == c, m.count == c, v.count == c,
              a.count == x.shape[0] * c * inner,
              (try? Broadcast.shape([x.shape] + post.constantShapes)) == x.shape else { return try sequence(inputs, context) }
        // Relu alone runs inline (v < 0 ? 0 : v, then + 0: the bits of Relu on an arithmetic
        // result, see `ElementwiseFusion.arithmeticProducers`); any other program runs in place
        // over each finished row (still in cache).
        let reluOnly: Bool
        if post.insts.count == 1, case .relu = post.insts[0].op { reluOnly = true } else { reluOnly = false }
        let program = reluOnly ? [] : post.program
        func finish(_ ys: UnsafeMutablePointer<Float>, _ base: Int, _ ch: Int, _ xs: UnsafePointer<Float>) {
            let den = (v[ch] + eps).squareRoot()
            Self.row(xs + base, ys, inner, m[ch], den, s[ch], b[ch], relu: reluOnly)
            if !reluOnly {
                var e = UnsafePointer(ys)
                program.withUnsafeBufferPointer { ip in
                    withUnsafePointer(to: &e) { ep in
                        Elementwise.run(ip, externals: UnsafeBufferPointer(start: ep, count: 1), output: ys, count: inner)
                    }
                }
            }
        }
        if let pool {
            guard x.rank == 4, x.shape[2] >= 2, x.shape[3] >= 2 else { return try sequence(inputs, context) }
            let (h, w) = (x.shape[2], x.shape[3])
            let (oh, ow) = (h / 2, w / 2)
            let planes = x.shape[0] * c
            let y = [Float](unsafeUninitializedCapacity: planes * oh * ow) { buf, count in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: inner) { t in
                    a.withUnsafeBufferPointer { src in
                        guard let xs = src.baseAddress, let ys = buf.baseAddress, let tp = t.baseAddress else { return }
                        for plane in 0..<planes {
                            finish(tp, plane * inner, plane % c, xs)
                            PoolOps.pool2x2s2Plane(UnsafePointer(tp), h: h, w: w, oh: oh, ow: ow, average: pool.average,
                                                   into: ys + plane * oh * ow)
                        }
                    }
                }
                count = planes * oh * ow
            }
            return [Tensor(shape: [x.shape[0], c, oh, ow], floats: y)]
        }
        let y = [Float](unsafeUninitializedCapacity: a.count) { buf, count in
            a.withUnsafeBufferPointer { src in
                guard let xs = src.baseAddress, let ys = buf.baseAddress else { return }
                for plane in 0..<(x.shape[0] * c) { finish(ys + plane * inner, plane * inner, plane % c, xs) }
            }
            count = a.count
        }
        return [Tensor(shape: x.shape, floats: y)]
    }

    typealias V = SIMD8<Float>

    /// One row: ((x − mc) / den) × sc + bc per element (lane-wise IEEE operations, the BN
    /// kernel's expression), optionally followed by Relu.
    @inline(__always)
    static func row(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                    _ mc: Float, _ den: Float, _ sc: Float, _ bc: Float, relu: Bool) {
        let mv = V(repeating: mc), dv = V(repeating: den), sv = V(repeating: sc), bv = V(repeating: bc)
        let zero = V(repeating: 0)
        var i = 0
        while i + 8 <= n {
            var t = (UnsafeRawPointer(x + i).loadUnaligned(as: V.self) - mv) / dv * sv + bv
            if relu { t.replace(with: zero, where: t .< zero); t = t + zero }
            UnsafeMutableRawPointer(y + i).storeBytes(of: t, as: V.self)
            i += 8
        }
        while i < n {
            var t = (x[i] - mc) / den * sc + bc
            if relu { t = t < 0 ? 0 : t; t = t + 0 }
            y[i] = t
            i += 1
        }
    }

    func sequence(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        guard let y = try bn.run(inputs, context).first else { throw OpError("BatchNormalization produced no output") }
        let z = try post.run([y], context)
        guard let pool else { return z }
        return try pool.kernel.run(z, context)
    }
}
