import MurmurKernels

/// LSTM, GRU and RNN (all directions, activation lists, clip, sequence_lens, initial states,
/// peepholes, layout 0 and 1). Float32 only.
///
/// Determinism contract (Specs/inference-ops-extra.md): both products are `Gemm.sgemm` (each
/// output from +0.0, one FMA per term in ascending k, Specs/kernels.md). The input projection
/// for all time steps is xw = (x_t·W_j) + (Wb_j + Rb_j); per step the gate pre-activation is
/// (h_{t−1}·R_j) + xw; an LSTM peephole then adds p_j·c with one FMA. Time steps run in order
/// (reverse: descending per row's own length); batch rows never mix.
enum RecurrentOps {
    static let all: [OpDefinition] = [
        OpDefinition("LSTM", versions: 1...22) { n in try RecurrentKernel(n, cell: .lstm) },
        OpDefinition("GRU", versions: 1...22) { n in try RecurrentKernel(n, cell: .gru) },
        OpDefinition("RNN", versions: 1...22) { n in try RecurrentKernel(n, cell: .rnn) },
        OpDefinition("DynamicQuantizeLSTM", domain: "com.microsoft", versions: 1...1) { n in try DynamicQuantizeLSTMKernel(n) },
    ]
}

/// An activation function as named in the `activations` attribute, with its alpha / beta.
enum RecurrentActivation: Sendable {
    case sigmoid, tanh, relu, affine(Float, Float), leakyRelu(Float), thresholdedRelu(Float), scaledTanh(Float, Float)
    case hardSigmoid(Float, Float), elu(Float), softsign, softplus

    /// Parses the names, consuming alphas / betas in order for the functions that take them.
    static func parse(_ names: [String], alphas: [Float], betas: [Float]) throws -> [RecurrentActivation] {
        var ai = 0, bi = 0
        func alpha(_ d: Float) -> Float { defer { ai += 1 }; return ai < alphas.count ? alphas[ai] : d }
        func beta(_ d: Float) -> Float { defer { bi += 1 }; return bi < betas.count ? betas[bi] : d }
        return try names.map { name in
            switch name.lowercased() {
            case "sigmoid": return .sigmoid
            case "tanh": return .tanh
            case "relu": return .relu
            case "affine": return .affine(alpha(1), beta(0))
            case "leakyrelu": return .leakyRelu(alpha(0.01))
            case "thresholdedrelu": return .thresholdedRelu(alpha(1))
            case "scaledtanh": return .scaledTanh(alpha(1), beta(1))
            case "hardsigmoid": return .hardSigmoid(alpha(0.2), beta(0.5))
            case "elu": return .elu(alpha(1))
            case "softsign": return .softsign
            case "softplus": return .softplus
            default: throw OpError("unknown activation '\(name)'")
            }
        }
    }

    @inline(__always) func apply(_ x: Float) -> Float {
        switch self {
        case .sigmoid: return ScalarMath.sigmoid(x)
        case .tanh: return ScalarMath.tanh(x)
        case .relu: return x > 0 ? x : (x.isNaN ? x : 0)
        case let .affine(a, b): return a * x + b
        case let .leakyRelu(a): return x < 0 ? a * x : x
        case let .thresholdedRelu(a): return x > a ? x : 0
        case let .scaledTanh(a, b): return a * ScalarMath.tanh(b * x)
        case let .hardSigmoid(a, b): return Swift.max(0, Swift.min(1, a * x + b))
        case let .elu(a): return x < 0 ? a * (ScalarMath.exp(x) - 1) : x
        case .softsign: return x / (1 + Swift.abs(x))
        case .softplus: return ScalarMath.log(ScalarMath.exp(x) + 1)
        }
    }
}

struct RecurrentKernel: OpKernel {
    enum Cell: Sendable { case lstm, gru, rnn }
    let cell: Cell
    let gates: Int
    let hidden: Int?
    let directions: [Bool]  // true = reverse
    let activations: [RecurrentActivation]  // per direction: gates.count functions
    let perDirection: Int
    let clip: Float?
    let inputForget: Bool
    let linearBeforeReset: Bool
    let layout: Int

