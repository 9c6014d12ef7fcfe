/// ZipMap is deliberately absent: a model using it is refused at load time with a hint to
/// convert with `zipmap=False` (InferenceError.unsupportedOperators).
///
/// Operators of the `ai.onnx.ml` domain that skl2onnx emits for scikit-learn linear models,
/// scalers, MLPs and tree ensembles. Features are computed in float32 whatever the input's
/// numeric type (as onnxruntime does for float models).
///
/// Accumulation order (Specs/inference-ops-extra.md): dot products start at +0.0 and add one
/// fused multiply-add per coefficient in ascending feature order, then the intercept once;
/// tree ensembles sum leaf weights from +0.0 in ascending tree-id order (weights of one leaf
/// in attribute order), then add the base value once.
enum MLOps {
    static let domain = "ai.onnx.ml"
    /// Largest tree ensemble (total nodes) a model may declare; the model-size limit bounds it
    /// too, this keeps per-node tables small.
    static let maxTreeNodes = 4_000_000
    static let all: [OpDefinition] = [
        OpDefinition("LinearRegressor", domain: domain, versions: 1...5, make: linearRegressor),
        OpDefinition("LinearClassifier", domain: domain, versions: 1...5, make: linearClassifier),
        OpDefinition("Scaler", domain: domain, versions: 1...5, make: scaler),
        OpDefinition("Normalizer", domain: domain, versions: 1...5, make: normalizer),
        OpDefinition("ArrayFeatureExtractor", domain: domain, versions: 1...5, make: K.simple { ins, _ in
            [try arrayFeatureExtractor(K.input(ins, 0), K.input(ins, 1))]
        }),
        OpDefinition("Binarizer", domain: domain, versions: 1...5, make: binarizer),
        OpDefinition("TreeEnsembleRegressor", domain: domain, versions: 1...4) { n in try TreeEnsembleKernel(n, classifier: false) },
        OpDefinition("TreeEnsembleClassifier", domain: domain, versions: 1...4) { n in try TreeEnsembleKernel(n, classifier: true) },
    ]

    // MARK: shared helpers

    /// Rows and columns of a feature input ([N, C], or [C] as one row), as float32.
    static func features(_ t: Tensor) throws -> (rows: Int, cols: Int, values: [Float]) {
        let values: [Float]
        switch t.storage {
        case let .float32(a): values = a
        case let .float64(a): values = a.map { Float($0) }
        case let .int64(a): values = a.map { Float($0) }
        case let .int32(a): values = a.map { Float($0) }
        default: throw OpError("features must be float, double, int64 or int32, got \(t.dtype)")
        }
        switch t.rank {
        case 0: return (1, 1, values)
        case 1: return (1, t.shape[0], values)
        case 2: return (t.shape[0], t.shape[1], values)
        default: throw OpError("features must have rank 1 or 2, got shape \(t.shape)")
        }
    }

    enum PostTransform: String, Sendable { case none = "NONE", logistic = "LOGISTIC", softmax = "SOFTMAX", softmaxZero = "SOFTMAX_ZERO", probit = "PROBIT" }

    static func postTransform(_ n: NodeContext) throws -> PostTransform {
        let s = n.string("post_transform") ?? "NONE"
        guard let p = PostTransform(rawValue: s) else { throw OpError("unknown post_transform '\(s)'") }
        return p
    }

    /// The logistic function: DetMath's sigmoid (Specs/kernels.md), as Specs/inference.md states.
    static func logistic(_ x: Float) -> Float { ScalarMath.sigmoid(x) }

    /// √2 · erfinv(2x − 1) with the closed-form erfinv approximation ONNX ML specifies.
    static func probit(_ x: Float) -> Float {
        var t = x * 2 - 1
        let sgn: Float = t < 0 ? -1 : 1
        t = (1 - t) * (1 + t)
        let ln = ScalarMath.log(t)
        let v = 2 / (3.14159 * 0.147) + 0.5 * ln
        let v2 = 1 / 0.147 * ln
        let v3 = -v + (v * v - v2).squareRoot()
        return 1.41421356 * (sgn * v3.squareRoot())
    }

