import MurmurCore

/// A graph compiled for execution: value slots, prepared kernels in topological order and the
/// step after which each value is released.
public final class CompiledGraph: Sendable {
    struct Step: Sendable {
        let kernel: any OpKernel
        let opType: String
        let name: String
        let inputs: [Int?]
        let outputs: [Int?]
        /// Slots whose last reader is this step (released right after it runs).
        let release: [Int]
        /// Outer-scope values this step's subgraphs read (If / Loop bodies); handed to the
        /// kernel in `RunContext.outerScope`.
        var scopeSlots: [Int] = []
    }

    let slotNames: [String]
    let constants: [(slot: Int, tensor: Tensor)]
    /// Graph inputs the caller must (or may, when an initializer provides a default) feed.
    public let inputs: [ValueInfo]
    let inputSlots: [Int]
    public let outputs: [ValueInfo]
    let outputSlots: [Int]
    let steps: [Step]
    /// The largest input count of a step (the run's argument buffer is sized once).
    let maxStepInputs: Int
    /// Names read by this graph but defined outside it (outer-scope values of a subgraph).
    public let freeVariables: [String]

    /// Compiles `graph`. `outerNames` are values visible from enclosing graphs.
    public init(graph: GraphProto, opsetImports: [OpsetImport], registry: OpRegistry,
                outerNames: Set<String> = []) throws(InferenceError) {
        let missing = CompiledGraph.missingOperators(graph: graph, opsetImports: opsetImports, registry: registry)
        if !missing.isEmpty { throw .unsupportedOperators(missing) }

        var slotOf: [String: Int] = [:]
        var names: [String] = []
        func slot(_ n: String) -> Int {
            if let s = slotOf[n] { return s }
            slotOf[n] = names.count
            names.append(n)
            return names.count - 1
        }
        var defined = Set<String>()
        var consts: [(Int, Tensor)] = []
        let initNames = Set(graph.initializers.map(\.name))
        for t in graph.initializers {
            consts.append((slot(t.name), try Tensor(proto: t)))
            defined.insert(t.name)
        }
        // Initializers that are also graph inputs can be overridden by a feed: not constants.
        let overridable = Set(graph.inputs.map(\.name))
        var constantByName: [String: Tensor] = [:]
        for (s, t) in consts where !overridable.contains(names[s]) { constantByName[names[s]] = t }
        var ins: [ValueInfo] = []
        var inSlots: [Int] = []
        for v in graph.inputs where !initNames.contains(v.name) {
            guard v.isTensor else { throw .invalidModel("input '\(v.name)' is not a tensor (sequences and maps are not supported)") }
            if DType(rawValue: v.elementType) == nil, v.elementType != 0 {
                throw .unsupportedDataType(v.elementType, context: "input '\(v.name)'")
            }
            ins.append(v)
            inSlots.append(slot(v.name))
            defined.insert(v.name)
        }

        // Topological order (Kahn), stable with respect to file order.
        let nodes = graph.nodes
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.outputs where !o.isEmpty {
                if producer[o] != nil || defined.contains(o) {
                    throw .invalidModel("value '\(o)' is defined more than once")
                }
                producer[o] = i
            }
        }
        var implicit: [[String]] = Array(repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for a in n.attributes {
                switch a.value {
                case let .graph(g): implicit[i] += CompiledGraph.freeNames(of: g)
                case let .graphs(gs): for g in gs { implicit[i] += CompiledGraph.freeNames(of: g) }
                default: break
                }
            }
        }
        var indegree = [Int](repeating: 0, count: nodes.count)
        var dependents: [[Int]] = Array(repeating: [], count: nodes.count)
        var free = Set<String>()
        for (i, n) in nodes.enumerated() {
            for inp in n.inputs + implicit[i] where !inp.isEmpty {
                if let p = producer[inp] {
                    indegree[i] += 1
                    dependents[p].append(i)
                } else if !defined.contains(inp) {
                    if outerNames.contains(inp) { free.insert(inp) } else {
                        throw .invalidModel("node '\(n.name)' (\(n.opType)) reads '\(inp)', which nothing defines")
                    }
                }
            }
        }
        var ready = (0..<nodes.count).filter { indegree[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        var head = 0
        // Keep file order among ready nodes: a min-heap would be tidier; the ready list is
        // appended in dependency order, which is deterministic.
        while head < ready.count {
            let i = ready[head]; head += 1
            order.append(i)
            for d in dependents[i] {
                indegree[d] -= 1
                if indegree[d] == 0 { ready.append(d) }
            }
        }
        guard order.count == nodes.count else { throw .invalidModel("the graph has a cycle") }

        for v in graph.outputs where producer[v.name] == nil && !defined.contains(v.name) && !outerNames.contains(v.name) {
            throw .invalidModel("graph output '\(v.name)' is never computed")
        }

        // Prepare kernels (with bit-neutral fusions).
        // Values fixed at load time: initializers that cannot be fed, and Constant nodes' values
        // (paddle2onnx writes every weight as a Constant node).
        var foldable = constantByName
        for n in nodes where n.opType == "Constant" && (n.domain.isEmpty || n.domain == "ai.onnx") && n.outputs.count == 1 {
            if case let .tensor(tp)? = n.attribute("value"), let t = try? Tensor(proto: tp) { foldable[n.outputs[0]] = t }
        }
        let fused = Fusion.matMulBias(nodes: nodes, constants: foldable, graphOutputs: Set(graph.outputs.map(\.name)),
                                      implicitReads: Set(implicit.flatMap { $0 }))
        let absorbed = Set(fused.values.map(\.addNode))
        // Element-wise chains as one pass (bit-neutral, see ElementwiseFusion).
        let makeNodeKernel = { (i: Int) throws -> any OpKernel in
            let n = nodes[i]
            let version = CompiledGraph.opsetVersion(n.domain, opsetImports) ?? 0
            guard let def = registry.lookup(opType: n.opType, domain: n.domain, version: version) else {
                throw InferenceError.unsupportedOperators([OperatorRef(opType: n.opType, domain: n.domain, version: version)])
            }
            return try def.make(NodeContext(node: n, opset: version, registry: registry, opsetImports: opsetImports,
                                            constants: constantByName))
        }
        // Decomposed LayerNorms (with their residual Add) as one pass (bit-neutral, see LayerNormFusion).
        let lnGroups = LayerNormFusion.groups(
            nodes: nodes, opsetOf: { CompiledGraph.opsetVersion($0, opsetImports) ?? 0 }, constants: foldable,
            graphOutputs: Set(graph.outputs.map(\.name)), implicitReads: Set(implicit.flatMap { $0 }),
            excluded: absorbed.union(fused.keys), makeKernel: makeNodeKernel)
        let lnBySink = Dictionary(lnGroups.map { ($0.sink, $0) }, uniquingKeysWith: { a, _ in a })
        let lnMembers = Set(lnGroups.flatMap(\.members))
        let lnAway = lnMembers.subtracting(lnBySink.keys)
        // Transposes around a MatMul of computed values as strided GEMM operands (see MatMulViewFusion).
        let viewGroups = MatMulViewFusion.groups(
            nodes: nodes, order: order, constants: foldable, graphOutputs: Set(graph.outputs.map(\.name)),
            implicitReads: Set(implicit.flatMap { $0 }), excluded: absorbed.union(fused.keys).union(lnMembers),
            makeKernel: makeNodeKernel)
        let viewBySink = Dictionary(viewGroups.map { ($0.sink, $0) }, uniquingKeysWith: { a, _ in a })
        let viewMembers = Set(viewGroups.flatMap(\.members))
        let viewAway = viewMembers.subtracting(viewBySink.keys)
        let eltGroups = !ElementwiseFusion.enabled ? [] : ElementwiseFusion.groups(
            nodes: nodes, order: order, opsetOf: { CompiledGraph.opsetVersion($0, opsetImports) ?? 0 }, constants: foldable,
            graphOutputs: Set(graph.outputs.map(\.name)), implicitReads: Set(implicit.flatMap { $0 }),
            excluded: absorbed.union(fused.keys).union(lnMembers).union(viewMembers), makeKernel: makeNodeKernel)
        let groupBySink = Dictionary(eltGroups.map { ($0.sink, $0) }, uniquingKeysWith: { a, _ in a })
        let fusedAway = Set(eltGroups.flatMap { g in g.members.filter { $0 != g.sink } })
        // A Conv whose output only one element-wise group reads (and that group reads nothing
        // else): the group's program runs on each finished conv output tile (same bits, one pass
        // over memory less). The conv then runs at the group's place in the order.
        var convOfSink: [Int: Int] = [:]
        var readerNodes: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for inp in n.inputs where !inp.isEmpty { readerNodes[inp, default: []].append(i) } }
        let outputNames = Set(graph.outputs.map(\.name)), implicitNames = Set(implicit.flatMap { $0 })
        for g in eltGroups where g.externals.count == 1 {
            let v = g.externals[0]
            guard let c = producer[v], nodes[c].opType == "Conv", nodes[c].domain.isEmpty || nodes[c].domain == "ai.onnx",
                  nodes[c].outputs.count == 1, !absorbed.contains(c), fused[c] == nil, !outputNames.contains(v),
                  !implicitNames.contains(v), (readerNodes[v] ?? []).allSatisfy(g.members.contains) else { continue }
            convOfSink[g.sink] = c
        }
        let convAway = Set(convOfSink.values)
        // Likewise an inference-mode BatchNormalization (BN then Relu): see `BatchNormFused`.
        var bnOfSink: [Int: Int] = [:]
        for g in eltGroups where g.externals.count == 1 && convOfSink[g.sink] == nil {
            let v = g.externals[0]
            guard let b = producer[v], nodes[b].opType == "BatchNormalization", nodes[b].domain.isEmpty || nodes[b].domain == "ai.onnx",
                  nodes[b].inputs.count == 5, !nodes[b].inputs.contains(""), nodes[b].outputs.first == v,
                  nodes[b].outputs.dropFirst().allSatisfy(\.isEmpty), !absorbed.contains(b), fused[b] == nil,
                  !outputNames.contains(v), !implicitNames.contains(v),
                  (readerNodes[v] ?? []).allSatisfy(g.members.contains) else { continue }
            bnOfSink[g.sink] = b
        }
        let bnAway = Set(bnOfSink.values)
        // …and a 2×2 stride-2 pool that alone reads such a step's output pools each finished plane.
        var poolOfBNSink: [Int: Int] = [:]     // group sink → pool node
        for sink in bnOfSink.keys {
            let v = nodes[sink].outputs[0]
            guard !outputNames.contains(v), !implicitNames.contains(v), let rs = readerNodes[v], rs.count == 1,
                  PoolOps.is2x2Stride2(nodes[rs[0]]) else { continue }
            poolOfBNSink[sink] = rs[0]
        }
        let bnSinkOfPool = Dictionary(poolOfBNSink.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        // Likewise a MatMul + bias (packed weights) whose output only one element-wise group reads
        // (GELU in a transformer's feed-forward layer): the group runs on each finished GEMM block.
        var matMulOfSink: [Int: (node: Int, kernel: MatMulOps.PackedMatMul)] = [:]
        for g in eltGroups where g.externals.count == 1 && convOfSink[g.sink] == nil {
            let v = g.externals[0]
            guard let addI = producer[v], let (c, f) = fused.first(where: { $0.value.addNode == addI }),
                  !outputNames.contains(v), !implicitNames.contains(v), (readerNodes[v] ?? []).allSatisfy(g.members.contains),
                  let w = foldable[nodes[c].inputs[1]], var kernel = MatMulOps.packed(w, bias: f.bias, biasShape: f.biasShape) else { continue }
            kernel.post = g.kernel
            matMulOfSink[g.sink] = (c, kernel)
        }
        let matMulAway = Set(matMulOfSink.values.map(\.node))
        var prepared: [(kernel: any OpKernel, inputs: [Int?], outputs: [Int?], reads: [Int], opType: String)] = []
        for i in order where !absorbed.contains(i) && !fusedAway.contains(i) && !convAway.contains(i) && !lnAway.contains(i) && !viewAway.contains(i) && !matMulAway.contains(i) && !bnAway.contains(i) {
            let n = nodes[i]
            if let (c, kernel) = matMulOfSink[i], let g = groupBySink[i] {
                let ins: [Int?] = [slot(nodes[c].inputs[0])]
                prepared.append((kernel, ins, [slot(n.outputs[0])], ins.compactMap { $0 }, "MatMul+Add+Fused(\(g.kernel.name))"))
                continue
            }
            if let g = viewBySink[i] {
                let ins: [Int?] = g.externals.map { slot($0) }
                prepared.append((g.kernel, ins, [slot(n.outputs[0])], ins.compactMap { $0 }, "Fused(\(g.kernel.name))"))
                continue
            }
            if let g = lnBySink[i] {
                let ins: [Int?] = g.externals.map { slot($0) }
                prepared.append((g.kernel, ins, [slot(n.outputs[0])], ins.compactMap { $0 }, "Fused(\(g.kernel.name))"))
                continue
            }
            if let g = groupBySink[i], let c = convOfSink[i] {
                let cn = nodes[c]
                let version = CompiledGraph.opsetVersion(cn.domain, opsetImports) ?? 0
                // Conv packs constant weights at load time, Constant-node weights included.
                let ctx = NodeContext(node: cn, opset: version, registry: registry, opsetImports: opsetImports, constants: foldable)
                let kernel: any OpKernel
                do { kernel = try ConvOps.convKernel(ctx, post: g.kernel.program, postShapes: g.kernel.constantShapes) }
                catch let e as InferenceError { throw e } catch {
                    throw .invalidOperation(op: cn.opType, node: cn.name, detail: "\(error)")
                }
                let ins: [Int?] = cn.inputs.map { $0.isEmpty ? nil : slot($0) }
                prepared.append((kernel, ins, [slot(n.outputs[0])], ins.compactMap { $0 }, "Conv+Fused(\(g.kernel.name))"))
                continue
            }
            if poolOfBNSink[i] != nil { continue }       // runs at its pool's place
            if let sink = bnSinkOfPool[i], let g = groupBySink[sink], let b = bnOfSink[sink] {
                let bn = nodes[b]
                let version = CompiledGraph.opsetVersion(bn.domain, opsetImports) ?? 0
                let ctx = NodeContext(node: bn, opset: version, registry: registry, opsetImports: opsetImports, constants: constantByName)
                let bnKernel: any OpKernel, poolKernel: any OpKernel
                do { bnKernel = try makeNodeKernel(b); poolKernel = try makeNodeKernel(i) } catch let e as InferenceError { throw e } catch {
                    throw .invalidOperation(op: n.opType, node: n.name, detail: "\(error)")
                }
                let ins: [Int?] = bn.inputs.map { slot($0) }
                if var kernel = BatchNormFused.make(ctx, bn: bnKernel, post: g.kernel) {
                    kernel.pool = (poolKernel, n.opType == "AveragePool")
                    prepared.append((kernel, ins, [slot(n.outputs[0])], ins.compactMap { $0 },
                                     "BatchNormalization+Fused(\(g.kernel.name))+\(n.opType)"))
                } else {
                    prepared.append((bnKernel, ins, bn.outputs.map { $0.isEmpty ? nil : slot($0) }, ins.compactMap { $0 }, bn.opType))
                    let gi: [Int?] = g.externals.map { slot($0) }
                    prepared.append((g.kernel, gi, [slot(nodes[sink].outputs[0])], gi.compactMap { $0 }, "Fused(\(g.kernel.name))"))
                    let pi: [Int?] = [slot(nodes[sink].outputs[0])]
                    prepared.append((poolKernel, pi, [slot(n.outputs[0])], pi.compactMap { $0 }, n.opType))
                }
                continue
            }
            if let g = groupBySink[i], let b = bnOfSink[i] {
                let bn = nodes[b]
                let version = CompiledGraph.opsetVersion(bn.domain, opsetImports) ?? 0
                let ctx = NodeContext(node: bn, opset: version, registry: registry, opsetImports: opsetImports, constants: constantByName)
                let bnKernel: any OpKernel
                do { bnKernel = try makeNodeKernel(b) } catch let e as InferenceError { throw e } catch {
                    throw .invalidOperation(op: bn.opType, node: bn.name, detail: "\(error)")
                }
                let ins: [Int?] = bn.inputs.map { slot($0) }
                if let kernel = BatchNormFused.make(ctx, bn: bnKernel, post: g.kernel) {
                    prepared.append((kernel, ins, [slot(n.outputs[0])], ins.compactMap { $0 }, "BatchNormalization+Fused(\(g.kernel.name))"))
                } else {
                    // Training mode: the two steps as they were.
                    prepared.append((bnKernel, ins, bn.outputs.map { $0.isEmpty ? nil : slot($0) }, ins.compactMap { $0 }, bn.opType))
                    let gi: [Int?] = g.externals.map { slot($0) }
                    prepared.append((g.kernel, gi, [slot(n.outputs[0])], gi.compactMap { $0 }, "Fused(\(g.kernel.name))"))
                }
                continue
            }
            if let g = groupBySink[i] {
                let ins: [Int?] = g.externals.map { slot($0) }
                prepared.append((g.kernel, ins, [slot(n.outputs[0])], ins.compactMap { $0 }, "Fused(\(g.kernel.name))"))
                continue
            }
            if let f = fused[i], let w = foldable[n.inputs[1]], let kernel = MatMulOps.packed(w, bias: f.bias, biasShape: f.biasShape) {
                let add = nodes[f.addNode]
                let inS: [Int?] = [slot(n.inputs[0])]
                prepared.append((kernel, inS, [slot(add.outputs[0])], [slot(n.inputs[0])], "MatMul+Add"))
                continue
            }
            let version = CompiledGraph.opsetVersion(n.domain, opsetImports) ?? 0
            guard let def = registry.lookup(opType: n.opType, domain: n.domain, version: version) else {
                throw .unsupportedOperators([OperatorRef(opType: n.opType, domain: n.domain, version: version)])
            }
            // MatMul and Conv pack constant weights at load time, Constant-node weights included.
            let ctx = NodeContext(node: n, opset: version, registry: registry, opsetImports: opsetImports,
                                  constants: n.opType == "MatMul" || n.opType == "Conv" ? foldable : constantByName)
            let kernel: any OpKernel
            do { kernel = try def.make(ctx) } catch let e as InferenceError { throw e } catch {
                throw .invalidOperation(op: n.opType, node: n.name, detail: "\(error)")
            }
            let inS: [Int?] = n.inputs.map { $0.isEmpty ? nil : slot($0) }
            let outS: [Int?] = n.outputs.map { $0.isEmpty ? nil : slot($0) }
            // A Constant node's value is fixed at load: it joins the constants (no step per run).
            if n.opType == "Constant", n.domain.isEmpty || n.domain == "ai.onnx", inS.isEmpty, outS.count == 1, let out = outS[0],
               let value = try? kernel.run([], RunContext(threads: 1)).first {
                consts.append((out, value))
                continue
            }
            let reads = inS.compactMap { $0 } + implicit[i].map { slot($0) }
            prepared.append((kernel, inS, outS, reads, n.opType))
        }
        let outSlots = graph.outputs.map { slot($0.name) }
        // Last use of each slot; graph outputs are never released.
        var lastUse = [Int](repeating: -1, count: names.count)
        for (si, p) in prepared.enumerated() { for s in p.reads { lastUse[s] = si } }
        for s in outSlots { lastUse[s] = Int.max }
        var steps: [Step] = []
        for (si, p) in prepared.enumerated() {
            let rel = Array(Set(p.reads.filter { lastUse[$0] == si })).sorted()
            let firstOut = p.outputs.compactMap { $0 }.first.map { names[$0] } ?? ""
            var step = Step(kernel: p.kernel, opType: p.opType, name: firstOut,
                            inputs: p.inputs, outputs: p.outputs, release: rel)
            // Outer-scope values the node's subgraphs read: `reads` lists them after the inputs.
            step.scopeSlots = Array(Set(p.reads.dropFirst(p.inputs.compactMap { $0 }.count))).sorted()
            steps.append(step)
        }
        slotNames = names
        constants = consts
        inputs = ins
        inputSlots = inSlots
        outputs = graph.outputs
        outputSlots = outSlots
        self.steps = steps
        maxStepInputs = steps.map(\.inputs.count).max() ?? 0
        freeVariables = free.sorted()
    }

    static func opsetVersion(_ domain: String, _ imports: [OpsetImport]) -> Int? {
        let d = domain == "ai.onnx" ? "" : domain
        return imports.first { ($0.domain == "ai.onnx" ? "" : $0.domain) == d }?.version
    }

    /// Operators in `graph` (and its subgraphs) that `registry` lacks, sorted, without duplicates.
    public static func missingOperators(graph: GraphProto, opsetImports: [OpsetImport], registry: OpRegistry) -> [OperatorRef] {
        var missing = Set<OperatorRef>()
        func visit(_ g: GraphProto) {
            for n in g.nodes {
                let v = opsetVersion(n.domain, opsetImports) ?? 0
                if registry.lookup(opType: n.opType, domain: n.domain, version: v) == nil {
                    missing.insert(OperatorRef(opType: n.opType, domain: n.domain, version: v))
                }
                for a in n.attributes {
                    if case let .graph(sg) = a.value { visit(sg) }
                    if case let .graphs(gs) = a.value { gs.forEach(visit) }
                }
            }
        }
        visit(graph)
        return missing.sorted()
    }

    /// Names a (sub)graph reads that it does not define itself.
    static func freeNames(of g: GraphProto) -> [String] {
        var defined = Set(g.initializers.map(\.name) + g.inputs.map(\.name))
        for n in g.nodes { for o in n.outputs { defined.insert(o) } }
        var free: [String] = []
        var seen = Set<String>()
        for n in g.nodes {
            var reads = n.inputs
            for a in n.attributes {
                if case let .graph(sg) = a.value { reads += freeNames(of: sg) }
                if case let .graphs(gs) = a.value { for sg in gs { reads += freeNames(of: sg) } }
            }
            for r in reads where !r.isEmpty && !defined.contains(r) && !seen.contains(r) {
                seen.insert(r); free.append(r)
            }
        }
        for o in g.outputs where !defined.contains(o.name) && !seen.contains(o.name) {
            seen.insert(o.name); free.append(o.name)
        }
        return free
    }

    /// Runs the graph. `feeds` must already be validated (see `InferenceModel.validate`).
    public func run(feeds: [String: Tensor], context: RunContext) throws(InferenceError) -> [Tensor] {
        var values = [Tensor?](repeating: nil, count: slotNames.count)
        for (s, t) in constants { values[s] = t }
        for (i, s) in inputSlots.enumerated() {
            if let t = feeds[inputs[i].name] { values[s] = t }
        }
        let profiling = OpProfile.enabled
        // One argument array for every step (its buffer is reused; kernels do not keep it).
        var args: [Tensor?] = []
        args.reserveCapacity(maxStepInputs)
        for step in steps {
            if let stop = context.shouldStop, stop() { throw .stopped(before: step.name) }
            let t0 = profiling ? OpProfile.now() : 0
            for s in step.inputs {
                if let s {
                    if let v = values[s] { args.append(v) }
                    else if let v = context.outerScope[slotNames[s]] { args.append(v) }
                    else { throw .invalidOperation(op: step.opType, node: step.name, detail: "input '\(slotNames[s])' has no value") }
                } else {
                    args.append(nil)
                }
            }
            let results: [Tensor]
            var stepContext = context
            if !step.scopeSlots.isEmpty {
                var scope = context.outerScope
                for s in step.scopeSlots { if let v = values[s] { scope[slotNames[s]] = v } }
                stepContext = RunContext(threads: context.threads, outerScope: scope, shouldStop: context.shouldStop)
            }
            do {
                results = try step.kernel.run(args, stepContext)
            } catch let e as InferenceError {
                throw e
            } catch {
                throw .invalidOperation(op: step.opType, node: step.name, detail: "\(error)")
            }
            if profiling {
                let shapes = args.map { $0.map { "\($0.shape)" } ?? "-" }.joined(separator: " ")
                OpProfile.add("\(step.opType) \(shapes)", ns: OpProfile.now() - t0)
            }
            args.removeAll(keepingCapacity: true)
            for s in step.release { values[s] = nil }
            for (i, s) in step.outputs.enumerated() {
                guard let s else { continue }
                guard i < results.count else {
                    throw .invalidOperation(op: step.opType, node: step.name, detail: "output \(i) was not produced")
                }
                values[s] = results[i]
            }
        }
        var out: [Tensor] = []
        for (i, s) in outputSlots.enumerated() {
            if let v = values[s] ?? context.outerScope[slotNames[s]] { out.append(v) } else {
                throw .invalidModel("graph output '\(outputs[i].name)' was not computed")
            }
        }
        return out
    }
}

/// A named output tensor.
public struct NamedTensor: Sendable, Equatable {
    public let name: String
    public let tensor: Tensor
    public init(name: String, tensor: Tensor) { self.name = name; self.tensor = tensor }
}

/// The outputs of one inference, in graph order, and their canonical hash.
public struct InferenceResult: Sendable {
    public let outputs: [NamedTensor]
    /// BLAKE2b-256 of `OutputHash.encode(outputs)` (see Specs/inference.md).
    public var hash: Hash { OutputHash.of(outputs) }
    public subscript(name: String) -> Tensor? { outputs.first { $0.name == name }?.tensor }
}

/// A loaded, validated ONNX model, ready to run any number of times from any thread.
public final class InferenceModel: Sendable {
    /// BLAKE2b-256 of the model file's bytes.
    public let modelHash: Hash
    public let proto: ModelProto
    public let graph: CompiledGraph