    init(_ n: NodeContext, cell: Cell) throws {
        self.cell = cell
        gates = cell == .lstm ? 4 : (cell == .gru ? 3 : 1)
        hidden = n.int("hidden_size")
        if let h = hidden, h < 1 || h > 1 << 20 { throw OpError("hidden_size \(h) must be in 1...\(1 << 20)") }
        let dir = n.string("direction") ?? "forward"
        switch dir {
        case "forward": directions = [false]
        case "reverse": directions = [true]
        case "bidirectional": directions = [false, true]
        default: throw OpError("unknown direction '\(dir)'")
        }
        perDirection = cell == .lstm ? 3 : (cell == .gru ? 2 : 1)
        let defaults: [String] = cell == .lstm ? ["Sigmoid", "Tanh", "Tanh"] : (cell == .gru ? ["Sigmoid", "Tanh"] : ["Tanh"])
        var names: [String] = []
        if case let .strings(s)? = n.node.attribute("activations") { names = s.map { String(decoding: $0, as: UTF8.self) } }
        if names.isEmpty { names = Array(repeating: defaults, count: directions.count).flatMap { $0 } }
        // A single direction's list given for a bidirectional op is used for both.
        if names.count == perDirection && directions.count == 2 { names += names }
        guard names.count == perDirection * directions.count else {
            throw OpError("activations has \(names.count) entries, expected \(perDirection * directions.count)")
        }
        activations = try RecurrentActivation.parse(names, alphas: n.floats("activation_alpha") ?? [], betas: n.floats("activation_beta") ?? [])
        clip = n.float("clip")
        inputForget = n.int("input_forget", default: 0) != 0
        linearBeforeReset = n.int("linear_before_reset", default: 0) != 0
        layout = n.int("layout", default: 0)
        guard layout == 0 || layout == 1 else { throw OpError("layout must be 0 or 1") }
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        let xT = try K.input(inputs, 0), wT = try K.input(inputs, 1), rT = try K.input(inputs, 2)
        guard xT.rank == 3, wT.rank == 3, rT.rank == 3 else { throw OpError("X, W and R must have rank 3") }
        let seq = layout == 0 ? xT.shape[0] : xT.shape[1]
        let batch = layout == 0 ? xT.shape[1] : xT.shape[0]
        let inSize = xT.shape[2]
        let dirs = directions.count
        let h = hidden ?? rT.shape[2]
        guard h >= 1, h == rT.shape[2] else { throw OpError("R has shape \(rT.shape); hidden size \(h) must be ≥ 1 and match its last dimension") }
        let g = gates
        guard wT.shape == [dirs, g * h, inSize] else { throw OpError("W has shape \(wT.shape), expected \([dirs, g * h, inSize])") }
        guard rT.shape == [dirs, g * h, h] else { throw OpError("R has shape \(rT.shape), expected \([dirs, g * h, h])") }
        var x = try K.floats(xT, "X")
        if layout == 1 { x = Self.swap01(x, xT.shape[0], xT.shape[1], inSize) }
        let w = try K.floats(wT, "W"), r = try K.floats(rT, "R")
        var bias = [Float](repeating: 0, count: dirs * 2 * g * h)
        if let b = K.optional(inputs, 3) {
            guard b.shape == [dirs, 2 * g * h] else { throw OpError("B has shape \(b.shape), expected \([dirs, 2 * g * h])") }
            bias = try K.floats(b, "B")
        }
        var lens = [Int](repeating: seq, count: batch)
        if let s = K.optional(inputs, 4) {
            lens = try K.ints(s, "sequence_lens")
            guard lens.count == batch, lens.allSatisfy({ $0 >= 0 && $0 <= seq }) else {
                throw OpError("sequence_lens must hold \(batch) values in 0...\(seq)")
            }
        }
        func state(_ i: Int, _ what: String) throws -> [Float] {
            guard let t = K.optional(inputs, i) else { return [Float](repeating: 0, count: dirs * batch * h) }
            let want = layout == 0 ? [dirs, batch, h] : [batch, dirs, h]
            guard t.shape == want else { throw OpError("\(what) has shape \(t.shape), expected \(want)") }
            let v = try K.floats(t, what)
            return layout == 0 ? v : Self.swap01(v, batch, dirs, h)
        }
        let h0 = try state(5, "initial_h")
        let c0 = cell == .lstm ? try state(6, "initial_c") : []
        var peep: [Float]? = nil
        if cell == .lstm, let p = K.optional(inputs, 7) {
            guard p.shape == [dirs, 3 * h] else { throw OpError("P has shape \(p.shape), expected \([dirs, 3 * h])") }
            peep = try K.floats(p, "P")
        }

        var y = [Float](repeating: 0, count: seq * dirs * batch * h)
        var yh = [Float](repeating: 0, count: dirs * batch * h)
        var yc = [Float](repeating: 0, count: dirs * batch * h)
        let gh = g * h
        for d in 0..<dirs {
            let acts = Array(activations[(d * perDirection)..<((d + 1) * perDirection)])
            let pd = peep.map { Array($0[(d * 3 * h)..<((d + 1) * 3 * h)]) }
            let wOff = d * gh * inSize, rOff = d * gh * h
            // Bias folded into the input projection: Wb + Rb (GRU with linear_before_reset: the
            // h̃ rows take Wb only; their Rb is added to h·Rh before the reset gate).
            var xBias = [Float](repeating: 0, count: gh)
            var rhBias = [Float](repeating: 0, count: h)
            for j in 0..<gh {
                let wb = bias[d * 2 * gh + j], rb = bias[d * 2 * gh + gh + j]
                if cell == .gru && linearBeforeReset && j >= 2 * h { xBias[j] = wb; rhBias[j - 2 * h] = rb } else { xBias[j] = wb + rb }
            }
            // x·W for every time step at once, plus the bias: [seq·batch, g·h].
            var xw = [Float](repeating: 0, count: seq * batch * gh)
            if seq * batch > 0 {
                x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in xBias.withUnsafeBufferPointer { bp in xw.withUnsafeMutableBufferPointer { cp in
                    Gemm.sgemm(m: seq * batch, n: gh, k: inSize, a: xp.baseAddress!, lda: Swift.max(inSize, 1),
                               b: wp.baseAddress! + wOff, ldb: Swift.max(inSize, 1), transB: true,
                               c: cp.baseAddress!, ldc: gh, addend: .perColumn(bp.baseAddress!), pool: context.pool)
                } } } }
            }
            var hs = Array(h0[(d * batch * h)..<((d + 1) * batch * h)])
            var cs = cell == .lstm ? Array(c0[(d * batch * h)..<((d + 1) * batch * h)]) : []
            var hr = [Float](repeating: 0, count: batch * gh)
            var rh = [Float](repeating: 0, count: batch * h)
            var hh = [Float](repeating: 0, count: batch * h)
            var zr = [Float](repeating: 0, count: batch * 2 * h)
            let maxLen = lens.max() ?? 0
            for step in 0..<maxLen {
                // h·R for all batch rows (GRU without linear_before_reset: the z and r rows only).
                let n = cell == .gru && !linearBeforeReset ? 2 * h : gh
                Self.gemm(hs, r, rOff, &hr, m: batch, n: n, k: h, ldc: gh, context)
                for b in 0..<batch where step < lens[b] {
                    let t = directions[d] ? lens[b] - 1 - step : step
                    let xrow = (t * batch + b) * gh
                    switch cell {
                    case .lstm:
                        let pre = (0..<gh).map { hr[b * gh + $0] + xw[xrow + $0] }
                        var hRow = Array(hs[(b * h)..<((b + 1) * h)]), cRow = Array(cs[(b * h)..<((b + 1) * h)])
                        lstmCell(pre, &hRow, &cRow, pd, acts, h)
                        hs.replaceSubrange((b * h)..<((b + 1) * h), with: hRow)
                        cs.replaceSubrange((b * h)..<((b + 1) * h), with: cRow)
                    case .rnn:
                        for j in 0..<h { hs[b * h + j] = acts[0].apply(clipped(hr[b * gh + j] + xw[xrow + j])) }
                    case .gru:
                        for j in 0..<(2 * h) { zr[b * 2 * h + j] = acts[0].apply(clipped(hr[b * gh + j] + xw[xrow + j])) }
                        if linearBeforeReset {
                            for j in 0..<h {
                                let rg = zr[b * 2 * h + h + j]
                                hh[b * h + j] = acts[1].apply(clipped((xw[xrow + 2 * h + j]).addingProduct(rg, hr[b * gh + 2 * h + j] + rhBias[j])))
                            }
                        } else {
                            for j in 0..<h { rh[b * h + j] = zr[b * 2 * h + h + j] * hs[b * h + j] }
                        }
                    }
                }
                if cell == .gru && !linearBeforeReset {
                    // (r ⊙ h)·Rh for all rows (rows past their length hold stale values, unused).
                    Self.gemm(rh, r, rOff + 2 * h * h, &hh, m: batch, n: h, k: h, ldc: h, context)
                    for b in 0..<batch where step < lens[b] {
                        let t = directions[d] ? lens[b] - 1 - step : step
                        let xrow = (t * batch + b) * gh
                        for j in 0..<h { hh[b * h + j] = acts[1].apply(clipped(hh[b * h + j] + xw[xrow + 2 * h + j])) }
                    }
                }
                for b in 0..<batch where step < lens[b] {
                    let t = directions[d] ? lens[b] - 1 - step : step
                    if cell == .gru {
                        // H_t = (1 − z) ⊙ h̃ + z ⊙ H_{t−1}
                        for j in 0..<h {
                            let z = zr[b * 2 * h + j]
                            hs[b * h + j] = ((1 - z) * hh[b * h + j]).addingProduct(z, hs[b * h + j])
                        }
                    }
                    let base = ((t * dirs + d) * batch + b) * h
                    for j in 0..<h { y[base + j] = hs[b * h + j] }
                }
            }
            for j in 0..<(batch * h) {
                yh[d * batch * h + j] = hs[j]
                if cell == .lstm { yc[d * batch * h + j] = cs[j] }
            }
        }
        var outs: [Tensor]
        if layout == 0 {
            outs = [Tensor(shape: [seq, dirs, batch, h], floats: y), Tensor(shape: [dirs, batch, h], floats: yh)]
            if cell == .lstm { outs.append(Tensor(shape: [dirs, batch, h], floats: yc)) }
        } else {
            // [seq, dirs, batch, h] → [batch, seq, dirs, h]
            var yl = [Float](repeating: 0, count: y.count)
            for t in 0..<seq { for d in 0..<dirs { for b in 0..<batch { for j in 0..<h {
                yl[((b * seq + t) * dirs + d) * h + j] = y[((t * dirs + d) * batch + b) * h + j]
            } } } }
            outs = [Tensor(shape: [batch, seq, dirs, h], floats: yl), Tensor(shape: [batch, dirs, h], floats: Self.swap01(yh, dirs, batch, h))]
            if cell == .lstm { outs.append(Tensor(shape: [batch, dirs, h], floats: Self.swap01(yc, dirs, batch, h))) }
        }
        return outs
    }

    /// [a, b, c] → [b, a, c].
    static func swap01(_ v: [Float], _ a: Int, _ b: Int, _ c: Int) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<a { for j in 0..<b { for k in 0..<c { out[(j * a + i) * c + k] = v[(i * b + j) * c + k] } } }
        return out
    }

    /// c[i, j] = Σ_k a[i, k] · R[off + j·k + k] for j < n (`Gemm.sgemm` with R's rows as op(B)ᵀ).
    static func gemm(_ a: [Float], _ r: [Float], _ off: Int, _ c: inout [Float], m: Int, n: Int, k: Int, ldc: Int, _ context: RunContext) {
        guard m > 0, n > 0 else { return }
        a.withUnsafeBufferPointer { ap in r.withUnsafeBufferPointer { rp in c.withUnsafeMutableBufferPointer { cp in
            Gemm.sgemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: Swift.max(k, 1), b: rp.baseAddress! + off, ldb: Swift.max(k, 1), transB: true,
                       c: cp.baseAddress!, ldc: ldc, pool: context.pool)
        } } }
    }

    @inline(__always) func clipped(_ v: Float) -> Float {
        guard let c = clip else { return v }
        return Swift.min(c, Swift.max(-c, v))
    }

    /// The LSTM cell after the gate pre-activations (bias included): peepholes, clip,
    /// activations, new cell and hidden state.
    func lstmCell(_ pre: [Float], _ hs: inout [Float], _ cs: inout [Float], _ p: [Float]?, _ acts: [RecurrentActivation], _ h: Int) {
        let (f, g, hAct) = (acts[0], acts[1], acts[2])
        for j in 0..<h {
            let cPrev = cs[j]
            var iPre = pre[j], oPre = pre[h + j], fPre = pre[2 * h + j]
            if let p {
                iPre = iPre.addingProduct(p[j], cPrev)
                fPre = fPre.addingProduct(p[2 * h + j], cPrev)
            }
            // input_forget couples the gates as onnxruntime does: f = 1 − i.
            let it = f.apply(clipped(iPre))
            let ft = inputForget ? 1 - it : f.apply(clipped(fPre))
            let ct = g.apply(clipped(pre[3 * h + j]))
            let cNew = (ft * cPrev).addingProduct(it, ct)
            if let p { oPre = oPre.addingProduct(p[h + j], cNew) }
            let ot = f.apply(clipped(oPre))
            cs[j] = cNew
            hs[j] = ot * hAct.apply(cNew)
        }
    }
}