    /// Applies a post transform to one row in place. Sums run in ascending index order.
    static func transformRow(_ row: inout ArraySlice<Float>, _ p: PostTransform) {
        switch p {
        case .none: return
        case .logistic: for i in row.indices { row[i] = logistic(row[i]) }
        case .probit: for i in row.indices { row[i] = probit(row[i]) }
        case .softmax:
            var m = -Float.infinity
            for v in row where v > m || v.isNaN { m = v }
            var s: Float = 0
            for i in row.indices { row[i] = ScalarMath.exp(row[i] - m); s = s + row[i] }
            for i in row.indices { row[i] = row[i] / s }
        case .softmaxZero:
            var m = -Float.infinity
            for v in row where v > m || v.isNaN { m = v }
            let expNegMax = ScalarMath.exp(-m)
            var s: Float = 0
            for i in row.indices {
                let v = row[i]
                row[i] = (v > 0.0000001 || v < -0.0000001) ? ScalarMath.exp(v - m) : v * expNegMax
                s = s + row[i]
            }
            for i in row.indices { row[i] = s == 0 ? 0.5 : row[i] / s }
        }
    }

    static func transformRows(_ scores: inout [Float], cols: Int, _ p: PostTransform) {
        guard p != .none, cols > 0 else { return }
        for r in 0..<(scores.count / cols) {
            var row = scores[(r * cols)..<((r + 1) * cols)]
            transformRow(&row, p)
            scores.replaceSubrange((r * cols)..<((r + 1) * cols), with: row)
        }
    }

