import Foundation
import MurmurKernels
import MurmurKernelBodies

/// Load-time fusion of float32 element-wise chains (Specs/inference.md §4, "Element-wise chains"):
/// Add Sub Mul Div (by same-shape values or one-element constants), Clip (constant bounds), Sqrt,
/// Exp Erf Sigmoid Tanh, Relu (on computed values: see `arithmeticProducers`), whose intermediate
/// values have all their readers inside the chain.
/// The fused kernel evaluates each node's own IEEE operation on each element, in chunks, so every
/// output bit is what the nodes compute one by one; it only saves the intermediate tensors and
/// their passes over memory. Inputs whose shapes differ at run time (broadcasting) or that are not
/// float32 run the original nodes in sequence.
enum ElementwiseFusion {
    /// `MURMUR_NO_ELEMENTWISE_FUSION=1` turns the fusion off (to compare bits and speed).
    static let enabled = ProcessInfo.processInfo.environment["MURMUR_NO_ELEMENTWISE_FUSION"] == nil
    /// One fused group: the sink node (whose output the group produces) and the absorbed nodes.
    struct Group {
        let sink: Int
        let members: [Int]          // node indices in execution order, sink last
        let externals: [String]     // non-constant values the group reads, in first-use order
        let kernel: FusedElementwise
    }

