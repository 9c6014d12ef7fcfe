/// Gather, GatherElements, Slice.
enum IndexingOps {
    static let all: [OpDefinition] = [gather, gatherElements, slice]

    static let gather = OpDefinition("Gather") { n in
        let axisAttr = n.int("axis", default: 0)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), ind = try K.input(ins, 1)
            let indices = try K.ints(ind, "indices")
            guard x.rank >= 1 else { throw OpError("input must have rank >= 1, got a scalar") }
            let axis = try K.axis(axisAttr, rank: x.rank)
            let len = x.shape[axis]
            let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
            let outShape = Array(x.shape[..<axis]) + ind.shape + Array(x.shape[(axis + 1)...])
            var idx: [Int] = []
            idx.reserveCapacity(try K.count(outShape))
            let resolved = try indices.map { i -> Int in
                let r = i < 0 ? i + len : i
                guard r >= 0 && r < len else { throw OpError("index \(i) out of range for axis of size \(len)") }
                return r
            }
            for o in 0..<outer { for r in resolved { let b = (o * len + r) * inner; idx.append(contentsOf: b..<(b + inner)) } }
            return [x.gathered(idx, shape: outShape)]
        }
    }

    static let gatherElements = OpDefinition("GatherElements") { n in
        let axisAttr = n.int("axis", default: 0)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0), ind = try K.input(ins, 1)
            let indices = try K.ints(ind, "indices")
            guard ind.rank == x.rank else { throw OpError("indices rank must equal data rank") }
            let axis = try K.axis(axisAttr, rank: x.rank)
            let ist = K.strides(ind.shape), xst = K.strides(x.shape)
            var idx = [Int](repeating: 0, count: indices.count)
            for i in 0..<indices.count {
                var rem = i, off = 0
                for d in 0..<ind.rank {
                    var c = rem / ist[d]; rem %= ist[d]
                    if d == axis {
                        c = indices[i] < 0 ? indices[i] + x.shape[d] : indices[i]
                        guard c >= 0 && c < x.shape[d] else { throw OpError("index \(indices[i]) out of range") }
                    } else if c >= x.shape[d] { throw OpError("indices shape \(ind.shape) exceeds data shape \(x.shape)") }
                    off += c * xst[d]
                }
                idx[i] = off
            }
            return [x.gathered(idx, shape: ind.shape)]
        }
    }

    static let slice = OpDefinition("Slice") { n in
        let opset = n.opset
        let aStarts = n.ints("starts"), aEnds = n.ints("ends"), aAxes = n.ints("axes")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let starts: [Int], ends: [Int], axesIn: [Int]?, steps: [Int]?
            if opset < 10 {
                starts = try n.require(aStarts, "starts"); ends = try n.require(aEnds, "ends"); axesIn = aAxes; steps = nil
            } else {
                starts = try K.ints(K.input(ins, 1, "starts"), "starts")
                ends = try K.ints(K.input(ins, 2, "ends"), "ends")
                axesIn = try K.optional(ins, 3).map { try K.ints($0, "axes") }
                steps = try K.optional(ins, 4).map { try K.ints($0, "steps") }
            }
            let axes = try (axesIn ?? Array(0..<starts.count)).map { try K.axis($0, rank: x.rank) }
            guard starts.count == ends.count, axes.count == starts.count, (steps?.count ?? starts.count) == starts.count else {
                throw OpError("starts, ends, axes and steps must have the same length")
            }
            var first = [Int](repeating: 0, count: x.rank)
            var step = [Int](repeating: 1, count: x.rank)
            var count = x.shape
            for (i, a) in axes.enumerated() {
                let dim = x.shape[a]
                let st = steps?[i] ?? 1
                guard st != 0, st > Int.min else { throw OpError("step must be non-zero") }
                var s = starts[i], e = ends[i]
                if s < 0 { s += dim }
                if e < 0 { e += dim }
                if st > 0 {
                    s = min(max(s, 0), dim); e = min(max(e, 0), dim)
                    count[a] = e > s ? (e - s - 1) / st + 1 : 0  // no overflow for huge steps
                } else {
                    s = min(max(s, 0), dim - 1); e = min(max(e, -1), dim - 1)
                    count[a] = s > e ? (s - e - 1) / (-st) + 1 : 0
                }
                // With at most one element along the axis the step is never taken; a huge one
                // would overflow the offset arithmetic below.
                first[a] = s; step[a] = count[a] > 1 ? st : 1
            }
            let nOut = try K.count(count)
            let xst = K.strides(x.shape)
            // float32 with unit step on the last axis: copy whole runs (same values, no index table).
            if let a = x.floats, x.rank >= 1, step[x.rank - 1] == 1, nOut > 0 {
                let r = x.rank, inner = count[r - 1], rows = nOut / inner
                let base = zip(first, xst).map { $0 * $1 }.reduce(0, +)
                let out = a.withUnsafeBufferPointer { pa in
                    [Float](unsafeUninitializedCapacity: nOut) { buf, c in
                        var counter = [Int](repeating: 0, count: r)
                        var off = base
                        for row in 0..<rows {
                            (buf.baseAddress! + row * inner).initialize(from: pa.baseAddress! + off, count: inner)
                            var d = r - 2
                            while d >= 0 {
                                counter[d] += 1; off += step[d] * xst[d]
                                if counter[d] < count[d] { break }
                                off -= step[d] * xst[d] * count[d]; counter[d] = 0; d -= 1
                            }
                        }
                        c = nOut
                    }
                }
                return [Tensor(shape: count, floats: out)]
            }
            var idx = [Int](repeating: 0, count: nOut)
            if nOut > 0 {
                var counter = [Int](repeating: 0, count: x.rank)
                var off = zip(first, xst).map { $0 * $1 }.reduce(0, +)
                for i in 0..<nOut {
                    idx[i] = off
                    var d = x.rank - 1
                    while d >= 0 {
                        counter[d] += 1; off += step[d] * xst[d]
                        if counter[d] < count[d] { break }
                        off -= step[d] * xst[d] * count[d]; counter[d] = 0; d -= 1
                    }
                }
            }
            return [x.gathered(idx, shape: count)]
        }
    }
}