/// onnxruntime's contrib op `com.microsoft.DynamicQuantizeLSTM` (what onnxruntime's dynamic
/// quantisation makes of an LSTM): W [dirs, input, 4H] and R [dirs, H, 4H] are int8/uint8 with
/// per-direction or per-column scales and zero points. As onnxruntime computes it: X (all time
/// steps at once) and each step's H (each batch row on its own) are quantised to uint8 with
/// DynamicQuantizeLinear's rule (range widened to include 0; scale 1 when the range is empty);
/// the products are exact int32 sums; each is dequantised as Float(acc) · (s_in · s_w[col]);
/// pre = (x part + h part) + (Wb + Rb); then the LSTM cell. Layout 0 only.
struct DynamicQuantizeLSTMKernel: OpKernel {
    let lstm: RecurrentKernel
    /// Per direction (W − zp, W scales, R − zp, R scales), prepared at load when all are constants.
    let prepared: [([Int32], [Float], [Int32], [Float])]?

    init(_ n: NodeContext) throws {
        lstm = try RecurrentKernel(n, cell: .lstm)
        guard lstm.layout == 0 else { throw OpError("layout 1 is not supported") }
        var prep: [([Int32], [Float], [Int32], [Float])]? = nil
        if let w = n.constantInput(1), let r = n.constantInput(2), let ws = n.constantInput(8), let rs = n.constantInput(10),
           w.rank == 3, r.rank == 3, r.shape[1] >= 1, w.shape[2] == r.shape[2], w.shape[0] == lstm.directions.count {
            let wz = n.constantInput(9), rz = n.constantInput(11)
            let hasWZ = n.node.inputs.count > 9 && !n.node.inputs[9].isEmpty, hasRZ = n.node.inputs.count > 11 && !n.node.inputs[11].isEmpty
            if (!hasWZ || wz != nil) && (!hasRZ || rz != nil) {
                prep = try? (0..<w.shape[0]).map { d in
                    let (a, b) = try Self.weights(w, scale: ws, zero: wz, d: d, rows: w.shape[1], cols: w.shape[2])
                    let (c, e) = try Self.weights(r, scale: rs, zero: rz, d: d, rows: r.shape[1], cols: r.shape[2])
                    return (a, b, c, e)
                }
            }
        }
        prepared = prep
    }

