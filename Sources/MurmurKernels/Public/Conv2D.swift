import MurmurKernelBodies
import Synchronization

/// Geometry of a 2-D convolution over NCHW float32 tensors (ONNX `Conv` semantics).
public struct Conv2DParams: Sendable, Equatable {
    public var batch: Int
    public var inChannels: Int, inHeight: Int, inWidth: Int
    public var outChannels: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideH = 1, strideW = 1
    public var padTop = 0, padLeft = 0, padBottom = 0, padRight = 0
    public var dilationH = 1, dilationW = 1
    public var groups = 1

    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int) {
        self.batch = batch; self.inChannels = inChannels; self.inHeight = inHeight; self.inWidth = inWidth
        self.outChannels = outChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
    }

    public var outHeight: Int { (inHeight + padTop + padBottom - dilationH * (kernelHeight - 1) - 1) / strideH + 1 }
    public var outWidth: Int { (inWidth + padLeft + padRight - dilationW * (kernelWidth - 1) - 1) / strideW + 1 }

    /// Why the geometry is unusable, or nil when `forward` accepts it.
    public var problem: String? {
        if batch < 0 || inChannels <= 0 || inHeight <= 0 || inWidth <= 0 || outChannels <= 0 { return "sizes must be positive" }
        if kernelHeight <= 0 || kernelWidth <= 0 { return "kernel size must be positive" }
        if strideH <= 0 || strideW <= 0 || dilationH <= 0 || dilationW <= 0 { return "strides and dilations must be positive" }
        if min(padTop, padLeft, padBottom, padRight) < 0 { return "pads must be non-negative" }
        if groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0 { return "channels must divide by groups" }
        if outHeight <= 0 || outWidth <= 0 { return "kernel larger than padded input" }
        return nil
    }
}

/// Deterministic 2-D convolution. Every output is the GEMM contract's ascending FMA chain over
/// p = (c·kH + ky)·kW + kx within its group (padding positions contribute +0.0 inputs and stay in
/// the chain), then `d + bias[m]` (Specs/kernels.md §3). Computed as im2col written straight into
/// the GEMM's packed-panel layout (each thread fills and multiplies its own panels), or directly
/// for depthwise convolutions; both give the same bits.
public enum Conv2D {
    /// input [N, C, H, W]; weights [M, C/groups, kH, kW] (ONNX layout); bias [M] or nil;
    /// output [N, M, OH, OW]. Buffers must not overlap the output.
    /// `post`: an element-wise program (register 0 = the output element) applied to every output
    /// after `+ bias`, in place — the same bits as running it as a separate pass afterwards.
    public static func forward(_ p: Conv2DParams, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil,
                               post: UnsafeBufferPointer<EltInst>? = nil, packed: ConvWeightPack? = nil) {
        precondition(p.problem == nil, "Conv2D: \(p.problem ?? "")")
        let table = KernelISA.active.table
        let postProgram = post.flatMap { $0.isEmpty ? nil : $0 }
        if p.inChannels == p.groups && p.outChannels == p.groups {
            depthwise(p, input, weights, bias, output, table, pool, postProgram)
            return
        }
        if useIm2col {
            forwardIm2col(p, input: input, weights: weights, bias: bias, output: output, pool: pool, post: post)
            return
        }
        // Everything else: the indirect kernel over (pre-)packed weights (ConvDirect.swift).
        let conv = ConvISATable.of(KernelISA.active)
        let k = p.inChannels / p.groups * p.kernelHeight * p.kernelWidth
        let pack: ConvWeightPack
        if let packed, packed.mr == conv.mr, packed.groups == p.groups, packed.k == k, packed.mg == p.outChannels / p.groups {
            pack = packed
        } else {
            pack = ConvWeightPack(weights: weights, outChannels: p.outChannels, groups: p.groups, k: k, mr: conv.mr)
        }
        indirect(p, input, pack, bias, output, conv, pool, postProgram)
    }

    private static let im2colSwitch = Atomic<Bool>(false)

