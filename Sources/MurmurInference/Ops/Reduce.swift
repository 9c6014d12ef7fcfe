/// Reductions. Order: for each output element, the reduced elements are visited in row-major
/// order of the reduced index set, accumulating from the identity (+0.0 for sums) with one
/// plain operation each; ReduceMean divides the sum once by the count.
enum ReduceOps {
    enum Kind: Sendable { case sum, mean, max, min, prod, sumSquare, l1, l2, logSum, logSumExp }

    static let all: [OpDefinition] = [
        reduce("ReduceSum", .sum, axesInputFrom: 13),
        reduce("ReduceMean", .mean, axesInputFrom: 18),
        reduce("ReduceMax", .max, axesInputFrom: 18),
        reduce("ReduceMin", .min, axesInputFrom: 18),
        reduce("ReduceProd", .prod, axesInputFrom: 18),
        reduce("ReduceSumSquare", .sumSquare, axesInputFrom: 18),
        reduce("ReduceL1", .l1, axesInputFrom: 18),
        reduce("ReduceL2", .l2, axesInputFrom: 18),
        reduce("ReduceLogSum", .logSum, axesInputFrom: 18),
        reduce("ReduceLogSumExp", .logSumExp, axesInputFrom: 18),
        arg("ArgMax", max: true), arg("ArgMin", max: false),
    ]

    /// Moves the reduced axes last: returns (kept count, reduced count, gather offsets).
    static func layout(_ shape: [Int], _ axes: Set<Int>) -> (outer: Int, inner: Int, order: [Int]) {
        let kept = (0..<shape.count).filter { !axes.contains($0) }
        let red = (0..<shape.count).filter { axes.contains($0) }
        let st = K.strides(shape)
        let perm = kept + red
        let pshape = perm.map { shape[$0] }
        let pst = perm.map { st[$0] }
        let n = shape.reduce(1, *)
        var order = [Int](repeating: 0, count: n)
        var counter = [Int](repeating: 0, count: perm.count)
        var off = 0
        for i in 0..<n {
            order[i] = off
            var d = perm.count - 1
            while d >= 0 {
                counter[d] += 1; off += pst[d]
                if counter[d] < pshape[d] { break }
                off -= pst[d] * pshape[d]; counter[d] = 0; d -= 1
            }
        }
        let inner = red.map { shape[$0] }.reduce(1, *)
        return (kept.map { shape[$0] }.reduce(1, *), inner, order)
    }

    static func reduceFloat<T: BinaryFloatingPoint>(_ x: [T], outer: Int, inner: Int, order: [Int], _ kind: Kind,
                                                    exp: (T) -> T, log: (T) -> T) -> [T] {
        var out = [T](repeating: 0, count: outer)
        for o in 0..<outer {
            let base = o * inner
            var acc: T
            switch kind {
            case .max:
                acc = -.infinity
                for i in 0..<inner { let v = x[order[base + i]]; if v > acc || v.isNaN { acc = v } }
            case .min:
                acc = .infinity
                for i in 0..<inner { let v = x[order[base + i]]; if v < acc || v.isNaN { acc = v } }
            case .prod:
                acc = 1
                for i in 0..<inner { acc = acc * x[order[base + i]] }
            case .sumSquare, .l2:
                acc = 0
                for i in 0..<inner { let v = x[order[base + i]]; acc = acc.addingProduct(v, v) }
                if kind == .l2 { acc = acc.squareRoot() }
            case .l1:
                acc = 0
                for i in 0..<inner { acc = acc + Swift.abs(x[order[base + i]]) }
            case .logSumExp:
                var m: T = -.infinity
                for i in 0..<inner { let v = x[order[base + i]]; if v > m || v.isNaN { m = v } }
                acc = 0
                if m.isInfinite { m = 0 }
                for i in 0..<inner { acc = acc + exp(x[order[base + i]] - m) }
                acc = log(acc) + m
            case .sum, .mean, .logSum:
                acc = 0
                for i in 0..<inner { acc = acc + x[order[base + i]] }
                if kind == .mean { acc = acc / T(inner) }
                if kind == .logSum { acc = log(acc) }
            }
            out[o] = acc
        }
        return out
    }

