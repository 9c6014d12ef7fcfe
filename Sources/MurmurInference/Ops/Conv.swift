import MurmurKernels
import MurmurKernelBodies
import Synchronization

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
    static let all: [OpDefinition] = [conv, convTranspose]

    /// ConvTranspose, computed in gather form. Contract: y[n, m, o] = (Σ over input channel c
    /// of the group ascending, then kernel taps in row-major order, of fma(x[n, c, i], w[c, m, tap])
    /// for the taps where o = i·stride − pad_begin + tap·dilation has an input position i;
    /// from +0.0) + bias[m].
    static let convTranspose = OpDefinition("ConvTranspose") { n in
        let group = n.int("group", default: 1)
        let kAttr = n.ints("kernel_shape")
        let stridesA = n.ints("strides"), dilA = n.ints("dilations"), padsA = n.ints("pads")
        let outPadA = n.ints("output_padding"), outShapeA = n.ints("output_shape")
        let autoPad = n.string("auto_pad") ?? "NOTSET"
        return ClosureKernel { ins, ctx in
            let x = try K.input(ins, 0), w = try K.input(ins, 1), b = K.optional(ins, 2)
            let xs = try K.floats(x, "X"), ws = try K.floats(w, "W")
            guard x.rank >= 3, w.rank == x.rank else { throw OpError("X \(x.shape) and W \(w.shape) must have the same rank ≥ 3") }
            let r = x.rank - 2
            let batch = x.shape[0], cIn = x.shape[1]
            guard group > 0, w.shape[0] == cIn, cIn % group == 0 else { throw OpError("channels do not match: X \(x.shape), W \(w.shape), group \(group)") }
            let mg = w.shape[1], mOut = mg * group, cg = cIn / group
            let kernel = kAttr ?? Array(w.shape.dropFirst(2))
            guard kernel == Array(w.shape.dropFirst(2)) else { throw OpError("kernel_shape does not match W") }
            let strides = stridesA ?? Array(repeating: 1, count: r), dil = dilA ?? Array(repeating: 1, count: r)
            let outPad = outPadA ?? Array(repeating: 0, count: r)
            guard strides.count == r, dil.count == r, outPad.count == r else { throw OpError("attribute rank mismatch") }
            for v in strides + dil + kernel + outPad + (padsA ?? []) where v < 0 || v > (1 << 24) { throw OpError("attribute value \(v) out of range") }
            guard strides.allSatisfy({ $0 > 0 }), dil.allSatisfy({ $0 > 0 }), kernel.allSatisfy({ $0 > 0 }) else {
                throw OpError("strides, dilations and kernel sizes must be positive")
            }
            let spatial = Array(x.shape.dropFirst(2))
            var pb = [Int](repeating: 0, count: r), outSp = [Int](repeating: 0, count: r)
            for d in 0..<r {
                let ek = (kernel[d] - 1) * dil[d] + 1
                let full = strides[d] * (spatial[d] - 1) + outPad[d] + ek
                if let os = outShapeA {
                    let target = os.count == r ? os[d] : (os.count == r + 2 ? os[d + 2] : -1)
                    guard target >= 0 else { throw OpError("output_shape rank mismatch") }
                    let total = full - target
                    outSp[d] = target
                    // Python floor division, as ONNX's reference: a negative total pads the end.
                    let half = total >= 0 ? total / 2 : -((-total + 1) / 2)
                    pb[d] = autoPad == "SAME_UPPER" ? half : total - half
                } else if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                    outSp[d] = spatial[d] * strides[d]
                    let total = max(0, full - outSp[d])
                    pb[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                } else {
                    let pads = padsA ?? Array(repeating: 0, count: 2 * r)
                    guard pads.count == 2 * r else { throw OpError("pads must have \(2 * r) values") }
                    pb[d] = pads[d]
                    outSp[d] = full - pads[d] - pads[d + r]
                }
                guard outSp[d] >= 0 else { throw OpError("negative output size") }
            }
            let bias = try b.map { try K.floats($0, "B") }
            if let bias, bias.count != mOut { throw OpError("B has \(bias.count) values, expected \(mOut)") }
            let outShape = [batch, mOut] + outSp
            let p = try K.count(outSp), inSize = spatial.reduce(1, *), taps = try K.count(kernel)
            _ = try K.count([p, taps])
            if r == 2, group == 1, strides == kernel, dil.allSatisfy({ $0 == 1 }), pb.allSatisfy({ $0 >= 0 }),
               cIn > 0, mOut > 0, p > 0, inSize > 0 {
                return [try convTransposeByTaps(xs, ws, bias, batch: batch, cIn: cIn, mOut: mOut, spatial: spatial,
                                                kernel: kernel, padBegin: pb, outSp: outSp, ctx)]
            }
            let oSt = K.strides(outSp), iSt = K.strides(spatial), kSt = K.strides(kernel)
            // For each (output position, tap): the input offset, or −1.
            var src = [Int](repeating: -1, count: p * taps)
            for o in 0..<p {
                let oc = MovementOps.coords(o, oSt)
                for t in 0..<taps {
                    let tc = MovementOps.coords(t, kSt)
                    var off = 0, ok = true
                    for d in 0..<r {
                        let num = oc[d] + pb[d] - tc[d] * dil[d]
                        if num < 0 || num % strides[d] != 0 { ok = false; break }
                        let i = num / strides[d]
                        if i >= spatial[d] { ok = false; break }
                        off += i * iSt[d]
                    }
                    if ok { src[o * taps + t] = off }
                }
            }
            var out = [Float](repeating: 0, count: try K.count(outShape))
            for nIdx in 0..<batch { for gi in 0..<group { for m in 0..<mg {
                let mo = gi * mg + m
                let obase = (nIdx * mOut + mo) * p
                for o in 0..<p {
                    var acc: Float = 0
                    for c in 0..<cg {
                        let ci = gi * cg + c
                        let xb = (nIdx * cIn + ci) * inSize
                        let wb = (ci * mg + m) * taps
                        for t in 0..<taps {
                            let s = src[o * taps + t]
                            if s >= 0 { acc = acc.addingProduct(xs[xb + s], ws[wb + t]) }
                        }
                    }
                    out[obase + o] = bias.map { acc + $0[mo] } ?? acc
                }
            } } }
            return [Tensor(shape: outShape, floats: out)]
        }
    }

    /// ConvTranspose whose taps never overlap (2-D, group 1, strides = kernel, dilation 1): each
    /// output position receives at most one tap t per input channel, so the gather chain
    /// `Σ over c ascending of fma(x[c, i], w[c, m, t])` from +0.0 is, per tap, the GEMM contract
    /// with A = w[·, ·, t]ᵀ (M × C) and B = x (C × H·W); results are scattered to their positions,
    /// positions no tap reaches keep +0.0, then `+ bias` everywhere — the same bits as the gather loop.
    static func convTransposeByTaps(_ xs: [Float], _ ws: [Float], _ bias: [Float]?, batch: Int, cIn: Int, mOut: Int,
                                    spatial: [Int], kernel: [Int], padBegin pb: [Int], outSp: [Int],
                                    _ ctx: RunContext) throws -> Tensor {
        let (ih, iw, kh, kw, oh, ow) = (spatial[0], spatial[1], kernel[0], kernel[1], outSp[0], outSp[1])
        let inSize = ih * iw, taps = kh * kw, outSize = oh * ow
        var out = [Float](repeating: 0, count: try K.count([batch, mOut, outSize]))
        var wt = [Float](repeating: 0, count: try K.count([mOut, cIn]))
        var yt = [Float](repeating: 0, count: try K.count([mOut, inSize]))
        try xs.withUnsafeBufferPointer { px in try ws.withUnsafeBufferPointer { pw in
            try out.withUnsafeMutableBufferPointer { po in try wt.withUnsafeMutableBufferPointer { pwt in
                try yt.withUnsafeMutableBufferPointer { pyt in
                    guard let bx = px.baseAddress, let bw = pw.baseAddress, let bo = po.baseAddress,
                          let bwt = pwt.baseAddress, let byt = pyt.baseAddress,
                          px.count >= batch * cIn * inSize, pw.count >= cIn * mOut * taps else {
                        throw OpError("X or W has fewer values than their shapes need")
                    }
                    for t in 0..<taps {
                        let ky = t / kw, kx = t % kw
                        for m in 0..<mOut { for c in 0..<cIn { bwt[m * cIn + c] = bw[(c * mOut + m) * taps + t] } }
                        for nIdx in 0..<batch {
                            MatMulOps.sgemm(bwt, bx + nIdx * cIn * inSize, byt, m: mOut, n: inSize, k: cIn, context: ctx)
                            for m in 0..<mOut {
                                let dst = bo + (nIdx * mOut + m) * outSize, src = byt + m * inSize
                                for iy in 0..<ih {
                                    let oy = iy * kh - pb[0] + ky
                                    if oy < 0 || oy >= oh { continue }
                                    for ix in 0..<iw {
                                        let ox = ix * kw - pb[1] + kx
                                        if ox >= 0 && ox < ow { dst[oy * ow + ox] = src[iy * iw + ix] }
                                    }
                                }
                            }
                        }
                    }
                    if let bias {
                        for nIdx in 0..<batch { for m in 0..<mOut {
                            let dst = bo + (nIdx * mOut + m) * outSize, b = bias[m]
                            for o in 0..<outSize { dst[o] = dst[o] + b }
                        } }
                    }
                }
            } }
        } }
        return Tensor(shape: [batch, mOut] + outSp, floats: out)
    }

    static let conv = OpDefinition("Conv") { n in try convKernel(n, post: [], postShapes: []) }

    /// Conv whose output then runs through the element-wise program `post` (register 0 = the
    /// conv output; `postShapes` are its one-element constants' shapes): applied to each output
    /// after `+ bias` while it is still in cache, the bits of the two passes.
    static func convKernel(_ n: NodeContext, post: [EltInst], postShapes: [[Int]]) throws -> any OpKernel {
        let group = n.int("group", default: 1)
        let win = Window(n, kernel: n.ints("kernel_shape"))
        // Constant 2-D weights (the usual case) are packed once here, for the active ISA level.
        var pack: ConvWeightPack?
        if let w = n.constantInput(1), w.rank == 4, group > 0, w.shape[0] % group == 0, w.shape[0] > 0,
           let wv = w.floats, !wv.isEmpty, wv.count == w.shape.reduce(1, *), !(w.shape[1] == 1 && w.shape[0] == group) {
            pack = wv.withUnsafeBufferPointer {
                ConvWeightPack(weights: $0.baseAddress!, outChannels: w.shape[0], groups: group, k: w.shape[1] * w.shape[2] * w.shape[3])
            }
        }
        let packed = pack
        // Weights that are not initializers (paddle2onnx writes every weight as a Constant node,
        // whose value reaches the kernel as an input) are packed at the first run and reused
        // while the same weight buffer comes back. The cache holds that buffer, so its address
        // cannot be reused by another array: same address and count ⇒ same values. A pack is
        // only a layout, so the bits are those of packing on every run.
        let lazy = LazyConvPackCache()
        @Sendable func runtimePack(_ w: Tensor, _ ws: [Float]) -> ConvWeightPack? {
            if let packed { return packed }
            guard w.rank == 4, group > 0, w.shape[0] % group == 0, w.shape[0] > 0, !ws.isEmpty,
                  ws.count == w.shape.reduce(1, *), !(w.shape[1] == 1 && w.shape[0] == group) else { return nil }
            let mr = ConvWeightPack.activeMR
            let k = w.shape[1] * w.shape[2] * w.shape[3]
            return lazy.state.withLock { cached -> ConvWeightPack in
                if let c = cached, c.pack.mr == mr, c.pack.groups == group, c.pack.k == k, c.pack.mg * group == w.shape[0],
                   LazyConvPack.sameBuffer(c.weights, ws) { return c.pack }
                let fresh = ws.withUnsafeBufferPointer {
                    ConvWeightPack(weights: $0.baseAddress!, outChannels: w.shape[0], groups: group, k: k)
                }
                cached = LazyConvPack(weights: ws, pack: fresh)
                return fresh
            }
        }
        @Sendable func finish(_ shape: [Int], _ out: inout [Float]) -> Tensor {
            if !post.isEmpty, !out.isEmpty {
                let count = out.count
                out.withUnsafeMutableBufferPointer { po in
                    guard let b = po.baseAddress else { return }
                    let ext = [UnsafePointer(b)]
                    post.withUnsafeBufferPointer { ip in ext.withUnsafeBufferPointer { ep in Elementwise.run(ip, externals: ep, output: b, count: count) } }
                }
            }
            let final = post.isEmpty ? shape : ((try? Broadcast.shape([shape] + postShapes)) ?? shape)
            return Tensor(shape: final, floats: out)
        }
        return ClosureKernel { ins, ctx in
            let x = try K.input(ins, 0), w = try K.input(ins, 1), b = K.optional(ins, 2)
            let xs = try K.floats(x, "X"), ws = try K.floats(w, "W")
            guard x.rank >= 3, w.rank == x.rank else { throw OpError("X \(x.shape) and W \(w.shape) must have the same rank ≥ 3") }
            let batch = x.shape[0], cIn = x.shape[1], mOut = w.shape[0]
            guard group > 0, cIn % group == 0, mOut % group == 0, cIn / group == w.shape[1] else {
                throw OpError("channels do not match: X \(x.shape), W \(w.shape), group \(group)")
            }
            let spatial = Array(x.shape.dropFirst(2))
            var wnd = win
            if wnd.kernel.isEmpty { wnd.kernel = Array(w.shape.dropFirst(2)) }
            guard wnd.kernel == Array(w.shape.dropFirst(2)) else { throw OpError("kernel_shape \(wnd.kernel) does not match W \(w.shape)") }
            let (outSp, pb, pe, g) = try wnd.resolve(spatial)
            let cg = cIn / group, mg = mOut / group
            let bias = try b.map { try K.floats($0, "B") }
            if let bias, bias.count != mOut { throw OpError("B has \(bias.count) values, expected \(mOut)") }
            if spatial.count == 2, batch > 0, outSp.allSatisfy({ $0 > 0 }), spatial.allSatisfy({ $0 > 0 }) {
                // 2-D: MurmurKernels.Conv2D (same contract: im2col + GEMM, then + bias).
                var p = Conv2DParams(batch: batch, inChannels: cIn, inHeight: spatial[0], inWidth: spatial[1],
                                     outChannels: mOut, kernelHeight: wnd.kernel[0], kernelWidth: wnd.kernel[1])
                p.strideH = g.strides[0]; p.strideW = g.strides[1]
                p.dilationH = g.dilations[0]; p.dilationW = g.dilations[1]
                p.padTop = pb[0]; p.padLeft = pb[1]; p.padBottom = pe[0]; p.padRight = pe[1]
                p.groups = group
                if p.problem == nil && p.outHeight == outSp[0] && p.outWidth == outSp[1] {
                    let packed = runtimePack(w, ws)
                    // Every output is written by Conv2D.forward (GEMM tiles store, depthwise planes
                    // store, k = 0 stores zeros), so the buffer is not zero-filled first.
                    let outCount = try K.count([batch, mOut] + outSp)
                    var out = [Float](unsafeUninitializedCapacity: outCount) { _, c in c = outCount }
                    xs.withUnsafeBufferPointer { px in ws.withUnsafeBufferPointer { pw in out.withUnsafeMutableBufferPointer { po in
                        if let bias {
                            bias.withUnsafeBufferPointer { pbias in
                                post.withUnsafeBufferPointer { pp in
                                Conv2D.forward(p, input: px.baseAddress!, weights: pw.baseAddress!, bias: pbias.baseAddress!, output: po.baseAddress!, pool: ctx.pool, post: pp, packed: packed)
                            } }
                        } else {
                            post.withUnsafeBufferPointer { pp in
                                Conv2D.forward(p, input: px.baseAddress!, weights: pw.baseAddress!, bias: nil, output: po.baseAddress!, pool: ctx.pool, post: pp, packed: packed)
                            }
                        }
                    } } }
                    let final = post.isEmpty ? [batch, mOut] + outSp : ((try? Broadcast.shape([[batch, mOut] + outSp] + postShapes)) ?? [batch, mOut] + outSp)
                    return [Tensor(shape: final, floats: out)]
                }
            }
            let taps = try K.count(wnd.kernel)
            let kk = cg * taps
            let p = try K.count(outSp)
            _ = try K.count([taps, p]); _ = try K.count([kk, p])
            let inSize = spatial.reduce(1, *)
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
            return [finish(outShape, &out)]
        }
    }
}

final class LazyConvPackCache: Sendable {
    let state = Mutex<LazyConvPack?>(nil)
}

/// A weight pack made at run time and the weight buffer it was made from (kept alive).
struct LazyConvPack: @unchecked Sendable {
    let weights: [Float]
    let pack: ConvWeightPack

    static func sameBuffer(_ a: [Float], _ b: [Float]) -> Bool {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in pa.baseAddress == pb.baseAddress && pa.count == pb.count } }
    }
}
