import MurmurKernels

/// `ai.onnx.ml` operators (what skl2onnx emits around scikit-learn models). Accumulation
/// orders: linear scores = (Σ over features ascending of fma(x_f, coef_f)) + intercept; tree
/// ensembles add leaf weights in attribute order of the trees visited in ascending tree order.
enum MLOps {
    static let domain = "ai.onnx.ml"
    static let all: [OpDefinition] = [arrayFeatureExtractor, scaler, normalizer, linearRegressor, linearClassifier,
                                      treeEnsemble(classifier: false), treeEnsemble(classifier: true)]

    /// Selects elements along the last axis: output shape X.shape[:-1] + [len(indices)]
    /// (a 1-D X gives [1, len(indices)], as onnxruntime does).
    static let arrayFeatureExtractor = OpDefinition("ArrayFeatureExtractor", domain: domain, versions: 1...5, make: K.simple { ins, _ in
        let x = try K.input(ins, 0)
        let indices = try K.ints(K.input(ins, 1), "Y")
        guard x.rank >= 1 else { throw OpError("X must have rank ≥ 1") }
        let last = x.shape[x.rank - 1]
        let outer = x.count / max(last, 1)
        for i in indices where i < 0 || i >= last { throw OpError("index \(i) out of range for last axis of size \(last)") }
        var idx: [Int] = []
        idx.reserveCapacity(outer * indices.count)
        for o in 0..<outer { for i in indices { idx.append(o * last + i) } }
        let shape = x.rank == 1 ? [1, indices.count] : Array(x.shape.dropLast()) + [indices.count]
        return [x.gathered(idx, shape: shape)]
    })

    /// Input features as a [rows, features] float32 matrix (any numeric input is converted).
    static func features(_ x: Tensor) throws -> ([Float], Int, Int) {
        let f = Cast.convert(x, to: .float32).floats ?? []
        let cols = x.rank == 0 ? 1 : x.shape[x.rank - 1]
        let rows = x.rank <= 1 ? 1 : x.count / max(cols, 1)
        return (f, rows, cols)
    }

