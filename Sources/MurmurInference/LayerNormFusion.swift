import Foundation
import MurmurKernels

/// Load-time fusion of the LayerNorm that exporters write out op by op (Specs/inference.md §4):
///
///     x = Add(a, b)                      (optional: the residual sum, read only by the two below)
///     mean = ReduceMean(x, axes=[-1], keepdims=1);  d = Sub(x, mean);  p = Pow(d, 2)
///     var = ReduceMean(p, axes=[-1], keepdims=1);   s = Sqrt(Add(var, ε));  n = Div(d, s)
///     y = Mul(n, γ);  z = Add(y, β)      (each optional, γ and β constants of the row's length)
///
/// The fused kernel evaluates every node's own IEEE operation per element in the same order —
/// the row sums are the ReduceMean chains (ascending from +0.0, then ÷ length), Pow(d, 2) is
/// d × d — so the output bits are exactly those of the nodes run one by one; only the
/// intermediate tensors and passes disappear. Inputs that do not fit at run time (other dtypes,
/// broadcasting, a reduced axis that is not the last) run the original nodes in sequence.
enum LayerNormFusion {
    /// `MURMUR_NO_LAYERNORM_FUSION=1` turns the fusion off (to compare bits and speed).
    static let enabled = ProcessInfo.processInfo.environment["MURMUR_NO_LAYERNORM_FUSION"] == nil

    struct Group {
        let sink: Int
        let members: [Int]          // node indices in execution order, sink last
        let externals: [String]     // [x] or [a, b]
        let kernel: FusedLayerNorm
    }

    static func groups(nodes: [NodeProto], opsetOf: (String) -> Int, constants: [String: Tensor],
                       graphOutputs: Set<String>, implicitReads: Set<String>, excluded: Set<Int>,
                       makeKernel: (Int) throws -> any OpKernel) -> [Group] {
        guard enabled else { return [] }
        var readers: [String: [Int]] = [:]
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for inp in n.inputs where !inp.isEmpty { readers[inp, default: []].append(i) }
            for o in n.outputs where !o.isEmpty { producer[o] = i }
        }
        func isStd(_ i: Int) -> Bool {
            let n = nodes[i]
            return (n.domain.isEmpty || n.domain == "ai.onnx") && n.outputs.count == 1 && !excluded.contains(i)
        }
        /// The single reader of `v` (a private intermediate), or nil.
        func onlyReader(_ v: String) -> Int? {
            guard !graphOutputs.contains(v), !implicitReads.contains(v), let r = readers[v], r.count == 1 else { return nil }
            return r[0]
        }
        func scalar(_ name: String) -> Float? {
            guard let t = constants[name], let f = t.floats, f.count == 1 else { return nil }
            return f[0]
        }
        /// A ReduceMean over the last axis with keepdims (axes [-1], or a rank-dependent positive
        /// axis checked at run time): returns the axis as written.
        func meanAxis(_ i: Int) -> Int? {
            let n = nodes[i]
            guard n.opType == "ReduceMean", isStd(i), !n.inputs.isEmpty else { return nil }
            if case let .int(k)? = n.attribute("keepdims"), k == 0 { return nil }
            if case let .int(e)? = n.attribute("noop_with_empty_axes"), e != 0 { return nil }
            if opsetOf(n.domain) >= 18 {
                guard n.inputs.count == 2, let t = constants[n.inputs[1]], let a = t.intValues(), a.count == 1 else { return nil }
                return a[0]
            }
            guard n.inputs.count == 1, case let .ints(a)? = n.attribute("axes"), a.count == 1 else { return nil }
            return a[0]
        }
        /// The other operand of a binary node reading `v`.
        func other(_ n: NodeProto, _ v: String) -> String? {
            guard n.inputs.count == 2, n.inputs[0] != n.inputs[1] else { return nil }
            return n.inputs[0] == v ? n.inputs[1] : (n.inputs[1] == v ? n.inputs[0] : nil)
        }

