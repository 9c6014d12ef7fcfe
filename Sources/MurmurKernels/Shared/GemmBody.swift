import MurmurKernelBodies
import CCPUFeatures

// Packed, cache-blocked single-precision GEMM bodies. Contract (Specs/kernels.md): every output
// C[i,j] is d = fma(A[i,K−1], B[K−1,j], … fma(A[i,0], B[0,j], +0) …), products in ascending k,
// one fused multiply-add each; then y = (alpha·d) + (beta·E[i,j]) if an addend E is given,
// y = alpha·d otherwise (skipped when alpha == 1, which is exact). Vectorised only across i and j;
// across K blocks the partial sum is stored to C and reloaded, which continues the same chain.

enum GemmBody {
    /// Rows of the register tile (and of packed A panels): `tileMR` of the ISA module.
    static let mr = tileMR
    /// K block (rows of a packed B panel kept in L1 per micro-kernel call).
    static let kc = 256
    /// M block (rows of packed A kept in L2), a multiple of mr.
    static let mc = 120
    /// N block (columns of packed B per pass), a multiple of 32.
    static let nc = 2048

    // MARK: micro-kernels. c points at a tile with row stride ldc; first ⇒ start from +0.

    @inline(__always)
    static func kernel6x32(_ kc: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ first: Bool) {
        var c00 = F16(), c01 = F16(), c10 = F16(), c11 = F16(), c20 = F16(), c21 = F16()
        var c30 = F16(), c31 = F16(), c40 = F16(), c41 = F16(), c50 = F16(), c51 = F16()
        if !first {
            c00 = load16(c); c01 = load16(c + 16)
            c10 = load16(c + ldc); c11 = load16(c + ldc + 16)
            c20 = load16(c + 2 * ldc); c21 = load16(c + 2 * ldc + 16)
            c30 = load16(c + 3 * ldc); c31 = load16(c + 3 * ldc + 16)
            c40 = load16(c + 4 * ldc); c41 = load16(c + 4 * ldc + 16)
            c50 = load16(c + 5 * ldc); c51 = load16(c + 5 * ldc + 16)
        }
        var a = ap, b = bp
        for _ in 0..<kc {
            let b0 = load16(b), b1 = load16(b + 16)
            var s = F16(repeating: a[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = F16(repeating: a[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = F16(repeating: a[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = F16(repeating: a[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = F16(repeating: a[4]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = F16(repeating: a[5]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            a += mr; b += 32
        }
        store16(c00, c); store16(c01, c + 16)
        store16(c10, c + ldc); store16(c11, c + ldc + 16)
        store16(c20, c + 2 * ldc); store16(c21, c + 2 * ldc + 16)
        store16(c30, c + 3 * ldc); store16(c31, c + 3 * ldc + 16)
        store16(c40, c + 4 * ldc); store16(c41, c + 4 * ldc + 16)
        store16(c50, c + 5 * ldc); store16(c51, c + 5 * ldc + 16)
    }

    /// 8×32 tile (16 zmm accumulators) for AVX-512; `pf` is a B panel to pull towards the cache
    /// (one line per k step; a hint only).
    @inline(__always)
    static func kernel8x32(_ kc: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ first: Bool, _ pf: UnsafePointer<Float>) {
        var c00 = F16(), c01 = F16(), c10 = F16(), c11 = F16(), c20 = F16(), c21 = F16(), c30 = F16(), c31 = F16()
        var c40 = F16(), c41 = F16(), c50 = F16(), c51 = F16(), c60 = F16(), c61 = F16(), c70 = F16(), c71 = F16()
        if !first {
            c00 = load16(c); c01 = load16(c + 16)
            c10 = load16(c + ldc); c11 = load16(c + ldc + 16)
            c20 = load16(c + 2 * ldc); c21 = load16(c + 2 * ldc + 16)
            c30 = load16(c + 3 * ldc); c31 = load16(c + 3 * ldc + 16)
            c40 = load16(c + 4 * ldc); c41 = load16(c + 4 * ldc + 16)
            c50 = load16(c + 5 * ldc); c51 = load16(c + 5 * ldc + 16)
            c60 = load16(c + 6 * ldc); c61 = load16(c + 6 * ldc + 16)
            c70 = load16(c + 7 * ldc); c71 = load16(c + 7 * ldc + 16)
        }
        var a = ap, b = bp, q = pf
        for _ in 0..<kc {
            murmur_prefetch_l1(q)
            let b0 = load16(b), b1 = load16(b + 16)
            var s = F16(repeating: a[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = F16(repeating: a[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = F16(repeating: a[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = F16(repeating: a[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = F16(repeating: a[4]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = F16(repeating: a[5]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            s = F16(repeating: a[6]); c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
            s = F16(repeating: a[7]); c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
            a += mr; b += 32; q += 16
        }
        store16(c00, c); store16(c01, c + 16)
        store16(c10, c + ldc); store16(c11, c + ldc + 16)
        store16(c20, c + 2 * ldc); store16(c21, c + 2 * ldc + 16)
        store16(c30, c + 3 * ldc); store16(c31, c + 3 * ldc + 16)
        store16(c40, c + 4 * ldc); store16(c41, c + 4 * ldc + 16)
        store16(c50, c + 5 * ldc); store16(c51, c + 5 * ldc + 16)
        store16(c60, c + 6 * ldc); store16(c61, c + 6 * ldc + 16)
        store16(c70, c + 7 * ldc); store16(c71, c + 7 * ldc + 16)
    }

    @inline(__always)
    static func kernel6x16(_ kc: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ first: Bool) {
        var c0 = F16(), c1 = F16(), c2 = F16(), c3 = F16(), c4 = F16(), c5 = F16()
        if !first {
            c0 = load16(c); c1 = load16(c + ldc); c2 = load16(c + 2 * ldc)
            c3 = load16(c + 3 * ldc); c4 = load16(c + 4 * ldc); c5 = load16(c + 5 * ldc)
        }
        var a = ap, b = bp
        for _ in 0..<kc {
            let b0 = load16(b)
            c0 = c0.addingProduct(F16(repeating: a[0]), b0)
            c1 = c1.addingProduct(F16(repeating: a[1]), b0)
            c2 = c2.addingProduct(F16(repeating: a[2]), b0)
            c3 = c3.addingProduct(F16(repeating: a[3]), b0)
            c4 = c4.addingProduct(F16(repeating: a[4]), b0)
            c5 = c5.addingProduct(F16(repeating: a[5]), b0)
            a += mr; b += 16
        }
        store16(c0, c); store16(c1, c + ldc); store16(c2, c + 2 * ldc)
        store16(c3, c + 3 * ldc); store16(c4, c + 4 * ldc); store16(c5, c + 5 * ldc)
    }

    /// The 6×32 kernel's first `R` (4 or 2) rows: for a partial row tile, the same chains
    /// without computing the padding rows of the packed A panel (which stays MR-strided).
    @inline(__always)
    static func kernel4x32(_ kc: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ first: Bool) {
        var c00 = F16(), c01 = F16(), c10 = F16(), c11 = F16(), c20 = F16(), c21 = F16(), c30 = F16(), c31 = F16()
        if !first {
            c00 = load16(c); c01 = load16(c + 16)
            c10 = load16(c + ldc); c11 = load16(c + ldc + 16)
            c20 = load16(c + 2 * ldc); c21 = load16(c + 2 * ldc + 16)
            c30 = load16(c + 3 * ldc); c31 = load16(c + 3 * ldc + 16)
        }
        var a = ap, b = bp
        for _ in 0..<kc {
            let b0 = load16(b), b1 = load16(b + 16)
            var s = F16(repeating: a[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = F16(repeating: a[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = F16(repeating: a[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = F16(repeating: a[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            a += mr; b += 32
        }
        store16(c00, c); store16(c01, c + 16)
        store16(c10, c + ldc); store16(c11, c + ldc + 16)
        store16(c20, c + 2 * ldc); store16(c21, c + 2 * ldc + 16)
        store16(c30, c + 3 * ldc); store16(c31, c + 3 * ldc + 16)
    }

    @inline(__always)
    static func kernel2x32(_ kc: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ first: Bool) {
        var c00 = F16(), c01 = F16(), c10 = F16(), c11 = F16()
        if !first {
            c00 = load16(c); c01 = load16(c + 16)
            c10 = load16(c + ldc); c11 = load16(c + ldc + 16)
        }
        var a = ap, b = bp
        for _ in 0..<kc {
            let b0 = load16(b), b1 = load16(b + 16)
            var s = F16(repeating: a[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = F16(repeating: a[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            a += mr; b += 32
        }
        store16(c00, c); store16(c01, c + 16)
        store16(c10, c + ldc); store16(c11, c + ldc + 16)
    }

    /// A full MR×NR tile.
    @inline(__always)
    static func kernel(_ nr: Int, _ kc: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ first: Bool, _ pf: UnsafePointer<Float>) {
        if nr == 32 {
            if mr == 8 { kernel8x32(kc, ap, bp, c, ldc, first, pf) } else { kernel6x32(kc, ap, bp, c, ldc, first) }
        } else {
            kernel6x16(kc, ap, bp, c, ldc, first)
        }
    }

    /// The first `rows` (< MR) rows of a tile: the same chains without the padding rows where a
    /// smaller kernel exists; otherwise the full kernel into `tile` (padding rows are zero).
    @inline(__always)
    static func partialKernel(_ nr: Int, _ rows: Int, _ cols: Int, _ kc: Int, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>,
                              _ cTile: UnsafeMutablePointer<Float>, _ ldc: Int, _ first: Bool, _ tile: UnsafeMutablePointer<Float>,
                              _ pf: UnsafePointer<Float>) {
        if nr == 32 && cols == nr {
            if rows == 6 && mr == 8 { kernel6x32(kc, ap, bp, cTile, ldc, first); return }
            if rows == 4 { kernel4x32(kc, ap, bp, cTile, ldc, first); return }
            if rows == 2 { kernel2x32(kc, ap, bp, cTile, ldc, first); return }
        }
        if !first {
            for r in 0..<rows { for j in 0..<cols { tile[r * nr + j] = cTile[r * ldc + j] } }
        }
        if nr == 32 && rows <= 2 { kernel2x32(kc, ap, bp, tile, nr, first) }
        else if nr == 32 && rows <= 4 { kernel4x32(kc, ap, bp, tile, nr, first) }
        else if nr == 32 && rows <= 6 && mr == 8 { kernel6x32(kc, ap, bp, tile, nr, first) }
        else { kernel(nr, kc, ap, bp, tile, nr, first, pf) }
        for r in 0..<rows { for j in 0..<cols { cTile[r * ldc + j] = tile[r * nr + j] } }
    }

    // MARK: packing

    /// Packs A rows i0..<i0+rows, columns p0..<p0+kc into MR-row panels (k-major, zero padded).
    @inline(__always)
    static func packA(_ g: GemmArgs, _ i0: Int, _ rows: Int, _ p0: Int, _ kc: Int, _ out: UnsafeMutablePointer<Float>) {
        var panel = 0
        while panel * mr < rows {
            let dst = out + panel * kc * mr
            let r0 = panel * mr
            let valid = min(mr, rows - r0)
            if mr == 8 && valid == 8 && g.aColStride == 1 {
                // Full 8-row panel of a row-major A: 8×8 blocks transposed in registers (the
                // element loop below is auto-vectorised into scatters, which are slow).
                let src = g.a + (i0 + r0) * g.aRowStride + p0
                let rs = g.aRowStride
                var p = 0
                while p + 8 <= kc {
                    transposeStore8(src + p, rs, dst + p * 8)
                    p += 8
                }
                while p < kc {
                    for r in 0..<8 { dst[p * 8 + r] = src[r * rs + p] }
                    p += 1
                }
                panel += 1
                continue
            }
            for r in 0..<mr {
                if r < valid {
                    let src = g.a + (i0 + r0 + r) * g.aRowStride + p0 * g.aColStride
                    if g.aColStride == 1 {
                        for p in 0..<kc { dst[p * mr + r] = src[p] }
                    } else {
                        for p in 0..<kc { dst[p * mr + r] = src[p * g.aColStride] }
                    }
                } else {
                    for p in 0..<kc { dst[p * mr + r] = 0 }
                }
            }
            panel += 1
        }
    }

    /// Reads 8 rows × 8 columns (`src[r·rs + q]`) and stores them column-major: `dst[q·8 + r]`.
    /// Three rounds of even/odd de-interleaving of row pairs move the column index to the
    /// vector index (each round rotates the 6-bit element index right by one).
    @inline(__always)
    static func transposeStore8(_ src: UnsafePointer<Float>, _ rs: Int, _ dst: UnsafeMutablePointer<Float>) {
        typealias F8 = SIMD8<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
        var v0 = ld(src), v1 = ld(src + rs), v2 = ld(src + 2 * rs), v3 = ld(src + 3 * rs)
        var v4 = ld(src + 4 * rs), v5 = ld(src + 5 * rs), v6 = ld(src + 6 * rs), v7 = ld(src + 7 * rs)
        for _ in 0..<3 {
            let a0 = SIMD16(lowHalf: v0, highHalf: v1), a1 = SIMD16(lowHalf: v2, highHalf: v3)
            let a2 = SIMD16(lowHalf: v4, highHalf: v5), a3 = SIMD16(lowHalf: v6, highHalf: v7)
            v0 = a0.evenHalf; v1 = a1.evenHalf; v2 = a2.evenHalf; v3 = a3.evenHalf
            v4 = a0.oddHalf; v5 = a1.oddHalf; v6 = a2.oddHalf; v7 = a3.oddHalf
        }
        let d = UnsafeMutableRawPointer(dst)
        d.storeBytes(of: v0, as: F8.self); d.storeBytes(of: v1, toByteOffset: 32, as: F8.self)
        d.storeBytes(of: v2, toByteOffset: 64, as: F8.self); d.storeBytes(of: v3, toByteOffset: 96, as: F8.self)
        d.storeBytes(of: v4, toByteOffset: 128, as: F8.self); d.storeBytes(of: v5, toByteOffset: 160, as: F8.self)
        d.storeBytes(of: v6, toByteOffset: 192, as: F8.self); d.storeBytes(of: v7, toByteOffset: 224, as: F8.self)
    }

    /// Packs B rows p0..<p0+kc, columns j0..<j0+cols into NR-wide panels, each kc×NR k-major,
    /// consecutive panels `panelStride` floats apart, zero padded past `cols`.
    @inline(__always)
    static func packB(_ b: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ p0: Int, _ kc: Int,
                      _ j0: Int, _ cols: Int, _ nr: Int, _ out: UnsafeMutablePointer<Float>, _ panelStride: Int) {
        var q = 0
        while q * nr < cols {
            let dst = out + q * panelStride
            let c0 = j0 + q * nr
            let valid = min(nr, cols - q * nr)
            if cs == 1 && valid == nr {
                for p in 0..<kc {
                    let src = b + (p0 + p) * rs + c0
                    let d = dst + p * nr
                    var j = 0
                    while j < nr { store16(load16(src + j), d + j); j += 16 }
                }
            } else {
                for j in 0..<nr {
                    let d = dst + j
                    if j < valid {
                        let src = b + p0 * rs + (c0 + j) * cs
                        for p in 0..<kc { d[p * nr] = src[p * rs] }
                    } else {
                        for p in 0..<kc { d[p * nr] = 0 }
                    }
                }
            }
            q += 1
        }
    }

    /// Packs the whole of B (K×N) for `packedB`.
    @inline(__always)
    static func packFullB(_ g: GemmArgs, _ out: UnsafeMutablePointer<Float>, nr: Int) {
        guard let b = g.b else { return }
        packB(b, g.bRowStride, g.bColStride, 0, g.k, 0, g.n, nr, out, g.k * nr)
    }

    // MARK: epilogue

    /// y = (alpha·d) + (beta·E[i,j]) with an addend, alpha·d without; vectorised across j
    /// (lane-wise, so the same bits). Multiplying by exactly 1 is skipped: it is the identity.
    @inline(__always)
    static func epilogue(_ g: GemmArgs, _ i0: Int, _ rows: Int, _ j0: Int, _ cols: Int) {
        let alpha = g.alpha, beta = g.beta
        let va = F16(repeating: alpha), vb = F16(repeating: beta)
        let jVec = j0 + cols / 16 * 16
        if let e = g.addend {
            let cs = g.addColStride
            for i in i0..<(i0 + rows) {
                let c = g.c + i * g.ldc
                let er = e + i * g.addRowStride
                var j = j0
                if cs == 0 || cs == 1 {
                    let eb = F16(repeating: er[0])
                    while j < jVec {
                        var d = load16(c + j)
                        if alpha != 1 { d = va * d }
                        var ev = cs == 0 ? eb : load16(er + j)
                        if beta != 1 { ev = vb * ev }
                        store16(d + ev, c + j)
                        j += 16
                    }
                }
                while j < j0 + cols {
                    let d = alpha == 1 ? c[j] : alpha * c[j]
                    let ev = beta == 1 ? er[j * cs] : beta * er[j * cs]
                    c[j] = d + ev
                    j += 1
                }
            }
        } else if alpha != 1 {
            for i in i0..<(i0 + rows) {
                let c = g.c + i * g.ldc
                var j = j0
                while j < jVec { store16(va * load16(c + j), c + j); j += 16 }
                while j < j0 + cols { c[j] = alpha * c[j]; j += 1 }
            }
        }
    }

    // MARK: drivers

    /// Computes C[rows, cols] (both ranges within the matrix; cols.lowerBound a multiple of nr
    /// when B is pre-packed). Single-threaded; callers split independent blocks across threads.
    @inline(__always)
    static func gemm(_ g: GemmArgs, _ rows: Range<Int>, _ cols: Range<Int>, nr: Int) {
        if rows.isEmpty || cols.isEmpty { return }
        // Post-op scratch (element-wise program applied to each finished tile).
        let postScratch = UnsafeMutablePointer<Float>.allocate(capacity: g.post == nil ? 1 : (g.postCount + 1) * 256)
        let postRegs = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: g.post == nil ? 1 : g.postCount + 1)
        defer { postScratch.deallocate(); postRegs.deallocate() }
        func post(_ i0: Int, _ nrows: Int, _ j0: Int, _ ncols: Int) {
            if let p = g.post { EltBody.rowsInPlace(p, g.postCount, g.c + i0 * g.ldc + j0, g.ldc, nrows, ncols, postScratch, postRegs) }
        }
        if g.k == 0 {
            for i in rows { for j in cols { g.c[i * g.ldc + j] = 0 } }
            epilogue(g, rows.lowerBound, rows.count, cols.lowerBound, cols.count)
            post(rows.lowerBound, rows.count, cols.lowerBound, cols.count)
            return
        }
        if rows.count == 1 {
            if let pb = g.packedB { gemvPacked(g, rows.lowerBound, cols, nr, pb); post(rows.lowerBound, 1, cols.lowerBound, cols.count); return }
            if let b = g.b, g.bColStride == 1 { gemvRowMajor(g, rows.lowerBound, cols, b); post(rows.lowerBound, 1, cols.lowerBound, cols.count); return }
        }
        let kcMax = min(kc, g.k)
        let aBuf = UnsafeMutablePointer<Float>.allocate(capacity: min(mc, (rows.count + mr - 1) / mr * mr) * kcMax)
        let ncMax = min(nc, (cols.count + nr - 1) / nr * nr)
        let bBuf = UnsafeMutablePointer<Float>.allocate(capacity: g.packedB == nil ? kcMax * ncMax : 1)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: mr * 32)
        defer { aBuf.deallocate(); bBuf.deallocate(); tile.deallocate() }

        var jc = cols.lowerBound
        while jc < cols.upperBound {
            let ncur = min(nc, cols.upperBound - jc)
            var pc = 0
            while pc < g.k {
                let kcur = min(kc, g.k - pc)
                let first = pc == 0, last = pc + kcur == g.k
                let bBase: UnsafePointer<Float>
                let bPanelStride: Int
                if let pb = g.packedB {
                    bBase = pb + (jc / nr) * g.k * nr + pc * nr
                    bPanelStride = g.k * nr
                } else {
                    packB(g.b!, g.bRowStride, g.bColStride, pc, kcur, jc, ncur, nr, bBuf, kcur * nr)
                    bBase = UnsafePointer(bBuf)
                    bPanelStride = kcur * nr
                }
                var ic = rows.lowerBound
                while ic < rows.upperBound {
                    let mcur = min(mc, rows.upperBound - ic)
                    packA(g, ic, mcur, pc, kcur, aBuf)
                    var jr = 0
                    while jr < ncur {
                        let nrr = min(nr, ncur - jr)
                        let bp = bBase + (jr / nr) * bPanelStride
                        // The next panel's K block is pulled towards L1 by the first two row tiles
                        // (one line per k step each), while this panel is computed.
                        let next = jr + nr < ncur ? bp + bPanelStride : bp
                        let linesPerTile = kcur * nr / 32
                        var ir = 0
                        while ir < mcur {
                            let mrr = min(mr, mcur - ir)
                            let ap = UnsafePointer(aBuf + (ir / mr) * kcur * mr)
                            let cTile = g.c + (ic + ir) * g.ldc + jc + jr
                            let t = ir / mr
                            let pf = t * linesPerTile < 2 * kcur * nr / 32 ? next + t * linesPerTile * 16 : bp
                            if mrr == mr && nrr == nr {
                                kernel(nr, kcur, ap, bp, cTile, g.ldc, first, pf)
                            } else {
                                partialKernel(nr, mrr, nrr, kcur, ap, bp, cTile, g.ldc, first, tile, pf)
                            }
                            if last { epilogue(g, ic + ir, mrr, jc + jr, nrr) }
                            ir += mr
                        }
                        jr += nr
                    }
                    // The block's outputs are final (and still in L2): the post-op, row by row.
                    if last { post(ic, mcur, jc, ncur) }
                    ic += mcur
                }
                pc += kcur
            }
            jc += ncur
        }
    }

    /// One row of A times row-major B: the output row (in chunks that stay in L1) is updated by
    /// four rows of B at a time, y_j = fma(a[p+3], B[p+3,j], … fma(a[p], B[p,j], y_j)) — every
    /// y_j still runs the ascending-p FMA chain, and B streams row by row.
    @inline(__always)
    static func gemvRowMajor(_ g: GemmArgs, _ i: Int, _ cols: Range<Int>, _ b: UnsafePointer<Float>) {
        let a = g.a + i * g.aRowStride
        let acs = g.aColStride, brs = g.bRowStride
        let c = g.c + i * g.ldc
        let chunk = 1024
        var j0 = cols.lowerBound
        while j0 < cols.upperBound {
            let j1 = min(j0 + chunk, cols.upperBound)
            let vecEnd = j0 + (j1 - j0) / 16 * 16
            for j in j0..<j1 { c[j] = 0 }
            var p = 0
            while p + 4 <= g.k {
                let a0 = a[p * acs], a1 = a[(p + 1) * acs], a2 = a[(p + 2) * acs], a3 = a[(p + 3) * acs]
                let v0 = F16(repeating: a0), v1 = F16(repeating: a1), v2 = F16(repeating: a2), v3 = F16(repeating: a3)
                let r0 = b + p * brs, r1 = r0 + brs, r2 = r1 + brs, r3 = r2 + brs
                var j = j0
                while j < vecEnd {
                    var y = load16(c + j)
                    y = y.addingProduct(v0, load16(r0 + j))
                    y = y.addingProduct(v1, load16(r1 + j))
                    y = y.addingProduct(v2, load16(r2 + j))
                    y = y.addingProduct(v3, load16(r3 + j))
                    store16(y, c + j)
                    j += 16
                }
                while j < j1 {
                    var y = c[j]
                    y = y.addingProduct(a0, r0[j]); y = y.addingProduct(a1, r1[j])
                    y = y.addingProduct(a2, r2[j]); y = y.addingProduct(a3, r3[j])
                    c[j] = y
                    j += 1
                }
                p += 4
            }
            while p < g.k {
                let a0 = a[p * acs]
                let v0 = F16(repeating: a0)
                let r0 = b + p * brs
                var j = j0
                while j < vecEnd { store16(load16(c + j).addingProduct(v0, load16(r0 + j)), c + j); j += 16 }
                while j < j1 { c[j] = c[j].addingProduct(a0, r0[j]); j += 1 }
                p += 1
            }
            j0 = j1
        }
        epilogue(g, i, 1, cols.lowerBound, cols.count)
    }

    /// One row of A times pre-packed B: streams each NR-wide panel once.
    @inline(__always)
    static func gemvPacked(_ g: GemmArgs, _ i: Int, _ cols: Range<Int>, _ nr: Int, _ pb: UnsafePointer<Float>) {
        let a = g.a + i * g.aRowStride
        let acs = g.aColStride
        let c = g.c + i * g.ldc
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: 32)
        defer { tile.deallocate() }
        var j = cols.lowerBound
        // 64 columns at a time: four independent 16-lane chains (one panel pair at NR 32, four
        // panels at NR 16), so FMA latency is hidden; each chain is still ascending in p.
        while j + 64 <= cols.upperBound {
            let q0 = pb + (j / nr) * g.k * nr + j % nr
            let q1 = pb + ((j + 16) / nr) * g.k * nr + (j + 16) % nr
            let q2 = pb + ((j + 32) / nr) * g.k * nr + (j + 32) % nr
            let q3 = pb + ((j + 48) / nr) * g.k * nr + (j + 48) % nr
            var s0 = F16(), s1 = F16(), s2 = F16(), s3 = F16()
            for p in 0..<g.k {
                let av = F16(repeating: a[p * acs])
                let o = p * nr
                s0 = s0.addingProduct(av, load16(q0 + o)); s1 = s1.addingProduct(av, load16(q1 + o))
                s2 = s2.addingProduct(av, load16(q2 + o)); s3 = s3.addingProduct(av, load16(q3 + o))
            }
            store16(s0, c + j); store16(s1, c + j + 16); store16(s2, c + j + 32); store16(s3, c + j + 48)
            j += 64
        }
        while j < cols.upperBound {
            let panel = pb + (j / nr) * g.k * nr
            let valid = min(nr, cols.upperBound - j)
            if nr == 32 {
                var s0 = F16(), s1 = F16()
                var bp = panel
                for p in 0..<g.k {
                    let av = F16(repeating: a[p * acs])
                    s0 = s0.addingProduct(av, load16(bp)); s1 = s1.addingProduct(av, load16(bp + 16))
                    bp += 32
                }
                if valid == 32 { store16(s0, c + j); store16(s1, c + j + 16) } else {
                    store16(s0, tile); store16(s1, tile + 16)
                    for l in 0..<valid { c[j + l] = tile[l] }
                }
            } else {
                var s0 = F16()
                var bp = panel
                for p in 0..<g.k { s0 = s0.addingProduct(F16(repeating: a[p * acs]), load16(bp)); bp += 16 }
                if valid == 16 { store16(s0, c + j) } else { store16(s0, tile); for l in 0..<valid { c[j + l] = tile[l] } }
            }
            j += nr
        }
        epilogue(g, i, 1, cols.lowerBound, cols.count)
    }
}

/// Depthwise convolution (one input and one output channel per group), direct: for each output
/// the chain fma over (ky, kx) ascending from +0 — padding taps are fma with +0.0, exactly as the
/// im2col path — then + bias. Vectorised across 16 output columns when strideW = 1.
enum DepthwiseBody {
    /// `padded` is the zero-padded input plane, `pw` floats per row; output plane `oh × ow`.
    @inline(__always)
    static func plane(_ padded: UnsafePointer<Float>, _ pw: Int, _ w: UnsafePointer<Float>, _ kh: Int, _ kw: Int,
                      _ sh: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ bias: Float?, _ out: UnsafeMutablePointer<Float>,
                      _ oh: Int, _ ow: Int) {
        if sw > 1 {
            strided(padded, pw, w, kh, kw, sh, sw, dh, dw, bias, out, oh, ow)
            return
        }
        if sw == 1 {
            unitStride(padded, pw, w, kh, kw, sh, dh, dw, bias, out, oh, ow)
            return
        }
        for oy in 0..<oh {
            let rowBase = padded + oy * sh * pw
            let o = out + oy * ow
            var ox = 0
            while ox < ow {
                var acc: Float = 0
                for ky in 0..<kh {
                    let r = rowBase + ky * dh * pw + ox * sw
                    for kx in 0..<kw { acc = acc.addingProduct(w[ky * kw + kx], r[kx * dw]) }
                }
                if let bias { acc = acc + bias }
                o[ox] = acc
                ox += 1
            }
        }
    }

    /// strideW = 1: the plane's 16-lane output vectors (whole rows in blocks of 16; a partial last
    /// block computes lanes past the row — reads stay inside the padded buffer's slack — and
    /// stores only the valid ones), four at a time with four independent accumulators so the
    /// FMA latency is hidden. Each lane's chain is unchanged: taps (ky, kx) ascending from +0.
    @inline(__always)
    static func unitStride(_ padded: UnsafePointer<Float>, _ pw: Int, _ w: UnsafePointer<Float>, _ kh: Int, _ kw: Int,
                           _ sh: Int, _ dh: Int, _ dw: Int, _ bias: Float?, _ out: UnsafeMutablePointer<Float>,
                           _ oh: Int, _ ow: Int) {
        if oh <= 0 || ow <= 0 { return }
        let per = (ow + 15) / 16
        let total = oh * per
        let t = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        defer { t.deallocate() }
        let bvec = F16(repeating: bias ?? 0)
        @inline(__always) func put(_ acc: F16, _ v: Int) {
            let oy = v / per, ox = (v - oy * per) * 16
            let acc = bias == nil ? acc : acc + bvec
            let o = out + oy * ow + ox
            if ox + 16 <= ow {
                store16(acc, o)
            } else {
                store16(acc, t)
                for l in 0..<(ow - ox) { o[l] = t[l] }
            }
        }
        @inline(__always) func src(_ v: Int) -> UnsafePointer<Float> {
            let oy = v / per
            return padded + oy * sh * pw + (v - oy * per) * 16
        }
        let rowStep = dh * pw
        var v = 0
        while v + 4 <= total {
            let s0 = src(v), s1 = src(v + 1), s2 = src(v + 2), s3 = src(v + 3)
            var a0 = F16(), a1 = F16(), a2 = F16(), a3 = F16()
            var off = 0
            for ky in 0..<kh {
                let wr = w + ky * kw
                var o = off
                for kx in 0..<kw {
                    let wv = F16(repeating: wr[kx])
                    a0 = a0.addingProduct(wv, load16(s0 + o))
                    a1 = a1.addingProduct(wv, load16(s1 + o))
                    a2 = a2.addingProduct(wv, load16(s2 + o))
                    a3 = a3.addingProduct(wv, load16(s3 + o))
                    o += dw
                }
                off += rowStep
            }
            put(a0, v); put(a1, v + 1); put(a2, v + 2); put(a3, v + 3)
            v += 4
        }
        while v < total {
            let s0 = src(v)
            var a0 = F16()
            for ky in 0..<kh {
                let r = s0 + ky * rowStep
                for kx in 0..<kw { a0 = a0.addingProduct(F16(repeating: w[ky * kw + kx]), load16(r + kx * dw)) }
            }
            put(a0, v)
            v += 1
        }
    }

    /// strideW > 1: the needed padded rows are split into `sw` phase rows (phase f holds padded
    /// columns f, f + sw, f + 2·sw, …), so the taps of 16 consecutive outputs are contiguous and the
    /// same per-output chains (taps in (ky, kx) order from +0, then + bias) run 16 lanes at a time.
    @inline(__always)
    static func strided(_ padded: UnsafePointer<Float>, _ pw: Int, _ w: UnsafePointer<Float>, _ kh: Int, _ kw: Int,
                        _ sh: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ bias: Float?, _ out: UnsafeMutablePointer<Float>,
                        _ oh: Int, _ ow: Int) {
        if oh <= 0 || ow <= 0 { return }
        let rows = (oh - 1) * sh + (kh - 1) * dh + 1
        let blocks = (ow + 15) / 16 * 16
        let pws = blocks + ((kw - 1) * dw) / sw + 1
        let split = UnsafeMutablePointer<Float>.allocate(capacity: rows * sw * pws)
        defer { split.deallocate() }
        for y in 0..<rows {
            let src = padded + y * pw
            for f in 0..<sw {
                let dst = split + (y * sw + f) * pws
                var x = 0
                while x < pws && x * sw + f < pw { dst[x] = src[x * sw + f]; x += 1 }
                while x < pws { dst[x] = 0; x += 1 }
            }
        }
        let t = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        defer { t.deallocate() }
        for oy in 0..<oh {
            let o = out + oy * ow
            var ox = 0
            while ox < ow {
                var acc = F16()
                for ky in 0..<kh {
                    let y = oy * sh + ky * dh
                    for kx in 0..<kw {
                        let off = kx * dw
                        let r = split + (y * sw + off % sw) * pws + off / sw + ox
                        acc = acc.addingProduct(F16(repeating: w[ky * kw + kx]), load16(r))
                    }
                }
                if let bias { acc = acc + F16(repeating: bias) }
                if ox + 16 <= ow {
                    store16(acc, o + ox)
                } else {
                    store16(acc, t)
                    for l in 0..<(ow - ox) { o[ox + l] = t[l] }
                }
                ox += 16
            }
        }
    }
}
