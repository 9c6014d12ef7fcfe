/// Sliding-window geometry shared by Conv and the pooling operators.
struct Window: Sendable {
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    /// begin pads then end pads, as ONNX writes them.
    var pads: [Int]
    var autoPad: String
    var ceilMode: Bool

    init(_ n: NodeContext, kernel: [Int]?) {
        self.kernel = kernel ?? []
        strides = n.ints("strides") ?? []
        dilations = n.ints("dilations") ?? []
        pads = n.ints("pads") ?? []
        autoPad = n.string("auto_pad") ?? "NOTSET"
        ceilMode = n.int("ceil_mode", default: 0) != 0
    }

    /// Output spatial sizes and resolved begin pads for `input` spatial sizes.
    func resolve(_ input: [Int]) throws -> (out: [Int], padBegin: [Int], padEnd: [Int], window: Window) {
        let r = input.count
        let bound = 1 << 24
        for v in kernel + strides + dilations + pads where v < 0 || v > bound {
            throw OpError("window attribute \(v) outside 0...\(bound)")
        }
        guard kernel.count == r else { throw OpError("kernel_shape \(kernel) does not match \(r) spatial dimensions") }
        var w = self
        if w.strides.isEmpty { w.strides = Array(repeating: 1, count: r) }
        if w.dilations.isEmpty { w.dilations = Array(repeating: 1, count: r) }
        guard w.strides.count == r, w.dilations.count == r else { throw OpError("strides/dilations rank mismatch") }
        guard w.strides.allSatisfy({ $0 > 0 }), w.dilations.allSatisfy({ $0 > 0 }), kernel.allSatisfy({ $0 > 0 }) else {
            throw OpError("strides, dilations and kernel sizes must be positive")
        }
        var pb = [Int](repeating: 0, count: r), pe = [Int](repeating: 0, count: r)
        var out = [Int](repeating: 0, count: r)
        for i in 0..<r {
            let ek = (kernel[i] - 1) * w.dilations[i] + 1
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                out[i] = (input[i] + w.strides[i] - 1) / w.strides[i]
                let total = max(0, (out[i] - 1) * w.strides[i] + ek - input[i])
                if autoPad == "SAME_UPPER" { pb[i] = total / 2 } else { pb[i] = total - total / 2 }
                pe[i] = total - pb[i]
            case "VALID":
                out[i] = max(0, (input[i] - ek) / w.strides[i] + 1)
            case "NOTSET", "":
                if !pads.isEmpty {
                    guard pads.count == 2 * r else { throw OpError("pads \(pads) must have \(2 * r) values") }
                    pb[i] = pads[i]; pe[i] = pads[i + r]
                }
                let span = input[i] + pb[i] + pe[i] - ek
                guard span >= 0 else { throw OpError("kernel larger than padded input") }
                if ceilMode {
                    out[i] = (span + w.strides[i] - 1) / w.strides[i] + 1
                    // The last window must start inside the input or its begin padding.
                    if (out[i] - 1) * w.strides[i] >= input[i] + pb[i] { out[i] -= 1 }
                } else {
                    out[i] = span / w.strides[i] + 1
                }
            default: throw OpError("unknown auto_pad '\(autoPad)'")
            }
        }
        return (out, pb, pe, w)
    }
}

/// Conv (1-D, 2-D, 3-D; groups, pads, auto_pad, strides, dilations). Determinism contract:
/// y[n, m, p] = (Σ over c ascending, then kernel taps in row-major order, one FMA each from
/// +0.0; taps in the padding contribute an FMA with +0.0) + bias[m]. This is exactly
/// im2col followed by the GEMM contract, which is how it is computed here.
enum ConvOps {
    static let all: [OpDefinition] = [conv]