    /// scores[r, t] = (+0.0 ⊕ fma over c ascending of x[r, c]·w[t, c]) + b[t].
    static func linearScores(_ x: [Float], rows: Int, cols: Int, weights: [Float], intercepts: [Float], targets: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * targets)
        for r in 0..<rows {
            for t in 0..<targets {
                var acc: Float = 0
                for c in 0..<cols { acc = acc.addingProduct(x[r * cols + c], weights[t * cols + c]) }
                out[r * targets + t] = intercepts.isEmpty ? acc : acc + intercepts[t]
            }
        }
        return out
    }

    // MARK: LinearRegressor

    static func linearRegressor(_ n: NodeContext) throws -> any OpKernel {
        let coef = n.floats("coefficients") ?? []
        let intercepts = n.floats("intercepts") ?? []
        let targets = n.int("targets", default: 1)
        let post = try postTransform(n)
        guard targets >= 1, targets <= coef.count, !coef.isEmpty, coef.count % targets == 0 else {
            throw OpError("coefficients (\(coef.count)) must be a non-empty multiple of targets (\(targets))")
        }
        guard intercepts.isEmpty || intercepts.count == targets else {
            throw OpError("intercepts has \(intercepts.count) values, expected \(targets)")
        }
        return ClosureKernel { ins, _ in
            let (rows, cols, x) = try features(K.input(ins, 0))
            guard cols * targets == coef.count else {
                throw OpError("input has \(cols) features, the coefficients expect \(coef.count / targets)")
            }
            var y = linearScores(x, rows: rows, cols: cols, weights: coef, intercepts: intercepts, targets: targets)
            transformRows(&y, cols: targets, post)
            return [Tensor(shape: [rows, targets], floats: y)]
        }
    }

    // MARK: LinearClassifier

    static func int64Labels(_ n: NodeContext, _ name: String, strings: String) throws -> [Int64] {
        if case .strings? = n.node.attribute(strings) {
            throw OpError("string class labels ('\(strings)') are not supported (the engine has no string tensors); retrain or convert with integer class labels")
        }
        return (n.ints(name) ?? []).map { Int64($0) }
    }

    static func linearClassifier(_ n: NodeContext) throws -> any OpKernel {
        let coef = n.floats("coefficients") ?? []
        let intercepts = n.floats("intercepts") ?? []
        let labels = try int64Labels(n, "classlabels_ints", strings: "classlabels_strings")
        let post = try postTransform(n)
        let classCount = intercepts.count
        guard classCount >= 1, coef.count % classCount == 0, !coef.isEmpty else {
            throw OpError("coefficients (\(coef.count)) must be a non-empty multiple of the intercept count (\(classCount))")
        }
        guard labels.isEmpty || labels.count == classCount || (classCount == 1 && labels.count == 2) else {
            throw OpError("\(labels.count) class labels for \(classCount) score columns")
        }
        // One score column with two labels: onnxruntime writes [−s, s] (then the transform).
        let addSecond = classCount == 1 && labels.count == 2
        return ClosureKernel { ins, _ in
            let (rows, cols, x) = try features(K.input(ins, 0))
            guard cols * classCount == coef.count else {
                throw OpError("input has \(cols) features, the coefficients expect \(coef.count / classCount)")
            }
            let raw = linearScores(x, rows: rows, cols: cols, weights: coef, intercepts: intercepts, targets: classCount)
            var label = [Int64](repeating: 0, count: rows)
            for r in 0..<rows {
                if classCount == 1 {
                    let positive = raw[r] > 0
                    label[r] = labels.count == 2 ? labels[positive ? 1 : 0] : (positive ? 1 : 0)
                } else {
                    var best = 0
                    for c in 1..<classCount where raw[r * classCount + c] > raw[r * classCount + best] { best = c }
                    label[r] = labels.isEmpty ? Int64(best) : labels[best]
                }
            }
            var scores: [Float]
            let outCols = addSecond ? 2 : classCount
            if addSecond {
                scores = [Float](repeating: 0, count: rows * 2)
                for r in 0..<rows { scores[2 * r] = -raw[r]; scores[2 * r + 1] = raw[r] }
            } else {
                scores = raw
            }
            transformRows(&scores, cols: outCols, post)
            return [Tensor(shape: [rows], int64s: label), Tensor(shape: [rows, outCols], floats: scores)]
        }
    }

    // MARK: Scaler, Normalizer, Binarizer, ArrayFeatureExtractor

    static func scaler(_ n: NodeContext) throws -> any OpKernel {
        let offset = n.floats("offset") ?? [0]
        let scale = n.floats("scale") ?? [1]
        return ClosureKernel { ins, _ in
            let t = try K.input(ins, 0)
            let (rows, cols, x) = try features(t)
            for (name, v) in [("offset", offset), ("scale", scale)] where v.count != 1 && v.count != cols {
                throw OpError("\(name) has \(v.count) values for \(cols) features")
            }
            var y = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows { for c in 0..<cols {
                let o = offset.count == 1 ? offset[0] : offset[c]
                let s = scale.count == 1 ? scale[0] : scale[c]
                y[r * cols + c] = (x[r * cols + c] - o) * s
            } }
            return [Tensor(shape: t.shape, floats: y)]
        }
    }

    /// MAX divides by the row maximum (onnxruntime), L1 by Σ|x|, L2 by √(Σ x²) (one FMA per
    /// element, ascending); a zero divisor leaves the row unchanged.
    static func normalizer(_ n: NodeContext) throws -> any OpKernel {
        let norm = n.string("norm") ?? "MAX"
        guard ["MAX", "L1", "L2"].contains(norm) else { throw OpError("unknown norm '\(norm)' (MAX, L1 or L2)") }
        return ClosureKernel { ins, _ in
            let t = try K.input(ins, 0)
            let (rows, cols, x) = try features(t)
            var y = x
            for r in 0..<rows {
                let row = x[(r * cols)..<((r + 1) * cols)]
                var d: Float
                switch norm {
                case "MAX":
                    d = -Float.greatestFiniteMagnitude
                    for v in row where v > d { d = v }
                case "L1":
                    d = 0
                    for v in row { d = d + Swift.abs(v) }
                default:
                    d = 0
                    for v in row { d = d.addingProduct(v, v) }
                    d = d.squareRoot()
                }
                if d != 0 { for c in 0..<cols { y[r * cols + c] = x[r * cols + c] / d } }
            }
            return [Tensor(shape: t.shape, floats: y)]
        }
    }

    static func binarizer(_ n: NodeContext) throws -> any OpKernel {
        let threshold = n.float("threshold", default: 0)
        return ClosureKernel { ins, _ in
            let t = try K.input(ins, 0)
            switch t.storage {
            case let .float32(a): return [Tensor(shape: t.shape, floats: a.map { $0 > threshold ? 1 : ($0.isNaN ? $0 : 0) })]
            case let .float64(a): return [Tensor(shape: t.shape, doubles: a.map { $0 > Double(threshold) ? 1 : ($0.isNaN ? $0 : 0) })]
            case let .int64(a): return [Tensor(shape: t.shape, int64s: a.map { Float($0) > threshold ? 1 : 0 })]
            case let .int32(a): return [Tensor(shape: t.shape, int32s: a.map { Float($0) > threshold ? 1 : 0 })]
            default: throw OpError("unsupported type \(t.dtype)")
            }
        }
    }

    /// Selects entries of the last axis: output [..., k] for k indices ([1, k] for 1-D data).
    static func arrayFeatureExtractor(_ data: Tensor, _ indices: Tensor) throws -> Tensor {
        let idx = try K.ints(indices, "indices")
        guard data.rank >= 1 else { throw OpError("data must have rank ≥ 1") }
        let last = data.shape[data.rank - 1]
        for i in idx where i < 0 || i >= last {
            throw OpError("index \(i) out of range for last dimension \(last)")
        }
        let outer = data.count / Swift.max(last, 1)
        let shape = data.rank == 1 ? [1, idx.count] : Array(data.shape.dropLast()) + [idx.count]
        func pick<T: TensorElement>(_ a: [T]) -> Tensor {
            var out: [T] = []
            out.reserveCapacity(outer * idx.count)
            for o in 0..<outer { for i in idx { out.append(a[o * last + i]) } }
            return Tensor(shape: shape, values: out)
        }
        switch data.storage {
        case let .float32(a): return pick(a)
        case let .float64(a): return pick(a)
        case let .int64(a): return pick(a)
        case let .int32(a): return pick(a)
        case let .int8(a): return pick(a)
        case let .uint8(a): return pick(a)
        case let .bool(a): return pick(a)
        }
    }
}

