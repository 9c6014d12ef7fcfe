/// One indirect ("implicit GEMM") convolution call for `ConvBody` (Specs/kernels.md §3): output
/// channel i, virtual column j is the ascending FMA chain over taps p of
/// `a[i, p] · b[offsets[p] + j]` from +0, then `+ bias[i]`, then the `post` program. Virtual
/// column j = oy·vwidth + ox maps to output oy·ow + ox when ox < ow (other columns are computed
/// on the way and dropped). `a` is packed: row tiles of MR rows, each K×MR (k-major, zero rows
/// past m), tile t at `a + t·k·MR`.
public struct ConvIndirectArgs: @unchecked Sendable {
    public var m: Int, k: Int
    public var a: UnsafePointer<Float>
    public var b: UnsafePointer<Float>
    public var offsets: UnsafePointer<Int>
    /// Virtual columns ((oh − 1)·vwidth + ow), virtual row width, valid columns per row.
    public var vcols: Int, vwidth: Int, ow: Int
    public var out: UnsafeMutablePointer<Float>
    /// Floats between consecutive output channels.
    public var outStride: Int
    public var bias: UnsafePointer<Float>?
    public var post: UnsafePointer<EltInst>? = nil
    public var postCount: Int = 0

    public init(m: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
                vcols: Int, vwidth: Int, ow: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
                bias: UnsafePointer<Float>?) {
        self.m = m; self.k = k; self.a = a; self.b = b; self.offsets = offsets
        self.vcols = vcols; self.vwidth = vwidth; self.ow = ow
        self.out = out; self.outStride = outStride; self.bias = bias
    }
}

/// Geometry of the phase-split, zero-padded copy of an input (`ConvBody.phaseSplit`): for each
/// channel, `sh·sw` planes of `phs × pws` floats; plane (fy, fx) row r, column q holds the padded
/// input at (r·sh + fy, q·sw + fx), i.e. x[r·sh + fy − padTop, q·sw + fx − padLeft] or +0.0.
public struct ConvPhaseGeometry: Sendable {
    public var channels: Int, h: Int, w: Int
    public var padTop: Int, padLeft: Int
    public var sh: Int, sw: Int
    public var phs: Int, pws: Int
    public init(channels: Int, h: Int, w: Int, padTop: Int, padLeft: Int, sh: Int, sw: Int, phs: Int, pws: Int) {
        self.channels = channels; self.h = h; self.w = w; self.padTop = padTop; self.padLeft = padLeft
        self.sh = sh; self.sw = sw; self.phs = phs; self.pws = pws
    }
    public var planeSize: Int { phs * pws }
    public var channelStride: Int { sh * sw * phs * pws }
}
