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
                let dst = buf.baseAddress!
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

    /// Materialises `values` (of `shape`) broadcast to `out`.
    static func expand<T>(_ values: [T], _ shape: [Int], to out: [Int]) -> [T] {
        if shape == out { return values }
        return indices(shape, to: out).map { values[$0] }
    }
}
