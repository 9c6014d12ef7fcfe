import MurmurKernelBodies

// Indirect ("implicit GEMM") convolution, compiled per ISA level like GemmBody. No im2col matrix:
// B's row for tap p is read straight from the (phase-split, zero-padded) input at offsets[p] + j,
// so each output runs exactly the GEMM contract's chain — taps (c, ky, kx) ascending, one FMA
// each from +0, padding taps an FMA with +0.0 — then `+ bias`, then the post program.
// Vectorised across output columns and channels only; the whole K chain stays in registers.

enum ConvBody {
    /// Register tile: MR output channels × NR virtual columns (8×32 on AVX-512, 6×16 otherwise).
    static let mr = tileMR
    static let nr = tileNR

    @inline(__always)
    static func kernel8x32(_ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ off: UnsafePointer<Int>,
                           _ t: UnsafeMutablePointer<Float>) {
        var c00 = F16(), c01 = F16(), c10 = F16(), c11 = F16(), c20 = F16(), c21 = F16(), c30 = F16(), c31 = F16()
        var c40 = F16(), c41 = F16(), c50 = F16(), c51 = F16(), c60 = F16(), c61 = F16(), c70 = F16(), c71 = F16()
        var ap = a
        for p in 0..<k {
            let bp = b + off[p]
            let b0 = load16(bp), b1 = load16(bp + 16)
            var s = F16(repeating: ap[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = F16(repeating: ap[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = F16(repeating: ap[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = F16(repeating: ap[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = F16(repeating: ap[4]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = F16(repeating: ap[5]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            s = F16(repeating: ap[6]); c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
            s = F16(repeating: ap[7]); c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
            ap += 8
        }
        store16(c00, t); store16(c01, t + 16); store16(c10, t + 32); store16(c11, t + 48)
        store16(c20, t + 64); store16(c21, t + 80); store16(c30, t + 96); store16(c31, t + 112)
        store16(c40, t + 128); store16(c41, t + 144); store16(c50, t + 160); store16(c51, t + 176)
        store16(c60, t + 192); store16(c61, t + 208); store16(c70, t + 224); store16(c71, t + 240)
    }

    /// The first four rows of an 8×32 tile (A stays 8-row packed): for a last row tile of ≤ 4.
    @inline(__always)
    static func kernel4x32(_ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ off: UnsafePointer<Int>,
                           _ t: UnsafeMutablePointer<Float>) {
        var c00 = F16(), c01 = F16(), c10 = F16(), c11 = F16(), c20 = F16(), c21 = F16(), c30 = F16(), c31 = F16()
        var ap = a
        for p in 0..<k {
            let bp = b + off[p]
            let b0 = load16(bp), b1 = load16(bp + 16)
            var s = F16(repeating: ap[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = F16(repeating: ap[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = F16(repeating: ap[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = F16(repeating: ap[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            ap += 8
        }
        store16(c00, t); store16(c01, t + 16); store16(c10, t + 32); store16(c11, t + 48)
        store16(c20, t + 64); store16(c21, t + 80); store16(c30, t + 96); store16(c31, t + 112)
    }

    @inline(__always)
    static func kernel6x16(_ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ off: UnsafePointer<Int>,
                           _ t: UnsafeMutablePointer<Float>) {
        var c0 = F16(), c1 = F16(), c2 = F16(), c3 = F16(), c4 = F16(), c5 = F16()
        var ap = a
        for p in 0..<k {
            let b0 = load16(b + off[p])
            c0 = c0.addingProduct(F16(repeating: ap[0]), b0)
            c1 = c1.addingProduct(F16(repeating: ap[1]), b0)
            c2 = c2.addingProduct(F16(repeating: ap[2]), b0)
            c3 = c3.addingProduct(F16(repeating: ap[3]), b0)
            c4 = c4.addingProduct(F16(repeating: ap[4]), b0)
            c5 = c5.addingProduct(F16(repeating: ap[5]), b0)
            ap += 6
        }
        store16(c0, t); store16(c1, t + 16); store16(c2, t + 32); store16(c3, t + 48); store16(c4, t + 64); store16(c5, t + 80)
    }

    /// Rows `0..<rows` of one MR×NR tile into `t` (row stride NR).
    @inline(__always)
    static func tile(_ rows: Int, _ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ off: UnsafePointer<Int>,
                     _ t: UnsafeMutablePointer<Float>) {
        if mr == 8 && nr == 32 {
            if rows <= 4 { kernel4x32(k, a, b, off, t) } else { kernel8x32(k, a, b, off, t) }
        } else {
            kernel6x16(k, a, b, off, t)
        }
    }

    /// Output index of the first valid virtual column at or after j.
    @inline(__always)
    static func outIndex(_ j: Int, _ vw: Int, _ ow: Int) -> Int { (j / vw) * ow + min(j % vw, ow) }

    /// Computes virtual-column blocks `blocks` (NR columns each) for all output channels.
    @inline(__always)
    static func run(_ g: ConvIndirectArgs, _ blocks: Range<Int>) {
        if blocks.isEmpty || g.m <= 0 || g.vcols <= 0 { return }
        let mTiles = (g.m + mr - 1) / mr
        let k = g.k, vw = g.vwidth, ow = g.ow
        let t = UnsafeMutablePointer<Float>.allocate(capacity: mr * nr)
        // Segments of one block: (offset in tile, output index, length).
        let seg = UnsafeMutablePointer<Int>.allocate(capacity: 3 * (nr + 1))
        let lastPartial = blocks.upperBound * nr > g.vcols
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: lastPartial ? k * nr : 1)
        let panelOff = UnsafeMutablePointer<Int>.allocate(capacity: lastPartial ? k : 1)
        let postScratch = UnsafeMutablePointer<Float>.allocate(capacity: g.post == nil ? 1 : (g.postCount + 1) * 256)
        let postRegs = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: g.post == nil ? 1 : g.postCount + 1)
        defer { t.deallocate(); seg.deallocate(); panel.deallocate(); panelOff.deallocate(); postScratch.deallocate(); postRegs.deallocate() }
        var chunkStart = blocks.lowerBound
        for q in blocks {
            let j0 = q * nr
            let cols = min(nr, g.vcols - j0)
            var base = g.b + j0
            var offs = g.offsets
            if cols < nr {
                // The last, partial block: its valid columns gathered into a zero-padded panel, so
                // no load reaches past the input.
                for p in 0..<k {
                    let src = g.b + g.offsets[p] + j0, d = panel + p * nr
                    for l in 0..<cols { d[l] = src[l] }
                    for l in cols..<nr { d[l] = 0 }
                    panelOff[p] = p * nr
                }
                base = UnsafePointer(panel)
                offs = UnsafePointer(panelOff)
            }
            var ns = 0
            var j = j0
            let jEnd = j0 + cols
            while j < jEnd {
                let oy = j / vw, ox = j - oy * vw
                if ox >= ow { j = (oy + 1) * vw; continue }
                let e = min(jEnd, oy * vw + ow)
                seg[3 * ns] = j - j0; seg[3 * ns + 1] = oy * ow + ox; seg[3 * ns + 2] = e - j
                ns += 1
                j = e
            }
            for mt in 0..<mTiles {
                let rows = min(mr, g.m - mt * mr)
                tile(rows, k, g.a + mt * k * mr, base, offs, t)
                for r in 0..<rows {
                    let mi = mt * mr + r
                    let dst = g.out + mi * g.outStride, src = t + r * nr
                    if let bias = g.bias {
                        let bv = bias[mi], bvec = F16(repeating: bv)
                        for s in 0..<ns {
                            let so = src + seg[3 * s], d = dst + seg[3 * s + 1], len = seg[3 * s + 2]
                            var l = 0
                            while l + 16 <= len { store16(load16(so + l) + bvec, d + l); l += 16 }
                            while l < len { d[l] = so[l] + bv; l += 1 }
                        }
                    } else {
                        for s in 0..<ns {
                            let so = src + seg[3 * s], d = dst + seg[3 * s + 1], len = seg[3 * s + 2]
                            var l = 0
                            while l + 16 <= len { store16(load16(so + l), d + l); l += 16 }
                            while l < len { d[l] = so[l]; l += 1 }
                        }
                    }
                }
            }
            // The post program over finished outputs, a few blocks at a time (still in cache).
            if let post = g.post, q - chunkStart + 1 == 8 || q == blocks.upperBound - 1 {
                let o0 = outIndex(chunkStart * nr, vw, ow), o1 = outIndex(min((q + 1) * nr, g.vcols), vw, ow)
                if o1 > o0 { EltBody.rowsInPlace(post, g.postCount, g.out + o0, g.outStride, g.m, o1 - o0, postScratch, postRegs) }
                chunkStart = q + 1
            }
        }
    }

    /// Writes channels `channels` of the phase-split, zero-padded copy (`ConvPhaseGeometry`).
    @inline(__always)
    static func phaseSplit(_ x: UnsafePointer<Float>, _ g: ConvPhaseGeometry, _ out: UnsafeMutablePointer<Float>, _ channels: Range<Int>) {
        let ps = g.planeSize
        for c in channels {
            let src = x + c * g.h * g.w
            for fy in 0..<g.sh {
                for fx in 0..<g.sw {
                    let plane = out + c * g.channelStride + (fy * g.sw + fx) * ps
                    // Columns q whose input x = q·sw + fx − padLeft is inside [0, w).
                    let first = fx >= g.padLeft ? 0 : (g.padLeft - fx + g.sw - 1) / g.sw
                    let lastX = g.w - 1 + g.padLeft - fx
                    let end = lastX < 0 ? 0 : min(g.pws, lastX / g.sw + 1)
                    let lo = min(first, g.pws), hi = max(lo, end)
                    for r in 0..<g.phs {
                        let row = plane + r * g.pws
                        let iy = r * g.sh + fy - g.padTop
                        if iy < 0 || iy >= g.h {
                            row.initialize(repeating: 0, count: g.pws)
                            continue
                        }
                        let s = src + iy * g.w + fx - g.padLeft
                        var q = 0
                        while q < lo { row[q] = 0; q += 1 }
                        if g.sw == 1 {
                            (row + lo).update(from: s + lo, count: hi - lo)
                        } else {
                            q = lo
                            while q < hi { row[q] = s[q * g.sw]; q += 1 }
                        }
                        q = hi
                        while q < g.pws { row[q] = 0; q += 1 }
                    }
                }
            }
        }
    }
}

/// Pooling windows that lie wholly inside the input (all kw columns valid), for `n` consecutive
/// outputs of one row, vectorised across outputs. Max: the first tap, then each later tap in
/// row-major order replaces it when strictly greater. Average: +0.0 plus each tap in that order,
/// then one division by `count`. Exactly the scalar visits, lane by lane.
enum PoolBody {
    /// 16 windows at consecutive input columns (stride 1 across the block), as a vector.
    @inline(__always)
    static func block(_ base: UnsafePointer<Float>, _ w: Int, _ kh: Int, _ kw: Int, _ dh: Int, _ dw: Int,
                      _ average: Bool, _ div: F16) -> F16 {
        if average {
            var sum = F16()
            for ky in 0..<kh {
                let r = base + ky * dh * w
                for kx in 0..<kw { sum = sum + load16(r + kx * dw) }
            }
            return sum / div
        }
        var best = load16(base)
        for ky in 0..<kh {
            let r = base + ky * dh * w
            for kx in (ky == 0 ? 1 : 0)..<kw {
                let v = load16(r + kx * dw)
                best = best.replacing(with: v, where: v .> best)
            }
        }
        return best
    }

    /// `nRows` output rows (input rows `xStride` apart, output rows `oStride` apart) of `n` outputs.
    @inline(__always)
    static func rows(_ x: UnsafePointer<Float>, _ w: Int, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                     _ kh: Int, _ kw: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ average: Bool, _ count: Int,
                     _ end: UnsafePointer<Float>, _ nRows: Int, _ xStride: Int, _ oStride: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { t in
            for r in 0..<nRows {
                row(x + r * xStride, w, out + r * oStride, n, kh, kw, sw, dh, dw, average, count, end, t.baseAddress!)
            }
        }
    }

    @inline(__always)
    static func row(_ x: UnsafePointer<Float>, _ w: Int, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                    _ kh: Int, _ kw: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ average: Bool, _ count: Int,
                    _ end: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>) {
        var i = 0
        let div = F16(repeating: Float(count))
        // Vector loads cover 16 floats per tap: only blocks whose last load ends by `end`.
        let reach = (kh - 1) * dh * w + (kw - 1) * dw + 16
        if sw == 1 {
            while i + 16 <= n && x + i + reach <= end {
                store16(block(x + i, w, kh, kw, dh, dw, average, div), out + i)
                i += 16
            }
        } else if sw <= 4 {
            // Windows at every input column of the block, then every sw-th kept: output i's
            // window is the one at column i·sw, with the same visits.
            let per = 16 / sw
            while i + per <= n && x + i * sw + reach <= end {
                store16(block(x + i * sw, w, kh, kw, dh, dw, average, div), t)
                for l in 0..<per { out[i + l] = t[l * sw] }
                i += per
            }
        }
        while i < n {
            let base = x + i * sw
            if average {
                var sum: Float = 0
                for ky in 0..<kh { let r = base + ky * dh * w; for kx in 0..<kw { sum = sum + r[kx * dw] } }
                out[i] = sum / Float(count)
            } else {
                var best = base[0]
                for ky in 0..<kh {
                    let r = base + ky * dh * w
                    for kx in (ky == 0 ? 1 : 0)..<kw { let v = r[kx * dw]; best = v > best ? v : best }
                }
                out[i] = best
            }
            i += 1
        }
    }
}

/// This ISA level's convolution entry points (public, non-generic: compiled with its flags).
public enum ISAConvKernels {
    public static let mr = ConvBody.mr
    public static let nr = ConvBody.nr

    public static func indirect(_ args: ConvIndirectArgs, _ blocks: Range<Int>) {
        ConvBody.run(args, blocks)
    }

    public static func phaseSplit(_ x: UnsafePointer<Float>, _ g: ConvPhaseGeometry, _ out: UnsafeMutablePointer<Float>,
                                  _ channels: Range<Int>) {
        ConvBody.phaseSplit(x, g, out, channels)
    }

    public static func poolRows(_ x: UnsafePointer<Float>, _ w: Int, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                                _ kh: Int, _ kw: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ average: Bool, _ count: Int,
                                _ end: UnsafePointer<Float>, _ nRows: Int, _ xStride: Int, _ oStride: Int) {
        PoolBody.rows(x, w, out, n, kh, kw, sw, dh, dw, average, count, end, nRows, xStride, oStride)
    }
}
