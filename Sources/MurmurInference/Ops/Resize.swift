/// Resize (opsets 10–19) and Upsample: nearest, linear and cubic modes with every coordinate
/// transformation mode of opset 19. Interpolation is separable and runs axis by axis in
/// ascending axis order; along one axis each output element is Σ_j w_j · x_j over its taps in
/// ascending input index, one FMA each from +0.0 (nearest: a copy). Coordinates and weights
/// are computed in float64 from the float32 scales, then the weights rounded to float32.
enum ResizeOps {
    static let all: [OpDefinition] = [resize, upsample]

    enum Mode: String, Sendable { case nearest, linear, cubic }

    struct Config: Sendable {
        var mode: Mode
        var coordinate: String
        var nearest: String
        var cubicA: Double
        var excludeOutside: Bool
        var extrapolation: Float
    }

    static let resize = OpDefinition("Resize", versions: 10...22) { n in
        let opset = n.opset
        let modeName = n.string("mode") ?? "nearest"
        guard let mode = Mode(rawValue: modeName) else { throw OpError("unknown mode '\(modeName)'") }
        if n.int("antialias", default: 0) != 0 { throw OpError("antialias is not supported") }
        if let k = n.string("keep_aspect_ratio_policy"), k != "stretch" { throw OpError("keep_aspect_ratio_policy '\(k)' is not supported") }
        let axesAttr = n.ints("axes")
        let cfg = Config(mode: mode,
                         coordinate: opset < 11 ? "asymmetric" : (n.string("coordinate_transformation_mode") ?? "half_pixel"),
                         nearest: opset < 11 ? "floor" : (n.string("nearest_mode") ?? "round_prefer_floor"),
                         cubicA: Double(n.float("cubic_coeff_a", default: -0.75)),
                         excludeOutside: n.int("exclude_outside", default: 0) != 0,
                         extrapolation: n.float("extrapolation_value", default: 0))
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let r = x.rank
            var scales: [Double]? = nil, sizes: [Int]? = nil, roi: [Double]? = nil
            if opset < 11 {
                scales = try K.floats(K.input(ins, 1, "scales"), "scales").map { Double($0) }
            } else {
                if let t = K.optional(ins, 1), t.count > 0 { roi = t.doubleValues() }
                if let t = K.optional(ins, 2), t.count > 0 { scales = try K.floats(t, "scales").map { Double($0) } }
                if let t = K.optional(ins, 3), t.count > 0 { sizes = try K.ints(t, "sizes") }
            }
            // Expand per-axis parameters given for a subset of axes.
            let axes = try (axesAttr ?? Array(0..<r)).map { try K.axis($0, rank: r) }
            func expand<T>(_ v: [T]?, _ fill: T) throws -> [T]? {
                guard let v else { return nil }
                if v.count == r && axes == Array(0..<r) { return v }
                guard v.count == axes.count else { throw OpError("\(v.count) values for \(axes.count) axes") }
                var full = [T](repeating: fill, count: r)
                for (i, a) in axes.enumerated() { full[a] = v[i] }
                return full
            }
            scales = try expand(scales, 1)
            if let s = sizes, !(s.count == r && axes == Array(0..<r)) {
                guard s.count == axes.count else { throw OpError("\(s.count) sizes for \(axes.count) axes") }
                var full = x.shape
                for (i, a) in axes.enumerated() { full[a] = s[i] }
                sizes = full
            }
            if let rv = roi {
                if rv.count == 2 * axes.count && axes.count != r {
                    var full = Array(repeating: 0.0, count: r) + Array(repeating: 1.0, count: r)
                    for (i, a) in axes.enumerated() { full[a] = rv[i]; full[a + r] = rv[i + axes.count] }
                    roi = full
                }
            }
            return [try run(x, scales: scales, sizes: sizes, roi: roi, cfg)]
        }
    }

    /// Upsample (opsets 7–9; deprecated): nearest or linear with asymmetric coordinates.
    static let upsample = OpDefinition("Upsample", versions: 7...9) { n in
        let modeName = n.string("mode") ?? "nearest"
        guard let mode = Mode(rawValue: modeName), mode != .cubic else { throw OpError("unknown mode '\(modeName)'") }
        let attrScales = n.floats("scales")
        let opset = n.opset
        let cfg = Config(mode: mode, coordinate: "asymmetric", nearest: "floor", cubicA: -0.75, excludeOutside: false, extrapolation: 0)
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let s = opset >= 9 ? try K.floats(K.input(ins, 1, "scales"), "scales") : try n.require(attrScales, "scales")
            return [try run(x, scales: s.map { Double($0) }, sizes: nil, roi: nil, cfg)]
        }
    }

    /// For one axis: per output index, its taps (input index, weight) and whether it lies
    /// outside the input (tf_crop_and_resize extrapolation).
    static func taps(inLen: Int, outLen: Int, resizedLength lo: Double, scale: Double, roiStart: Double, roiEnd: Double, _ c: Config) throws -> (idx: [[Int]], w: [[Float]], outside: [Bool]) {
        var idx: [[Int]] = [], w: [[Float]] = [], outside: [Bool] = []
        let li = Double(inLen)
        for o in 0..<outLen {
            let xo = Double(o)
            var xr: Double
            switch c.coordinate {
            case "half_pixel": xr = (xo + 0.5) / scale - 0.5
            case "half_pixel_symmetric":
                let adj = lo / (scale * li)
                let center = li / 2
                xr = center * (1 - adj) + (xo + 0.5) / scale - 0.5
            case "pytorch_half_pixel": xr = lo > 1 ? (xo + 0.5) / scale - 0.5 : 0
            case "align_corners": xr = lo == 1 ? 0 : xo * (li - 1) / (lo - 1)
            case "asymmetric": xr = xo / scale
            case "tf_half_pixel_for_nn": xr = (xo + 0.5) / scale
            case "tf_crop_and_resize":
                xr = lo > 1 ? roiStart * (li - 1) + xo * (roiEnd - roiStart) * (li - 1) / (lo - 1)
                                : 0.5 * (roiStart + roiEnd) * (li - 1)
            default: throw OpError("unknown coordinate_transformation_mode '\(c.coordinate)'")
            }
            let out = c.coordinate == "tf_crop_and_resize" && (xr < 0 || xr > li - 1)
            outside.append(out)
            switch c.mode {
            case .nearest:
                var i: Double
                switch c.nearest {
                case "round_prefer_floor": i = xr == xr.rounded(.down) + 0.5 ? xr.rounded(.down) : xr.rounded(.toNearestOrAwayFromZero)
                case "round_prefer_ceil": i = xr == xr.rounded(.down) + 0.5 ? xr.rounded(.up) : xr.rounded(.toNearestOrAwayFromZero)
                case "floor": i = xr.rounded(.down)
                case "ceil": i = xr.rounded(.up)
                default: throw OpError("unknown nearest_mode '\(c.nearest)'")
                }
                let ii = Swift.min(Swift.max(Int(i.isFinite ? i : 0), 0), inLen - 1)
                idx.append([ii]); w.append([1])
            case .linear:
                let xc = Swift.min(Swift.max(xr, 0), li - 1)
                let i0 = Int(xc.rounded(.down))
                let i1 = Swift.min(i0 + 1, inLen - 1)
                let t = xc - Double(i0)
                if i0 == i1 { idx.append([i0]); w.append([1]) } else { idx.append([i0, i1]); w.append([Float(1 - t), Float(t)]) }
            case .cubic:
                let f = xr.rounded(.down)
                let t = xr - f
                let a = c.cubicA
                let coeffs: [Double] = [
                    ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                    ((a + 2) * t - (a + 3)) * t * t + 1,
                    ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                    ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
                ]
                var ii: [Int] = [], ww: [Double] = []
                for j in 0..<4 {
                    let p = Int(f) - 1 + j
                    if p < 0 || p >= inLen {
                        if c.excludeOutside { continue }
                        ii.append(Swift.min(Swift.max(p, 0), inLen - 1))
                    } else {
                        ii.append(p)
                    }
                    ww.append(coeffs[j])
                }
                if c.excludeOutside {
                    var s = 0.0
                    for v in ww { s += v }
                    if s != 0 { ww = ww.map { $0 / s } }
                }
                // Taps in ascending input index (edge clamping may repeat an index).
                let order = ii.indices.sorted { ii[$0] != ii[$1] ? ii[$0] < ii[$1] : $0 < $1 }
                idx.append(order.map { ii[$0] }); w.append(order.map { Float(ww[$0]) })
            }
        }
        return (idx, w, outside)
    }

    static func run(_ x: Tensor, scales: [Double]?, sizes: [Int]?, roi: [Double]?, _ c: Config) throws -> Tensor {
        let r = x.rank
        var outShape = x.shape
        var sc = [Double](repeating: 1, count: r)
        if let sizes {
            guard sizes.count == r else { throw OpError("sizes has \(sizes.count) values for rank \(r)") }
            outShape = sizes
            for i in 0..<r { sc[i] = x.shape[i] == 0 ? 1 : Double(sizes[i]) / Double(x.shape[i]) }
        } else if let scales {
            guard scales.count == r else { throw OpError("scales has \(scales.count) values for rank \(r)") }
            guard scales.allSatisfy({ $0 > 0 }) else { throw OpError("scales must be positive") }
            sc = scales
            for i in 0..<r { outShape[i] = Int((Double(x.shape[i]) * Double(Float(scales[i]))).rounded(.down)) }
        } else {
            throw OpError("one of scales and sizes is required")
        }
        if let roi, roi.count != 2 * r { throw OpError("roi has \(roi.count) values, expected \(2 * r)") }
        _ = try K.count(outShape)
        guard case var .float32(cur) = x.storage else {
            if x.dtype.isFloatingPoint || c.mode != .nearest { throw OpError("Resize supports float32 (and nearest for integer types), got \(x.dtype)") }
            // Nearest on integers: resample float indices, then gather.
            let ids = Tensor(shape: x.shape, floats: (0..<x.count).map { Float($0) })
            let picked = try run(ids, scales: scales, sizes: sizes, roi: roi, c).floats ?? []
            func gather<T: TensorElement>(_ a: [T]) -> Tensor { Tensor(shape: outShape, values: picked.map { a[Int($0)] }) }
            switch x.storage {
            case let .int64(a): return gather(a)
            case let .int32(a): return gather(a)
            case let .int8(a): return gather(a)
            case let .uint8(a): return gather(a)
            case let .bool(a): return gather(a)
            default: throw OpError("unsupported type \(x.dtype)")
            }
        }
        var shape = x.shape
        var outsideMasks: [(axis: Int, mask: [Bool])] = []
        for axis in 0..<r where outShape[axis] != shape[axis] || sc[axis] != 1 || c.coordinate == "tf_crop_and_resize" {
            let inLen = shape[axis], outLen = outShape[axis]
            if outLen > 0 && inLen == 0 { throw OpError("cannot resize an empty dimension") }
            let resized = sizes == nil ? Double(inLen) * sc[axis] : Double(outLen)
            let (idx, w, outside) = try taps(inLen: inLen, outLen: outLen, resizedLength: resized, scale: sc[axis],
                                             roiStart: roi?[axis] ?? 0, roiEnd: roi?[axis + r] ?? 1, c)
            if outside.contains(true) { outsideMasks.append((axis, outside)) }
            let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
            var next = [Float](repeating: 0, count: outer * outLen * inner)
            for o in 0..<outer {
                for j in 0..<outLen {
                    let ti = idx[j], tw = w[j]
                    let dst = (o * outLen + j) * inner
                    if ti.count == 1 && tw[0] == 1 {
                        let src = (o * inLen + ti[0]) * inner
                        for i in 0..<inner { next[dst + i] = cur[src + i] }
                        continue
                    }
                    for i in 0..<inner {
                        var acc: Float = 0
                        for t in 0..<ti.count { acc = acc.addingProduct(tw[t], cur[(o * inLen + ti[t]) * inner + i]) }
                        next[dst + i] = acc
                    }
                }
            }
            cur = next
            shape[axis] = outLen
        }
        if !outsideMasks.isEmpty {
            let st = K.strides(outShape)
            for e in 0..<cur.count {
                for (axis, mask) in outsideMasks where mask[(e / st[axis]) % outShape[axis]] {
                    cur[e] = c.extrapolation
                    break
                }
            }
        }
        return Tensor(shape: outShape, floats: cur)
    }
}