    static let binaryOps: [String: FusedElementwise.Op] = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div]
    static let unaryOps: [String: FusedElementwise.Op] = [
        "Sqrt": .sqrt, "Exp": .unary(.exp), "Erf": .unary(.erf), "Sigmoid": .unary(.sigmoid), "Tanh": .unary(.tanh),
    ]

    /// Ops whose float32 outputs are always results of IEEE arithmetic (never a signalling NaN),
    /// so Relu on them can run as clip(0, +∞) then + 0.0: the add turns −0 into +0 and leaves every
    /// other value (quiet NaNs included) unchanged — the bits of `x > 0 ? x : (x.isNaN ? x : 0)`.
    static let arithmeticProducers: Set<String> = [
        "Conv", "BatchNormalization", "Add", "Sub", "Mul", "Div", "Sqrt", "Exp", "Erf", "Sigmoid", "Tanh", "MatMul", "Gemm",
    ]
    /// Producers whose kernels can run a one-node group's program on their output (Conv+Fused,
    /// BatchNormalization+Fused), so a group of one node is worth forming after them.
    static let hostProducers: Set<String> = ["Conv", "BatchNormalization"]

    /// Groups of at least two nodes, or of one node right after a host producer. `constants` are values fixed at load time (initializers that
    /// cannot be fed, and Constant nodes' values); `excluded` nodes are taken by another fusion.
    static func groups(nodes: [NodeProto], order: [Int], opsetOf: (String) -> Int, constants: [String: Tensor],
                       graphOutputs: Set<String>, implicitReads: Set<String>, excluded: Set<Int>,
                       makeKernel: (Int) throws -> any OpKernel) -> [Group] {
        // Readers per value (every input slot of every node counts).
        var readers: [String: Int] = [:]
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for inp in n.inputs where !inp.isEmpty { readers[inp, default: 0] += 1 }
            for o in n.outputs where !o.isEmpty { producer[o] = i }
        }
        // Each eligible node as an instruction template: op and operands (value name or scalar).
        enum Operand { case value(String), scalar(Float) }
        var template: [Int: (op: FusedElementwise.Op, operands: [Operand])] = [:]
        func scalar(_ name: String) -> Float? {
            guard let t = constants[name], let f = t.floats, f.count == 1 else { return nil }
            return f[0]
        }
        for i in order where !excluded.contains(i) {
            let n = nodes[i]
            guard n.domain.isEmpty || n.domain == "ai.onnx", n.outputs.count == 1, !n.outputs[0].isEmpty else { continue }
            let opset = opsetOf(n.domain)
            if let op = binaryOps[n.opType], opset >= 7, n.inputs.count == 2, !n.inputs.contains("") {
                let ops = n.inputs.map { name in scalar(name).map(Operand.scalar) ?? (constants[name] == nil ? Operand.value(name) : nil) }
                guard let a = ops[0], let b = ops[1] else { continue }
                if case .scalar = a, case .scalar = b { continue }
                template[i] = (op, [a, b])
            } else if let op = unaryOps[n.opType], opset >= 6, n.inputs.count == 1, constants[n.inputs[0]] == nil {
                template[i] = (op, [.value(n.inputs[0])])
            } else if n.opType == "Relu", opset >= 6, n.inputs.count == 1, constants[n.inputs[0]] == nil,
                      let p = producer[n.inputs[0]], nodes[p].domain.isEmpty || nodes[p].domain == "ai.onnx",
                      arithmeticProducers.contains(nodes[p].opType) {
                template[i] = (.relu, [.value(n.inputs[0])])
            } else if n.opType == "Clip", opset >= 6, !n.inputs.isEmpty, constants[n.inputs[0]] == nil {
                var lo: Float = -.infinity, hi: Float = .infinity
                if opset < 11 {
                    lo = n.attribute("min").flatMap { if case let .float(v) = $0 { return v } else { return nil } } ?? -.infinity
                    hi = n.attribute("max").flatMap { if case let .float(v) = $0 { return v } else { return nil } } ?? .infinity
                } else {
                    if n.inputs.count > 1, !n.inputs[1].isEmpty { guard let v = scalar(n.inputs[1]) else { continue }; lo = v }
                    if n.inputs.count > 2, !n.inputs[2].isEmpty { guard let v = scalar(n.inputs[2]) else { continue }; hi = v }
                    if n.inputs.count > 3 { continue }
                }
                template[i] = (.clip(lo, hi), [.value(n.inputs[0])])
            }
        }
        // A value can be absorbed when an eligible node produces it and every reader of it is in
        // the group (so no one outside needs the intermediate tensor).
        var readersOf: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for inp in n.inputs where !inp.isEmpty { readersOf[inp, default: []].append(i) } }
        func absorbable(_ v: String) -> Int? {
            guard let p = producer[v], template[p] != nil, readers[v] != nil, !graphOutputs.contains(v),
                  !implicitReads.contains(v) else { return nil }
            return p
        }
        var absorbedBy: [Int: Int] = [:]     // producer node → sink
        var groups: [Group] = []
        // Sinks: eligible nodes whose output is not absorbed by an eligible reader. Visit in
        // reverse order so a sink is found before the nodes it absorbs.
        for i in order.reversed() where template[i] != nil && absorbedBy[i] == nil {
            // Collect the group: grow over absorbable operands until nothing changes (a value
            // read by several members joins once all its readers are members).
            var members = Set<Int>([i])
            var grew = true
            while grew {
                grew = false
                for j in members.sorted() {
                    guard let t = template[j] else { continue }
                    for case let .value(v) in t.operands {
                        if let p = absorbable(v), !members.contains(p), absorbedBy[p] == nil,
                           (readersOf[v] ?? []).allSatisfy(members.contains) {
                            members.insert(p); grew = true
                        }
                    }
                }
            }
            if members.count < 2 {
                // One node: only when it reads one computed value of a host producer.
                guard case let .value(v)? = template[i]?.operands.first, template[i]?.operands.count == 1,
                      let p = producer[v], hostProducers.contains(nodes[p].opType),
                      nodes[p].domain.isEmpty || nodes[p].domain == "ai.onnx" else { continue }
            }
            let ordered = order.filter { members.contains($0) }
            // Registers: externals first, then one per member (in execution order).
            var externals: [String] = []
            var regOf: [String: Int] = [:]
            var insts: [FusedElementwise.Inst] = []
            var fallbackSteps: [FusedElementwise.FallbackStep] = []
            var ok = true
            // First pass: externals in first-use order.
            for j in ordered {
                for case let .value(v) in template[j]?.operands ?? [] where !(members.contains(producer[v] ?? -1) && absorbable(v) != nil
                                                                               && (readersOf[v] ?? []).allSatisfy(members.contains)) {
                    if !externals.contains(v) { externals.append(v) }
                }
            }
            for (k, v) in externals.enumerated() { regOf[v] = k }
            for j in ordered {
                guard let t = template[j] else { ok = false; break }
                func operand(_ o: Operand) -> FusedElementwise.Operand {
                    switch o {
                    case let .scalar(s): return .scalar(s)
                    case let .value(v): return .register(regOf[v] ?? 0)
                    }
                }
                insts.append(FusedElementwise.Inst(op: t.op, a: operand(t.operands[0]), b: t.operands.count > 1 ? operand(t.operands[1]) : nil))
                regOf[nodes[j].outputs[0]] = externals.count + insts.count - 1
                // The original node, for inputs that do not fit the fused form at run time.
                guard let kernel = try? makeKernel(j) else { ok = false; break }
                let ins: [FusedElementwise.FallbackInput] = nodes[j].inputs.map { name in
                    if name.isEmpty { return .none }
                    if let r = regOf[name], r < externals.count || producer[name].map(members.contains) == true { return .register(r) }
                    if let c = constants[name] { return .constant(c) }
                    return .none
                }
                fallbackSteps.append(FusedElementwise.FallbackStep(kernel: kernel, inputs: ins))
            }
            guard ok else { continue }
            for j in members where j != i { absorbedBy[j] = i }
            let names = ordered.map { nodes[$0].opType }.joined(separator: "+")
            groups.append(Group(sink: i, members: ordered, externals: externals,
                                kernel: FusedElementwise(name: names, externalCount: externals.count, insts: insts,
                                                         constantShapes: constantShapes(ordered, nodes, constants),
                                                         fallback: fallbackSteps)))
        }
        return groups
    }

    /// Shapes of the constant operands (they take part in the output shape by broadcasting).
    static func constantShapes(_ members: [Int], _ nodes: [NodeProto], _ constants: [String: Tensor]) -> [[Int]] {
        var shapes: [[Int]] = []
        for j in members where binaryOps[nodes[j].opType] != nil {
            for name in nodes[j].inputs { if let c = constants[name] { shapes.append(c.shape) } }
        }
        return shapes
    }
}