    /// (values − zero point) as int32, scale: onnxruntime's GetQuantizationParameter.
    static func quantize(_ v: ArraySlice<Float>) -> ([Int32], Float) {
        var lo: Float = 0, hi: Float = 0
        for x in v { if x < lo { lo = x }; if x > hi { hi = x } }
        let scale: Float = hi == lo ? 1 : (hi - lo) / 255
        let zp = Int32(Swift.max(0, Swift.min(255, 0 - lo / scale)).rounded(.toNearestOrEven))
        let q = v.map { QuantizedOps.quantizeOne($0, scale: scale, zeroPoint: zp, lo: 0, hi: 255) &- zp }
        return (q, scale)
    }

    /// Per-column weights (w − zp) as int32 [rows, cols] and scales [cols] for direction d.
    static func weights(_ t: Tensor, scale: Tensor, zero: Tensor?, d: Int, rows: Int, cols: Int) throws -> ([Int32], [Float]) {
        let all = try QuantizedOps.widen(t, "weights")
        let s = try K.floats(scale, "scale")
        let z = try zero.map { try QuantizedOps.widen($0, "zero point") }
        let perColumn = s.count > t.shape[0]
        guard s.count == (perColumn ? t.shape[0] * cols : t.shape[0]) else { throw OpError("scale has \(s.count) values") }
        if let z, z.count != s.count { throw OpError("zero point has \(z.count) values, scale \(s.count)") }
        let base = d * rows * cols
        var w = [Int32](repeating: 0, count: rows * cols)
        var sc = [Float](repeating: 0, count: cols)
        for c in 0..<cols {
            let pi = perColumn ? d * cols + c : d
            sc[c] = s[pi]
            let zp = z?[pi] ?? 0
            for r in 0..<rows { w[r * cols + c] = all[base + r * cols + c] &- zp }
        }
        return (w, sc)
    }

