import MurmurKernelBodies
import MurmurKernelsBaseline
import MurmurKernelsX86V3
import MurmurKernelsX86V4

/// One ISA level's convolution entry points.
struct ConvISATable: Sendable {
    let mr: Int
    let nr: Int
    let indirect: @Sendable (ConvIndirectArgs, Range<Int>) -> Void
    let phaseSplit: @Sendable (UnsafePointer<Float>, ConvPhaseGeometry, UnsafeMutablePointer<Float>, Range<Int>) -> Void
    let poolRows: @Sendable (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Int, Int, Int, Int, Int, Bool, Int, UnsafePointer<Float>, Int, Int, Int) -> Void

    static let v4 = ConvISATable(mr: MurmurKernelsX86V4.ISAConvKernels.mr, nr: MurmurKernelsX86V4.ISAConvKernels.nr,
                                 indirect: { MurmurKernelsX86V4.ISAConvKernels.indirect($0, $1) },
                                 phaseSplit: { MurmurKernelsX86V4.ISAConvKernels.phaseSplit($0, $1, $2, $3) },
                                 poolRows: { MurmurKernelsX86V4.ISAConvKernels.poolRows($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) })
    static let v3 = ConvISATable(mr: MurmurKernelsX86V3.ISAConvKernels.mr, nr: MurmurKernelsX86V3.ISAConvKernels.nr,
                                 indirect: { MurmurKernelsX86V3.ISAConvKernels.indirect($0, $1) },
                                 phaseSplit: { MurmurKernelsX86V3.ISAConvKernels.phaseSplit($0, $1, $2, $3) },
                                 poolRows: { MurmurKernelsX86V3.ISAConvKernels.poolRows($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) })
    static let baseline = ConvISATable(mr: MurmurKernelsBaseline.ISAConvKernels.mr, nr: MurmurKernelsBaseline.ISAConvKernels.nr,
                                       indirect: { MurmurKernelsBaseline.ISAConvKernels.indirect($0, $1) },
                                       phaseSplit: { MurmurKernelsBaseline.ISAConvKernels.phaseSplit($0, $1, $2, $3) },
                                 poolRows: { MurmurKernelsBaseline.ISAConvKernels.poolRows($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) })

    static func of(_ isa: KernelISA) -> ConvISATable {
        switch isa {
        case .baseline: return baseline
        case .x86v3: return v3
        case .x86v4: return v4
        }
    }
}

/// Convolution weights [M, C/groups, kH, kW] packed once (at model load) into the indirect
/// kernel's layout: per group, row tiles of MR output channels, each K×MR k-major, zero rows past
/// the group's channels. Packing is for one MR; `Conv2D.forward` repacks on the fly when the
/// active level's MR differs (all levels give the same bits).
public final class ConvWeightPack: @unchecked Sendable {
    public let mr: Int
    public let groups: Int
    /// Output channels per group, and K = C/groups · kH · kW.
    public let mg: Int, k: Int
    let storage: UnsafeMutablePointer<Float>
    var groupStride: Int { (mg + mr - 1) / mr * mr * k }

    /// The row-tile height the active ISA level's kernel uses (a pack with another `mr` is repacked).
    public static var activeMR: Int { ConvISATable.of(KernelISA.active).mr }

    public convenience init(weights: UnsafePointer<Float>, outChannels: Int, groups: Int, k: Int) {
        self.init(weights: weights, outChannels: outChannels, groups: groups, k: k, mr: ConvISATable.of(KernelISA.active).mr)
    }

    init(weights: UnsafePointer<Float>, outChannels: Int, groups: Int, k: Int, mr: Int) {
        precondition(groups > 0 && outChannels % groups == 0 && k > 0 && mr > 0, "ConvWeightPack: bad geometry")
        self.mr = mr; self.groups = groups; self.mg = outChannels / groups; self.k = k
        let tiles = (mg + mr - 1) / mr
        let gs = tiles * mr * k
        storage = .allocate(capacity: max(1, groups * gs))
        for g in 0..<groups {
            for t in 0..<tiles {
                let dst = storage + g * gs + t * k * mr
                for r in 0..<mr {
                    let m = t * mr + r
                    if m < mg {
                        let src = weights + (g * mg + m) * k
                        for p in 0..<k { dst[p * mr + r] = src[p] }
                    } else {
                        for p in 0..<k { dst[p * mr + r] = 0 }
                    }
                }
            }
        }
    }

    deinit { storage.deallocate() }
}

