/// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (evaluation only). Sums run
/// sequentially in ascending flat index of the loss tensor; mean divides once by the sum of
/// the applied weights (or the count of non-ignored targets when there are no weights).
enum LossOps {
    static let all: [OpDefinition] = [nll, sce]

    /// input [N, C, d…] (log-probabilities), target [N, d…] → per-element loss and weights.
    static func nllCore<T: BinaryFloatingPoint>(_ x: [T], _ shape: [Int], _ target: [Int], _ weight: [T]?,
                                                ignore: Int?) throws -> (loss: [T], w: [T]) {
        guard shape.count >= 2 else { throw OpError("input must have rank ≥ 2") }
        let n = shape[0], c = shape[1], inner = shape.dropFirst(2).reduce(1, *)
        guard target.count == n * inner else { throw OpError("target shape does not match input") }
        if let weight, weight.count != c { throw OpError("weight must have \(c) values") }
        var loss = [T](repeating: 0, count: n * inner), w = [T](repeating: 0, count: n * inner)
        for i in 0..<n { for d in 0..<inner {
            let t = target[i * inner + d]
            if let ignore, t == ignore { continue }
            guard t >= 0 && t < c else { throw OpError("target \(t) out of range [0, \(c))") }
            let wt = weight?[t] ?? 1
            loss[i * inner + d] = -x[(i * c + t) * inner + d] * wt
            w[i * inner + d] = wt
        } }
        return (loss, w)
    }

    static func reduce<T: BinaryFloatingPoint>(_ loss: [T], _ w: [T], _ reduction: String, shape: [Int]) throws -> ([T], [Int]) {
        switch reduction {
        case "none": return (loss, shape)
        case "sum":
            var s: T = 0
            for v in loss { s = s + v }
            return ([s], [])
        case "mean":
            var s: T = 0, ws: T = 0
            for v in loss { s = s + v }
            for v in w { ws = ws + v }
            return ([s / ws], [])
        default: throw OpError("unknown reduction '\(reduction)'")
        }
    }

    static let nll = OpDefinition("NegativeLogLikelihoodLoss", versions: 12...22) { n in
        let reduction = n.string("reduction") ?? "mean"
        let ignore = n.int("ignore_index")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), t = try K.ints(K.input(ins, 1), "target")
            let lossShape = [x.shape.first ?? 0] + Array(x.shape.dropFirst(2))
            switch x.storage {
            case let .float32(a):
                let (l, w) = try nllCore(a, x.shape, t, try K.optional(ins, 2).map { try K.floats($0, "weight") }, ignore: ignore)
                let (r, s) = try reduce(l, w, reduction, shape: lossShape)
                return [Tensor(shape: s, floats: r)]
            case let .float64(a):
                let (l, w) = try nllCore(a, x.shape, t, K.optional(ins, 2)?.doubles, ignore: ignore)
                let (r, s) = try reduce(l, w, reduction, shape: lossShape)
                return [Tensor(shape: s, doubles: r)]
            default: throw OpError("unsupported type \(x.dtype)")
            }
        }
    }

    /// log_prob = LogSoftmax(scores, axis 1) (the Softmax contract), then NLL.
    static let sce = OpDefinition("SoftmaxCrossEntropyLoss", versions: 12...22) { n in
        let reduction = n.string("reduction") ?? "mean"
        let ignore = n.int("ignore_index")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), t = try K.ints(K.input(ins, 1), "labels")
            guard x.rank >= 2 else { throw OpError("scores must have rank ≥ 2") }
            let (outer, len, inner) = NormalizationOps.split(x.shape, 1)
            let lossShape = [x.shape[0]] + Array(x.shape.dropFirst(2))
            switch x.storage {
            case let .float32(a):
                let lp = NormalizationOps.softmaxFloat(a, outer: outer, len: len, inner: inner, log: true)
                let (l, w) = try nllCore(lp, x.shape, t, try K.optional(ins, 2).map { try K.floats($0, "weights") }, ignore: ignore)
                let (r, s) = try reduce(l, w, reduction, shape: lossShape)
                return [Tensor(shape: s, floats: r), Tensor(shape: x.shape, floats: lp)]
            case let .float64(a):
                let lp = NormalizationOps.softmaxCore(a, outer: outer, len: len, inner: inner, log: true, exp: ScalarMath.expD, ln: ScalarMath.logD)
                let (l, w) = try nllCore(lp, x.shape, t, K.optional(ins, 2)?.doubles, ignore: ignore)
                let (r, s) = try reduce(l, w, reduction, shape: lossShape)
                return [Tensor(shape: s, doubles: r), Tensor(shape: x.shape, doubles: lp)]
            default: throw OpError("unsupported type \(x.dtype)")
            }
        }
    }
}
