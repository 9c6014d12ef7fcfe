/// ConvTranspose (1-D, 2-D, 3-D; groups, pads, auto_pad, strides, dilations, output_padding,
/// output_shape). Determinism contract: each output element is computed on its own ("gather"
/// form): y[n, m, o] = (Σ over input channels c of m's group ascending, then kernel taps in
/// row-major order that land on o, one FMA each from +0.0) + bias[m]. Threads split output
/// channels, never a sum.
enum ConvTransposeOps {
    static let all: [OpDefinition] = [convTranspose]

    static let convTranspose = OpDefinition("ConvTranspose", versions: 1...22) { n in
        let group = n.int("group", default: 1)
        let autoPad = n.string("auto_pad") ?? "NOTSET"
        let attrKernel = n.ints("kernel_shape")
        let attrStrides = n.ints("strides"), attrDil = n.ints("dilations"), attrPads = n.ints("pads")
        let attrOutPad = n.ints("output_padding"), attrOutShape = n.ints("output_shape")
        guard group >= 1 else { throw OpError("group must be ≥ 1") }
        return ClosureKernel { ins, ctx in
            let x = try K.input(ins, 0), w = try K.input(ins, 1)
            let xs = try K.floats(x, "X"), ws = try K.floats(w, "W")
            guard x.rank >= 3, w.rank == x.rank else { throw OpError("X \(x.shape) and W \(w.shape) must have the same rank ≥ 3") }
            let r = x.rank - 2
            let batch = x.shape[0], cIn = x.shape[1]
            guard w.shape[0] == cIn, cIn % group == 0 else { throw OpError("W \(w.shape) does not match \(cIn) input channels in \(group) groups") }
            let mPerGroup = w.shape[1], mOut = mPerGroup * group, cPerGroup = cIn / group
            let kernel = attrKernel ?? Array(w.shape[2...])
            guard kernel == Array(w.shape[2...]) else { throw OpError("kernel_shape \(kernel) differs from W \(w.shape)") }
            let strides = attrStrides ?? Array(repeating: 1, count: r)
            let dil = attrDil ?? Array(repeating: 1, count: r)
            let outPad = attrOutPad ?? Array(repeating: 0, count: r)
            guard strides.count == r, dil.count == r, outPad.count == r,
                  strides.allSatisfy({ $0 > 0 }), dil.allSatisfy({ $0 > 0 }) else {
                throw OpError("strides / dilations / output_padding must have \(r) values (strides, dilations > 0)")
            }
            let inSp = Array(x.shape[2...])
            var pb = [Int](repeating: 0, count: r), pe = [Int](repeating: 0, count: r)
            var outSp = [Int](repeating: 0, count: r)
            for i in 0..<r {
                let full = strides[i] * (inSp[i] - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1
                if let os = attrOutShape {
                    let o = os.count == r ? os[i] : (os.count == r + 2 ? os[i + 2] : -1)
                    guard o >= 0 else { throw OpError("output_shape \(os) does not match \(r) spatial dimensions") }
                    let total = Swift.max(0, full - o)
                    if autoPad == "SAME_UPPER" { pb[i] = total / 2; pe[i] = total - total / 2 } else { pb[i] = total - total / 2; pe[i] = total / 2 }
                    outSp[i] = o
                } else if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                    let o = inSp[i] * strides[i]
                    let total = full - o
                    if autoPad == "SAME_UPPER" { pb[i] = total / 2; pe[i] = total - total / 2 } else { pb[i] = total - total / 2; pe[i] = total / 2 }
                    outSp[i] = o
                } else {
                    if let p = attrPads {
                        guard p.count == 2 * r else { throw OpError("pads \(p) must have \(2 * r) values") }
                        pb[i] = p[i]; pe[i] = p[i + r]
                    }
                    outSp[i] = full - pb[i] - pe[i]
                }
                guard outSp[i] >= 0 else { throw OpError("output size \(outSp[i]) is negative") }
            }
            let bias = try K.optional(ins, 2).map { try K.floats($0, "B") }
            if let bias, bias.count != mOut { throw OpError("B has \(bias.count) values, expected \(mOut)") }
            let outShape = [batch, mOut] + outSp
            let total = try K.count(outShape)
            let outPlane = outSp.reduce(1, *), inPlane = inSp.reduce(1, *), kPlane = kernel.reduce(1, *)

            // Per-dimension taps: for output coordinate o, the (kernel index, input index) pairs.
            var dimTaps: [[[(Int, Int)]]] = []
            for i in 0..<r {
                var perOut: [[(Int, Int)]] = []
                for o in 0..<outSp[i] {
                    var taps: [(Int, Int)] = []
                    for k in 0..<kernel[i] {
                        let t = o + pb[i] - k * dil[i]
                        if t >= 0 && t % strides[i] == 0 && t / strides[i] < inSp[i] { taps.append((k, t / strides[i])) }
                    }
                    perOut.append(taps)
                }
                dimTaps.append(perOut)
            }
            // Flattened taps per output position, row-major in the kernel index.
            var tapStart = [Int](repeating: 0, count: outPlane + 1)
            var tapK: [Int] = [], tapIn: [Int] = []
            var coord = [Int](repeating: 0, count: r)
            let kStr = K.strides(kernel), iStr = K.strides(inSp)
            for p in 0..<outPlane {
                tapStart[p] = tapK.count
                var combos: [(Int, Int)] = [(0, 0)]
                for i in 0..<r {
                    var next: [(Int, Int)] = []
                    for (kf, xf) in combos { for (k, t) in dimTaps[i][coord[i]] { next.append((kf + k * kStr[i], xf + t * iStr[i])) } }
                    combos = next
                }
                for (kf, xf) in combos { tapK.append(kf); tapIn.append(xf) }
                var d = r - 1
                while d >= 0 { coord[d] += 1; if coord[d] < outSp[d] { break }; coord[d] = 0; d -= 1 }
            }
            tapStart[outPlane] = tapK.count

            var y = [Float](repeating: 0, count: total)
            y.withUnsafeMutableBufferPointer { yb in
                let yp = SendablePointer(yb.baseAddress!)
                xs.withUnsafeBufferPointer { xb in ws.withUnsafeBufferPointer { wb in
                    let xp = xb.baseAddress!, wp = wb.baseAddress!
                    ctx.parallelFor(batch * mOut) { range in
                        for job in range {
                            let nIdx = job / mOut, m = job % mOut
                            let g = m / mPerGroup, mg = m % mPerGroup
                            let out = yp.p + (nIdx * mOut + m) * outPlane
                            for p in 0..<outPlane {
                                var acc: Float = 0
                                for cg in 0..<cPerGroup {
                                    let c = g * cPerGroup + cg
                                    let xc = xp + (nIdx * cIn + c) * inPlane
                                    let wc = wp + (c * mPerGroup + mg) * kPlane
                                    for t in tapStart[p]..<tapStart[p + 1] { acc = acc.addingProduct(xc[tapIn[t]], wc[tapK[t]]) }
                                }
                                out[p] = bias.map { acc + $0[m] } ?? acc
                            }
                        }
                    }
                } }
            }
            return [Tensor(shape: outShape, floats: y)]
        }
    }
}