    static let conv = OpDefinition("Conv") { n in
        let group = n.int("group", default: 1)
        let win = Window(n, kernel: n.ints("kernel_shape"))
        return ClosureKernel { ins, ctx in
            let x = try K.input(ins, 0), w = try K.input(ins, 1), b = K.optional(ins, 2)
            let xs = try K.floats(x, "X"), ws = try K.floats(w, "W")
            guard x.rank >= 3, w.rank == x.rank else { throw OpError("X \(x.shape) and W \(w.shape) must have the same rank ≥ 3") }
            let batch = x.shape[0], cIn = x.shape[1], mOut = w.shape[0]
            guard group > 0, cIn % group == 0, mOut % group == 0, w.shape[1] * group == cIn else {
                throw OpError("channels do not match: X \(x.shape), W \(w.shape), group \(group)")
            }
            let spatial = Array(x.shape.dropFirst(2))
            var wnd = win
            if wnd.kernel.isEmpty { wnd.kernel = Array(w.shape.dropFirst(2)) }
            guard wnd.kernel == Array(w.shape.dropFirst(2)) else { throw OpError("kernel_shape \(wnd.kernel) does not match W \(w.shape)") }
            let (outSp, pb, _, g) = try wnd.resolve(spatial)
            let cg = cIn / group, mg = mOut / group
            let taps = wnd.kernel.reduce(1, *)
            let kk = cg * taps
            let p = outSp.reduce(1, *)
            let inSize = spatial.reduce(1, *)
            let bias = try b.map { try K.floats($0, "B") }
            if let bias, bias.count != mOut { throw OpError("B has \(bias.count) values, expected \(mOut)") }
            let outShape = [batch, mOut] + outSp
            var out = [Float](repeating: 0, count: try K.count(outShape))
            let r = spatial.count
            let inStrides = K.strides(spatial), kStrides = K.strides(wnd.kernel), oStrides = K.strides(outSp)
            // For each (tap, output position): input offset within a channel, or −1 in padding.
            var gather = [Int](repeating: -1, count: taps * p)
            var tapIdx = [Int](repeating: 0, count: r), pos = [Int](repeating: 0, count: r)
            for t in 0..<taps {
                var rem = t
                for d in 0..<r { tapIdx[d] = rem / kStrides[d]; rem %= kStrides[d] }
                for o in 0..<p {
                    var orem = o
                    var off = 0
                    var inside = true
                    for d in 0..<r {
                        pos[d] = orem / oStrides[d]; orem %= oStrides[d]
                        let xi = pos[d] * g.strides[d] - pb[d] + tapIdx[d] * g.dilations[d]
                        if xi < 0 || xi >= spatial[d] { inside = false; break }
                        off += xi * inStrides[d]
                    }
                    gather[t * p + o] = inside ? off : -1
                }
            }
            var col = [Float](repeating: 0, count: kk * p)
            try xs.withUnsafeBufferPointer { px in
                try ws.withUnsafeBufferPointer { pw in
                    try out.withUnsafeMutableBufferPointer { po in
                        guard let bx = px.baseAddress, let bw = pw.baseAddress, let bo = po.baseAddress else { return }
                        for nIdx in 0..<batch {
                            for gi in 0..<group {
                                // im2col: row (c, tap), column = output position.
                                col.withUnsafeMutableBufferPointer { pc in
                                    for c in 0..<cg {
                                        let chan = bx + (nIdx * cIn + gi * cg + c) * inSize
                                        for t in 0..<taps {
                                            let row = (c * taps + t) * p
                                            for o in 0..<p {
                                                let src = gather[t * p + o]
                                                pc[row + o] = src >= 0 ? chan[src] : 0
                                            }
                                        }
                                    }
                                }
                                try col.withUnsafeBufferPointer { pc in
                                    guard let bc = pc.baseAddress else { throw OpError("empty convolution") }
                                    MatMulOps.sgemm(bw + gi * mg * kk, bc, bo + (nIdx * mOut + gi * mg) * p,
                                                    m: mg, n: p, k: kk, context: ctx)
                                }
                            }
                        }
                    }
                }
            }
            if let bias {
                for nIdx in 0..<batch { for m in 0..<mOut {
                    let base = (nIdx * mOut + m) * p
                    for o in 0..<p { out[base + o] = out[base + o] + bias[m] }
                } }
            }
            return [Tensor(shape: outShape, floats: out)]
        }
    }
}