    /// out[o] = Σ x[o·inner + i] for i ascending, from +0.0 (then ÷ inner for a mean): the
    /// `.sum` / `.mean` rule of `reduceFloat` for contiguous rows.
    static func sumRows(_ x: [Float], outer: Int, inner: Int, mean: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: outer)
        let count = Float(inner)
        x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
            guard let base = px.baseAddress else { if mean { for o in 0..<outer { po[o] = 0 / count } }; return }
            // Eight rows at a time: eight independent chains (each still ascending from +0.0),
            // so the adds overlap instead of waiting on one another.
            var o = 0
            while o + 8 <= outer {
                let r = base + o * inner
                var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                var a4: Float = 0, a5: Float = 0, a6: Float = 0, a7: Float = 0
                for i in 0..<inner {
                    a0 = a0 + r[i]; a1 = a1 + r[inner + i]; a2 = a2 + r[2 * inner + i]; a3 = a3 + r[3 * inner + i]
                    a4 = a4 + r[4 * inner + i]; a5 = a5 + r[5 * inner + i]; a6 = a6 + r[6 * inner + i]; a7 = a7 + r[7 * inner + i]
                }
                if mean {
                    po[o] = a0 / count; po[o + 1] = a1 / count; po[o + 2] = a2 / count; po[o + 3] = a3 / count
                    po[o + 4] = a4 / count; po[o + 5] = a5 / count; po[o + 6] = a6 / count; po[o + 7] = a7 / count
                } else {
                    po[o] = a0; po[o + 1] = a1; po[o + 2] = a2; po[o + 3] = a3
                    po[o + 4] = a4; po[o + 5] = a5; po[o + 6] = a6; po[o + 7] = a7
                }
                o += 8
            }
            while o < outer {
                let row = base + o * inner
                var acc: Float = 0
                for i in 0..<inner { acc = acc + row[i] }
                po[o] = mean ? acc / count : acc
                o += 1
            }
        } }
        return out
    }

    static func reduceInt<T: FixedWidthInteger>(_ x: [T], outer: Int, inner: Int, order: [Int], _ kind: Kind) throws -> [T] {
        var out = [T](repeating: 0, count: outer)
        for o in 0..<outer {
            let base = o * inner
            var acc: T
            switch kind {
            case .max: acc = .min; for i in 0..<inner { acc = Swift.max(acc, x[order[base + i]]) }
            case .min: acc = .max; for i in 0..<inner { acc = Swift.min(acc, x[order[base + i]]) }
            case .prod: acc = 1; for i in 0..<inner { acc = acc &* x[order[base + i]] }
            case .sum, .mean:
                acc = 0; for i in 0..<inner { acc = acc &+ x[order[base + i]] }
                if kind == .mean { acc = inner == 0 ? 0 : acc / T(inner) }
            case .sumSquare: acc = 0; for i in 0..<inner { let v = x[order[base + i]]; acc = acc &+ v &* v }
            case .l1: acc = 0; for i in 0..<inner { let v = x[order[base + i]]; acc = acc &+ (v < 0 ? 0 &- v : v) }
            default: throw OpError("integer input not supported for this reduction")
            }
            out[o] = acc
        }
        return out
    }

    static func reduce(_ name: String, _ kind: Kind, axesInputFrom: Int) -> OpDefinition {
        OpDefinition(name) { n in
            let keep = n.int("keepdims", default: 1) != 0
            let noop = n.int("noop_with_empty_axes", default: 0) != 0
            let attrAxes = n.ints("axes")
            let fromInput = n.opset >= axesInputFrom
            return ClosureKernel { ins, _ in
                let x = try K.input(ins, 0)
                var axesList: [Int]?
                if fromInput { axesList = try K.optional(ins, 1).map { try K.ints($0, "axes") } } else { axesList = attrAxes }
                if axesList?.isEmpty ?? true {
                    if noop && fromInput { return [x] }
                    axesList = Array(0..<x.rank)
                }
                let axes = Set(try axesList!.map { try K.axis($0, rank: x.rank) })
                let outShape = keep ? x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
                                    : x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
                // Trailing axes of a float32 sum/mean: the reduced elements of each output are one
                // contiguous row, visited in the same (row-major) order without a gather table.
                if kind == .sum || kind == .mean, let a = x.floats, axes == Set((x.rank - axes.count)..<x.rank) {
                    let inner = x.shape.suffix(axes.count).reduce(1, *)
                    let outer = inner == 0 ? x.shape.prefix(x.rank - axes.count).reduce(1, *) : a.count / inner
                    return [Tensor(shape: outShape, floats: sumRows(a, outer: outer, inner: inner, mean: kind == .mean))]
                }
                let (outer, inner, order) = layout(x.shape, axes)
                switch x.storage {
                case let .float32(a):
                    return [Tensor(shape: outShape, floats: reduceFloat(a, outer: outer, inner: inner, order: order, kind, exp: ScalarMath.exp, log: ScalarMath.log))]
                case let .float64(a):
                    return [Tensor(shape: outShape, doubles: reduceFloat(a, outer: outer, inner: inner, order: order, kind, exp: ScalarMath.expD, log: ScalarMath.logD))]
                case let .int64(a): return [Tensor(shape: outShape, int64s: try reduceInt(a, outer: outer, inner: inner, order: order, kind))]
                case let .int32(a): return [Tensor(shape: outShape, int32s: try reduceInt(a, outer: outer, inner: inner, order: order, kind))]
                case let .int8(a): return [Tensor(shape: outShape, values: try reduceInt(a, outer: outer, inner: inner, order: order, kind))]
                case let .uint8(a): return [Tensor(shape: outShape, values: try reduceInt(a, outer: outer, inner: inner, order: order, kind))]
                default: throw OpError("unsupported type \(x.dtype)")
                }
            }
        }
    }

    /// ArgMax / ArgMin: first (or, with select_last_index, last) index of the extreme value;
    /// a NaN counts as the extreme value (first NaN wins).
    static func arg(_ name: String, max: Bool) -> OpDefinition {
        OpDefinition(name) { n in
            let axisAttr = n.int("axis", default: 0)
            let keep = n.int("keepdims", default: 1) != 0
            let last = n.int("select_last_index", default: 0) != 0
            return ClosureKernel { ins, _ in
                let x = try K.input(ins, 0)
                guard x.rank >= 1 else { throw OpError("input must have rank >= 1") }
                let axis = try K.axis(axisAttr, rank: x.rank)
                let (outer, len, inner) = NormalizationOps.split(x.shape, axis)
                guard len > 0 || outer * inner == 0 else { throw OpError("no \(name) of an empty axis (axis \(axis) of shape \(x.shape))") }
                let vals = x.doubleValues()
                guard x.dtype != .bool else { throw OpError("bool input not supported") }
                var out = [Int64](repeating: 0, count: outer * inner)
                for o in 0..<outer { for i in 0..<inner {
                    var best = 0
                    var bv = vals[o * len * inner + i]
                    if len > 0 {
                        for k in 1..<len {
                            let v = vals[(o * len + k) * inner + i]
                            if bv.isNaN { break }
                            let better = v.isNaN || (max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv))
                            if better { best = k; bv = v }
                        }
                    }
                    out[o * inner + i] = Int64(best)
                } }
                var shape = x.shape
                if keep { shape[axis] = 1 } else { shape.remove(at: axis) }
                return [Tensor(shape: shape, int64s: out)]
            }
        }
    }
}
