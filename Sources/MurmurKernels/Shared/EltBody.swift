import MurmurKernelBodies

// Element-wise programs and row-wise softmax compiled per ISA level. Every lane runs the same
// scalar IEEE operation the unfused op would (no reassociation, no contraction), so the bits do
// not depend on the vector width or on chunking.

enum EltBody {
    static let chunk = 512

    /// Runs `ni` instructions over `n` elements in chunks; externals are `ext[0..<ne]`; the last
    /// instruction writes `out` (which may be an external: lanes are read before they are written).
    @inline(__always)
    static func run(_ insts: UnsafePointer<EltInst>, _ ni: Int, _ ext: UnsafePointer<UnsafePointer<Float>>, _ ne: Int,
                    _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        if ni == 0 || n == 0 { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: ni * chunk) { scratch in
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: ne + ni) { regs in
                runChunked(insts, ni, ext, ne, out, n, scratch.baseAddress!, chunk, regs.baseAddress!)
            }
        }
    }

    /// `run` with caller-provided scratch (`ni × chunkLen` floats) and registers (`ne + ni`).
    @inline(__always)
    static func runChunked(_ insts: UnsafePointer<EltInst>, _ ni: Int, _ ext: UnsafePointer<UnsafePointer<Float>>, _ ne: Int,
                           _ out: UnsafeMutablePointer<Float>, _ n: Int, _ s: UnsafeMutablePointer<Float>, _ chunkLen: Int,
                           _ r: UnsafeMutablePointer<UnsafePointer<Float>>) {
        var start = 0
        while start < n {
            let len = min(chunkLen, n - start)
            for e in 0..<ne { (r + e).initialize(to: ext[e] + start) }
            for k in 0..<ni {
                let d = k == ni - 1 ? out + start : s + k * chunkLen
                exec(insts[k], UnsafePointer(r), d, len)
                (r + ne + k).initialize(to: UnsafePointer(d))
            }
            start += len
        }
    }

    /// Applies a one-input program in place to `rows` rows of `cols` floats (row stride `ld`).
    /// `s` holds `(ni + 1) × 256` floats, `r` holds `1 + ni` registers. Small tiles are packed
    /// into one contiguous block first so each instruction runs over all of it at once.
    @inline(__always)
    static func rowsInPlace(_ insts: UnsafePointer<EltInst>, _ ni: Int, _ c: UnsafeMutablePointer<Float>, _ ld: Int,
                            _ rows: Int, _ cols: Int, _ s: UnsafeMutablePointer<Float>, _ r: UnsafeMutablePointer<UnsafePointer<Float>>) {
        if ni == 0 || rows == 0 || cols == 0 { return }
        let block = 256
        if rows * cols <= block && rows > 1 {
            let t = s + ni * block
            for row in 0..<rows { (t + row * cols).update(from: c + row * ld, count: cols) }
            var e = UnsafePointer(t)
            withUnsafePointer(to: &e) { ep in runChunked(insts, ni, ep, 1, t, rows * cols, s, block, r) }
            for row in 0..<rows { (c + row * ld).update(from: t + row * cols, count: cols) }
            return
        }
        for row in 0..<rows {
            let p = c + row * ld
            var e = UnsafePointer(p)
            withUnsafePointer(to: &e) { ep in runChunked(insts, ni, ep, 1, p, cols, s, block, r) }
        }
    }

    @inline(__always)
    static func exec(_ inst: EltInst, _ r: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafeMutablePointer<Float>, _ len: Int) {
        switch inst.code {
        case .add: binary(inst, r, d, len, { $0 + $1 }, { $0 + $1 })
        case .sub: binary(inst, r, d, len, { $0 - $1 }, { $0 - $1 })
        case .mul: binary(inst, r, d, len, { $0 * $1 }, { $0 * $1 })
        case .div: binary(inst, r, d, len, { $0 / $1 }, { $0 / $1 })
        case .sqrt:
            let x = r[Int(inst.a)]
            var i = 0
            while i + 16 <= len { store16(load16(x + i).squareRoot(), d + i); i += 16 }
            while i < len { d[i] = x[i].squareRoot(); i += 1 }
        case .clip:
            let x = r[Int(inst.a)]
            let lo = inst.sa, hi = inst.sb
            let lv = F16(repeating: lo), hv = F16(repeating: hi)
            var i = 0
            while i + 16 <= len {
                var v = load16(x + i)
                v.replace(with: lv, where: v .< lv)
                v.replace(with: hv, where: v .> hv)
                store16(v, d + i)
                i += 16
            }
            while i < len {
                var v = x[i]
                v = v < lo ? lo : v
                v = v > hi ? hi : v
                d[i] = v
                i += 1
            }
        case .unary:
            DetMathBody.map(inst.unary, r[Int(inst.a)], d, len)
        }
    }

    @inline(__always)
    static func binary(_ inst: EltInst, _ r: UnsafePointer<UnsafePointer<Float>>, _ d: UnsafeMutablePointer<Float>, _ len: Int,
                       _ f: (Float, Float) -> Float, _ fv: (F16, F16) -> F16) {
        var i = 0
        if inst.a >= 0 && inst.b >= 0 {
            let x = r[Int(inst.a)], y = r[Int(inst.b)]
            while i + 16 <= len { store16(fv(load16(x + i), load16(y + i)), d + i); i += 16 }
            while i < len { d[i] = f(x[i], y[i]); i += 1 }
        } else if inst.a >= 0 {
            let x = r[Int(inst.a)], s = inst.sb, sv = F16(repeating: s)
            while i + 16 <= len { store16(fv(load16(x + i), sv), d + i); i += 16 }
            while i < len { d[i] = f(x[i], s); i += 1 }
        } else {
            let y = r[Int(inst.b)], s = inst.sa, sv = F16(repeating: s)
            while i + 16 <= len { store16(fv(sv, load16(y + i)), d + i); i += 16 }
            while i < len { d[i] = f(s, y[i]); i += 1 }
        }
    }

    /// Softmax / LogSoftmax of `rows` contiguous rows of `len` (Specs/inference.md §4): m = max;
    /// e = DetMath.exp(x − m); s = striped sum of e; y = e / s, or (x − m) − log(s).
    /// `scratch` holds `len` floats (used for LogSoftmax).
    @inline(__always)
    static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ len: Int, _ log: Bool,
                            _ scratch: UnsafeMutablePointer<Float>) {
        if !log {
            // Blocks of rows: e = x − m for each row of the block, then one exp pass over the
            // whole block (lane-wise, so the same bits as row by row, without a padded tail per
            // short row), then each row's sum and division.
            let perBlock = max(1, 4096 / max(len, 1))
            var r0 = 0
            while r0 < rows {
                let nr = min(perBlock, rows - r0)
                for row in r0..<(r0 + nr) {
                    let xr = x + row * len, yr = y + row * len
                    let m = ReduceBody.max(xr, len)
                    let mv = F16(repeating: m)
                    var i = 0
                    while i + 16 <= len { store16(load16(xr + i) - mv, yr + i); i += 16 }
                    while i < len { yr[i] = xr[i] - m; i += 1 }
                }
                DetMathBody.map(.exp, y + r0 * len, y + r0 * len, nr * len)
                for row in r0..<(r0 + nr) {
                    let yr = y + row * len
                    let s = ReduceBody.sum(yr, len)
                    let sv = F16(repeating: s)
                    var i = 0
                    while i + 16 <= len { store16(load16(yr + i) / sv, yr + i); i += 16 }
                    while i < len { yr[i] = yr[i] / s; i += 1 }
                }
                r0 += nr
            }
            return
        }
        for row in 0..<rows {
            let xr = x + row * len, yr = y + row * len
            let m = ReduceBody.max(xr, len)
            let e = log ? scratch : yr
            let mv = F16(repeating: m)
            var i = 0
            while i + 16 <= len { store16(load16(xr + i) - mv, e + i); i += 16 }
            while i < len { e[i] = xr[i] - m; i += 1 }
            DetMathBody.map(.exp, e, e, len)
            let s = ReduceBody.sum(e, len)
            if log {
                var lsv = F16(repeating: s)
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { t in
                    store16(lsv, t.baseAddress!)
                    DetMathBody.map(.log, t.baseAddress!, t.baseAddress!, 1)
                    lsv = F16(repeating: t[0])
                }
                let ls = lsv[0]
                i = 0
                while i + 16 <= len { store16((load16(xr + i) - mv) - lsv, yr + i); i += 16 }
                while i < len { yr[i] = (xr[i] - m) - ls; i += 1 }
            } else {
                let sv = F16(repeating: s)
                i = 0
                while i + 16 <= len { store16(load16(yr + i) / sv, yr + i); i += 16 }
                while i < len { yr[i] = yr[i] / s; i += 1 }
            }
        }
    }
}
