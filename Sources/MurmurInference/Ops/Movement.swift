import MurmurCore

/// Data-movement and selection operators: Pad, DepthToSpace, SpaceToDepth, Trilu, EyeLike,
/// OneHot, Compress, NonZero, GatherND, ScatterElements, ScatterND, CumSum, TopK, Hardmax.
enum MovementOps {
    static let all: [OpDefinition] = [pad, depthToSpace, spaceToDepth, trilu, eyeLike, oneHot, compress, nonZero,
                                      gatherND, scatterElements(name: "ScatterElements"), scatterElements(name: "Scatter"),
                                      scatterND, cumSum, topK, hardmax]

    /// Multi-index of flat index `i` for `shape`.
    static func coords(_ i: Int, _ strides: [Int]) -> [Int] {
        var rem = i
        return strides.map { s in let c = rem / s; rem %= s; return c }
    }

    // MARK: Pad

    static let pad = OpDefinition("Pad") { n in
        let opset = n.opset
        let mode = n.string("mode") ?? "constant"
        let attrPads = n.ints(opset < 11 ? "pads" : "paddings") ?? n.ints("pads")
        let attrValue = n.float("value", default: 0)
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else { throw OpError("unknown mode '\(mode)'") }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let r = x.rank
            var padsIn: [Int]
            var value: Tensor? = nil
            var axes = Array(0..<r)
            if opset < 11 {
                padsIn = try n.require(attrPads, "pads")
            } else {
                padsIn = try K.ints(K.input(ins, 1, "pads"), "pads")
                if let v = K.optional(ins, 2), v.count > 0 { value = v }
                if let a = K.optional(ins, 3) { axes = try K.ints(a, "axes").map { try K.axis($0, rank: r) } }
            }
            guard padsIn.count == 2 * axes.count else { throw OpError("pads \(padsIn) must have \(2 * axes.count) values") }
            // A pad beyond the element limit either overflows the output or removes more than
            // any input has; refusing it up front keeps the index arithmetic below in range.
            for p in padsIn where p < -Limits.maxTensorElements || p > Limits.maxTensorElements {
                throw OpError("pad \(p) exceeds the tensor element limit \(Limits.maxTensorElements)")
            }
            var begin = [Int](repeating: 0, count: r), end = [Int](repeating: 0, count: r)
            for (i, a) in axes.enumerated() { begin[a] = padsIn[i]; end[a] = padsIn[i + axes.count] }
            var outShape = [Int]()
            for d in 0..<r {
                let s = x.shape[d] + begin[d] + end[d]
                guard s >= 0 else { throw OpError("pads remove more than the input has") }
                if mode != "constant" && x.shape[d] == 0 && s > 0 { throw OpError("cannot \(mode)-pad an empty axis") }
                outShape.append(s)
            }
            let total = try K.count(outShape)
            let ost = K.strides(outShape), ist = K.strides(x.shape)
            // Source index per output element, or −1 for the constant.
            var idx = [Int](repeating: -1, count: total)
            for o in 0..<total {
                var rem = o, off = 0, inside = true
                for d in 0..<r {
                    let c = rem / ost[d]; rem %= ost[d]
                    var s = c - begin[d]
                    let len = x.shape[d]
                    if s < 0 || s >= len {
                        switch mode {
                        case "constant": inside = false
                        case "edge": s = s < 0 ? 0 : len - 1
                        case "wrap": s = ((s % len) + len) % len
                        default:  // reflect
                            if len == 1 { s = 0 } else {
                                let period = 2 * (len - 1)
                                s = ((s % period) + period) % period
                                if s >= len { s = period - s }
                            }
                        }
                    }
                    if !inside { break }
                    off += s * ist[d]
                }
                idx[o] = inside ? off : -1
            }
            if idx.allSatisfy({ $0 >= 0 }) { return [x.gathered(idx, shape: outShape)] }
            // Constant mode: append the fill value as one extra element and point at it.
            let fill: Tensor
            if let value { fill = Cast.convert(value, to: x.dtype).reshaped([value.count]) }
            else { fill = Cast.convert(Tensor(shape: [1], floats: [attrValue]), to: x.dtype) }
            let ext = try Tensor.joined([x.reshaped([x.count]), fill.gathered([0], shape: [1])], shape: [x.count + 1])
            return [ext.gathered(idx.map { $0 < 0 ? x.count : $0 }, shape: outShape)]
        }
    }

    // MARK: DepthToSpace / SpaceToDepth

    static let depthToSpace = OpDefinition("DepthToSpace") { n in
        let b = try n.require(n.int("blocksize"), "blocksize")
        let crd = (n.string("mode") ?? "DCR") == "CRD"
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard x.rank == 4, b > 0, b <= 1 << 16, x.shape[1] % (b * b) == 0 else { throw OpError("needs [N, C·b², H, W] input") }
            let (nn, c, h, w) = (x.shape[0], x.shape[1] / (b * b), x.shape[2], x.shape[3])
            let tmpShape = crd ? [nn, c, b, b, h, w] : [nn, b, b, c, h, w]
            let perm = crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]
            let (idx, _) = ShapeOps.transposeIndices(tmpShape, perm)
            return [x.gathered(idx, shape: [nn, c, h * b, w * b])]
        }
    }

    static let spaceToDepth = OpDefinition("SpaceToDepth") { n in
        let b = try n.require(n.int("blocksize"), "blocksize")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard x.rank == 4, b > 0, b <= 1 << 16, x.shape[2] % b == 0, x.shape[3] % b == 0 else { throw OpError("needs [N, C, H·b, W·b] input") }
            let (nn, c, h, w) = (x.shape[0], x.shape[1], x.shape[2] / b, x.shape[3] / b)
            let (idx, _) = ShapeOps.transposeIndices([nn, c, h, b, w, b], [0, 3, 5, 1, 2, 4])
            return [x.gathered(idx, shape: [nn, c * b * b, h, w])]
        }
    }

    // MARK: Trilu, EyeLike, OneHot

    static let trilu = OpDefinition("Trilu", versions: 14...22) { n in
        let upper = n.int("upper", default: 1) != 0
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard x.rank >= 2 else { throw OpError("input must have rank ≥ 2") }
            let k = try K.optional(ins, 1).map { try K.ints($0, "k").first ?? 0 } ?? 0
            let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
            let zero = Cast.convert(Tensor(shape: [1], int64s: [0]), to: x.dtype)
            let ext = try Tensor.joined([x.reshaped([x.count]), zero], shape: [x.count + 1])
            var idx = [Int](repeating: 0, count: x.count)
            for i in 0..<x.count {
                let j = i % cols, r = (i / cols) % max(rows, 1)
                let keep = upper ? (j - r >= k) : (j - r <= k)
                idx[i] = keep ? i : x.count
            }
            return [ext.gathered(idx, shape: x.shape)]
        }
    }

    static let eyeLike = OpDefinition("EyeLike") { n in
        let k = n.int("k", default: 0)
        let dtAttr = n.int("dtype")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard x.rank == 2, k > -Limits.maxTensorElements, k < Limits.maxTensorElements else { throw OpError("input must be 2-D and k in range") }
            let dt = try dtAttr.map { t -> DType in
                guard let d = DType(rawValue: t) else { throw InferenceError.unsupportedDataType(t, context: "EyeLike dtype") }
                return d
            } ?? x.dtype
            var v = [Int64](repeating: 0, count: x.count)
            for r in 0..<x.shape[0] { let c = r + k; if c >= 0 && c < x.shape[1] { v[r * x.shape[1] + c] = 1 } }
            return [Cast.convert(Tensor(shape: x.shape, int64s: v), to: dt)]
        }
    }

    static let oneHot = OpDefinition("OneHot") { n in
        let axisAttr = n.int("axis", default: -1)
        return ClosureKernel { ins, _ in
            let ind = try K.input(ins, 0), depthT = try K.input(ins, 1), values = try K.input(ins, 2)
            guard values.count == 2 else { throw OpError("values must hold [off, on]") }
            let depthD = depthT.doubleValues().first ?? 0
            guard depthD >= 1, depthD < Double(Limits.maxTensorElements) else { throw OpError("depth must be ≥ 1") }
            let depth = Int(depthD)
            let indices = ind.doubleValues().map { Int($0.isFinite ? Swift.min(Swift.max($0, -1e15), 1e15) : -1e15) }
            let outRank = ind.rank + 1
            let axis = try K.axis(axisAttr, rank: outRank)
            var outShape = ind.shape
            outShape.insert(depth, at: axis)
            let total = try K.count(outShape)
            let outer = ind.shape[..<axis].reduce(1, *), inner = ind.shape[axis...].reduce(1, *)
            var idx = [Int](repeating: 0, count: total)
            for o in 0..<outer { for d in 0..<depth { for i in 0..<inner {
                var v = indices[o * inner + i]
                if v < 0 { v += depth }
                idx[(o * depth + d) * inner + i] = v == d ? 1 : 0
            } } }
            return [values.gathered(idx, shape: outShape)]
        }
    }

    // MARK: Compress, NonZero

    static let compress = OpDefinition("Compress") { n in
        let axisAttr = n.int("axis")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard let cond = try K.input(ins, 1).bools else { throw OpError("condition must be bool") }
            guard let axisA = axisAttr else {
                let idx = (0..<min(cond.count, x.count)).filter { cond[$0] }
                return [x.gathered(idx, shape: [idx.count])]
            }
            let axis = try K.axis(axisA, rank: x.rank)
            let len = x.shape[axis]
            let sel = (0..<min(len, cond.count)).filter { cond[$0] }
            let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
            var idx: [Int] = []
            for o in 0..<outer { for s in sel { let b = (o * len + s) * inner; idx.append(contentsOf: b..<(b + inner)) } }
            var shape = x.shape; shape[axis] = sel.count
            return [x.gathered(idx, shape: shape)]
        }
    }

    static let nonZero = OpDefinition("NonZero", make: K.simple { ins, _ in
        let x = try K.input(ins, 0)
        let v = x.doubleValues()
        let st = K.strides(x.shape)
        let nz = (0..<v.count).filter { v[$0] != 0 || v[$0].isNaN }
        var out = [Int64](repeating: 0, count: max(x.rank, 1) * nz.count)
        for (j, i) in nz.enumerated() {
            let c = coords(i, st)
            for d in 0..<x.rank { out[d * nz.count + j] = Int64(c[d]) }
        }
        return [Tensor(shape: [x.rank, nz.count], int64s: Array(out.prefix(x.rank * nz.count)))]
    })

    // MARK: GatherND, ScatterElements, ScatterND

    static let gatherND = OpDefinition("GatherND") { n in
        let batchDims = n.int("batch_dims", default: 0)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), indT = try K.input(ins, 1)
            let ind = try K.ints(indT, "indices")
            guard indT.rank >= 1, batchDims >= 0, batchDims < min(x.rank, indT.rank) else { throw OpError("bad batch_dims") }
            let q = indT.shape[indT.rank - 1]
            guard batchDims + q <= x.rank else { throw OpError("index tuples longer than data rank") }
            let batchShape = Array(x.shape[..<batchDims])
            let batch = batchShape.reduce(1, *)
            let sliceShape = Array(x.shape[(batchDims + q)...])
            let slice = sliceShape.reduce(1, *)
            // Index tuples per batch: the index shape between the batch dims and the last axis
            // (an empty last axis, q == 0, still selects one whole slice per tuple).
            let tuples = try K.count(Array(indT.shape[batchDims..<(indT.rank - 1)]))
            let xst = K.strides(x.shape)
            let outShape = Array(indT.shape.dropLast()) + sliceShape
            var idx: [Int] = []
            idx.reserveCapacity(try K.count(outShape))
            for b in 0..<batch {
                let bc = coords(b, K.strides(batchShape))
                var base = 0
                for d in 0..<batchDims { base += bc[d] * xst[d] }
                for t in 0..<tuples {
                    var off = base
                    for j in 0..<q {
                        var v = ind[(b * tuples + t) * q + j]
                        let dim = x.shape[batchDims + j]
                        if v < 0 { v += dim }
                        guard v >= 0 && v < dim else { throw OpError("index out of range") }
                        off += v * xst[batchDims + j]
                    }
                    idx.append(contentsOf: off..<(off + slice))
                }
            }
            return [x.gathered(idx, shape: outShape)]
        }
    }

    /// Applies updates to a copy of `data` at flat positions, in update order (later wins;
    /// add/mul/max/min combine in that order).
    static func scatter(_ data: Tensor, _ positions: [Int], _ updates: Tensor, reduction: String) throws -> Tensor {
        guard data.dtype == updates.dtype else { throw OpError("updates type differs from data") }
        func run<T: TensorElement>(_ d: [T], _ u: [T], _ combine: (T, T) -> T) -> [T] {
            var out = d
            for (i, p) in positions.enumerated() { out[p] = combine(out[p], u[i]) }
            return out
        }
        func pick<T: TensorElement & Comparable & Numeric>(_ d: [T], _ u: [T]) throws -> [T] {
            switch reduction {
            case "none": return run(d, u) { _, b in b }
            case "add": return run(d, u) { $0 + $1 }
            case "mul": return run(d, u) { $0 * $1 }
            case "max": return run(d, u) { Swift.max($0, $1) }
            case "min": return run(d, u) { Swift.min($0, $1) }
            default: throw OpError("unknown reduction '\(reduction)'")
            }
        }
        switch (data.storage, updates.storage) {
        case let (.float32(d), .float32(u)): return Tensor(shape: data.shape, floats: try pick(d, u))
        case let (.float64(d), .float64(u)): return Tensor(shape: data.shape, doubles: try pick(d, u))
        case let (.int64(d), .int64(u)):
            guard reduction == "none" || reduction == "max" || reduction == "min" else {
                return Tensor(shape: data.shape, int64s: run(d, u) { reduction == "add" ? $0 &+ $1 : $0 &* $1 })
            }
            return Tensor(shape: data.shape, int64s: try pick(d, u))
        case let (.int32(d), .int32(u)): return Tensor(shape: data.shape, int32s: run(d, u) { _, b in b })
        default:
            guard reduction == "none" else { throw OpError("reduction on \(data.dtype) not supported") }
            let merged = try Tensor.joined([data.reshaped([data.count]), updates.reshaped([updates.count])], shape: [data.count + updates.count])
            var idx = Array(0..<data.count)
            for (i, p) in positions.enumerated() { idx[p] = data.count + i }
            return merged.gathered(idx, shape: data.shape)
        }
    }

    static func scatterElements(name: String) -> OpDefinition {
        OpDefinition(name) { n in
            let axisAttr = n.int("axis", default: 0)
            let reduction = n.string("reduction") ?? "none"
            return ClosureKernel { ins, _ in
                let x = try K.input(ins, 0), indT = try K.input(ins, 1), upd = try K.input(ins, 2)
                let ind = try K.ints(indT, "indices")
                guard indT.shape == upd.shape, indT.rank == x.rank else { throw OpError("indices and updates must match, with data's rank") }
                let axis = try K.axis(axisAttr, rank: x.rank)
                let ist = K.strides(indT.shape), xst = K.strides(x.shape)
                var pos = [Int](repeating: 0, count: ind.count)
                for i in 0..<ind.count {
                    var c = coords(i, ist)
                    var v = ind[i]
                    if v < 0 { v += x.shape[axis] }
                    guard v >= 0 && v < x.shape[axis] else { throw OpError("index \(ind[i]) out of range") }
                    c[axis] = v
                    for d in 0..<x.rank where c[d] >= x.shape[d] { throw OpError("indices exceed data shape") }
                    pos[i] = zip(c, xst).map { $0 * $1 }.reduce(0, +)
                }
                return [try scatter(x, pos, upd, reduction: reduction)]
            }
        }
    }

    static let scatterND = OpDefinition("ScatterND") { n in
        let reduction = n.string("reduction") ?? "none"
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), indT = try K.input(ins, 1), upd = try K.input(ins, 2)
            let ind = try K.ints(indT, "indices")
            guard indT.rank >= 1 else { throw OpError("indices must have rank ≥ 1") }
            let q = indT.shape[indT.rank - 1]
            guard q <= x.rank else { throw OpError("index tuples longer than data rank") }
            let xst = K.strides(x.shape)
            let slice = x.shape[q...].reduce(1, *)
            let tuples = q == 0 ? 1 : ind.count / q
            var pos: [Int] = []
            for t in 0..<tuples {
                var off = 0
                for j in 0..<q {
                    var v = ind[t * q + j]
                    if v < 0 { v += x.shape[j] }
                    guard v >= 0 && v < x.shape[j] else { throw OpError("index out of range") }
                    off += v * xst[j]
                }
                pos.append(contentsOf: off..<(off + slice))
            }
            guard pos.count == upd.count else { throw OpError("updates shape does not match indices") }
            return [try scatter(x, pos, upd, reduction: reduction)]
        }
    }

    // MARK: CumSum, TopK, Hardmax

    /// CumSum: sequential along the axis in the direction of accumulation.
    static let cumSum = OpDefinition("CumSum") { n in
        let exclusive = n.int("exclusive", default: 0) != 0, reverse = n.int("reverse", default: 0) != 0
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard x.rank >= 1 else { throw OpError("input must have rank >= 1, got a scalar") }
            let axis = try K.axis(K.ints(K.input(ins, 1), "axis").first ?? 0, rank: x.rank)
            let (outer, len, inner) = NormalizationOps.split(x.shape, axis)
            func run<T: TensorElement & AdditiveArithmetic>(_ a: [T], _ add: (T, T) -> T) -> [T] {
                var y = a
                for o in 0..<outer { for i in 0..<inner {
                    var acc = T.zero
                    for s in 0..<len {
                        let k = reverse ? len - 1 - s : s
                        let at = (o * len + k) * inner + i
                        if exclusive { y[at] = acc; acc = add(acc, a[at]) } else { acc = add(acc, a[at]); y[at] = acc }
                    }
                } }
                return y
            }
            switch x.storage {
            case let .float32(a): return [Tensor(shape: x.shape, floats: run(a) { $0 + $1 })]
            case let .float64(a): return [Tensor(shape: x.shape, doubles: run(a) { $0 + $1 })]
            case let .int64(a): return [Tensor(shape: x.shape, int64s: run(a) { $0 &+ $1 })]
            case let .int32(a): return [Tensor(shape: x.shape, int32s: run(a) { $0 &+ $1 })]
            default: throw OpError("unsupported type \(x.dtype)")
            }
        }
    }

    /// TopK: stable — equal values keep ascending index order.
    static let topK = OpDefinition("TopK") { n in
        let axisAttr = n.int("axis", default: -1)
        let largest = n.int("largest", default: 1) != 0
        let attrK = n.opset < 10 ? n.int("k") : nil
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let k = try attrK ?? K.ints(K.input(ins, 1, "K"), "K").first ?? 0
            let axis = try K.axis(axisAttr, rank: x.rank)
            let (outer, len, inner) = NormalizationOps.split(x.shape, axis)
            guard k >= 0 && k <= len else { throw OpError("k = \(k) out of range for axis of size \(len)") }
            let v = x.doubleValues()
            var idx: [Int] = [], ind: [Int64] = []
            idx.reserveCapacity(outer * k * inner)
            var sel = [[Int]](repeating: [], count: outer * inner)
            for o in 0..<outer { for i in 0..<inner {
                let order = (0..<len).sorted { a, b in
                    let va = v[(o * len + a) * inner + i], vb = v[(o * len + b) * inner + i]
                    if va == vb || (va.isNaN && vb.isNaN) { return a < b }
                    if va.isNaN { return largest }
                    if vb.isNaN { return !largest }
                    return largest ? va > vb : va < vb
                }
                sel[o * inner + i] = Array(order.prefix(k))
            } }
            for o in 0..<outer { for j in 0..<k { for i in 0..<inner {
                let s = sel[o * inner + i][j]
                idx.append((o * len + s) * inner + i); ind.append(Int64(s))
            } } }
            var shape = x.shape; shape[axis] = k
            return [x.gathered(idx, shape: shape), Tensor(shape: shape, int64s: ind)]
        }
    }

    static let hardmax = OpDefinition("Hardmax") { n in
        let opset = n.opset
        let axisAttr = n.int("axis", default: opset < 13 ? 1 : -1)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard x.rank >= 1 else { throw OpError("input must have rank >= 1, got a scalar") }
            let axis = try K.axis(axisAttr, rank: x.rank)
            let (outer, len, inner) = opset < 13 ? (x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *), 1)
                                                 : NormalizationOps.split(x.shape, axis)
            let v = x.doubleValues()
            var out = [Int64](repeating: 0, count: x.count)
            for o in 0..<outer { for i in 0..<inner where len > 0 {
                var best = 0
                for k in 1..<max(len, 1) where v[(o * len + k) * inner + i] > v[(o * len + best) * inner + i] { best = k }
                out[(o * len + best) * inner + i] = 1
            } }
            return [Cast.convert(Tensor(shape: x.shape, int64s: out), to: x.dtype)]
        }
    }
}