/// TreeEnsembleRegressor / TreeEnsembleClassifier (ai.onnx.ml opsets 1–3), following
/// onnxruntime's conventions for the binary and single-column cases.
struct TreeEnsembleKernel: OpKernel {
    enum Rule: Sendable { case leq, lt, gte, gt, eq, neq, leaf }
    struct Node: Sendable {
        var rule: Rule
        var feature: Int
        var threshold: Double
        var trueIndex: Int
        var falseIndex: Int
        var missingTracksTrue: Bool
        /// Range into `weightTarget` / `weightValue` (leaves only).
        var weights: Range<Int>
    }
    enum Aggregate: String, Sendable { case sum = "SUM", average = "AVERAGE", min = "MIN", max = "MAX" }

    let classifier: Bool
    let nodes: [Node]
    /// Root node index of each tree, in ascending tree id.
    let roots: [Int]
    let weightTarget: [Int]
    let weightValue: [Float]
    let outputs: Int
    let baseValues: [Float]
    let post: MLOps.PostTransform
    let aggregate: Aggregate
    let labels: [Int64]
    /// Classifier with two labels and a single class id (onnxruntime's "binary case").
    let binaryCase: Bool
    let weightsAllPositive: Bool
    let maxFeature: Int

    init(_ n: NodeContext, classifier: Bool) throws {
        self.classifier = classifier
        let prefix = classifier ? "class" : "target"
        func floatsOrTensor(_ name: String) throws -> [Float]? {
            if let t = try n.tensor(name + "_as_tensor") { return t.doubleValues().map { Float($0) } }
            return n.floats(name)
        }
        let treeIds = n.ints("nodes_treeids") ?? []
        let nodeIds = n.ints("nodes_nodeids") ?? []
        let featureIds = n.ints("nodes_featureids") ?? []
        let trueIds = n.ints("nodes_truenodeids") ?? []
        let falseIds = n.ints("nodes_falsenodeids") ?? []
        let missing = n.ints("nodes_missing_value_tracks_true") ?? []
        var thresholds: [Double] = (n.floats("nodes_values") ?? []).map { Double($0) }
        if let t = try n.tensor("nodes_values_as_tensor") { thresholds = t.doubleValues() }
        let modes: [String]
        if case let .strings(s)? = n.node.attribute("nodes_modes") { modes = s.map { String(decoding: $0, as: UTF8.self) } } else { modes = [] }
        let count = treeIds.count
        guard count > 0, count <= MLOps.maxTreeNodes else {
            throw OpError("tree ensemble needs between 1 and \(MLOps.maxTreeNodes) nodes, has \(count)")
        }
        for (name, c) in [("nodes_nodeids", nodeIds.count), ("nodes_featureids", featureIds.count), ("nodes_modes", modes.count),
                          ("nodes_truenodeids", trueIds.count), ("nodes_falsenodeids", falseIds.count), ("nodes_values", thresholds.count)]
            where c != count {
            throw OpError("\(name) has \(c) entries, nodes_treeids has \(count)")
        }
        guard missing.isEmpty || missing.count == count else { throw OpError("nodes_missing_value_tracks_true has \(missing.count) entries, expected \(count)") }

        var indexOf: [Int64: Int] = [:]  // (tree << 32 | node) → index
        func key(_ t: Int, _ nd: Int) -> Int64 { Int64(truncatingIfNeeded: t) << 32 | Int64(UInt32(truncatingIfNeeded: nd)) }
        var rootOf: [Int: Int] = [:]
        for i in 0..<count {
            let k = key(treeIds[i], nodeIds[i])
            if indexOf[k] != nil { throw OpError("node (\(treeIds[i]), \(nodeIds[i])) is defined twice") }
            indexOf[k] = i
            if rootOf[treeIds[i]] == nil { rootOf[treeIds[i]] = i }
        }
        var built: [Node] = []
        built.reserveCapacity(count)
        var maxFeature = -1
        for i in 0..<count {
            let rule: Rule
            switch modes[i] {
            case "BRANCH_LEQ": rule = .leq
            case "BRANCH_LT": rule = .lt
            case "BRANCH_GTE": rule = .gte
            case "BRANCH_GT": rule = .gt
            case "BRANCH_EQ": rule = .eq
            case "BRANCH_NEQ": rule = .neq
            case "LEAF": rule = .leaf
            default: throw OpError("unknown node mode '\(modes[i])'")
            }
            var node = Node(rule: rule, feature: featureIds[i], threshold: thresholds[i], trueIndex: -1, falseIndex: -1,
                            missingTracksTrue: !missing.isEmpty && missing[i] != 0, weights: 0..<0)
            if rule != .leaf {
                guard featureIds[i] >= 0 else { throw OpError("negative feature id \(featureIds[i])") }
                maxFeature = Swift.max(maxFeature, featureIds[i])
                guard let t = indexOf[key(treeIds[i], trueIds[i])], let f = indexOf[key(treeIds[i], falseIds[i])] else {
                    throw OpError("node (\(treeIds[i]), \(nodeIds[i])) branches to a node that does not exist")
                }
                // Children must come later in a walk; a walk longer than the node count is a cycle (checked at run time).
                node.trueIndex = t
                node.falseIndex = f
            }
            built.append(node)
        }

        // Leaf weights, grouped per leaf in attribute order.
        let wTrees = n.ints(prefix + "_treeids") ?? []
        let wNodes = n.ints(prefix + "_nodeids") ?? []
        let wIds = n.ints(prefix + "_ids") ?? []
        let wVals = try floatsOrTensor(prefix + "_weights") ?? []
        guard wTrees.count == wNodes.count, wNodes.count == wIds.count, wIds.count == wVals.count else {
            throw OpError("\(prefix)_treeids/_nodeids/_ids/_weights have different lengths")
        }
        var perLeaf: [[Int]] = Array(repeating: [], count: count)
        for j in 0..<wTrees.count {
            guard let leaf = indexOf[key(wTrees[j], wNodes[j])] else {
                throw OpError("weight \(j) refers to node (\(wTrees[j]), \(wNodes[j])), which does not exist")
            }
            guard wIds[j] >= 0 else { throw OpError("negative \(prefix) id \(wIds[j])") }
            perLeaf[leaf].append(j)
        }
        var targets: [Int] = [], values: [Float] = []
        for i in 0..<count {
            let start = targets.count
            for j in perLeaf[i] { targets.append(wIds[j]); values.append(wVals[j]) }
            built[i].weights = start..<targets.count
        }
        nodes = built
        roots = rootOf.keys.sorted().compactMap { rootOf[$0] }
        weightTarget = targets
        weightValue = values
        self.maxFeature = maxFeature
        post = try MLOps.postTransform(n)
        baseValues = try floatsOrTensor("base_values") ?? []
        let aggName = n.string("aggregate_function") ?? "SUM"
        guard let agg = Aggregate(rawValue: aggName) else { throw OpError("unknown aggregate_function '\(aggName)'") }
        aggregate = agg

        if classifier {
            labels = try MLOps.int64Labels(n, "classlabels_int64s", strings: "classlabels_strings")
            guard labels.count >= 2 else { throw OpError("classlabels_int64s needs at least two labels, has \(labels.count)") }
            let distinct = Set(wIds)
            binaryCase = labels.count == 2 && distinct.count == 1
            weightsAllPositive = wVals.allSatisfy { $0 >= 0 }
            outputs = labels.count
            guard (targets.max() ?? 0) < Swift.max(outputs, 1) else { throw OpError("class id \(targets.max() ?? 0) ≥ class count \(outputs)") }
        } else {
            labels = []
            binaryCase = false
            weightsAllPositive = true
            outputs = n.int("n_targets", default: 1)
            guard outputs >= 1, outputs <= 1 << 20, (targets.max() ?? 0) < outputs else { throw OpError("target id out of range for n_targets \(outputs)") }
        }
        guard baseValues.isEmpty || baseValues.count == outputs || (classifier && binaryCase && baseValues.count == 1) else {
            throw OpError("base_values has \(baseValues.count) values, expected \(outputs)")
        }
    }