    /// Inputs the caller must feed (graph inputs without an initializer).
    public var inputs: [ValueInfo] { graph.inputs }
    public var outputs: [ValueInfo] { graph.outputs }

    /// Parses, checks and compiles a model. Throws `InferenceError` (never traps) on malformed
    /// bytes, external data, unsupported operators or an invalid graph.
    public init(bytes: [UInt8], registry: OpRegistry = .standard) throws(InferenceError) {
        let proto = try ModelProto(bytes: bytes)
        self.proto = proto
        modelHash = Hash.of(bytes)
        var imports = proto.opsetImports
        if imports.isEmpty { imports = [OpsetImport(domain: "", version: 1)] }
        graph = try CompiledGraph(graph: proto.graph, opsetImports: imports, registry: registry)
    }

    /// Reads and loads a model file.
    public convenience init(path: String, registry: OpRegistry = .standard) throws(InferenceError) {
        let bytes = try FileBytes.read(path, limit: Limits.maxModelBytes)
        try self.init(bytes: bytes, registry: registry)
    }

    /// Operators the model uses that `registry` lacks (empty for a loadable model).
    public static func missingOperators(_ proto: ModelProto, registry: OpRegistry = .standard) -> [OperatorRef] {
        CompiledGraph.missingOperators(graph: proto.graph, opsetImports: proto.opsetImports, registry: registry)
    }