/// The fused kernel of one element-wise group (see `ElementwiseFusion`).
struct FusedElementwise: OpKernel {
    /// `relu` runs as two kernel instructions (see `ElementwiseFusion.arithmeticProducers`).
    enum Op: Sendable { case add, sub, mul, div, sqrt, clip(Float, Float), unary(UnaryMath), relu }
    enum Operand: Sendable { case register(Int), scalar(Float) }
    struct Inst: Sendable { let op: Op; let a: Operand; let b: Operand? }
    enum FallbackInput: Sendable { case register(Int), constant(Tensor), none }
    struct FallbackStep: Sendable { let kernel: any OpKernel; let inputs: [FallbackInput] }

    let name: String
    let externalCount: Int
    let insts: [Inst]
    let constantShapes: [[Int]]
    let fallback: [FallbackStep]

    static let chunk = 512

    /// `insts` as the kernels' element-wise program.
    /// (An instruction may expand to several kernel instructions: registers are renumbered.)
    var program: [EltInst] {
        var out: [EltInst] = []
        var regOfInst: [Int32] = []     // inst k's result register in the kernel program
        for inst in insts {
            func reg(_ o: Operand?) -> (Int32, Float) {
                switch o {
                case let .register(r)?:
                    if r < externalCount { return (Int32(r), 0) }
                    let k = r - externalCount
                    return (k < regOfInst.count ? regOfInst[k] : Int32(r), 0)
                case let .scalar(v)?: return (-1, v)
                case nil: return (-1, 0)
                }
            }
            let (a, sa) = reg(inst.a), (b, sb) = reg(inst.b)
            switch inst.op {
            case .add: out.append(EltInst(code: .add, a: a, b: b, sa: sa, sb: sb))
            case .sub: out.append(EltInst(code: .sub, a: a, b: b, sa: sa, sb: sb))
            case .mul: out.append(EltInst(code: .mul, a: a, b: b, sa: sa, sb: sb))
            case .div: out.append(EltInst(code: .div, a: a, b: b, sa: sa, sb: sb))
            case .sqrt: out.append(EltInst(code: .sqrt, a: a))
            case let .clip(lo, hi): out.append(EltInst(code: .clip, a: a, sa: lo, sb: hi))
            case let .unary(f): out.append(EltInst(code: .unary, a: a, unary: f))
            case .relu:
                out.append(EltInst(code: .clip, a: a, sa: 0, sb: .infinity))
                out.append(EltInst(code: .add, a: Int32(externalCount + out.count - 1), b: -1, sa: 0, sb: 0))
            }
            regOfInst.append(Int32(externalCount + out.count - 1))
        }
        return out
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        let ext = inputs.compactMap { $0 }
        guard ext.count == externalCount, let first = ext.first else { return try runFallback(inputs, context) }
        var arrays: [[Float]] = []
        arrays.reserveCapacity(ext.count)
        for t in ext {
            guard let f = t.floats else { return try runFallback(inputs, context) }
            arrays.append(f)
        }
        guard let shape = try? Broadcast.shape(ext.map(\.shape) + constantShapes) else {
            return try runFallback(inputs, context)
        }
        let n = shape.reduce(1, *)
        // Every external must cover the output (constants are one-element scalars); a smaller
        // external (an attention mask, say) is expanded to the output shape first: each output
        // element still reads the same input elements, so the bits are unchanged.
        guard ext.contains(where: { $0.shape == shape }) else { return try runFallback(inputs, context) }
        for (k, t) in ext.enumerated() where t.shape != shape {
            guard n <= 1 << 24 else { return try runFallback(inputs, context) }
            arrays[k] = FusedElementwise.expand(arrays[k], t.shape, to: shape)
        }
        let regs = externalCount + insts.count
        var pointers = [UnsafePointer<Float>?](repeating: nil, count: regs)
        let out = [Float](unsafeUninitializedCapacity: n) { buf, count in
            withPointers(arrays, 0, &pointers) { pointers in
                // The program runs inside the ISA module (vector width of the machine).
                let ext = pointers.prefix(externalCount).compactMap { $0 }
                guard ext.count == externalCount, let o = buf.baseAddress else { return }
                program.withUnsafeBufferPointer { ip in
                    ext.withUnsafeBufferPointer { ep in Elementwise.run(ip, externals: ep, output: o, count: n) }
                }
            }
            count = n
        }
        return [Tensor(shape: shape, floats: out)]
    }