        var out: [Group] = []
        var taken = Set<Int>()
        for (m1, n1) in nodes.enumerated() {
            guard let axis1 = meanAxis(m1), !taken.contains(m1) else { continue }
            let x = n1.inputs[0]
            // mean is read only by Sub(x, mean); x may have other readers (a pre-LN block's
            // residual path), and then stays an input of the fused step.
            guard let subI = onlyReader(n1.outputs[0]), isStd(subI) else { continue }
            let sub = nodes[subI]
            guard sub.opType == "Sub", sub.inputs == [x, n1.outputs[0]] else { continue }
            let xReaders = readers[x] ?? []
            let d = sub.outputs[0]
            // d is read by Pow(d, 2) and Div(d, s).
            guard let dr = readers[d], dr.count == 2, !graphOutputs.contains(d), !implicitReads.contains(d) else { continue }
            let (powI, divI) = nodes[dr[0]].opType == "Pow" ? (dr[0], dr[1]) : (dr[1], dr[0])
            let pw = nodes[powI], dv = nodes[divI]
            guard pw.opType == "Pow", isStd(powI), pw.inputs.count == 2, pw.inputs[0] == d, scalar(pw.inputs[1]) == 2,
                  (constants[pw.inputs[1]]?.rank ?? 2) <= 1,
                  dv.opType == "Div", isStd(divI), dv.inputs.count == 2, dv.inputs[0] == d else { continue }
            guard let m2 = onlyReader(pw.outputs[0]), let axis2 = meanAxis(m2), axis2 == axis1,
                  nodes[m2].inputs[0] == pw.outputs[0] else { continue }
            guard let addI = onlyReader(nodes[m2].outputs[0]), isStd(addI), nodes[addI].opType == "Add",
                  let epsName = other(nodes[addI], nodes[m2].outputs[0]), let eps = scalar(epsName),
                  (constants[epsName]?.rank ?? 2) <= 1 else { continue }
            guard let sqI = onlyReader(nodes[addI].outputs[0]), isStd(sqI), nodes[sqI].opType == "Sqrt",
                  nodes[sqI].inputs.count == 1, onlyReader(nodes[sqI].outputs[0]) == divI, dv.inputs[1] == nodes[sqI].outputs[0] else { continue }
            var members = [m1, subI, powI, m2, addI, sqI, divI]
            var sinkOut = dv.outputs[0]
            var gamma: Tensor?, beta: Tensor?
            if let mulI = onlyReader(sinkOut), isStd(mulI), nodes[mulI].opType == "Mul",
               let g = other(nodes[mulI], sinkOut), let gt = constants[g], gt.dtype == .float32, gt.rank == 1 {
                gamma = gt; members.append(mulI); sinkOut = nodes[mulI].outputs[0]
                if let addB = onlyReader(sinkOut), isStd(addB), nodes[addB].opType == "Add",
                   let b = other(nodes[addB], sinkOut), let bt = constants[b], bt.dtype == .float32, bt.shape == gt.shape {
                    beta = bt; members.append(addB); sinkOut = nodes[addB].outputs[0]
                }
            }
            // The residual sum: x = Add(a, b) of two non-constant values, read only here.
            var externals = [x]
            if xReaders.count == 2, !graphOutputs.contains(x), !implicitReads.contains(x),
               let pi = producer[x], isStd(pi), nodes[pi].opType == "Add", nodes[pi].inputs.count == 2,
               constants[nodes[pi].inputs[0]] == nil, constants[nodes[pi].inputs[1]] == nil,
               !nodes[pi].inputs.contains("") {
                members.insert(pi, at: 0)
                externals = nodes[pi].inputs
            }
            if members.contains(where: { taken.contains($0) || excluded.contains($0) }) { continue }
            // The original nodes, for inputs that do not fit at run time.
            var steps: [FusedLayerNorm.Step] = []
            var regOf: [String: Int] = [:]
            for (k, v) in externals.enumerated() { regOf[v] = k }
            var ok = true
            for j in members {
                guard let kernel = try? makeKernel(j) else { ok = false; break }
                let ins: [FusedLayerNorm.Input] = nodes[j].inputs.map { name in
                    if name.isEmpty { return .none }
                    if let r = regOf[name] { return .register(r) }
                    if let c = constants[name] { return .constant(c) }
                    return .none
                }
                steps.append(FusedLayerNorm.Step(kernel: kernel, inputs: ins))
                regOf[nodes[j].outputs[0]] = externals.count + steps.count - 1
            }
            guard ok, let sink = members.last else { continue }
            for j in members { taken.insert(j) }
            let kernel = FusedLayerNorm(residual: externals.count == 2, axis: axis1, eps: eps,
                                        gamma: gamma?.floats, beta: beta?.floats, fallback: steps)
            out.append(Group(sink: sink, members: members, externals: externals, kernel: kernel))
        }
        return out
    }
}