/// Pooling over windows wholly inside the input, vectorised on the active ISA level (same bits
/// as the scalar visits; see `PoolBody`).
public enum PoolKernels {
    /// `n` consecutive outputs of one row: output i's window starts at `x + i·sw`, spans `kh` rows
    /// (`dh·w` apart) and `kw` columns (`dw` apart). Average divides by `divisor`. No load reaches
    /// `inputEnd` (the end of the input buffer). `rows` such output rows: the next starts
    /// `inputRowStride` input floats and `outputRowStride` output floats further.
    public static func rows(_ x: UnsafePointer<Float>, rowWidth w: Int, output: UnsafeMutablePointer<Float>, count n: Int,
                            kh: Int, kw: Int, sw: Int, dh: Int, dw: Int, average: Bool, divisor: Int, inputEnd: UnsafePointer<Float>,
                            rows: Int = 1, inputRowStride: Int = 0, outputRowStride: Int = 0) {
        if n <= 0 || rows <= 0 { return }
        ConvISATable.of(KernelISA.active).poolRows(x, w, output, n, kh, kw, sw, dh, dw, average, divisor, inputEnd,
                                                   rows, inputRowStride, outputRowStride)
    }
}

extension Conv2D {
    /// The indirect path (groups with more than one input channel, or any grouped conv): no im2col
    /// matrix; see `ConvBody`. Same bits as im2col + GEMM.
    static func indirect(_ p: Conv2DParams, _ input: UnsafePointer<Float>, _ pack: ConvWeightPack,
                         _ bias: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>, _ conv: ConvISATable,
                         _ pool: WorkerPool?, _ post: UnsafeBufferPointer<EltInst>?) {
        let cg = p.inChannels / p.groups, mg = p.outChannels / p.groups
        let kh = p.kernelHeight, kw = p.kernelWidth, sh = p.strideH, sw = p.strideW
        let oh = p.outHeight, ow = p.outWidth
        let k = cg * kh * kw
        let inPlane = p.inHeight * p.inWidth
        // Stride 1 without padding reads the input itself (virtual rows are input rows).
        let direct = sh == 1 && sw == 1 && p.padTop == 0 && p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0
        let phs: Int, pws: Int
        if direct {
            phs = p.inHeight; pws = p.inWidth
        } else {
            phs = ((oh - 1) * sh + (kh - 1) * p.dilationH + 1 + sh - 1) / sh
            pws = ((ow - 1) * sw + (kw - 1) * p.dilationW + 1 + sw - 1) / sw
        }
        let geo = ConvPhaseGeometry(channels: p.inChannels, h: p.inHeight, w: p.inWidth, padTop: p.padTop, padLeft: p.padLeft,
                                    sh: sh, sw: sw, phs: phs, pws: pws)
        let chanStride = direct ? inPlane : geo.channelStride
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: k)
        defer { offsets.deallocate() }
        for c in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
            let yy = ky * p.dilationH, xx = kx * p.dilationW
            offsets[(c * kh + ky) * kw + kx] = c * chanStride + ((yy % sh) * sw + xx % sw) * phs * pws + (yy / sh) * pws + xx / sw
        } } }
        let vcols = (oh - 1) * pws + ow
        let blocks = (vcols + conv.nr - 1) / conv.nr
        let outPlane = oh * ow
        let threads = pool?.threads ?? 1
        let byImage = threads > 1 && p.batch >= threads
        let parallelBlocks = threads > 1 && !byImage && blocks > 1 && mg * vcols * k >= Gemm.minParallelMultiplyAdds
        let postProgram = post.flatMap { $0.isEmpty ? nil : $0 }
        let images = { (imageRange: Range<Int>, pool: WorkerPool?) in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: direct ? 1 : p.inChannels * geo.channelStride)
            defer { buffer.deallocate() }
            for n in imageRange {
                let x = input + n * p.inChannels * inPlane
                if !direct {
                    if let pool, p.inChannels > 1 {
                        pool.parallelRanges(p.inChannels) { conv.phaseSplit(x, geo, buffer, $0) }
                    } else {
                        conv.phaseSplit(x, geo, buffer, 0..<p.inChannels)
                    }
                }
                let src = direct ? x : UnsafePointer(buffer)
                for g in 0..<p.groups {
                    var args = ConvIndirectArgs(m: mg, k: k, a: UnsafePointer(pack.storage + g * pack.groupStride),
                                                b: src + g * cg * chanStride, offsets: UnsafePointer(offsets),
                                                vcols: vcols, vwidth: pws, ow: ow,
                                                out: output + (n * p.outChannels + g * mg) * outPlane, outStride: outPlane,
                                                bias: bias.map { $0 + g * mg })
                    if let postProgram { args.post = postProgram.baseAddress; args.postCount = postProgram.count }
                    if let pool { pool.parallelRanges(blocks) { conv.indirect(args, $0) } } else { conv.indirect(args, 0..<blocks) }
                }
            }
        }
        if byImage, let pool {
            pool.parallelRanges(p.batch) { images($0, nil) }
        } else {
            images(0..<p.batch, parallelBlocks ? pool : nil)
        }
    }
}