    /// `values` of `shape` broadcast to `out`: a trailing block repeated when `shape` is `out`'s
    /// suffix after leading ones, the general index map otherwise.
    static func expand(_ values: [Float], _ shape: [Int], to out: [Int]) -> [Float] {
        let core = Array(shape.drop { $0 == 1 })
        let total = out.reduce(1, *)
        if core.count <= out.count, Array(out.suffix(core.count)) == core, !values.isEmpty {
            let block = values.count
            return [Float](unsafeUninitializedCapacity: total) { buf, count in
                values.withUnsafeBufferPointer { src in
                    var o = 0
                    while o < total { (buf.baseAddress! + o).initialize(from: src.baseAddress!, count: block); o += block }
                }
                count = total
            }
        }
        return Broadcast.expand(values, shape, to: out)
    }

    /// Binds every external array's base address (nested `withUnsafeBufferPointer`).
    private func withPointers(_ arrays: [[Float]], _ i: Int, _ p: inout [UnsafePointer<Float>?],
                              _ body: ([UnsafePointer<Float>?]) -> Void) {
        if i == arrays.count { body(p); return }
        arrays[i].withUnsafeBufferPointer { b in
            p[i] = b.baseAddress
            withPointers(arrays, i + 1, &p, body)
        }
    }

    /// One node's IEEE operation on `len` elements (the same expression the node's kernel uses).
    @inline(__always)
    static func execute(_ inst: Inst, _ p: [UnsafePointer<Float>?], _ d: UnsafeMutablePointer<Float>, _ len: Int) {
        switch inst.op {
        case .add: binary(inst, p, d, len, { $0 + $1 }, { $0 + $1 })
        case .sub: binary(inst, p, d, len, { $0 - $1 }, { $0 - $1 })
        case .mul: binary(inst, p, d, len, { $0 * $1 }, { $0 * $1 })
        case .div: binary(inst, p, d, len, { $0 / $1 }, { $0 / $1 })
        case .sqrt:
            guard case let .register(r) = inst.a, let x = p[r] else { return }
            var i = 0
            while i < (len & ~7) { store(load(x + i).squareRoot(), d + i); i += 8 }
            while i < len { d[i] = x[i].squareRoot(); i += 1 }
        case let .clip(lo, hi):
            guard case let .register(r) = inst.a, let x = p[r] else { return }
            let lv = V(repeating: lo), hv = V(repeating: hi)
            var i = 0
            while i < (len & ~7) {
                var v = load(x + i)
                v.replace(with: lv, where: v .< lv)      // lanes: v < lo ? lo : v (NaN stays)
                v.replace(with: hv, where: v .> hv)
                store(v, d + i)
                i += 8
            }
            while i < len {
                var v = x[i]
                v = v < lo ? lo : v
                v = v > hi ? hi : v
                d[i] = v
                i += 1
            }
        case .relu:
            guard case let .register(r) = inst.a, let x = p[r] else { return }
            for i in 0..<len { d[i] = x[i] > 0 ? x[i] : (x[i].isNaN ? x[i] : 0) }
        case let .unary(f):
            guard case let .register(r) = inst.a, let x = p[r] else { return }
            DetMath.apply(f, UnsafeBufferPointer(start: x, count: len), into: UnsafeMutableBufferPointer(start: d, count: len))
        }
    }

