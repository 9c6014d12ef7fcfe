import Foundation
import MurmurKernels

/// MaxPool, AveragePool (N-d), GlobalAveragePool, GlobalMaxPool. Window elements are visited
/// in row-major tap order; averages sum with plain additions from +0.0 in that order, then
/// divide once by the count.
enum PoolOps {
    static let all: [OpDefinition] = [maxPool, averagePool, globalAverage, globalMax]

    struct Plan {
        let batchChannels: Int
        let spatial: [Int]
        let out: [Int]
        /// For each (output position, tap): input offset within a channel; −1 = begin/end
        /// padding counted by count_include_pad; −2 = beyond the padding (never counted).
        let gather: [Int]
        let taps: Int
    }

    /// The last plan computed by one kernel, reused while input shapes repeat.
    final class PlanCache: @unchecked Sendable {
        private let lock = NSLock()
        private var last: (shape: [Int], plan: Plan)?
        func plan(_ x: Tensor, _ win: Window) throws -> Plan {
            lock.lock()
            if let l = last, l.shape == x.shape { lock.unlock(); return l.plan }
            lock.unlock()
            let p = try PoolOps.plan(x, win)
            lock.lock(); last = (x.shape, p); lock.unlock()
            return p
        }
    }

    static func plan(_ x: Tensor, _ win: Window) throws -> Plan {
        guard x.rank >= 3 else { throw OpError("input must have rank ≥ 3, got \(x.shape)") }
        let spatial = Array(x.shape.dropFirst(2))
        let (outSp, pb, pe, g) = try win.resolve(spatial)
        let r = spatial.count
        let taps = try K.count(win.kernel)
        let p = try K.count(outSp)
        _ = try K.count([p, taps, x.shape[0], x.shape[1]])
        let inStrides = K.strides(spatial), kStrides = K.strides(win.kernel), oStrides = K.strides(outSp)
        var gather = [Int](repeating: -2, count: p * taps)
        for o in 0..<p {
            for t in 0..<taps {
                var orem = o, trem = t, off = 0
                var state = 0  // 0 inside, 1 padding, 2 beyond
                for d in 0..<r {
                    let od = orem / oStrides[d]; orem %= oStrides[d]
                    let td = trem / kStrides[d]; trem %= kStrides[d]
                    let xi = od * g.strides[d] - pb[d] + td * g.dilations[d]
                    if xi < -pb[d] || xi >= spatial[d] + pe[d] { state = 2 } else if xi < 0 || xi >= spatial[d] { state = max(state, 1) }
                    else { off += xi * inStrides[d] }
                }
                gather[o * taps + t] = state == 0 ? off : (state == 1 ? -1 : -2)
            }
        }
        return Plan(batchChannels: x.shape[0] * x.shape[1], spatial: spatial, out: outSp, gather: gather, taps: taps)
    }