    /// y = (x − offset) × scale, per feature (one value broadcasts).
    static let scaler = OpDefinition("Scaler", domain: domain, versions: 1...5) { n in
        let offset = n.floats("offset") ?? [0], scale = n.floats("scale") ?? [1]
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let (f, rows, cols) = try features(x)
            guard (offset.count == 1 || offset.count == cols), (scale.count == 1 || scale.count == cols) else {
                throw OpError("offset/scale must have 1 or \(cols) values")
            }
            var y = f
            for r in 0..<rows { for c in 0..<cols {
                y[r * cols + c] = (f[r * cols + c] - offset[offset.count == 1 ? 0 : c]) * scale[scale.count == 1 ? 0 : c]
            } }
            return [Tensor(shape: x.shape, floats: y)]
        }
    }

    /// Normalizer: MAX (x / max), L1 (x / Σ|x|), L2 (x / √Σx², fma), per row, ascending.
    static let normalizer = OpDefinition("Normalizer", domain: domain, versions: 1...5) { n in
        let norm = n.string("norm") ?? "MAX"
        guard ["MAX", "L1", "L2"].contains(norm) else { throw OpError("unknown norm '\(norm)'") }
        return ClosureKernel { ins, _ in
            let x = try K.input(ins, 0)
            let (f, rows, cols) = try features(x)
            var y = f
            for r in 0..<rows {
                var d: Float = norm == "MAX" ? -.infinity : 0
                for c in 0..<cols {
                    let v = f[r * cols + c]
                    switch norm {
                    case "MAX": if v > d { d = v }
                    case "L1": d = d + abs(v)
                    default: d = d.addingProduct(v, v)
                    }
                }
                if norm == "L2" { d = d.squareRoot() }
                for c in 0..<cols { y[r * cols + c] = f[r * cols + c] / d }
            }
            return [Tensor(shape: x.shape, floats: y)]
        }
    }

    /// Row-wise linear scores: s[r, t] = (Σ_f fma(x[r, f], coef[t, f])) + intercept[t].
    static func linearScores(_ f: [Float], rows: Int, cols: Int, coef: [Float], intercepts: [Float], targets: Int) throws -> [Float] {
        guard coef.count == targets * cols else { throw OpError("coefficients have \(coef.count) values, expected \(targets)×\(cols)") }
        var s = [Float](repeating: 0, count: rows * targets)
        for r in 0..<rows { for t in 0..<targets {
            var acc: Float = 0
            for c in 0..<cols { acc = acc.addingProduct(f[r * cols + c], coef[t * cols + c]) }
            s[r * targets + t] = intercepts.isEmpty ? acc : acc + intercepts[t]
        } }
        return s
    }

    /// Post transforms on [rows, k] scores. SOFTMAX follows the Softmax contract.
    static func postTransform(_ s: inout [Float], rows: Int, k: Int, _ kind: String) throws {
        switch kind {
        case "NONE": return
        case "LOGISTIC": for i in 0..<s.count { s[i] = DetMath.sigmoid(s[i]) }
        case "SOFTMAX": s = NormalizationOps.softmaxRows(s, rows: rows, len: k, log: false)
        case "SOFTMAX_ZERO":
            for r in 0..<rows {
                var m = -Float.infinity
                for j in 0..<k where s[r * k + j] != 0 && s[r * k + j] > m { m = s[r * k + j] }
                var sum: Float = 0
                var e = [Float](repeating: 0, count: k)
                for j in 0..<k where s[r * k + j] != 0 { e[j] = DetMath.exp(s[r * k + j] - m); sum = sum + e[j] }
                for j in 0..<k { s[r * k + j] = sum == 0 ? 0 : e[j] / sum }
            }
        default: throw OpError("post_transform \(kind) is not supported")
        }
    }

    static let linearRegressor = OpDefinition("LinearRegressor", domain: domain, versions: 1...5) { n in
        let coef = n.floats("coefficients") ?? [], intercepts = n.floats("intercepts") ?? []
        let targets = n.int("targets", default: 1)
        let post = n.string("post_transform") ?? "NONE"
        return ClosureKernel { ins, _ in
            let (f, rows, cols) = try features(K.input(ins, 0))
            var s = try linearScores(f, rows: rows, cols: cols, coef: coef, intercepts: intercepts, targets: targets)
            try postTransform(&s, rows: rows, k: targets, post)
            return [Tensor(shape: [rows, targets], floats: s)]
        }
    }

    /// Labels: the class with the highest score (first on ties). With one score row and two
    /// labels (binary), scores are [−s, s] (post transform NONE) and the label is labels[1]
    /// when s > 0, as onnxruntime.
    static let linearClassifier = OpDefinition("LinearClassifier", domain: domain, versions: 1...5) { n in
        let coef = n.floats("coefficients") ?? [], intercepts = n.floats("intercepts") ?? []
        guard let labels = n.ints("classlabels_ints") else {
            throw OpError("only integer class labels are supported (string labels need string tensors)")
        }
        let post = n.string("post_transform") ?? "NONE"
        return ClosureKernel { ins, _ in
            let (f, rows, cols) = try features(K.input(ins, 0))
            let targets = coef.count / max(cols, 1)
            var s = try linearScores(f, rows: rows, cols: cols, coef: coef, intercepts: intercepts, targets: targets)
            var out: [Int64] = []
            if targets == 1 && labels.count == 2 {
                var scores = [Float]()
                for r in 0..<rows { scores += [-s[r], s[r]]; out.append(Int64(labels[s[r] > 0 ? 1 : 0])) }
                try postTransform(&scores, rows: rows, k: 2, post)
                return [Tensor(shape: [rows], int64s: out), Tensor(shape: [rows, 2], floats: scores)]
            }
            for r in 0..<rows {
                var best = 0
                for t in 1..<max(targets, 1) where s[r * targets + t] > s[r * targets + best] { best = t }
                out.append(Int64(best < labels.count ? labels[best] : best))
            }
            try postTransform(&s, rows: rows, k: targets, post)
            return [Tensor(shape: [rows], int64s: out), Tensor(shape: [rows, targets], floats: s)]
        }
    }

    // MARK: tree ensembles

    struct Tree: Sendable {
        enum Mode: Sendable { case leq, lt, gte, gt, eq, neq, leaf }
        var feature: [Int] = [], value: [Float] = [], mode: [Mode] = []
        var trueNext: [Int] = [], falseNext: [Int] = [], missingTrue: [Bool] = []
        /// (target or class, weight) per node, in attribute order.
        var leafWeights: [[(Int, Float)]] = []
        var root = 0
    }

    static func buildTrees(_ n: NodeContext, prefix: String) throws -> [Tree] {
        let treeIds = n.ints("nodes_treeids") ?? [], nodeIds = n.ints("nodes_nodeids") ?? []
        let feats = n.ints("nodes_featureids") ?? []
        let values = try n.floats("nodes_values") ?? n.tensor("nodes_values_as_tensor").map { Cast.convert($0, to: .float32).floats ?? [] } ?? []
        guard case let .strings(modeBytes)? = n.node.attribute("nodes_modes") else { throw OpError("missing nodes_modes") }
        let modes = modeBytes.map { String(decoding: $0, as: UTF8.self) }
        let trues = n.ints("nodes_truenodeids") ?? [], falses = n.ints("nodes_falsenodeids") ?? []
        let missing = n.ints("nodes_missing_value_tracks_true") ?? []
        let count = nodeIds.count
        guard treeIds.count == count, feats.count == count, values.count == count, modes.count == count,
              trues.count == count, falses.count == count, missing.isEmpty || missing.count == count else {
            throw OpError("tree node attributes have different lengths")
        }
        var order: [Int] = []  // tree ids in ascending order
        var index: [Int: [Int: Int]] = [:]  // tree → node id → local index
        var trees: [Int: Tree] = [:]
        for i in 0..<count {
            let t = treeIds[i]
            if trees[t] == nil { trees[t] = Tree(); order.append(t); index[t] = [:] }
            let local = trees[t]!.feature.count
            index[t]![nodeIds[i]] = local
            let m: Tree.Mode
            switch modes[i] {
            case "BRANCH_LEQ": m = .leq
            case "BRANCH_LT": m = .lt
            case "BRANCH_GTE": m = .gte
            case "BRANCH_GT": m = .gt
            case "BRANCH_EQ": m = .eq
            case "BRANCH_NEQ": m = .neq
            case "LEAF": m = .leaf
            default: throw OpError("unknown node mode \(modes[i])")
            }
            trees[t]!.feature.append(feats[i]); trees[t]!.value.append(values[i]); trees[t]!.mode.append(m)
            trees[t]!.trueNext.append(trues[i]); trees[t]!.falseNext.append(falses[i])
            trees[t]!.missingTrue.append(missing.isEmpty ? false : missing[i] != 0)
            trees[t]!.leafWeights.append([])
        }
        // Resolve child node ids to local indices.
        for t in order {
            var tree = trees[t]!
            for j in 0..<tree.feature.count where tree.mode[j] != .leaf {
                guard let a = index[t]![tree.trueNext[j]], let b = index[t]![tree.falseNext[j]] else {
                    throw OpError("tree \(t) refers to a missing node")
                }
                tree.trueNext[j] = a; tree.falseNext[j] = b
            }
            tree.root = index[t]![0] ?? 0
            trees[t] = tree
        }
        let wTrees = n.ints(prefix + "_treeids") ?? [], wNodes = n.ints(prefix + "_nodeids") ?? []
        let wIds = n.ints(prefix + "_ids") ?? []
        let weights = try n.floats(prefix + "_weights") ?? n.tensor(prefix + "_weights_as_tensor").map { Cast.convert($0, to: .float32).floats ?? [] } ?? []
        guard wTrees.count == wNodes.count, wIds.count == wNodes.count, weights.count == wNodes.count else {
            throw OpError("leaf weight attributes have different lengths")
        }
        for i in 0..<wTrees.count {
            guard let local = index[wTrees[i]]?[wNodes[i]] else { throw OpError("weight for a missing node") }
            trees[wTrees[i]]!.leafWeights[local].append((wIds[i], weights[i]))
        }
        return order.sorted().map { trees[$0]! }
    }

    /// The leaf a row reaches (bounded by the node count, so a cyclic tree cannot hang).
    static func leaf(_ t: Tree, _ row: UnsafePointer<Float>, cols: Int) throws -> Int {
        var j = t.root
        for _ in 0...t.feature.count {
            let m = t.mode[j]
            if m == .leaf { return j }
            let f = t.feature[j]
            guard f >= 0 && f < cols else { throw OpError("feature index \(f) out of range") }
            let x = row[f], v = t.value[j]
            let goTrue: Bool
            if x.isNaN { goTrue = t.missingTrue[j] } else {
                switch m {
                case .leq: goTrue = x <= v
                case .lt: goTrue = x < v
                case .gte: goTrue = x >= v
                case .gt: goTrue = x > v
                case .eq: goTrue = x == v
                case .neq: goTrue = x != v
                case .leaf: goTrue = false
                }
            }
            j = goTrue ? t.trueNext[j] : t.falseNext[j]
        }
        throw OpError("tree does not terminate")
    }

    static func treeEnsemble(classifier: Bool) -> OpDefinition {
        OpDefinition(classifier ? "TreeEnsembleClassifier" : "TreeEnsembleRegressor", domain: domain, versions: 1...5) { n in
            let trees = try buildTrees(n, prefix: classifier ? "class" : "target")
            let post = n.string("post_transform") ?? "NONE"
            let base = n.floats("base_values") ?? []
            let aggregate = n.string("aggregate_function") ?? "SUM"
            let labels: [Int]
            let k: Int
            if classifier {
                guard let l = n.ints("classlabels_int64s") else {
                    throw OpError("only integer class labels are supported (convert with string labels mapped to ints)")
                }
                labels = l; k = l.count
            } else {
                labels = []; k = n.int("n_targets", default: 1)
            }
            guard k > 0 else { throw OpError("no classes or targets") }
            return ClosureKernel { ins, _ in
                let (f, rows, cols) = try features(K.input(ins, 0))
                var scores = [Float](repeating: 0, count: rows * k)
                var outLabels: [Int64] = []
                outLabels.reserveCapacity(rows)
                var hit = [Bool](repeating: false, count: k)
                try f.withUnsafeBufferPointer { pf in
                    try scores.withUnsafeMutableBufferPointer { ps in
                        for r in 0..<rows {
                            let s = ps.baseAddress! + r * k
                            for j in 0..<k { hit[j] = false }
                            for t in trees {
                                let leafIndex = try leaf(t, pf.baseAddress! + r * cols, cols: cols)
                                for (id, w) in t.leafWeights[leafIndex] {
                                    guard id >= 0 && id < k else { throw OpError("class/target id \(id) out of range") }
                                    switch aggregate {
                                    case "MIN": s[id] = hit[id] ? Swift.min(s[id], w) : w
                                    case "MAX": s[id] = hit[id] ? Swift.max(s[id], w) : w
                                    default: s[id] = s[id] + w
                                    }
                                    hit[id] = true
                                }
                            }
                            if aggregate == "AVERAGE" { for j in 0..<k { s[j] = s[j] / Float(trees.count) } }
                            if !base.isEmpty { for j in 0..<min(k, base.count) { s[j] = s[j] + base[j] } }
                            if classifier {
                                var best = 0
                                for j in 1..<k where s[j] > s[best] { best = j }
                                outLabels.append(Int64(labels[best]))
                            }
                        }
                    }
                }
                try postTransform(&scores, rows: rows, k: k, post)
                if classifier { return [Tensor(shape: [rows], int64s: outLabels), Tensor(shape: [rows, k], floats: scores)] }
                return [Tensor(shape: [rows, k], floats: scores)]
            }
        }
    }
}