/// NonMaxSuppression: per (batch, class), candidates above score_threshold in descending score
/// (ties: lower box index first); a candidate is kept unless its IoU with a kept box exceeds
/// iou_threshold. IoU in float32: inter / ((areaA + areaB) − inter), left to right.
enum DetectionOps {
    static let all: [OpDefinition] = [nms]

    static let nms = OpDefinition("NonMaxSuppression", versions: 10...22) { n in
        let center = n.int("center_point_box", default: 0) != 0
        return ClosureKernel { ins, _ in
            let boxesT = try K.input(ins, 0), scoresT = try K.input(ins, 1)
            let boxes = try K.floats(boxesT, "boxes"), scores = try K.floats(scoresT, "scores")
            let maxOut = try K.optional(ins, 2).flatMap { try K.ints($0, "max_output_boxes_per_class").first } ?? 0
            let iouT = K.optional(ins, 3).flatMap { $0.floats?.first } ?? 0
            let scoreT = K.optional(ins, 4).flatMap { $0.floats?.first }
            guard boxesT.rank == 3, boxesT.shape[2] == 4, scoresT.rank == 3,
                  scoresT.shape[0] == boxesT.shape[0], scoresT.shape[2] == boxesT.shape[1] else {
                throw OpError("boxes must be [B, N, 4] and scores [B, C, N]")
            }
            let nb = boxesT.shape[0], nc = scoresT.shape[1], nbox = boxesT.shape[1]
            func corners(_ b: Int, _ i: Int) -> (Float, Float, Float, Float) {
                let p = (b * nbox + i) * 4
                let (a, c, d, e) = (boxes[p], boxes[p + 1], boxes[p + 2], boxes[p + 3])
                if center { return (c - e / 2, a - d / 2, c + e / 2, a + d / 2) }  // y1 x1 y2 x2
                return (Swift.min(a, d), Swift.min(c, e), Swift.max(a, d), Swift.max(c, e))
            }
            func iou(_ p: (Float, Float, Float, Float), _ q: (Float, Float, Float, Float)) -> Float {
                let ih = Swift.max(0, Swift.min(p.2, q.2) - Swift.max(p.0, q.0))
                let iw = Swift.max(0, Swift.min(p.3, q.3) - Swift.max(p.1, q.1))
                let inter = ih * iw
                let areaP = (p.2 - p.0) * (p.3 - p.1), areaQ = (q.2 - q.0) * (q.3 - q.1)
                let union = (areaP + areaQ) - inter
                return union > 0 ? inter / union : 0
            }
            var out: [Int64] = []
            if maxOut > 0 {
                for b in 0..<nb { for c in 0..<nc {
                    let base = (b * nc + c) * nbox
                    let cand = (0..<nbox).filter { i in scoreT.map { scores[base + i] > $0 } ?? true }
                        .sorted { scores[base + $0] != scores[base + $1] ? scores[base + $0] > scores[base + $1] : $0 < $1 }
                    var kept: [Int] = []
                    for i in cand {
                        if kept.count >= maxOut { break }
                        let bi = corners(b, i)
                        if kept.contains(where: { iou(bi, corners(b, $0)) > iouT }) { continue }
                        kept.append(i)
                    }
                    for i in kept { out += [Int64(b), Int64(c), Int64(i)] }
                } }
            }
            return [Tensor(shape: [out.count / 3, 3], int64s: out)]
        }
    }
}
