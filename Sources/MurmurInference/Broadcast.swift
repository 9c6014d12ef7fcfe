/// Numpy-style (multidirectional) broadcasting.
enum Broadcast {
    static func shape(_ shapes: [[Int]]) throws -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            let off = rank - s.count
            for (i, d) in s.enumerated() {
                let o = out[off + i]
                if o == d { continue }
                if o == 1 { out[off + i] = d } else if d != 1 {
                    throw OpError("shapes \(shapes.map { "\($0)" }.joined(separator: " and ")) cannot be broadcast together")
                }
            }
        }
        return out
    }

    /// Element strides of `shape` viewed at rank `out.count` (0 on broadcast dimensions).
    static func strides(_ shape: [Int], to out: [Int]) -> [Int] {
        let s = K.strides(shape)
        let off = out.count - shape.count
        var r = [Int](repeating: 0, count: out.count)
        for i in 0..<shape.count where shape[i] != 1 { r[off + i] = s[i] }
        return r
    }

    /// For each output element in row-major order, the index into an input of `shape`.
    static func indices(_ shape: [Int], to out: [Int]) -> [Int] {
        let n = out.reduce(1, *)
        if shape == out { return Array(0..<n) }
        let st = strides(shape, to: out)
        var idx = [Int](repeating: 0, count: n)
        var counter = [Int](repeating: 0, count: out.count)
        var cur = 0
        for i in 0..<n {
            idx[i] = cur
            var d = out.count - 1
            while d >= 0 {
                counter[d] += 1
                cur += st[d]
                if counter[d] < out[d] { break }
                cur -= st[d] * out[d]
                counter[d] = 0
                d -= 1
            }
        }
        return idx
    }

    /// out[i] = f(a[ia], b[ib]) over the broadcast shape, row-major.
    @inline(__always)
    static func binary<A, B, R>(_ a: [A], _ sa: [Int], _ b: [B], _ sb: [Int], _ f: (A, B) -> R) throws -> ([R], [Int]) {
        let out = try shape([sa, sb])
        let n = try K.count(out)
        if sa == sb {
            return (a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                [R](unsafeUninitializedCapacity: n) { buf, c in
                    for i in 0..<n { (buf.baseAddress! + i).initialize(to: f(pa[i], pb[i])) }
                    c = n
                }
            } }, out)
        }
        if b.count == 1 {
            let y = b[0]
            return (a.withUnsafeBufferPointer { pa in
                [R](unsafeUninitializedCapacity: n) { buf, c in
                    for i in 0..<n { (buf.baseAddress! + i).initialize(to: f(pa[i], y)) }
                    c = n
                }
            }, out)
        }
        if a.count == 1 {
            let x = a[0]
            return (b.withUnsafeBufferPointer { pb in
                [R](unsafeUninitializedCapacity: n) { buf, c in
                    for i in 0..<n { (buf.baseAddress! + i).initialize(to: f(x, pb[i])) }
                    c = n
                }
            }, out)
        }
        // One operand repeats along the other's leading dimensions (a bias row), or holds one
        // value per leading index (a per-row scale, trailing dimensions of 1): direct loops.
        if out == sa, b.count > 0, a.count % b.count == 0, isSuffix(sb, of: sa) {
            return (rowBroadcast(a, b, n, inner: b.count, perRow: false) { f($0, $1) }, out)
        }
        if out == sb, a.count > 0, b.count % a.count == 0, isSuffix(sa, of: sb) {
            return (rowBroadcast(b, a, n, inner: a.count, perRow: false) { f($1, $0) }, out)
        }
        if out == sa, b.count > 0, a.count % b.count == 0, isPrefix(sb, of: sa) {
            return (rowBroadcast(a, b, n, inner: a.count / b.count, perRow: true) { f($0, $1) }, out)
        }
        if out == sb, a.count > 0, b.count % a.count == 0, isPrefix(sa, of: sb) {
            return (rowBroadcast(b, a, n, inner: b.count / a.count, perRow: true) { f($1, $0) }, out)
        }
        // General case: an odometer over all but the last dimension, inner loop on the last.
        let rank = out.count
        let stA = strides(sa, to: out), stB = strides(sb, to: out)
        let inner = rank == 0 ? 1 : out[rank - 1]
        let ia = rank == 0 ? 0 : stA[rank - 1], ib = rank == 0 ? 0 : stB[rank - 1]
        let outer = inner == 0 ? 0 : n / inner
        let result = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            [R](unsafeUninitializedCapacity: n) { buf, c in
                var counter = [Int](repeating: 0, count: max(rank - 1, 0))
                var offA = 0, offB = 0, o = 0
                guard n > 0, let dst = buf.baseAddress else { c = 0; return }
                for _ in 0..<outer {
                    // Inner loops specialised on the common stride pairs (contiguous, or one
                    // side held fixed) so they vectorise; the same f per element.
                    if ia == 1 && ib == 1 {
                        let qa = pa.baseAddress! + offA, qb = pb.baseAddress! + offB
                        for j in 0..<inner { (dst + o + j).initialize(to: f(qa[j], qb[j])) }
                        o += inner
                    } else if ia == 1 && ib == 0 {
                        let qa = pa.baseAddress! + offA, y = pb[offB]
                        for j in 0..<inner { (dst + o + j).initialize(to: f(qa[j], y)) }
                        o += inner
                    } else if ia == 0 && ib == 1 {
                        let x = pa[offA], qb = pb.baseAddress! + offB
                        for j in 0..<inner { (dst + o + j).initialize(to: f(x, qb[j])) }
                        o += inner
                    } else {
                        var xa = offA, xb = offB
                        for _ in 0..<inner {
                            (dst + o).initialize(to: f(pa[xa], pb[xb]))
                            o += 1; xa += ia; xb += ib
                        }
                    }
                    var d = rank - 2
                    while d >= 0 {
                        counter[d] += 1
                        offA += stA[d]; offB += stB[d]
                        if counter[d] < out[d] { break }
                        offA -= stA[d] * out[d]; offB -= stB[d] * out[d]
                        counter[d] = 0
                        d -= 1
                    }
                }
                c = n
            }
        } }
        return (result, out)
    }

    /// `s` without its leading 1s is a suffix of `o` (so `s` repeats along o's leading dims).
    @inline(__always)
    static func isSuffix(_ s: [Int], of o: [Int]) -> Bool {
        var i = 0
        while i < s.count && s[i] == 1 { i += 1 }
        let k = s.count - i
        if k > o.count { return false }
        for j in 0..<k where s[i + j] != o[o.count - k + j] { return false }
        return true
    }

    /// Same rank, and `s` equals `o` up to some axis and is 1 after it (one value per row).
    @inline(__always)
    static func isPrefix(_ s: [Int], of o: [Int]) -> Bool {
        guard s.count == o.count else { return false }
        var i = s.count
        while i > 0 && s[i - 1] == 1 { i -= 1 }
        for j in 0..<i where s[j] != o[j] { return false }
        return true
    }

    /// out[i] = f(big[i], small[i % inner]) (perRow false) or f(big[i], small[i / inner]).
    @inline(__always)
    static func rowBroadcast<A, B, R>(_ big: [A], _ small: [B], _ n: Int, inner: Int, perRow: Bool, _ f: (A, B) -> R) -> [R] {
        big.withUnsafeBufferPointer { pa in small.withUnsafeBufferPointer { pb in
            [R](unsafeUninitializedCapacity: n) { buf, c in
                guard n > 0, inner > 0, let x = pa.baseAddress, let y = pb.baseAddress, let d = buf.baseAddress else { c = 0; return }
                let rows = n / inner
                for r in 0..<rows {
                    let xr = x + r * inner, dr = d + r * inner
                    if perRow {
                        let v = y[r]
                        for j in 0..<inner { (dr + j).initialize(to: f(xr[j], v)) }
                    } else {
                        for j in 0..<inner { (dr + j).initialize(to: f(xr[j], y[j])) }
                    }
                }
                c = n
            }
        } }
    }

    /// Materialises `values` (of `shape`) broadcast to `out`.
    static func expand<T>(_ values: [T], _ shape: [Int], to out: [Int]) -> [T] {
        if shape == out { return values }
        return indices(shape, to: out).map { values[$0] }
    }
}
