import MurmurCore

/// Resize (opsets 10–18 attributes: mode nearest/linear/cubic, coordinate_transformation_mode,
/// nearest_mode, cubic_coeff_a, exclude_outside, extrapolation_value) and Upsample.
///
/// Contract: separable 1-D passes over the resized axes in ascending order, computed in
/// binary64 and rounded to float32 once at the end; each output of a pass is Σ over taps in
/// ascending source index of (weight × value), plain operations from +0.0.
enum ResizeOps {
    static let all: [OpDefinition] = [resize, upsample]

    struct Params: Sendable {
        var mode = "nearest"
        var coord = "half_pixel"
        var nearestMode = "round_prefer_floor"
        var cubicA = -0.75
        var excludeOutside = false
        var extrapolation = 0.0
    }

    static let resize = OpDefinition("Resize", versions: 10...22) { n in
        var p = Params()
        p.mode = n.string("mode") ?? "nearest"
        if n.opset < 11 {
            p.coord = "asymmetric"; p.nearestMode = "floor"
        } else {
            p.coord = n.string("coordinate_transformation_mode") ?? "half_pixel"
            p.nearestMode = n.string("nearest_mode") ?? "round_prefer_floor"
        }
        p.cubicA = Double(n.float("cubic_coeff_a", default: -0.75))
        p.excludeOutside = n.int("exclude_outside", default: 0) != 0
        p.extrapolation = Double(n.float("extrapolation_value", default: 0))
        if let a = n.ints("axes"), !a.isEmpty { throw OpError("the axes attribute (opset 18) is not supported") }
        if let pol = n.string("keep_aspect_ratio_policy"), pol != "stretch" { throw OpError("keep_aspect_ratio_policy \(pol) is not supported") }
        if n.int("antialias", default: 0) != 0 { throw OpError("antialias is not supported") }
        guard ["nearest", "linear", "cubic"].contains(p.mode) else { throw OpError("unknown mode '\(p.mode)'") }
        let params = p
        let opset = n.opset
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let scalesT = opset < 11 ? K.optional(ins, 1) : K.optional(ins, 2)
            let sizesT = opset < 11 ? nil : K.optional(ins, 3)
            let roiT = opset < 11 ? nil : K.optional(ins, 1)
            var scales: [Double]? = scalesT.flatMap { $0.count > 0 ? $0.doubleValues() : nil }
            let sizes: [Int]? = try sizesT.flatMap { $0.count > 0 ? try K.ints($0, "sizes") : nil }
            let roi = roiT.flatMap { $0.count > 0 ? $0.doubleValues() : nil }
            return [try run(x, scales: &scales, sizes: sizes, roi: roi, params)]
        }
    }

    static let upsample = OpDefinition("Upsample", versions: 7...9) { n in
        var p = Params()
        p.mode = n.string("mode") ?? "nearest"
        p.coord = "asymmetric"; p.nearestMode = "floor"
        guard p.mode == "nearest" || p.mode == "linear" else { throw OpError("unknown mode '\(p.mode)'") }
        let attrScales = n.floats("scales").map { $0.map(Double.init) }
        let opset = n.opset, params = p
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            var scales = opset >= 9 ? K.optional(ins, 1)?.doubleValues() : attrScales
            return [try run(x, scales: &scales, sizes: nil, roi: nil, params)]
        }
    }

    static func run(_ x: Tensor, scales: inout [Double]?, sizes: [Int]?, roi: [Double]?, _ p: Params) throws -> Tensor {
        let r = x.rank
        // roi matters only for tf_crop_and_resize, and then needs a start and an end per axis.
        var roi = roi
        if p.coord != "tf_crop_and_resize" { roi = nil }
        if let roi, roi.count != 2 * r || !roi.allSatisfy(\.isFinite) {
            throw OpError("roi \(roi) must have \(2 * r) finite values (start and end per axis)")
        }
        var out = x.shape
        if let sizes {
            guard sizes.count == r, sizes.allSatisfy({ $0 >= 0 }) else { throw OpError("sizes \(sizes) must have \(r) non-negative values") }
            out = sizes
            scales = (0..<r).map { x.shape[$0] == 0 ? 1 : Double(sizes[$0]) / Double(x.shape[$0]) }
        } else if let s = scales {
            guard s.count == r, s.allSatisfy({ $0 > 0 && $0.isFinite && $0 < 1e6 }) else { throw OpError("scales \(s) must have \(r) positive values") }
            for d in 0..<r {
                var len = Double(x.shape[d]) * s[d]
                if p.coord == "tf_crop_and_resize", let roi, roi.count == 2 * r { len *= roi[d + r] - roi[d] }
                guard len.isFinite, len >= 0, len <= Double(Limits.maxTensorElements) else { throw OpError("resized length \(len) out of range") }
                out[d] = Int(len.rounded(.down))
            }
        } else {
            throw OpError("either scales or sizes is required")
        }
        let sc = scales ?? Array(repeating: 1, count: r)
        _ = try K.count(out)
        var data = x.doubleValues()
        var shape = x.shape
        for d in 0..<r where out[d] != shape[d] || (p.mode != "nearest" && sc[d] != 1) || p.coord == "tf_crop_and_resize" {
            data = try pass(data, shape: shape, axis: d, outLen: out[d], scale: sc[d], roi: roi.map { ($0[d], $0[d + r]) }, p)
            shape[d] = out[d]
        }
        switch x.dtype {
        case .float32: return Tensor(shape: out, floats: data.map { Float($0) })
        case .float64: return Tensor(shape: out, doubles: data)
        default:
            guard p.mode == "nearest" else { throw OpError("\(p.mode) resize needs float input") }
            return Cast.convert(Tensor(shape: out, doubles: data), to: x.dtype)
        }
    }

    /// Source coordinate of output index `o` along an axis.
    static func source(_ o: Int, inLen: Int, outLen: Int, scale: Double, roi: (Double, Double)?, _ p: Params) -> Double {
        let xo = Double(o)
        // ONNX uses the unrounded resized length (input length × scale) in these formulas.
        let outF = Double(inLen) * scale
        switch p.coord {
        case "asymmetric": return xo / scale
        case "align_corners": return outF == 1 ? 0 : xo * Double(inLen - 1) / (outF - 1)
        case "pytorch_half_pixel": return outF > 1 ? (xo + 0.5) / scale - 0.5 : 0
        case "tf_half_pixel_for_nn": return (xo + 0.5) / scale
        case "tf_crop_and_resize":
            let (s, e) = roi ?? (0, 1)
            return outLen > 1 ? s * Double(inLen - 1) + xo * (e - s) * Double(inLen - 1) / Double(outLen - 1)
                              : 0.5 * (s + e) * Double(inLen - 1)
        case "half_pixel_symmetric":
            let adj = outF / (scale * Double(inLen))
            let center = Double(inLen) / 2
            return center * (1 - adj) + (xo + 0.5) / scale - 0.5
        default: return (xo + 0.5) / scale - 0.5  // half_pixel
        }
    }

    /// (source index, weight) taps for one output position.
    static func taps(_ xs0: Double, inLen: Int, _ p: Params) -> [(Int, Double)] {
        // Hostile scales or ROIs can put the source anywhere: keep it convertible to Int.
        let xs = xs0.isFinite ? Swift.min(Swift.max(xs0, -1e12), 1e12) : 0
        func clamp(_ i: Int) -> Int { min(max(i, 0), inLen - 1) }
        switch p.mode {
        case "nearest":
            var i: Double
            switch p.nearestMode {
            case "floor": i = xs.rounded(.down)
            case "ceil": i = xs.rounded(.up)
            case "round_prefer_ceil": i = (xs - xs.rounded(.down)) == 0.5 ? xs.rounded(.up) : xs.rounded(.toNearestOrAwayFromZero)
            default: i = (xs - xs.rounded(.down)) == 0.5 ? xs.rounded(.down) : xs.rounded(.toNearestOrAwayFromZero)
            }
            if !i.isFinite { i = 0 }
            return [(clamp(Int(i)), 1)]
        case "linear":
            let xc = min(max(xs, 0), Double(inLen - 1))
            let i0 = xc.rounded(.down)
            let t = xc - i0
            let a = clamp(Int(i0))
            return [(a, 1 - t), (clamp(a + 1), t)]
        default:  // cubic
            let a = p.cubicA
            let i0 = xs.rounded(.down)
            let t = xs - i0
            func w(_ s: Double) -> Double {
                let d = abs(s)
                if d <= 1 { return ((a + 2) * d - (a + 3)) * d * d + 1 }
                if d < 2 { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
                return 0
            }
            var out: [(Int, Double)] = []
            var total = 0.0
            for k in -1...2 {
                let idx = Int(i0) + k
                var wt = w(t - Double(k))
                if p.excludeOutside && (idx < 0 || idx >= inLen) { wt = 0 }
                total += wt
                out.append((clamp(idx), wt))
            }
            if p.excludeOutside && total != 0 { out = out.map { ($0.0, $0.1 / total) } }
            return out
        }
    }

    static func pass(_ data: [Double], shape: [Int], axis: Int, outLen: Int, scale: Double, roi: (Double, Double)?, _ p: Params) throws -> [Double] {
        let inLen = shape[axis]
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var result = [Double](repeating: 0, count: outer * outLen * inner)
        if inLen == 0 { return result }
        var plan: [[(Int, Double)]?] = []
        for o in 0..<outLen {
            let xs = source(o, inLen: inLen, outLen: outLen, scale: scale, roi: roi, p)
            if p.coord == "tf_crop_and_resize" && (xs < 0 || xs > Double(inLen - 1)) { plan.append(nil) } else {
                plan.append(taps(xs, inLen: inLen, p))
            }
        }
        for ou in 0..<outer { for o in 0..<outLen { for i in 0..<inner {
            let dst = (ou * outLen + o) * inner + i
            guard let tp = plan[o] else { result[dst] = p.extrapolation; continue }
            var acc = 0.0
            for (s, w) in tp { acc = acc + w * data[(ou * inLen + s) * inner + i] }
            result[dst] = acc
        } } }
        return result
    }
}
