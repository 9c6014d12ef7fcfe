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

/// Deterministic 2-D convolution: im2col + `Gemm.sgemm`, so every output is the GEMM contract's
/// ascending FMA chain over p = (c·kH + ky)·kW + kx within its group (padding positions
/// contribute +0.0 inputs and stay in the chain), then `d + bias[m]` (Specs/kernels.md).
public enum Conv2D {
    /// input [N, C, H, W]; weights [M, C/groups, kH, kW] (ONNX layout); bias [M] or nil;
    /// output [N, M, OH, OW]. Buffers must not overlap the output.
    public static func forward(_ p: Conv2DParams, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil) {
        precondition(p.problem == nil, "Conv2D: \(p.problem ?? "")")
        let cg = p.inChannels / p.groups, mg = p.outChannels / p.groups
        let oh = p.outHeight, ow = p.outWidth
        let cols = oh * ow
        let k = cg * p.kernelHeight * p.kernelWidth
        let pointwise = p.kernelHeight == 1 && p.kernelWidth == 1 && p.strideH == 1 && p.strideW == 1
            && p.padTop == 0 && p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0
        let scratch: UnsafeMutablePointer<Float>? = pointwise ? nil : .allocate(capacity: k * cols)
        defer { scratch?.deallocate() }
        for n in 0..<p.batch {
            for g in 0..<p.groups {
                let x = input + (n * p.inChannels + g * cg) * p.inHeight * p.inWidth
                let b: UnsafePointer<Float>
                if let scratch {
                    im2col(p, x, cg, scratch, pool)
                    b = UnsafePointer(scratch)
                } else {
                    b = x
                }
                Gemm.sgemm(m: mg, n: cols, k: k, a: weights + g * mg * k, lda: k, b: b, ldb: cols,
                           c: output + (n * p.outChannels + g * mg) * cols, ldc: cols,
                           addend: bias.map { .perRow($0 + g * mg) }, pool: pool)
            }
        }
    }

    /// Rows p = (c·kH + ky)·kW + kx, columns oy·OW + ox; out-of-image taps are +0.0.
    static func im2col(_ p: Conv2DParams, _ x: UnsafePointer<Float>, _ cg: Int, _ out: UnsafeMutablePointer<Float>, _ pool: WorkerPool?) {
        let oh = p.outHeight, ow = p.outWidth, h = p.inHeight, w = p.inWidth
        let rows = cg * p.kernelHeight * p.kernelWidth
        let body = { (range: Range<Int>) in
            for row in range {
                let kx = row % p.kernelWidth
                let ky = (row / p.kernelWidth) % p.kernelHeight
                let c = row / (p.kernelWidth * p.kernelHeight)
                let plane = x + c * h * w
                var dst = out + row * oh * ow
                for oy in 0..<oh {
                    let iy = oy * p.strideH - p.padTop + ky * p.dilationH
                    if iy < 0 || iy >= h {
                        dst.update(repeating: 0, count: ow)
                    } else {
                        let src = plane + iy * w
                        let ix0 = kx * p.dilationW - p.padLeft
                        for ox in 0..<ow {
                            let ix = ox * p.strideW + ix0
                            dst[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                        }
                    }
                    dst += ow
                }
            }
        }
        if let pool, pool.threads > 1, rows * oh * ow >= 1 << 15 {
            pool.parallelRanges(rows, body)
        } else {
            body(0..<rows)
        }
    }
}
