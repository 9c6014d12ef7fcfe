import MurmurCore

/// If and Loop. Subgraphs are compiled once at load time; values they read from enclosing
/// graphs arrive through `RunContext.outerScope` (the executor fills it with each step's
/// implicit inputs). No arithmetic of their own: the order of work is the subgraph's, run
/// iteration by iteration. Tensors only (no sequence or optional values).
enum ControlFlowOps {
    /// Upper bound on Loop iterations, so a model whose loop never ends fails instead of hanging.
    static let maxLoopIterations = 1 << 24

    static let all: [OpDefinition] = [
        OpDefinition("If", versions: 1...22) { n in try IfKernel(n) },
        OpDefinition("Loop", versions: 1...22) { n in try LoopKernel(n) },
    ]

    static func compile(_ n: NodeContext, _ name: String) throws -> CompiledGraph {
        guard let g = n.graph(name) else { throw OpError("missing graph attribute '\(name)'") }
        return try CompiledGraph(graph: g, opsetImports: n.opsetImports, registry: n.registry,
                                 outerNames: Set(CompiledGraph.freeNames(of: g)))
    }

    static func condition(_ t: Tensor, _ what: String) throws -> Bool {
        guard t.count == 1 else { throw OpError("\(what) must hold one value, has shape \(t.shape)") }
        switch t.storage {
        case let .bool(a): return a[0]
        default: return t.doubleValues()[0] != 0
        }
    }
}

struct IfKernel: OpKernel {
    let thenBranch: CompiledGraph
    let elseBranch: CompiledGraph

    init(_ n: NodeContext) throws {
        thenBranch = try ControlFlowOps.compile(n, "then_branch")
        elseBranch = try ControlFlowOps.compile(n, "else_branch")
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        let cond = try ControlFlowOps.condition(K.input(inputs, 0, "cond"), "cond")
        return try (cond ? thenBranch : elseBranch).run(feeds: [:], context: context)
    }
}

/// Loop(M, cond, v_initial...) with body(iteration_num, cond_in, v_in...) →
/// (cond_out, v_out..., scan_out...). Scan outputs are stacked along a new first axis.
struct LoopKernel: OpKernel {
    let body: CompiledGraph
    let bodyInputNames: [String]

    init(_ n: NodeContext) throws {
        guard let g = n.graph("body") else { throw OpError("missing graph attribute 'body'") }
        body = try ControlFlowOps.compile(n, "body")
        bodyInputNames = g.inputs.map(\.name)
        guard bodyInputNames.count >= 2 else { throw OpError("the loop body needs at least 2 inputs (iteration_num, cond)") }
        guard g.outputs.count >= 1 + (bodyInputNames.count - 2) else {
            throw OpError("the loop body has \(g.outputs.count) outputs, needs at least \(bodyInputNames.count - 1)")
        }
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        let maxTrips: Int? = try K.optional(inputs, 0).map { t in
            guard let v = t.intValues(), v.count == 1 else { throw OpError("M must be one int64 value") }
            return v[0]
        }
        var cond = try K.optional(inputs, 1).map { try ControlFlowOps.condition($0, "cond") } ?? true
        let carriedCount = bodyInputNames.count - 2
        var carried: [Tensor] = []
        for i in 0..<carriedCount {
            guard let t = K.optional(inputs, 2 + i) else { throw OpError("loop-carried input \(i) is missing") }
            carried.append(t)
        }
        let scanCount = body.outputs.count - 1 - carriedCount
        var scans: [[Tensor]] = Array(repeating: [], count: scanCount)
        var i = 0, scanElements = 0
        while cond && (maxTrips.map { i < $0 } ?? true) {
            guard i < ControlFlowOps.maxLoopIterations else {
                throw OpError("loop exceeded \(ControlFlowOps.maxLoopIterations) iterations")
            }
            // Also between iterations: a body with no operators never reaches the executor's check.
            if let stop = context.shouldStop, stop() { throw InferenceError.stopped(before: "Loop iteration \(i)") }
            var feeds: [String: Tensor] = [
                bodyInputNames[0]: Tensor(shape: [], int64s: [Int64(i)]),
                bodyInputNames[1]: Tensor(shape: [], bools: [cond]),
            ]
            for (k, t) in carried.enumerated() { feeds[bodyInputNames[2 + k]] = t }
            let outs = try body.run(feeds: feeds, context: context)
            cond = try ControlFlowOps.condition(outs[0], "the body's cond output")
            carried = Array(outs[1..<(1 + carriedCount)])
            for s in 0..<scanCount {
                // The stacked scan outputs must fit one tensor: refuse before they pile up in memory.
                scanElements += outs[1 + carriedCount + s].count
                guard scanElements <= Limits.maxTensorElements else {
                    throw InferenceError.limitExceeded(what: "Loop scan output elements", limit: Limits.maxTensorElements, actual: scanElements)
                }
                scans[s].append(outs[1 + carriedCount + s])
            }
            i += 1
        }
        var results = carried
        for s in 0..<scanCount { results.append(try Self.stack(scans[s])) }
        return results
    }

    /// Stacks same-shaped tensors along a new first axis.
    static func stack(_ ts: [Tensor]) throws -> Tensor {
        guard let first = ts.first else { return Tensor(shape: [0], floats: []) }
        for t in ts where t.shape != first.shape || t.dtype != first.dtype {
            throw OpError("scan output changes shape or type between iterations (\(first.shape) \(first.dtype) vs \(t.shape) \(t.dtype))")
        }
        let shape = [ts.count] + first.shape
        func cat<T: TensorElement>(_: T.Type) -> Tensor {
            var out: [T] = []
            out.reserveCapacity(ts.count * first.count)
            for t in ts { out.append(contentsOf: t.array(T.self) ?? []) }
            return Tensor(shape: shape, values: out)
        }
        switch first.dtype {
        case .float32: return cat(Float.self)
        case .float64: return cat(Double.self)
        case .int64: return cat(Int64.self)
        case .int32: return cat(Int32.self)
        case .int8: return cat(Int8.self)
        case .uint8: return cat(UInt8.self)
        case .bool: return cat(Bool.self)
        }
    }
}