    /// Routes non-depthwise convolutions through the previous im2col + GEMM path (same bits).
    /// A benchmark knob for before/after comparisons in one binary; off by default.
    public static var useIm2col: Bool {
        get { im2colSwitch.load(ordering: .relaxed) }
        set { im2colSwitch.store(newValue, ordering: .relaxed) }
    }

    /// im2col + GEMM (the previous path; same bits as `indirect`), kept for comparison.
    static func forwardIm2col(_ p: Conv2DParams, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil,
                              post: UnsafeBufferPointer<EltInst>? = nil) {
        let table = KernelISA.active.table
        let postProgram = post.flatMap { $0.isEmpty ? nil : $0 }
        let cg = p.inChannels / p.groups, mg = p.outChannels / p.groups
        let cols = p.outHeight * p.outWidth
        let k = cg * p.kernelHeight * p.kernelWidth
        let nr = table.nr
        let panels = (cols + nr - 1) / nr
        let threads = pool?.threads ?? 1
        // Batches of at least `threads` images: each thread takes whole images (own scratch).
        // Otherwise every image's panels are split across threads. Same bits either way.
        let byImage = threads > 1 && p.batch >= threads
        let parallelPanels = threads > 1 && !byImage && mg * cols * k >= Gemm.minParallelMultiplyAdds
        let images = { (imageRange: Range<Int>, pool: WorkerPool?) in
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: max(1, panels * k * nr))
            defer { packed.deallocate() }
            for n in imageRange {
                for g in 0..<p.groups {
                    let x = input + (n * p.inChannels + g * cg) * p.inHeight * p.inWidth
                    var args = GemmArgs(m: mg, n: cols, k: k, a: weights + g * mg * k, aRowStride: k, aColStride: 1,
                                        b: nil, bRowStride: 0, bColStride: 0, packedB: UnsafePointer(packed),
                                        c: output + (n * p.outChannels + g * mg) * cols, ldc: cols,
                                        alpha: 1, beta: 1, addend: bias.map { $0 + g * mg }, addRowStride: 1, addColStride: 0)
                    if let postProgram { args.post = postProgram.baseAddress; args.postCount = postProgram.count }
                    let work = { (range: Range<Int>) in
                        im2colPanels(p, x, cg, packed, nr, range)
                        table.gemm(args, 0..<mg, (range.lowerBound * nr)..<min(cols, range.upperBound * nr))
                    }
                    if let pool { pool.parallelRanges(panels, work) } else { work(0..<panels) }
                }
            }
        }
        if byImage, let pool {
            pool.parallelRanges(p.batch) { images($0, nil) }
        } else {
            images(0..<p.batch, parallelPanels ? pool : nil)
        }
    }

    /// Writes panels `range` of the im2col matrix (rows p = (c·kH + ky)·kW + kx, columns
    /// oy·OW + ox, out-of-image taps +0.0) in the packed-B layout: panel q is K×NR, k-major.
    /// A panel's columns are split into runs within one output row; each run is a zero fill plus
    /// one (strided) copy from the input row.
    static func im2colPanels(_ p: Conv2DParams, _ x: UnsafePointer<Float>, _ cg: Int, _ out: UnsafeMutablePointer<Float>,
                             _ nr: Int, _ range: Range<Int>) {
        let oh = p.outHeight, ow = p.outWidth, h = p.inHeight, w = p.inWidth
        let cols = oh * ow
        let kh = p.kernelHeight, kw = p.kernelWidth, sw = p.strideW
        let k = cg * kh * kw
        // Runs: (oy, ox0, count, offset in panel); per kernel column kx and run, the clip
        // [a, b) of columns whose input x is inside the image (it does not depend on c or ky).
        var runs: [(oy: Int, ox0: Int, count: Int, at: Int)] = []
        runs.reserveCapacity(nr + 1)
        var clips: [(a: Int, b: Int)] = []
        clips.reserveCapacity((nr + 1) * kw)
        for q in range {
            let panel = out + q * k * nr
            let j0 = q * nr
            let valid = min(nr, cols - j0)
            runs.removeAll(keepingCapacity: true)
            var j = j0
            while j < j0 + valid {
                let oy = j / ow, ox0 = j % ow
                let count = min(ow - ox0, j0 + valid - j)
                runs.append((oy, ox0, count, j - j0))
                j += count
            }
            clips.removeAll(keepingCapacity: true)
            for kx in 0..<kw {
                let ixBase = kx * p.dilationW - p.padLeft
                let lo = ixBase >= 0 ? 0 : (-ixBase + sw - 1) / sw
                let hi = w - 1 - ixBase < 0 ? -1 : (w - 1 - ixBase) / sw   // inclusive
                for run in runs {
                    let a = max(lo - run.ox0, 0)
                    clips.append((a, max(a, min(hi - run.ox0 + 1, run.count))))
                }
            }
            let runCount = runs.count
            runs.withUnsafeBufferPointer { runs in
                clips.withUnsafeBufferPointer { clips in
                    var row = 0
                    for c in 0..<cg {
                        let plane = x + c * h * w
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let dst = panel + row * nr
                                let ixBase = kx * p.dilationW - p.padLeft
                                for r in 0..<runCount {
                                    let run = runs[r]
                                    let d = dst + run.at
                                    let iy = run.oy * p.strideH - p.padTop + ky * p.dilationH
                                    var l = 0
                                    if iy >= 0 && iy < h {
                                        let clip = clips[kx * runCount + r]
                                        while l < clip.a { d[l] = 0; l += 1 }
                                        let s0 = plane + iy * w + run.ox0 * sw + ixBase
                                        if sw == 1 {
                                            while l < clip.b { d[l] = s0[l]; l += 1 }
                                        } else {
                                            while l < clip.b { d[l] = s0[l * sw]; l += 1 }
                                        }
                                    }
                                    while l < run.count { d[l] = 0; l += 1 }
                                }
                                var t = valid
                                while t < nr { dst[t] = 0; t += 1 }
                                row += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// One input and one output channel per group: a direct kernel per plane over a zero-padded
    /// copy of the input plane; planes are independent and split across threads.
    static func depthwise(_ p: Conv2DParams, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                          _ bias: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>, _ table: KernelTable,
                          _ pool: WorkerPool?, _ post: UnsafeBufferPointer<EltInst>?) {
        let ph = p.inHeight + p.padTop + p.padBottom
        let pw = p.inWidth + p.padLeft + p.padRight + 16     // slack: vector loads past the last tap
        let geometry = DepthwiseGeometry(kh: p.kernelHeight, kw: p.kernelWidth, sh: p.strideH, sw: p.strideW,
                                         dh: p.dilationH, dw: p.dilationW, oh: p.outHeight, ow: p.outWidth)
        let planes = p.batch * p.inChannels
        let taps = p.kernelHeight * p.kernelWidth
        let work = { (range: Range<Int>) in
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: (ph + 1) * pw)
            defer { padded.deallocate() }
            padded.initialize(repeating: 0, count: (ph + 1) * pw)
            for plane in range {
                let c = plane % p.inChannels
                let src = input + plane * p.inHeight * p.inWidth
                for y in 0..<p.inHeight {
                    (padded + (y + p.padTop) * pw + p.padLeft).update(from: src + y * p.inWidth, count: p.inWidth)
                }
                let out = output + plane * p.outHeight * p.outWidth
                table.depthwise(UnsafePointer(padded), pw, weights + c * taps, geometry, bias?[c], out)
                if let post, let ip = post.baseAddress {
                    var e = UnsafePointer(out)
                    withUnsafePointer(to: &e) { table.elementwise(ip, post.count, $0, 1, out, p.outHeight * p.outWidth) }
                }
            }
        }
        if let pool, pool.threads > 1, planes > 1, planes * p.outHeight * p.outWidth * taps >= Gemm.minParallelMultiplyAdds {
            pool.parallelRanges(planes, work)
        } else {
            work(0..<planes)
        }
    }
}
