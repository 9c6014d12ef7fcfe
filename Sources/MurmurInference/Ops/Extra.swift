/// Pad, GatherND and TopK. These move or select elements; none of them does arithmetic, so
/// there is no accumulation order to fix.
enum ExtraOps {
    static let all: [OpDefinition] = [pad, gatherND, topK]

    // MARK: Pad

    enum PadMode: String, Sendable { case constant, reflect, edge, wrap }

    /// Pad (opset 2 attributes; 11+ inputs; 18+ axes; 19+ wrap). Negative pads crop.
    static let pad = OpDefinition("Pad", versions: 1...22) { n in
        let opset = n.opset
        let modeName = n.string("mode") ?? "constant"
        guard let mode = PadMode(rawValue: modeName) else { throw OpError("unknown pad mode '\(modeName)'") }
        let attrPads = n.ints("pads") ?? n.ints("paddings")
        let attrValue = n.float("value", default: 0)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let r = x.rank
            var pads: [Int]
            var value: Double = Double(attrValue)
            if opset < 11 {
                pads = try n.require(attrPads, "pads")
            } else {
                pads = try K.ints(K.input(ins, 1, "pads"), "pads")
                if let v = K.optional(ins, 2), v.count > 0 { value = v.doubleValues()[0] }
                if let a = K.optional(ins, 3), a.count > 0 {
                    let axes = try K.ints(a, "axes").map { try K.axis($0, rank: r) }
                    guard pads.count == 2 * axes.count else { throw OpError("pads has \(pads.count) values for \(axes.count) axes") }
                    var full = [Int](repeating: 0, count: 2 * r)
                    for (i, ax) in axes.enumerated() { full[ax] = pads[i]; full[ax + r] = pads[i + axes.count] }
                    pads = full
                }
            }
            guard pads.count == 2 * r else { throw OpError("pads has \(pads.count) values, input rank is \(r)") }
            var outShape = [Int](repeating: 0, count: r)
            for d in 0..<r {
                outShape[d] = x.shape[d] + pads[d] + pads[d + r]
                guard outShape[d] >= 0 else { throw OpError("pads crop dimension \(d) below zero") }
                if mode != .constant && outShape[d] > 0 && x.shape[d] == 0 { throw OpError("cannot \(mode.rawValue)-pad an empty dimension") }
            }
            let total = try K.count(outShape)
            // Source index per output element, or -1 for the constant value.
            let inStrides = K.strides(x.shape)
            var src = [Int](repeating: 0, count: total)
            var coord = [Int](repeating: 0, count: r)
            for o in 0..<total {
                var off = 0
                var inside = true
                for d in 0..<r {
                    let len = x.shape[d]
                    var c = coord[d] - pads[d]
                    if c < 0 || c >= len {
                        switch mode {
                        case .constant: inside = false
                        case .edge: c = c < 0 ? 0 : len - 1
                        case .wrap: c = ((c % len) + len) % len
                        case .reflect:
                            if len == 1 { c = 0 } else {
                                let period = 2 * (len - 1)
                                c = ((c % period) + period) % period
                                if c >= len { c = period - c }
                            }
                        }
                    }
                    if !inside { break }
                    off += c * inStrides[d]
                }
                src[o] = inside ? off : -1
                var d = r - 1
                while d >= 0 {
                    coord[d] += 1
                    if coord[d] < outShape[d] { break }
                    coord[d] = 0; d -= 1
                }
            }
            func fill<T: TensorElement>(_ a: [T], _ v: T) -> Tensor {
                Tensor(shape: outShape, values: src.map { $0 < 0 ? v : a[$0] })
            }
            switch x.storage {
            case let .float32(a): return [fill(a, Float(value))]
            case let .float64(a): return [fill(a, value)]
            case let .int64(a): return [fill(a, Int64(value))]
            case let .int32(a): return [fill(a, Int32(value))]
            case let .int8(a): return [fill(a, Int8(clamping: Int(value)))]
            case let .uint8(a): return [fill(a, UInt8(clamping: Int(value)))]
            case let .bool(a): return [fill(a, value != 0)]
            }
        }
    }

    // MARK: GatherND

    static let gatherND = OpDefinition("GatherND", versions: 11...22) { n in
        let batchDims = n.int("batch_dims", default: 0)
        return ClosureKernel { ins, _ in
            let data = try K.input(ins, 0), indices = try K.input(ins, 1)
            let idx = try K.ints(indices, "indices")
            let b = batchDims
            guard indices.rank >= 1, b >= 0, b < Swift.min(data.rank, indices.rank) else {
                throw OpError("batch_dims \(b) must be below both ranks (\(data.rank), \(indices.rank))")
            }
            guard Array(data.shape[..<b]) == Array(indices.shape[..<b]) else { throw OpError("batch dimensions differ") }
            let last = indices.shape[indices.rank - 1]
            guard last >= 1, b + last <= data.rank else { throw OpError("index tuples of length \(last) too long for data rank \(data.rank)") }
            let sliceShape = Array(data.shape[(b + last)...])
            let slice = sliceShape.reduce(1, *)
            let outShape = Array(indices.shape.dropLast()) + sliceShape
            let batch = data.shape[..<b].reduce(1, *)
            let tuplesPerBatch = indices.shape[b..<(indices.rank - 1)].reduce(1, *)
            let dataStrides = K.strides(data.shape)
            let batchStride = b == 0 ? data.count : dataStrides[b - 1]
            var offsets: [Int] = []
            offsets.reserveCapacity(batch * tuplesPerBatch)
            for bi in 0..<batch {
                for t in 0..<tuplesPerBatch {
                    var off = bi * batchStride
                    for j in 0..<last {
                        let dim = data.shape[b + j]
                        var v = idx[(bi * tuplesPerBatch + t) * last + j]
                        if v < 0 { v += dim }
                        guard v >= 0 && v < dim else { throw OpError("index \(idx[(bi * tuplesPerBatch + t) * last + j]) out of range for dimension of size \(dim)") }
                        off += v * dataStrides[b + j]
                    }
                    offsets.append(off)
                }
            }
            func gather<T: TensorElement>(_ a: [T]) -> Tensor {
                var out: [T] = []
                out.reserveCapacity(offsets.count * slice)
                for o in offsets { out.append(contentsOf: a[o..<(o + slice)]) }
                return Tensor(shape: outShape, values: out)
            }
            switch data.storage {
            case let .float32(a): return [gather(a)]
            case let .float64(a): return [gather(a)]
            case let .int64(a): return [gather(a)]
            case let .int32(a): return [gather(a)]
            case let .int8(a): return [gather(a)]
            case let .uint8(a): return [gather(a)]
            case let .bool(a): return [gather(a)]
            }
        }
    }

    // MARK: TopK

    /// The k largest (or smallest) along an axis; ties keep the lower index first, NaN counts
    /// as larger than every number. Indices are int64.
    static let topK = OpDefinition("TopK", versions: 1...22) { n in
        let opset = n.opset
        let axisAttr = n.int("axis", default: -1)
        let largest = n.int("largest", default: 1) != 0
        let attrK = n.int("k")
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let k: Int
            if opset < 10 { k = try n.require(attrK, "k") } else {
                let kt = try K.ints(K.input(ins, 1, "K"), "K")
                guard kt.count == 1 else { throw OpError("K must hold one value") }
                k = kt[0]
            }
            let axis = try K.axis(axisAttr, rank: x.rank)
            let (outer, len, inner) = NormalizationOps.split(x.shape, axis)
            guard k >= 0 && k <= len else { throw OpError("k = \(k) outside 0...\(len)") }
            var outShape = x.shape
            outShape[axis] = k
            let vals = x.doubleValues()
            var order = [Int](repeating: 0, count: outer * k * inner)
            var lane = [Int](repeating: 0, count: len)
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * len * inner + i
                    for j in 0..<len { lane[j] = j }
                    // "a before b": strictly better value, or equal value and lower index.
                    lane.sort { a, b in
                        let va = vals[base + a * inner], vb = vals[base + b * inner]
                        if va.isNaN || vb.isNaN {
                            if va.isNaN && vb.isNaN { return a < b }
                            return largest ? va.isNaN : vb.isNaN
                        }
                        if va != vb { return largest ? va > vb : va < vb }
                        return a < b
                    }
                    for j in 0..<k { order[(o * k + j) * inner + i] = base + lane[j] * inner }
                }
            }
            let indices = order.map { Int64((($0 % (len * inner)) / Swift.max(inner, 1))) }
            func pick<T: TensorElement>(_ a: [T]) -> Tensor { Tensor(shape: outShape, values: order.map { a[$0] }) }
            let values: Tensor
            switch x.storage {
            case let .float32(a): values = pick(a)
            case let .float64(a): values = pick(a)
            case let .int64(a): values = pick(a)
            case let .int32(a): values = pick(a)
            case let .int8(a): values = pick(a)
            case let .uint8(a): values = pick(a)
            case .bool: throw OpError("bool input not supported")
            }
            return [values, Tensor(shape: outShape, int64s: indices)]
        }
    }
}