    typealias V = SIMD8<Float>
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    /// Lane-wise over 8 elements at a time (each lane is the scalar IEEE operation), then the tail.
    @inline(__always)
    static func binary(_ inst: Inst, _ p: [UnsafePointer<Float>?], _ d: UnsafeMutablePointer<Float>, _ len: Int,
                       _ f: (Float, Float) -> Float, _ fv: (V, V) -> V) {
        let vecEnd = len & ~7
        switch (inst.a, inst.b) {
        case let (.register(ra), .register(rb)?):
            guard let x = p[ra], let y = p[rb] else { return }
            var i = 0
            while i < vecEnd { store(fv(load(x + i), load(y + i)), d + i); i += 8 }
            while i < len { d[i] = f(x[i], y[i]); i += 1 }
        case let (.register(ra), .scalar(s)?):
            guard let x = p[ra] else { return }
            let sv = V(repeating: s)
            var i = 0
            while i < vecEnd { store(fv(load(x + i), sv), d + i); i += 8 }
            while i < len { d[i] = f(x[i], s); i += 1 }
        case let (.scalar(s), .register(rb)?):
            guard let y = p[rb] else { return }
            let sv = V(repeating: s)
            var i = 0
            while i < vecEnd { store(fv(sv, load(y + i)), d + i); i += 8 }
            while i < len { d[i] = f(s, y[i]); i += 1 }
        default: return
        }
    }

    /// The original nodes one by one (broadcasting or other types at run time).
    func runFallback(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        try Self.runSteps(fallback, externals: externalCount, inputs, context, name: name)
    }

    /// Runs fused nodes one by one: registers are the `externals` inputs, then each step's output;
    /// the last step's output is the result. Shared by every fused step's fallback.
    static func runSteps(_ steps: [FallbackStep], externals: Int, _ inputs: [Tensor?], _ context: RunContext,
                         name: String) throws -> [Tensor] {
        var regs = [Tensor?](repeating: nil, count: externals + steps.count)
        for k in 0..<min(externals, inputs.count) { regs[k] = inputs[k] }
        var last: Tensor?
        for (k, step) in steps.enumerated() {
            let ins: [Tensor?] = step.inputs.map {
                switch $0 {
                case let .register(r): return r < regs.count ? regs[r] : nil
                case let .constant(t): return t
                case .none: return nil
                }
            }
            guard let y = try step.kernel.run(ins, context).first else { throw OpError("\(name): a fused node produced no output") }
            regs[externals + k] = y
            last = y
        }
        guard let last else { throw OpError("\(name): empty fused group") }
        return [last]
    }
}