    /// The leaf reached in the tree rooted at `root` for one row of features.
    @inline(__always)
    func leaf(_ root: Int, _ x: UnsafeBufferPointer<Float>) throws -> Int {
        var i = root
        var steps = 0
        while true {
            let nd = nodes[i]
            if nd.rule == .leaf { return i }
            let v = x[nd.feature]
            let goTrue: Bool
            if v.isNaN {
                goTrue = nd.missingTracksTrue
            } else {
                let d = Double(v)
                switch nd.rule {
                case .leq: goTrue = d <= nd.threshold
                case .lt: goTrue = d < nd.threshold
                case .gte: goTrue = d >= nd.threshold
                case .gt: goTrue = d > nd.threshold
                case .eq: goTrue = d == nd.threshold
                case .neq: goTrue = d != nd.threshold
                case .leaf: goTrue = true
                }
            }
            i = goTrue ? nd.trueIndex : nd.falseIndex
            steps += 1
            if steps > nodes.count { throw OpError("tree rooted at node index \(root) has a cycle") }
        }
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        let (rows, cols, x) = try MLOps.features(K.input(inputs, 0))
        guard maxFeature < cols else { throw OpError("the trees read feature \(maxFeature), the input has \(cols)") }
        var scores = [Float](repeating: 0, count: rows * outputs)
        var has = [Bool](repeating: false, count: rows * outputs)
        try x.withUnsafeBufferPointer { all in
            for r in 0..<rows {
                let row = UnsafeBufferPointer(rebasing: all[(r * cols)..<((r + 1) * cols)])
                for root in roots {
                    let l = try leaf(root, row)
                    for w in nodes[l].weights {
                        let o = r * outputs + weightTarget[w]
                        let v = weightValue[w]
                        switch aggregate {
                        case .sum, .average: scores[o] = scores[o] + v
                        case .min: scores[o] = (!has[o] || v < scores[o]) ? v : scores[o]
                        case .max: scores[o] = (!has[o] || v > scores[o]) ? v : scores[o]
                        }
                        has[o] = true
                    }
                }
            }
        }
        if !classifier {
            if aggregate == .average {
                let n = Float(roots.count)
                for i in scores.indices { scores[i] = scores[i] / n }
            }
            if !baseValues.isEmpty { for i in scores.indices { scores[i] = scores[i] + baseValues[i % outputs] } }
            MLOps.transformRows(&scores, cols: outputs, post)
            return [Tensor(shape: [rows, outputs], floats: scores)]
        }
        return classify(rows: rows, scores: scores, has: has)
    }