    static let maxPool = OpDefinition("MaxPool") { n in
        let win = Window(n, kernel: try n.require(n.ints("kernel_shape"), "kernel_shape"))
        let columnMajor = n.int("storage_order", default: 0) == 1
        let cache = PlanCache()
        let wantIndices = n.node.outputs.count > 1 && !n.node.outputs[1].isEmpty
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            if !wantIndices, x.rank == 4, case let .float32(a) = x.storage, !a.isEmpty, let y = try window2D(x, a, win, average: false, includePad: false) {
                return [y]
            }
            let pl = try cache.plan(x, win)
            let inSize = pl.spatial.reduce(1, *), p = pl.out.reduce(1, *)
            let outShape = Array(x.shape.prefix(2)) + pl.out
            if !wantIndices, case let .float32(a) = x.storage, !a.isEmpty {
                // float32 without indices: the same scan (first valid tap, then strictly greater
                // values replace it) over unsafe pointers.
                let count = pl.batchChannels * p
                let out = [Float](unsafeUninitializedCapacity: count) { buf, c in
                    a.withUnsafeBufferPointer { src in pl.gather.withUnsafeBufferPointer { g in
                        guard let xs = src.baseAddress, let gp = g.baseAddress, let ob = buf.baseAddress else { return }
                        for bc in 0..<pl.batchChannels {
                            let xb = xs + bc * inSize, oc = ob + bc * p
                            for o in 0..<p {
                                let gt = gp + o * pl.taps
                                // The first valid tap starts the scan; later taps replace it only
                                // when strictly greater (a select, not a branch on the data).
                                var t = 0
                                while t < pl.taps && gt[t] < 0 { t += 1 }
                                var best: Float = t < pl.taps ? xb[gt[t]] : -.infinity
                                t += 1
                                while t < pl.taps {
                                    let s = gt[t]
                                    if s >= 0 { let v = xb[s]; best = v > best ? v : best }
                                    t += 1
                                }
                                oc[o] = best
                            }
                        }
                    } }
                    c = count
                }
                return [Tensor(shape: outShape, floats: out)]
            }
            var indices = [Int64](repeating: 0, count: pl.batchChannels * p)
            func run<T: Comparable>(_ xs: [T], lowest: T) -> [T] {
                var out = [T](repeating: lowest, count: pl.batchChannels * p)
                for bc in 0..<pl.batchChannels {
                    let base = bc * inSize
                    for o in 0..<p {
                        var best = lowest, bestAt = -1
                        for t in 0..<pl.taps {
                            let s = pl.gather[o * pl.taps + t]
                            if s < 0 { continue }
                            let v = xs[base + s]
                            if bestAt < 0 || v > best { best = v; bestAt = s }
                        }
                        out[bc * p + o] = best
                        indices[bc * p + o] = Int64(base + max(bestAt, 0))
                    }
                }
                return out
            }
            let y: Tensor
            switch x.storage {
            case let .float32(a): y = Tensor(shape: outShape, floats: run(a, lowest: -.infinity))
            case let .float64(a): y = Tensor(shape: outShape, doubles: run(a, lowest: -.infinity))
            case let .int8(a): y = Tensor(shape: outShape, values: run(a, lowest: .min))
            case let .uint8(a): y = Tensor(shape: outShape, values: run(a, lowest: .min))
            default: throw OpError("MaxPool does not support \(x.dtype)")
            }
            if !wantIndices { return [y] }
            if columnMajor {
                // Re-express each index with the spatial dimensions in column-major order.
                let st = K.strides(pl.spatial)
                for i in 0..<indices.count {
                    let flat = Int(indices[i])
                    let bc = flat / inSize
                    var rem = flat % inSize
                    var cm = 0, mult = 1
                    var coords = [Int](repeating: 0, count: st.count)
                    for d in 0..<st.count { coords[d] = rem / st[d]; rem %= st[d] }
                    for d in 0..<st.count { cm += coords[d] * mult; mult *= pl.spatial[d] }
                    indices[i] = Int64(bc * inSize + cm)
                }
            }
            return [y, Tensor(shape: outShape, int64s: indices)]
        }
    }

    static let averagePool = OpDefinition("AveragePool") { n in
        let win = Window(n, kernel: try n.require(n.ints("kernel_shape"), "kernel_shape"))
        let includePad = n.int("count_include_pad", default: 0) != 0
        let cache = PlanCache()
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            if x.rank == 4, case let .float32(a) = x.storage, !a.isEmpty, let y = try window2D(x, a, win, average: true, includePad: includePad) {
                return [y]
            }
            let pl = try cache.plan(x, win)
            let inSize = pl.spatial.reduce(1, *), p = pl.out.reduce(1, *)
            let outShape = Array(x.shape.prefix(2)) + pl.out
            if case let .float32(a) = x.storage, !a.isEmpty {
                // float32: the same sums and counts over unsafe pointers.
                let count = pl.batchChannels * p
                let out = [Float](unsafeUninitializedCapacity: count) { buf, c in
                    a.withUnsafeBufferPointer { src in pl.gather.withUnsafeBufferPointer { g in
                        guard let xs = src.baseAddress, let gp = g.baseAddress, let ob = buf.baseAddress else { return }
                        for bc in 0..<pl.batchChannels {
                            let xb = xs + bc * inSize, oc = ob + bc * p
                            for o in 0..<p {
                                let gt = gp + o * pl.taps
                                var sum: Float = 0
                                var cnt = 0
                                for t in 0..<pl.taps {
                                    let s = gt[t]
                                    if s >= 0 { sum = sum + xb[s]; cnt += 1 } else if s == -1 && includePad { cnt += 1 }
                                }
                                oc[o] = cnt > 0 ? sum / Float(cnt) : 0
                            }
                        }
                    } }
                    c = count
                }
                return [Tensor(shape: outShape, floats: out)]
            }
            func run<T: BinaryFloatingPoint>(_ xs: [T]) -> [T] {
                var out = [T](repeating: 0, count: pl.batchChannels * p)
                for bc in 0..<pl.batchChannels {
                    let base = bc * inSize
                    for o in 0..<p {
                        var sum: T = 0
                        var cnt = 0
                        for t in 0..<pl.taps {
                            let s = pl.gather[o * pl.taps + t]
                            if s >= 0 { sum = sum + xs[base + s]; cnt += 1 } else if s == -1 && includePad { cnt += 1 }
                        }
                        out[bc * p + o] = cnt > 0 ? sum / T(cnt) : 0
                    }
                }
                return out
            }
            switch x.storage {
            case let .float32(a): return [Tensor(shape: outShape, floats: run(a))]
            case let .float64(a): return [Tensor(shape: outShape, doubles: run(a))]
            default: throw OpError("AveragePool does not support \(x.dtype)")
            }
        }
    }

    /// 2-D float32 MaxPool / AveragePool without a gather table: per output, the taps inside the
    /// input in row-major order (the same visits as the table path: max starts from the first
    /// valid tap and takes strictly greater values; the average sums from +0.0 in that order and
    /// divides once by the count, padding taps counted only with count_include_pad). nil when the
    /// geometry is unusual (the table path handles it).
    static func window2D(_ x: Tensor, _ a: [Float], _ win: Window, average: Bool, includePad: Bool) throws -> Tensor? {
        let spatial = [x.shape[2], x.shape[3]]
        guard spatial[0] > 0, spatial[1] > 0 else { return nil }
        let (outSp, pb, pe, g) = try win.resolve(spatial)
        let (h, w, oh, ow) = (spatial[0], spatial[1], outSp[0], outSp[1])
        guard oh > 0, ow > 0 else { return nil }
        let (kh, kw, sh, sw, dh, dw) = (win.kernel[0], win.kernel[1], g.strides[0], g.strides[1], g.dilations[0], g.dilations[1])
        let planes = x.shape[0] * x.shape[1]
        let count = try K.count([planes, oh, ow])
        guard a.count == planes * h * w else { return nil }
        // Per output row / column: the valid tap range [lo, hi) and the count with padding.
        func ranges(_ o: Int, _ s: Int, _ k: Int, _ d: Int, _ pad: Int, _ padEnd: Int, _ n: Int) -> [(lo: Int, hi: Int, withPad: Int)] {
            (0..<o).map { i in
                let start = i * s - pad
                var lo = k, hi = 0, withPad = 0
                for t in 0..<k {
                    let c = start + t * d
                    if c >= 0 && c < n { lo = min(lo, t); hi = t + 1 }
                    if c >= -pad && c < n + padEnd { withPad += 1 }
                }
                return lo < hi ? (lo, hi, withPad) : (0, 0, withPad)
            }
        }
        let ry = ranges(oh, sh, kh, dh, pb[0], pe[0], h), rx = ranges(ow, sw, kw, dw, pb[1], pe[1], w)
        // Columns whose windows are wholly inside the input (contiguous): the vector kernel.
        let ia = rx.firstIndex { $0.lo == 0 && $0.hi == kw } ?? ow
        var ib = ia
        while ib < ow && rx[ib].lo == 0 && rx[ib].hi == kw { ib += 1 }
        // Likewise the rows (same padded count too, for count_include_pad).
        let ra = ry.firstIndex { $0.lo == 0 && $0.hi == kh } ?? oh
        var rb = ra
        while rb < oh && ry[rb].lo == 0 && ry[rb].hi == kh && ry[rb].withPad == ry[ra].withPad { rb += 1 }
        let fullRows = ra..<rb
        if kh == 2, kw == 2, sh == 2, sw == 2, dh == 1, dw == 1, pb.allSatisfy({ $0 == 0 }), pe.allSatisfy({ $0 == 0 }),
           oh * 2 <= h, ow * 2 <= w {
            return Tensor(shape: Array(x.shape.prefix(2)) + outSp,
                          floats: pool2x2s2(a, planes: planes, h: h, w: w, oh: oh, ow: ow, average: average))
        }
        if sh == 1, sw == 1, pb.allSatisfy({ $0 == 0 }), pe.allSatisfy({ $0 == 0 }), ow < 16,
           oh == h - (kh - 1) * dh, ow == w - (kw - 1) * dw {
            return Tensor(shape: Array(x.shape.prefix(2)) + outSp,
                          floats: flatWindows(a, planes: planes, h: h, w: w, oh: oh, ow: ow, kh: kh, kw: kw, dh: dh, dw: dw, average: average))
        }
        let out = [Float](unsafeUninitializedCapacity: count) { buf, c in
            a.withUnsafeBufferPointer { src in
                guard let xs = src.baseAddress, let ob = buf.baseAddress else { return }
                let end = xs + a.count
                for plane in 0..<planes {
                    let xp = xs + plane * h * w
                    var o = ob + plane * oh * ow
                    // Output rows whose windows cover all kh rows: one kernel call for all of them.
                    if ib > ia && fullRows.count > 0 {
                        let oy = fullRows.lowerBound
                        PoolKernels.rows(xp + (oy * sh - pb[0]) * w + ia * sw - pb[1], rowWidth: w, output: o + oy * ow + ia,
                                         count: ib - ia, kh: kh, kw: kw, sw: sw, dh: dh, dw: dw, average: average,
                                         divisor: includePad ? ry[oy].withPad * kw : kh * kw, inputEnd: end,
                                         rows: fullRows.count, inputRowStride: sh * w, outputRowStride: ow)
                    }
                    for oy in 0..<oh {
                        let (ylo, yhi, yPad) = ry[oy]
                        let y0 = oy * sh - pb[0]
                        if ib > ia && yhi > ylo && !fullRows.contains(oy) {
                            PoolKernels.rows(xp + (y0 + ylo * dh) * w + ia * sw - pb[1], rowWidth: w, output: o + ia, count: ib - ia,
                                             kh: yhi - ylo, kw: kw, sw: sw, dh: dh, dw: dw, average: average,
                                             divisor: includePad ? yPad * kw : (yhi - ylo) * kw, inputEnd: end)
                        }
                        for ox in 0..<ow where ox < ia || ox >= ib || yhi <= ylo {
                            let (xlo, xhi, xPad) = rx[ox]
                            let x0 = ox * sw - pb[1]
                            if average {
                                var sum: Float = 0
                                var ky = ylo
                                while ky < yhi {
                                    let row = xp + (y0 + ky * dh) * w + x0
                                    var kx = xlo
                                    while kx < xhi { sum = sum + row[kx * dw]; kx += 1 }
                                    ky += 1
                                }
                                let cnt = includePad ? yPad * xPad : (yhi - ylo) * (xhi - xlo)
                                o[ox] = cnt > 0 ? sum / Float(cnt) : 0
                            } else {
                                if ylo >= yhi || xlo >= xhi { o[ox] = -.infinity; continue }
                                var best = xp[(y0 + ylo * dh) * w + x0 + xlo * dw]
                                var ky = ylo
                                var kx = xlo + 1
                                while ky < yhi {
                                    let row = xp + (y0 + ky * dh) * w + x0
                                    while kx < xhi { let v = row[kx * dw]; best = v > best ? v : best; kx += 1 }
                                    kx = xlo
                                    ky += 1
                                }
                                o[ox] = best
                            }
                        }
                        o += ow
                    }
                }
            }
            c = count
        }
        return Tensor(shape: Array(x.shape.prefix(2)) + outSp, floats: out)
    }

    /// Stride 1, no padding, narrow rows (fewer outputs per row than a vector holds): every window
    /// lies inside its plane, so the windows at *all* flattened input positions up to the last
    /// output are one long kernel row (output (p, oy, ox) is the window at p·h·w + oy·w + ox, with
    /// the same taps in the same order); the valid ones are then copied out. Same bits, full vectors.
    static func flatWindows(_ a: [Float], planes: Int, h: Int, w: Int, oh: Int, ow: Int, kh: Int, kw: Int,
                            dh: Int, dw: Int, average: Bool) -> [Float] {
        let n = (planes - 1) * h * w + (oh - 1) * w + ow
        let count = planes * oh * ow
        return [Float](unsafeUninitializedCapacity: count) { buf, c in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { t in
                a.withUnsafeBufferPointer { src in
                    guard let xs = src.baseAddress, let tp = t.baseAddress, let ob = buf.baseAddress else { return }
                    PoolKernels.rows(xs, rowWidth: w, output: tp, count: n, kh: kh, kw: kw, sw: 1, dh: dh, dw: dw,
                                     average: average, divisor: kh * kw, inputEnd: xs + a.count)
                    var o = ob
                    for p in 0..<planes {
                        for oy in 0..<oh { o.update(from: tp + p * h * w + oy * w, count: ow); o += ow }
                    }
                }
            }
            c = count
        }
    }

    /// 2×2 windows, stride 2, no padding: eight outputs at a time from two 16-float row loads,
    /// split into the four taps by even / odd lanes. Each lane takes the visits of the general
    /// path — max: the first tap, then each later tap when strictly greater; average: from +0.0
    /// add the taps in row-major order, then ÷ 4 — so the bits are the same.
    static func pool2x2s2(_ a: [Float], planes: Int, h: Int, w: Int, oh: Int, ow: Int, average: Bool) -> [Float] {
        let count = planes * oh * ow
        return [Float](unsafeUninitializedCapacity: count) { buf, c in
            a.withUnsafeBufferPointer { src in
                guard let xs = src.baseAddress, let ob = buf.baseAddress else { return }
                for p in 0..<planes {
                    pool2x2s2Plane(xs + p * h * w, h: h, w: w, oh: oh, ow: ow, average: average, into: ob + p * oh * ow)
                }
            }
            c = count
        }
    }

    /// One plane of `pool2x2s2` (`oh · 2 ≤ h`, `ow · 2 ≤ w`).
    @inline(__always)
    static func pool2x2s2Plane(_ xp: UnsafePointer<Float>, h: Int, w: Int, oh: Int, ow: Int, average: Bool,
                               into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let zero = V(repeating: 0), four = V(repeating: 4)
        var o = out
        for oy in 0..<oh {
            let r0 = xp + 2 * oy * w, r1 = r0 + w
            var ox = 0
            while ox + 8 <= ow {
                let u = UnsafeRawPointer(r0 + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
                let l = UnsafeRawPointer(r1 + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
                let t0 = u.evenHalf, t1 = u.oddHalf, t2 = l.evenHalf, t3 = l.oddHalf
                var r: V
                if average {
                    r = ((((zero + t0) + t1) + t2) + t3) / four
                } else {
                    r = t0
                    r.replace(with: t1, where: t1 .> r)
                    r.replace(with: t2, where: t2 .> r)
                    r.replace(with: t3, where: t3 .> r)
                }
                UnsafeMutableRawPointer(o + ox).storeBytes(of: r, as: V.self)
                ox += 8
            }
            while ox < ow {
                let t0 = r0[2 * ox], t1 = r0[2 * ox + 1], t2 = r1[2 * ox], t3 = r1[2 * ox + 1]
                if average {
                    var sum: Float = 0
                    sum = sum + t0; sum = sum + t1; sum = sum + t2; sum = sum + t3
                    o[ox] = sum / 4
                } else {
                    var best = t0
                    best = t1 > best ? t1 : best
                    best = t2 > best ? t2 : best
                    best = t3 > best ? t3 : best
                    o[ox] = best
                }
                ox += 1
            }
            o += ow
        }
    }

    /// Whether a MaxPool / AveragePool node is exactly 2×2, stride 2, no padding, no dilation,
    /// floor mode, one output (the `pool2x2s2` form for any input of rank 4).
    static func is2x2Stride2(_ n: NodeProto) -> Bool {
        guard n.opType == "MaxPool" || n.opType == "AveragePool", n.domain.isEmpty || n.domain == "ai.onnx",
              n.inputs.count == 1, n.outputs.count == 1 else { return false }
        for a in n.attributes {
            switch (a.name, a.value) {
            case ("kernel_shape", .ints([2, 2])), ("strides", .ints([2, 2])), ("dilations", .ints([1, 1])),
                 ("ceil_mode", .int(0)), ("storage_order", _), ("count_include_pad", _): continue
            case let ("pads", .ints(p)) where p.allSatisfy({ $0 == 0 }): continue
            case let ("auto_pad", .string(s)) where s == Array("NOTSET".utf8) || s == Array("VALID".utf8): continue
            default: return false
            }
        }
        return n.attributes.contains { $0.name == "kernel_shape" } && n.attributes.contains { $0.name == "strides" }
    }

    static func global(_ x: Tensor, average: Bool) throws -> Tensor {
        guard x.rank >= 3 else { throw OpError("input must have rank ≥ 3, got \(x.shape)") }
        let bc = x.shape[0] * x.shape[1]
        let inner = x.shape.dropFirst(2).reduce(1, *)
        let outShape = Array(x.shape.prefix(2)) + Array(repeating: 1, count: x.rank - 2)
        func run<T: BinaryFloatingPoint>(_ xs: [T]) -> [T] {
            (0..<bc).map { c in
                if average {
                    var s: T = 0
                    for i in 0..<inner { s = s + xs[c * inner + i] }
                    return s / T(inner)
                }
                var m = -T.infinity
                for i in 0..<inner where xs[c * inner + i] > m || xs[c * inner + i].isNaN { m = xs[c * inner + i] }
                return m
            }
        }
        switch x.storage {
        case let .float32(a): return Tensor(shape: outShape, floats: run(a))
        case let .float64(a): return Tensor(shape: outShape, doubles: run(a))
        default: throw OpError("unsupported type \(x.dtype)")
        }
    }

    static let globalAverage = OpDefinition("GlobalAveragePool", make: K.simple { ins, _ in [try global(K.input(ins, 0), average: true)] })
    static let globalMax = OpDefinition("GlobalMaxPool", make: K.simple { ins, _ in [try global(K.input(ins, 0), average: false)] })
}