    /// out[col] = Float(Σ_k q[k]·w[k, col]) · (scale · wScale[col]).
    static func project(_ q: ArraySlice<Int32>, _ scale: Float, _ w: [Int32], _ ws: [Float], cols: Int) -> [Float] {
        var acc = [Int32](repeating: 0, count: cols)
        acc.withUnsafeMutableBufferPointer { ap in w.withUnsafeBufferPointer { wp in
            let a = ap.baseAddress!
            var k = 0
            for v in q {
                if v != 0 {
                    let row = wp.baseAddress! + k * cols
                    for c in 0..<cols { a[c] = a[c] &+ v &* row[c] }
                }
                k += 1
            }
        } }
        return (0..<cols).map { Float(acc[$0]) * (scale * ws[$0]) }
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        let xT = try K.input(inputs, 0), wT = try K.input(inputs, 1), rT = try K.input(inputs, 2)
        guard xT.rank == 3, wT.rank == 3, rT.rank == 3 else { throw OpError("X, W and R must have rank 3") }
        let (seq, batch, inSize) = (xT.shape[0], xT.shape[1], xT.shape[2])
        let dirs = lstm.directions.count
        let h = lstm.hidden ?? rT.shape[1]
        guard h >= 1, h == rT.shape[1] else { throw OpError("R has shape \(rT.shape); hidden size \(h) must be ≥ 1 and match it") }
        guard wT.shape == [dirs, inSize, 4 * h], rT.shape == [dirs, h, 4 * h] else {
            throw OpError("W \(wT.shape) / R \(rT.shape) do not match [\(dirs), \(inSize)|\(h), \(4 * h)]")
        }
        let x = try K.floats(xT, "X")
        var bias = [Float](repeating: 0, count: dirs * 8 * h)
        if let b = K.optional(inputs, 3) {
            guard b.shape == [dirs, 8 * h] else { throw OpError("B has shape \(b.shape)") }
            bias = try K.floats(b, "B")
        }
        var lens = [Int](repeating: seq, count: batch)
        if let s = K.optional(inputs, 4) {
            lens = try K.ints(s, "sequence_lens")
            guard lens.count == batch, lens.allSatisfy({ $0 >= 0 && $0 <= seq }) else { throw OpError("bad sequence_lens") }
        }
        func state(_ i: Int) throws -> [Float] {
            guard let t = K.optional(inputs, i) else { return [Float](repeating: 0, count: dirs * batch * h) }
            guard t.shape == [dirs, batch, h] else { throw OpError("initial state has shape \(t.shape)") }
            return try K.floats(t, "initial state")
        }
        let h0 = try state(5), c0 = try state(6)
        let peep = try K.optional(inputs, 7).map { try K.floats($0, "P") }
        let (xq, xs) = Self.quantize(x[...])
        var y = [Float](repeating: 0, count: seq * dirs * batch * h)
        var yh = [Float](repeating: 0, count: dirs * batch * h), yc = yh
        for d in 0..<dirs {
            let (w, wsc, r, rsc): ([Int32], [Float], [Int32], [Float])
            if let p = prepared, d < p.count, p[d].0.count == inSize * 4 * h, p[d].2.count == h * 4 * h {
                (w, wsc, r, rsc) = p[d]
            } else {
                (w, wsc) = try Self.weights(wT, scale: K.input(inputs, 8, "W_scale"), zero: K.optional(inputs, 9), d: d, rows: inSize, cols: 4 * h)
                (r, rsc) = try Self.weights(rT, scale: K.input(inputs, 10, "R_scale"), zero: K.optional(inputs, 11), d: d, rows: h, cols: 4 * h)
            }
            let b = (0..<(4 * h)).map { bias[d * 8 * h + $0] + bias[d * 8 * h + 4 * h + $0] }
            let acts = Array(lstm.activations[(d * 3)..<(d * 3 + 3)])
            let pd = peep.map { Array($0[(d * 3 * h)..<((d + 1) * 3 * h)]) }
            var hs = Array(h0[(d * batch * h)..<((d + 1) * batch * h)])
            var cs = Array(c0[(d * batch * h)..<((d + 1) * batch * h)])
            for step in 0..<seq {
                for bi in 0..<batch where step < lens[bi] {
                    let (hq, hsc) = Self.quantize(hs[(bi * h)..<((bi + 1) * h)])
                    let t = lstm.directions[d] ? lens[bi] - 1 - step : step
                    let xp = Self.project(xq[((t * batch + bi) * inSize)..<((t * batch + bi + 1) * inSize)], xs, w, wsc, cols: 4 * h)
                    let hp = Self.project(hq[...], hsc, r, rsc, cols: 4 * h)
                    let pre = (0..<(4 * h)).map { (xp[$0] + hp[$0]) + b[$0] }
                    var hRow = Array(hs[(bi * h)..<((bi + 1) * h)]), cRow = Array(cs[(bi * h)..<((bi + 1) * h)])
                    lstm.lstmCell(pre, &hRow, &cRow, pd, acts, h)
                    hs.replaceSubrange((bi * h)..<((bi + 1) * h), with: hRow)
                    cs.replaceSubrange((bi * h)..<((bi + 1) * h), with: cRow)
                    let base = ((t * dirs + d) * batch + bi) * h
                    for j in 0..<h { y[base + j] = hRow[j] }
                }
            }
            for j in 0..<(batch * h) { yh[d * batch * h + j] = hs[j]; yc[d * batch * h + j] = cs[j] }
        }
        return [Tensor(shape: [seq, dirs, batch, h], floats: y), Tensor(shape: [dirs, batch, h], floats: yh), Tensor(shape: [dirs, batch, h], floats: yc)]
    }
}