    /// Labels and class scores (onnxruntime's TreeAggregatorClassifier::FinalizeScores).
    func classify(rows: Int, scores: [Float], has: [Bool]) -> [Tensor] {
        var label = [Int64](repeating: 0, count: rows)
        if !binaryCase && outputs > 2 || (!binaryCase && outputs == 2 && baseValues.count != 1) {
            var out = scores
            for r in 0..<rows {
                var best = -1
                for c in 0..<outputs {
                    if !baseValues.isEmpty { out[r * outputs + c] = out[r * outputs + c] + baseValues[c] }
                    if best < 0 || out[r * outputs + c] > out[r * outputs + best] { best = c }
                }
                label[r] = labels[Swift.max(best, 0)]
            }
            MLOps.transformRows(&out, cols: outputs, post)
            return [Tensor(shape: [rows], int64s: label), Tensor(shape: [rows, outputs], floats: out)]
        }
        // Binary: one score per row (class 0's weights, or class 1's when it has any).
        var out = [Float](repeating: 0, count: rows * 2)
        for r in 0..<rows {
            var s0 = scores[r * 2], s1 = scores[r * 2 + 1]
            let has1 = has[r * 2 + 1]
            var single = !has1
            if baseValues.count == 2 {
                if has1 { s1 = baseValues[1] + s0; s0 = -s1 } else { s0 = s0 + baseValues[0]; s1 = s1 + baseValues[1]; single = false }
            } else if baseValues.count == 1 {
                s0 = s0 + baseValues[0]
            }
            if !single {
                // Two real columns: transform as a row; label from the positive score.
                let pos = has1 ? s1 : s0
                label[r] = binaryLabel(pos)
                var row: ArraySlice<Float> = [s0, s1]
                MLOps.transformRow(&row, post)
                out[2 * r] = row[row.startIndex]; out[2 * r + 1] = row[row.startIndex + 1]
                continue
            }
            label[r] = binaryLabel(s0)
            if post == .probit {
                out[2 * r] = MLOps.probit(s0)  // onnxruntime writes one column; the second stays 0
                continue
            }
            if binaryCase && weightsAllPositive {
                out[2 * r] = 1 - s0; out[2 * r + 1] = s0
            } else if post == .logistic {
                out[2 * r] = MLOps.logistic(-s0); out[2 * r + 1] = MLOps.logistic(s0)
            } else {
                out[2 * r] = -s0; out[2 * r + 1] = s0
            }
        }
        return [Tensor(shape: [rows], int64s: label), Tensor(shape: [rows, 2], floats: out)]
    }

    func binaryLabel(_ pos: Float) -> Int64 {
        if binaryCase {
            if weightsAllPositive { return pos > 0.5 ? labels[1] : labels[0] }
            return pos > 0 ? labels[1] : labels[0]
        }
        return pos > 0 ? labels[labels.count - 1] : labels[0]
    }
}
