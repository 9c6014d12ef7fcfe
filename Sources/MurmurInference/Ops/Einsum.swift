/// Einsum (explicit and implicit output, repeated labels, ellipsis). Contract: for each output
/// element in row-major order, the summed labels are enumerated row-major (ellipsis labels
/// first, then letters in ascending order); each term is the product of the operands left to
/// right (plain multiplications) and terms are added from +0.0 in that order.
enum EinsumOps {
    static let all: [OpDefinition] = [einsum]

    static let einsum = OpDefinition("Einsum", versions: 12...22) { n in
        let equation = try n.require(n.string("equation"), "equation").filter { $0 != " " }
        return ClosureKernel { ins, _ in
            let ops = ins.compactMap { $0 }
            guard !ops.isEmpty else { throw OpError("no inputs") }
            return [try run(equation, ops)]
        }
    }

    static func run(_ equation: String, _ ops: [Tensor]) throws -> Tensor {
        let parts = equation.components(separatedBy: "->")
        guard parts.count <= 2 else { throw OpError("bad equation '\(equation)'") }
        let terms = parts[0].components(separatedBy: ",")
        guard terms.count == ops.count else { throw OpError("equation has \(terms.count) operands, got \(ops.count)") }
        // Labels: letters as their scalar value; ellipsis dims as −1, −2, … counted from the right.
        var labels: [[Int]] = []
        var ellipsisRank = 0
        for (t, term) in terms.enumerated() {
            let letters = term.replacingOccurrences(of: "...", with: "")
            guard letters.allSatisfy({ $0.isLetter && $0.isASCII }) else { throw OpError("bad term '\(term)'") }
            let e = ops[t].rank - letters.count
            guard e >= 0, term.contains("...") || e == 0 else { throw OpError("term '\(term)' does not match rank \(ops[t].rank)") }
            ellipsisRank = max(ellipsisRank, e)
            var l: [Int] = []
            var seenEllipsis = false
            var i = term.startIndex
            while i < term.endIndex {
                if term[i...].hasPrefix("...") {
                    guard !seenEllipsis else { throw OpError("two ellipses in '\(term)'") }
                    seenEllipsis = true
                    l += (0..<e).map { -(e - $0) }
                    i = term.index(i, offsetBy: 3)
                } else {
                    l.append(Int(term[i].asciiValue ?? 0))
                    i = term.index(after: i)
                }
            }
            labels.append(l)
        }
        var size: [Int: Int] = [:]
        for (t, l) in labels.enumerated() {
            for (d, lab) in l.enumerated() {
                let s = ops[t].shape[d]
                if let prev = size[lab], prev != s {
                    if lab < 0 && (prev == 1 || s == 1) { size[lab] = max(prev, s); continue }
                    throw OpError("label size mismatch: \(prev) vs \(s)")
                }
                size[lab] = s
            }
        }
        let ellipsisLabels = (0..<ellipsisRank).map { -(ellipsisRank - $0) }
        var outLabels: [Int]
        if parts.count == 2 {
            let out = parts[1]
            var l: [Int] = []
            var i = out.startIndex
            while i < out.endIndex {
                if out[i...].hasPrefix("...") { l += ellipsisLabels; i = out.index(i, offsetBy: 3) }
                else {
                    guard out[i].isLetter, let v = out[i].asciiValue, size[Int(v)] != nil else { throw OpError("bad output '\(out)'") }
                    l.append(Int(v)); i = out.index(after: i)
                }
            }
            outLabels = l
        } else {
            var count: [Int: Int] = [:]
            for l in labels { for lab in l where lab > 0 { count[lab, default: 0] += 1 } }
            outLabels = ellipsisLabels + count.filter { $0.value == 1 }.keys.sorted()
        }
        guard Set(outLabels).count == outLabels.count else { throw OpError("output subscripts repeat a label") }
        let summed = size.keys.filter { !outLabels.contains($0) }.sorted()
        let outShape = outLabels.map { size[$0] ?? 1 }
        let sumShape = summed.map { size[$0] ?? 1 }
        let nOut = try K.count(outShape), nSum = try K.count(sumShape)
        _ = try K.count([nOut, nSum])
        // For each operand: element stride per label (0 where the operand broadcasts).
        let allLabels = outLabels + summed
        var strides: [[Int]] = []
        for (t, l) in labels.enumerated() {
            let st = K.strides(ops[t].shape)
            strides.append(allLabels.map { lab in
                var s = 0
                for (d, x) in l.enumerated() where x == lab && ops[t].shape[d] != 1 { s += st[d] }
                return s
            })
        }
        let dims = outShape + sumShape
        func compute<T: BinaryFloatingPoint>(_ vals: [[T]]) -> [T] {
            var out = [T](repeating: 0, count: nOut)
            var counter = [Int](repeating: 0, count: dims.count)
            var offs = [Int](repeating: 0, count: vals.count)
            for o in 0..<nOut {
                var acc: T = 0
                for _ in 0..<nSum {
                    var p = vals[0][offs[0]]
                    for t in 1..<max(vals.count, 1) { p = p * vals[t][offs[t]] }
                    acc = acc + p
                    // advance the summed part of the odometer
                    var d = dims.count - 1
                    while d >= outShape.count {
                        counter[d] += 1
                        for t in 0..<vals.count { offs[t] += strides[t][d] }
                        if counter[d] < dims[d] { break }
                        for t in 0..<vals.count { offs[t] -= strides[t][d] * dims[d] }
                        counter[d] = 0; d -= 1
                    }
                }
                out[o] = acc
                var d = outShape.count - 1
                while d >= 0 {
                    counter[d] += 1
                    for t in 0..<vals.count { offs[t] += strides[t][d] }
                    if counter[d] < dims[d] { break }
                    for t in 0..<vals.count { offs[t] -= strides[t][d] * dims[d] }
                    counter[d] = 0; d -= 1
                }
            }
            return out
        }
        switch ops[0].dtype {
        case .float32:
            let vals = try ops.map { try K.floats($0, "operand") }
            if vals.contains(where: { $0.isEmpty }) { return Tensor(shape: outShape, floats: Array(repeating: 0, count: nOut)) }
            return Tensor(shape: outShape, floats: compute(vals))
        case .float64:
            let vals = try ops.map { t -> [Double] in guard let d = t.doubles else { throw OpError("operand types differ") }; return d }
            if vals.contains(where: { $0.isEmpty }) { return Tensor(shape: outShape, doubles: Array(repeating: 0, count: nOut)) }
            return Tensor(shape: outShape, doubles: compute(vals))
        default: throw OpError("Einsum supports float32 and float64")
        }
    }
}
