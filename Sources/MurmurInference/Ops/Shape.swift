import MurmurCore

extension Tensor {
    /// A new tensor whose i-th element is `self[indices[i]]` (any element type).
    func gathered(_ indices: [Int], shape: [Int]) -> Tensor {
        func g<T>(_ a: [T]) -> [T] { indices.map { a[$0] } }
        switch storage {
        case let .float32(a): return Tensor(shape: shape, storage: .float32(g(a)))
        case let .float64(a): return Tensor(shape: shape, storage: .float64(g(a)))
        case let .int64(a): return Tensor(shape: shape, storage: .int64(g(a)))
        case let .int32(a): return Tensor(shape: shape, storage: .int32(g(a)))
        case let .int8(a): return Tensor(shape: shape, storage: .int8(g(a)))
        case let .uint8(a): return Tensor(shape: shape, storage: .uint8(g(a)))
        case let .bool(a): return Tensor(shape: shape, storage: .bool(g(a)))
        }
    }

    /// Concatenation of same-typed tensors' flat data.
    static func joined(_ parts: [Tensor], shape: [Int]) throws -> Tensor {
        guard let first = parts.first else { throw OpError("nothing to concatenate") }
        func j<T: TensorElement>(_: T.Type) throws -> Tensor {
            var out: [T] = []
            for p in parts {
                guard let a = p.array(T.self) else { throw OpError("inputs have different types: \(first.dtype) and \(p.dtype)") }
                out += a
            }
            return Tensor(shape: shape, values: out)
        }
        switch first.dtype {
        case .float32: return try j(Float.self)
        case .float64: return try j(Double.self)
        case .int64: return try j(Int64.self)
        case .int32: return try j(Int32.self)
        case .int8: return try j(Int8.self)
        case .uint8: return try j(UInt8.self)
        case .bool: return try j(Bool.self)
        }
    }
}

/// Operators that move or reinterpret data without arithmetic.
enum ShapeOps {
    static let all: [OpDefinition] = [reshape, flatten, transpose, concat, squeeze, unsqueeze, shape, size, expand,
                                      constantOfShape, constant, tile, split, range, dropout]