    /// Checks feeds against the declared inputs: every required name present, no unknown
    /// names, same element type, same rank and the same size on every fixed dimension; a
    /// symbolic dimension must have one size across all inputs.
    public func validate(_ feeds: [String: Tensor]) throws(InferenceError) {
        let known = Set(inputs.map(\.name))
        for name in feeds.keys.sorted() where !known.contains(name) {
            throw .invalidInput("unknown input '\(name)'; the model's inputs are: \(inputs.map(\.name).joined(separator: ", "))")
        }
        var symbols: [String: Int] = [:]
        for v in inputs {
            guard let t = feeds[v.name] else {
                throw .invalidInput("missing input '\(v.name)' (\(Self.describe(v)))")
            }
            if v.elementType != 0 && t.dtype.rawValue != v.elementType {
                throw .invalidInput("input '\(v.name)' has dtype \(t.dtype), the model expects \(DType.onnxName(v.elementType).lowercased()) (\(Self.describe(v)))")
            }
            guard let dims = v.shape else { continue }
            guard dims.count == t.rank else {
                throw .invalidInput("input '\(v.name)' has shape \(t.shape) (rank \(t.rank)), the model expects rank \(dims.count): \(Self.describe(v))")
            }
            for (i, d) in dims.enumerated() {
                switch d {
                // A declared size below zero means "unknown" (paddle2onnx writes -1 for dynamic
                // dimensions; onnxruntime accepts any size there), so only sizes ≥ 0 are checked.
                case let .value(n) where n >= 0 && n != t.shape[i]:
                    throw .invalidInput("input '\(v.name)' has shape \(t.shape), the model expects \(Self.describe(v))")
                case let .symbol(s) where s != "?":
                    // "?" is what exporters write for "unknown" (paddle2onnx uses it for several
                    // independent dims), so it binds nothing; every other name must agree.
                    if let prev = symbols[s], prev != t.shape[i] {
                        throw .invalidInput("input '\(v.name)' dimension \(i) ('\(s)') is \(t.shape[i]), but another input set '\(s)' = \(prev)")
                    }
                    symbols[s] = t.shape[i]
                default: break
                }
            }
        }
    }

    static func describe(_ v: ValueInfo) -> String {
        let dt = DType(rawValue: v.elementType)?.name ?? DType.onnxName(v.elementType)
        let sh = v.shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "any shape"
        return "\(dt) \(sh)"
    }

    /// Validates the inputs and runs the model. The result does not depend on `threads`.
    public func run(_ feeds: [String: Tensor], threads: Int = 1, shouldStop: (@Sendable () -> Bool)? = nil) throws(InferenceError) -> InferenceResult {
        try validate(feeds)
        let ctx = RunContext(threads: threads, shouldStop: shouldStop)
        let tensors = try graph.run(feeds: feeds, context: ctx)
        return InferenceResult(outputs: zip(graph.outputs, tensors).map { NamedTensor(name: $0.0.name, tensor: $0.1) })
    }
}