/// The fused kernel of one decomposed LayerNorm (see `LayerNormFusion`).
struct FusedLayerNorm: OpKernel {
    typealias Input = FusedElementwise.FallbackInput
    typealias Step = FusedElementwise.FallbackStep

    /// Inputs are (a, b) whose sum is x, or x alone.
    let residual: Bool
    /// The ReduceMean axis as written (must resolve to the last axis).
    let axis: Int
    let eps: Float
    let gamma: [Float]?
    let beta: [Float]?
    let fallback: [Step]

    var name: String { (residual ? "Add+" : "") + "LayerNorm(ReduceMean+Sub+Pow+ReduceMean+Add+Sqrt+Div\(gamma == nil ? "" : "+Mul")\(beta == nil ? "" : "+Add"))" }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        guard let x0 = inputs.first ?? nil, let xa = x0.floats, x0.rank >= 1 else { return try runFallback(inputs, context) }
        let len = x0.shape[x0.rank - 1]
        let ax = axis < 0 ? axis + x0.rank : axis
        guard ax == x0.rank - 1, len > 0, gamma.map({ $0.count == len }) ?? true, beta.map({ $0.count == len }) ?? true else {
            return try runFallback(inputs, context)
        }
        var xb: [Float] = []
        if residual {
            guard inputs.count == 2, let x1 = inputs[1] ?? nil, let f = x1.floats, x1.shape == x0.shape else {
                return try runFallback(inputs, context)
            }
            xb = f
        }
        // Output shape: the operands' (γ and β of shape [len] broadcast without changing it,
        // except that rank-1 constants never raise the rank here since x has rank ≥ 1).
        let rows = xa.count / len
        let out = [Float](unsafeUninitializedCapacity: xa.count) { buf, count in
            xa.withUnsafeBufferPointer { pa in xb.withUnsafeBufferPointer { pb in
                (gamma ?? []).withUnsafeBufferPointer { pg in (beta ?? []).withUnsafeBufferPointer { pbeta in
                    guard let y = buf.baseAddress, let a = pa.baseAddress else { return }
                    FusedLayerNorm.rows(a, residual ? pb.baseAddress : nil, y, rows: rows, len: len, eps: eps,
                                        gamma: gamma == nil ? nil : pg.baseAddress, beta: beta == nil ? nil : pbeta.baseAddress)
                } }
            } }
            count = xa.count
        }
        return [Tensor(shape: x0.shape, floats: out)]
    }

    /// Rows in groups of up to eight (independent chains side by side; each chain ascending).
    static func rows(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                     rows: Int, len: Int, eps: Float, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?) {
        let count = Float(len)
        // x = a + b (the residual Add), written to y; then y holds x.
        let x: UnsafePointer<Float>
        if let b {
            for i in 0..<(rows * len) { y[i] = a[i] + b[i] }
            x = UnsafePointer(y)
        } else {
            x = a
        }
        var r0 = 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { st in
            let mean = st.baseAddress!, inv = mean + 8
            while r0 < rows {
                let g = min(8, rows - r0)
                // mean = (Σ x ascending from +0.0) / len — ReduceMean's chain.
                sums(x + r0 * len, len, g, mean)
                for k in 0..<g { mean[k] = mean[k] / count }
                // d = x − mean (into y).
                for k in 0..<g {
                    let xr = x + (r0 + k) * len, yr = y + (r0 + k) * len, m = mean[k]
                    for i in 0..<len { yr[i] = xr[i] - m }
                }
                // var = (Σ (d × d) ascending from +0.0) / len; s = √(var + ε).
                squareSums(UnsafePointer(y + r0 * len), len, g, inv)
                for k in 0..<g { inv[k] = ((inv[k] / count) + eps).squareRoot() }
                // z = ((d / s) × γ) + β.
                for k in 0..<g {
                    let yr = y + (r0 + k) * len, s = inv[k]
                    if let gamma, let beta {
                        for i in 0..<len { yr[i] = ((yr[i] / s) * gamma[i]) + beta[i] }
                    } else if let gamma {
                        for i in 0..<len { yr[i] = (yr[i] / s) * gamma[i] }
                    } else {
                        for i in 0..<len { yr[i] = yr[i] / s }
                    }
                }
                r0 += g
            }
        }
    }

    /// out[k] = Σ_i r_k[i] for the g (≤ 8) rows starting at `x`, each ascending from +0.0.
    @inline(__always)
    static func sums(_ x: UnsafePointer<Float>, _ len: Int, _ g: Int, _ out: UnsafeMutablePointer<Float>) {
        if g == 8 {
            var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0, a4: Float = 0, a5: Float = 0, a6: Float = 0, a7: Float = 0
            for i in 0..<len {
                a0 = a0 + x[i]; a1 = a1 + x[len + i]; a2 = a2 + x[2 * len + i]; a3 = a3 + x[3 * len + i]
                a4 = a4 + x[4 * len + i]; a5 = a5 + x[5 * len + i]; a6 = a6 + x[6 * len + i]; a7 = a7 + x[7 * len + i]
            }
            out[0] = a0; out[1] = a1; out[2] = a2; out[3] = a3; out[4] = a4; out[5] = a5; out[6] = a6; out[7] = a7
            return
        }
        for k in 0..<g {
            var acc: Float = 0
            let r = x + k * len
            for i in 0..<len { acc = acc + r[i] }
            out[k] = acc
        }
    }

    /// out[k] = Σ_i (d × d) for the g rows, each product rounded (Pow), then added ascending.
    @inline(__always)
    static func squareSums(_ x: UnsafePointer<Float>, _ len: Int, _ g: Int, _ out: UnsafeMutablePointer<Float>) {
        if g == 8 {
            var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0, a4: Float = 0, a5: Float = 0, a6: Float = 0, a7: Float = 0
            for i in 0..<len {
                let v0 = x[i], v1 = x[len + i], v2 = x[2 * len + i], v3 = x[3 * len + i]
                let v4 = x[4 * len + i], v5 = x[5 * len + i], v6 = x[6 * len + i], v7 = x[7 * len + i]
                let p0 = v0 * v0, p1 = v1 * v1, p2 = v2 * v2, p3 = v3 * v3
                let p4 = v4 * v4, p5 = v5 * v5, p6 = v6 * v6, p7 = v7 * v7
                a0 = a0 + p0; a1 = a1 + p1; a2 = a2 + p2; a3 = a3 + p3
                a4 = a4 + p4; a5 = a5 + p5; a6 = a6 + p6; a7 = a7 + p7
            }
            out[0] = a0; out[1] = a1; out[2] = a2; out[3] = a3; out[4] = a4; out[5] = a5; out[6] = a6; out[7] = a7
            return
        }
        for k in 0..<g {
            var acc: Float = 0
            let r = x + k * len
            for i in 0..<len { let p = r[i] * r[i]; acc = acc + p }
            out[k] = acc
        }
    }

    /// The original nodes one by one.
    func runFallback(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        try FusedElementwise.runSteps(fallback, externals: residual ? 2 : 1, inputs, context, name: name)
    }
}