    static let reshape = OpDefinition("Reshape") { n in
        let allowZero = n.int("allowzero", default: 0) != 0
        let attrShape = n.opset < 5 ? n.ints("shape") : nil
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let target = try attrShape ?? K.ints(K.input(ins, 1, "shape"), "shape")
            var out = [Int]()
            var infer = -1
            for (i, d) in target.enumerated() {
                if d == 0 && !allowZero {
                    guard i < x.rank else { throw OpError("shape \(target): 0 at axis \(i) but input rank is \(x.rank)") }
                    out.append(x.shape[i])
                } else if d == -1 {
                    guard infer < 0 else { throw OpError("shape \(target) has more than one -1") }
                    infer = i; out.append(1)
                } else {
                    guard d >= 0 else { throw OpError("invalid dimension \(d) in shape \(target)") }
                    out.append(d)
                }
            }
            let known = try K.count(out)
            if infer >= 0 {
                guard known > 0, x.count % known == 0 else { throw OpError("cannot reshape \(x.shape) to \(target)") }
                out[infer] = x.count / known
            }
            guard try K.count(out) == x.count else { throw OpError("cannot reshape \(x.shape) (\(x.count) elements) to \(target)") }
            return [x.reshaped(out)]
        }
    }

    static let flatten = OpDefinition("Flatten") { n in
        let axisAttr = n.int("axis", default: 1)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let axis = axisAttr < 0 ? axisAttr + x.rank : axisAttr
            guard axis >= 0 && axis <= x.rank else { throw OpError("axis \(axisAttr) out of range for rank \(x.rank)") }
            return [x.reshaped([x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])]
        }
    }

    /// Source index of every element of `x` transposed by `perm`.
    static func transposeIndices(_ shape: [Int], _ perm: [Int]) -> ([Int], [Int]) {
        let st = K.strides(shape)
        let outShape = perm.map { shape[$0] }
        let pst = perm.map { st[$0] }
        let n = shape.reduce(1, *)
        var idx = [Int](repeating: 0, count: n)
        var counter = [Int](repeating: 0, count: perm.count)
        var off = 0
        for i in 0..<n {
            idx[i] = off
            var d = perm.count - 1
            while d >= 0 {
                counter[d] += 1; off += pst[d]
                if counter[d] < outShape[d] { break }
                off -= pst[d] * outShape[d]; counter[d] = 0; d -= 1
            }
        }
        return (idx, outShape)
    }

    /// float32 transpose without an index table; when the last axis stays last, whole rows
    /// are copied.
    static func transposeFloat(_ a: [Float], _ shape: [Int], _ perm: [Int]) -> Tensor {
        let r = shape.count
        let outShape = perm.map { shape[$0] }
        let n = a.count
        if n == 0 || r <= 1 { return Tensor(shape: outShape, floats: a) }
        let st = K.strides(shape)
        let keepLast = perm[r - 1] == r - 1
        let run = keepLast ? shape[r - 1] : 1
        let dims = keepLast ? r - 1 : r
        let pst = (0..<dims).map { st[perm[$0]] }
        let pshape = (0..<dims).map { outShape[$0] }
        let out = [Float](unsafeUninitializedCapacity: n) { buf, c in
            a.withUnsafeBufferPointer { src in
                var counter = [Int](repeating: 0, count: dims)
                var off = 0, o = 0
                while o < n {
                    if run == 1 { buf[o] = src[off] } else {
                        for j in 0..<run { buf[o + j] = src[off + j] }
                    }
                    o += run
                    var d = dims - 1
                    while d >= 0 {
                        counter[d] += 1; off += pst[d]
                        if counter[d] < pshape[d] { break }
                        off -= pst[d] * pshape[d]; counter[d] = 0; d -= 1
                    }
                }
            }
            c = n
        }
        return Tensor(shape: outShape, floats: out)
    }

    static let transpose = OpDefinition("Transpose") { n in
        let permAttr = n.ints("perm")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let perm = permAttr ?? Array((0..<x.rank).reversed())
            guard perm.count == x.rank, Set(perm) == Set(0..<x.rank) else { throw OpError("perm \(perm) is not a permutation of rank \(x.rank)") }
            if let a = x.floats { return [transposeFloat(a, x.shape, perm)] }
            let (idx, shape) = transposeIndices(x.shape, perm)
            return [x.gathered(idx, shape: shape)]
        }
    }

    static let concat = OpDefinition("Concat") { n in
        let axisAttr = try n.require(n.int("axis"), "axis")
        return ClosureKernel { ins, _ in
            let parts = ins.compactMap { $0 }
            guard let first = parts.first else { throw OpError("no inputs") }
            let axis = try K.axis(axisAttr, rank: first.rank)
            var outShape = first.shape
            outShape[axis] = 0
            for p in parts {
                guard p.rank == first.rank else { throw OpError("inputs have different ranks") }
                for d in 0..<p.rank where d != axis && p.shape[d] != first.shape[d] {
                    throw OpError("input shapes \(first.shape) and \(p.shape) differ outside axis \(axis)")
                }
                outShape[axis] += p.shape[axis]
            }
            let outer = first.shape[..<axis].reduce(1, *)
            // float32: copy each part's contiguous block per outer index straight into place.
            let floatParts = parts.compactMap(\.floats)
            if floatParts.count == parts.count {
                let chunks = parts.map { $0.shape[axis...].reduce(1, *) }
                let total = try K.count(outShape)
                let out = [Float](unsafeUninitializedCapacity: total) { buf, c in
                    c = 0
                    guard let dst = buf.baseAddress else { return }
                    var o = 0
                    for r in 0..<outer {
                        for (pi, f) in floatParts.enumerated() where chunks[pi] > 0 {
                            f.withUnsafeBufferPointer { src in
                                if let sp = src.baseAddress { (dst + o).initialize(from: sp + r * chunks[pi], count: chunks[pi]) }
                            }
                            o += chunks[pi]
                        }
                    }
                    c = o
                }
                guard out.count == total else { throw OpError("concatenated \(out.count) of \(total) elements") }
                return [Tensor(shape: outShape, floats: out)]
            }
            // Concatenate flat data of all parts, then gather rows in output order.
            let joined = try Tensor.joined(parts, shape: [parts.reduce(0) { $0 + $1.count }])
            var offsets: [Int] = []
            var acc = 0
            for p in parts { offsets.append(acc); acc += p.count }
            var idx: [Int] = []
            idx.reserveCapacity(acc)
            for o in 0..<outer {
                for (pi, p) in parts.enumerated() {
                    let chunk = p.shape[axis...].reduce(1, *)
                    let start = offsets[pi] + o * chunk
                    idx.append(contentsOf: start..<(start + chunk))
                }
            }
            return [joined.gathered(idx, shape: outShape)]
        }
    }

    static let squeeze = OpDefinition("Squeeze") { n in
        let attrAxes = n.opset < 13 ? n.ints("axes") : nil
        let fromInput = n.opset >= 13
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let axesList = fromInput ? try K.optional(ins, 1).map { try K.ints($0, "axes") } : attrAxes
            let axes: Set<Int>
            if let axesList {
                axes = Set(try axesList.map { try K.axis($0, rank: x.rank) })
                for a in axes where x.shape[a] != 1 { throw OpError("cannot squeeze axis \(a) of size \(x.shape[a])") }
            } else {
                axes = Set(x.shape.indices.filter { x.shape[$0] == 1 })
            }
            return [x.reshaped(x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))]
        }
    }

    static let unsqueeze = OpDefinition("Unsqueeze") { n in
        let attrAxes = n.opset < 13 ? n.ints("axes") : nil
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let axesList = try attrAxes ?? K.ints(K.input(ins, 1, "axes"), "axes")
            let outRank = x.rank + axesList.count
            let axes = Set(try axesList.map { try K.axis($0, rank: outRank) })
            guard axes.count == axesList.count else { throw OpError("repeated axes \(axesList)") }
            var shape: [Int] = []
            var src = 0
            for i in 0..<outRank {
                if axes.contains(i) { shape.append(1) } else { shape.append(x.shape[src]); src += 1 }
            }
            return [x.reshaped(shape)]
        }
    }

    static let shape = OpDefinition("Shape") { n in
        let startAttr = n.int("start", default: 0)
        let endAttr = n.int("end")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let r = x.rank
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
            let s = clamp(startAttr), e = clamp(endAttr ?? r)
            let dims = s < e ? Array(x.shape[s..<e]) : []
            return [Tensor(shape: [dims.count], int64s: dims.map { Int64($0) })]
        }
    }

    static let size = OpDefinition("Size", make: K.simple { ins, _ in [Tensor.scalar(Int64(try K.input(ins, 0).count))] })

    static let expand = OpDefinition("Expand", make: K.simple { ins, _ in
        let x = try K.input(ins, 0)
        let target = try K.ints(K.input(ins, 1, "shape"), "shape")
        let out = try Broadcast.shape([x.shape, target])
        _ = try K.count(out)
        return [x.gathered(Broadcast.indices(x.shape, to: out), shape: out)]
    })

    static let constantOfShape = OpDefinition("ConstantOfShape") { n in
        let value = try n.tensor("value") ?? Tensor(shape: [1], floats: [0])
        guard value.count == 1 else { throw OpError("value must hold one element") }
        return ClosureKernel { ins, _ in
            let shape = try K.ints(K.input(ins, 0), "shape")
            let count = try K.count(shape)
            return [value.gathered(Array(repeating: 0, count: count), shape: shape)]
        }
    }

    static let constant = OpDefinition("Constant") { n in
        let t: Tensor
        if let v = try n.tensor("value") { t = v }
        else if let v = n.float("value_float"), case .float? = n.node.attribute("value_float") { t = Tensor(shape: [], floats: [v]) }
        else if let v = n.floats("value_floats") { t = Tensor(shape: [v.count], floats: v) }
        else if let v = n.int("value_int") { t = Tensor(shape: [], int64s: [Int64(v)]) }
        else if let v = n.ints("value_ints") { t = Tensor(shape: [v.count], int64s: v.map { Int64($0) }) }
        else { throw OpError("Constant needs value, value_float(s) or value_int(s) (sparse and string values are not supported)") }
        return ClosureKernel { _, _ in [t] }
    }

    static let tile = OpDefinition("Tile", make: K.simple { ins, _ in
        let x = try K.input(ins, 0)
        let reps = try K.ints(K.input(ins, 1, "repeats"), "repeats")
        guard reps.count == x.rank, reps.allSatisfy({ $0 >= 0 }) else { throw OpError("repeats \(reps) must match rank \(x.rank)") }
        var out: [Int] = []
        for (d, r) in zip(x.shape, reps) {
            let (p, o) = d.multipliedReportingOverflow(by: r)
            guard !o else { throw OpError("repeats \(reps) overflow") }
            out.append(p)
        }
        let n = try K.count(out)
        let ost = K.strides(out), ist = K.strides(x.shape)
        var idx = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var rem = i, off = 0
            for d in 0..<out.count { let c = rem / ost[d]; rem %= ost[d]; off += (c % x.shape[d]) * ist[d] }
            idx[i] = off
        }
        return [x.gathered(idx, shape: out)]
    })

    static let split = OpDefinition("Split") { n in
        let axisAttr = n.int("axis", default: 0)
        let attrSplit = n.opset < 13 ? n.ints("split") : nil
        let numOutputs = n.int("num_outputs") ?? n.node.outputs.count
        guard numOutputs >= 0 && numOutputs <= 1 << 20 else { throw OpError("num_outputs \(numOutputs) out of range") }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            guard x.rank >= 1 else { throw OpError("input must have rank >= 1, got a scalar") }
            let axis = try K.axis(axisAttr, rank: x.rank)
            let len = x.shape[axis]
            var sizes = try attrSplit ?? K.optional(ins, 1).map { try K.ints($0, "split") } ?? []
            if sizes.isEmpty {
                guard numOutputs > 0 else { throw OpError("no outputs") }
                let chunk = (len + numOutputs - 1) / numOutputs
                sizes = (0..<numOutputs).map { min(chunk, max(0, len - $0 * chunk)) }
            }
            guard sizes.reduce(0, +) == len, sizes.allSatisfy({ $0 >= 0 }) else { throw OpError("split \(sizes) does not sum to \(len)") }
            let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
            var start = 0
            var outs: [Tensor] = []
            for s in sizes {
                var idx: [Int] = []
                idx.reserveCapacity(outer * s * inner)
                for o in 0..<outer { let b = (o * len + start) * inner; idx.append(contentsOf: b..<(b + s * inner)) }
                var shape = x.shape; shape[axis] = s
                outs.append(x.gathered(idx, shape: shape))
                start += s
            }
            return outs
        }
    }

    static let range = OpDefinition("Range", make: K.simple { ins, _ in
        let s = try K.input(ins, 0), l = try K.input(ins, 1), d = try K.input(ins, 2)
        switch (s.storage, l.storage, d.storage) {
        case let (.float32(a), .float32(b), .float32(c)):
            guard let a0 = a.first, let b0 = b.first, let c0 = c.first, c0 != 0 else { throw OpError("delta must be non-zero") }
            let n = rangeCount(Double(b0) - Double(a0), Double(c0))
            guard n <= Limits.maxTensorElements else { throw OpError("range too long") }
            return [Tensor(shape: [n], floats: (0..<n).map { a0 + Float($0) * c0 })]
        case let (.float64(a), .float64(b), .float64(c)):
            guard let a0 = a.first, let b0 = b.first, let c0 = c.first, c0 != 0 else { throw OpError("delta must be non-zero") }
            let n = rangeCount(b0 - a0, c0)
            guard n <= Limits.maxTensorElements else { throw OpError("range too long") }
            return [Tensor(shape: [n], doubles: (0..<n).map { a0 + Double($0) * c0 })]
        default:
            guard let a0 = s.intValues()?.first, let b0 = l.intValues()?.first, let c0 = d.intValues()?.first, c0 != 0 else {
                throw OpError("start, limit and delta must be scalars of one type, delta non-zero")
            }
            let n = rangeCount(Double(b0) - Double(a0), Double(c0))
            guard n <= Limits.maxTensorElements else { throw OpError("range too long") }
            let vals = (0..<n).map { Int64(a0) &+ Int64($0) &* Int64(c0) }
            return [Cast.convert(Tensor(shape: [n], int64s: vals), to: s.dtype)]
        }
    })

    /// max(0, ⌈span / delta⌉), capped above the element limit (so the caller's check fires).
    static func rangeCount(_ span: Double, _ delta: Double) -> Int {
        let q = (span / delta).rounded(.up)
        guard q.isFinite else { return Limits.maxTensorElements + 1 }
        return Int(Swift.max(0, Swift.min(q, Double(Limits.maxTensorElements + 1))))
    }

    /// Dropout in inference: identity, and an all-true mask when asked for.
    static let dropout = OpDefinition("Dropout", make: K.simple { ins, _ in
        let x = try K.input(ins, 0)
        if let training = K.optional(ins, 2), training.bools?.first == true,
           (K.optional(ins, 1)?.doubleValues().first ?? 0.5) > 0 {
            throw OpError("training_mode=true draws a random mask; Murmur runs inference only")
        }
        return [x, Tensor(shape: x.shape, bools: Array(repeating: true, count: x.count))]
    })
}
