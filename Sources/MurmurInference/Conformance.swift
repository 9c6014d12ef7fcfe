import Foundation
import MurmurCore

/// Runs ONNX backend test cases (`model.onnx` + `test_data_set_*/{input,output}_*.pb`), as
/// shipped by Debian's `libonnx-testdata`, and compares with ONNX's tolerances.
public enum Conformance {
    public static let defaultRoot = "/usr/share/libonnx-testdata/data"
    public static let defaultSuites = ["node", "pytorch-converted", "pytorch-operator"]
    public static let rtol = 1e-3
    public static let atol = 1e-7

    /// Cases that use only supported operators but fail, each with the reason. The
    /// conformance test fails on any failure not listed here (and on a listed case that passes,
    /// so the list cannot go stale).
    public static let knownGaps: [String: String] = [
        "test_training_dropout": "Dropout training_mode=true draws random masks: refused (inference only)",
        "test_training_dropout_default": "Dropout training_mode=true draws random masks: refused (inference only)",
        "test_training_dropout_default_mask": "Dropout training_mode=true draws random masks: refused (inference only)",
        "test_training_dropout_mask": "Dropout training_mode=true draws random masks: refused (inference only)",
    ]

    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(String)
        /// Not run: unsupported operators (listed) or data types.
        case skipped(reason: String, missingOps: [String])
    }

    public struct CaseResult: Sendable {
        public let suite: String
        public let name: String
        /// Distinct op types the case's graph uses.
        public let ops: [String]
        public let outcome: Outcome
        public var isKnownGap: Bool { Conformance.knownGaps[name] != nil }
    }

    public struct OpCounts: Sendable, Equatable, Codable {
        public var passed = 0, failed = 0, skipped = 0
    }

    public struct Report: Sendable {
        public var cases: [CaseResult] = []
        public var passed: Int { cases.filter { $0.outcome == .passed }.count }
        public var failed: Int { cases.filter { if case .failed = $0.outcome { return true }; return false }.count }
        public var skipped: Int { cases.filter { if case .skipped = $0.outcome { return true }; return false }.count }

        /// Per op type: a case counts for every op its graph uses; a skipped case counts only
        /// for the operators it lacks.
        public var perOp: [String: OpCounts] {
            var t: [String: OpCounts] = [:]
            for c in cases {
                switch c.outcome {
                case .passed: for op in c.ops { t[op, default: OpCounts()].passed += 1 }
                case .failed: for op in c.ops { t[op, default: OpCounts()].failed += 1 }
                case let .skipped(_, missing):
                    for op in (missing.isEmpty ? ["(data type)"] : missing) { t[op, default: OpCounts()].skipped += 1 }
                }
            }
            return t
        }

        /// Failures that are not in `knownGaps`, and known gaps that now pass.
        public var unexpected: [String] {
            var out: [String] = []
            for c in cases {
                switch c.outcome {
                case let .failed(why) where !c.isKnownGap: out.append("\(c.suite)/\(c.name): \(why)")
                case .passed where c.isKnownGap: out.append("\(c.suite)/\(c.name): passes but is listed in knownGaps")
                default: break
                }
            }
            return out
        }

        /// JSON summary: passed, failed, skipped, known_gaps, per_op table, failures.
        public func json() -> String {
            var s = "{\n  \"passed\": \(passed),\n  \"failed\": \(failed),\n  \"skipped\": \(skipped),\n"
            s += "  \"known_gap_failures\": \(cases.filter { if case .failed = $0.outcome { return $0.isKnownGap }; return false }.count),\n"
            s += "  \"per_op\": {\n"
            let ops = perOp.sorted { $0.key < $1.key }
            s += ops.map { "    \(JSONText.quote($0.key)): {\"passed\": \($0.value.passed), \"failed\": \($0.value.failed), \"skipped\": \($0.value.skipped)}" }
                .joined(separator: ",\n")
            s += "\n  },\n  \"failures\": [\n"
            var fails: [String] = []
            for c in cases { if case let .failed(why) = c.outcome {
                fails.append("    {\"case\": \(JSONText.quote(c.suite + "/" + c.name)), \"reason\": \(JSONText.quote(why)), \"known_gap\": \(c.isKnownGap)}")
            } }
            s += fails.joined(separator: ",\n") + "\n  ]\n}"
            return s
        }

        /// Human-readable table: one line per op, then the failures.
        public func table() -> String {
            func pad(_ t: String, _ w: Int, left: Bool = false) -> String {
                let p = String(repeating: " ", count: max(0, w - t.count))
                return left ? t + p : p + t
            }
            var s = pad("op", 32, left: true) + pad("passed", 8) + pad("failed", 8) + pad("skipped", 9) + "\n"
            for (op, c) in perOp.sorted(by: { $0.key < $1.key }) {
                s += pad(op, 32, left: true) + pad(String(c.passed), 8) + pad(String(c.failed), 8) + pad(String(c.skipped), 9) + "\n"
            }
            s += "total: \(passed) passed, \(failed) failed, \(skipped) skipped (\(cases.count) cases)\n"
            for c in cases { if case let .failed(why) = c.outcome {
                s += "FAIL \(c.suite)/\(c.name)\(c.isKnownGap ? " (known gap)" : ""): \(why)\n"
            } }
            return s
        }
    }

    /// Case directories under `directory`: either the directory is a suite (its children hold
    /// `model.onnx`), a single case, or a root holding the default suites.
    public static func caseDirectories(_ directory: String) -> [(suite: String, path: String)] {
        let fm = FileManager.default
        if fm.fileExists(atPath: directory + "/model.onnx") {
            return [((directory as NSString).deletingLastPathComponent.split(separator: "/").last.map(String.init) ?? "", directory)]
        }
        func children(_ d: String) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: d)) ?? []).sorted().map { d + "/" + $0 }
                .filter { fm.fileExists(atPath: $0 + "/model.onnx") }
        }
        let direct = children(directory)
        if !direct.isEmpty {
            let suite = (directory as NSString).lastPathComponent
            return direct.map { (suite, $0) }
        }
        var out: [(String, String)] = []
        for s in defaultSuites { out += children(directory + "/" + s).map { (s, $0) } }
        return out
    }

    /// Runs every case under `directory` (see `caseDirectories`). `include` filters by case
    /// name; `maxModelBytes` skips larger cases (to keep debug-mode tests quick).
    public static func run(directory: String = defaultRoot, registry: OpRegistry = .standard, threads: Int = 1,
                           include: (String) -> Bool = { _ in true }) -> Report {
        var report = Report()
        for (suite, path) in caseDirectories(directory) {
            let name = (path as NSString).lastPathComponent
            guard include(name) else { continue }
            report.cases.append(runCase(path, suite: suite, registry: registry, threads: threads))
        }
        return report
    }

    static func runCase(_ path: String, suite: String, registry: OpRegistry, threads: Int) -> CaseResult {
        let name = (path as NSString).lastPathComponent
        var ops: [String] = []
        func result(_ o: Outcome) -> CaseResult { CaseResult(suite: suite, name: name, ops: ops, outcome: o) }
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(path + "/model.onnx", limit: Limits.maxModelBytes) } catch {
            return result(.failed("\(error)"))
        }
        let proto: ModelProto
        do { proto = try ModelProto(bytes: bytes) } catch { return result(.failed("\(error)")) }
        ops = Array(Set(proto.graph.nodes.map { ($0.domain.isEmpty ? "" : $0.domain + ".") + $0.opType })).sorted()
        let missing = InferenceModel.missingOperators(proto, registry: registry)
        if !missing.isEmpty {
            return result(.skipped(reason: "unsupported operators", missingOps: Array(Set(missing.map { ($0.domain.isEmpty ? "" : $0.domain + ".") + $0.opType })).sorted()))
        }
        for v in proto.graph.inputs + proto.graph.outputs {
            if !v.isTensor { return result(.skipped(reason: "non-tensor value '\(v.name)'", missingOps: [])) }
            if v.elementType != 0 && DType(rawValue: v.elementType) == nil {
                return result(.skipped(reason: "data type \(DType.onnxName(v.elementType))", missingOps: []))
            }
        }
        let model: InferenceModel
        do { model = try InferenceModel(bytes: bytes, registry: registry) } catch {
            if case let .unsupportedDataType(t, _) = error { return result(.skipped(reason: "data type \(DType.onnxName(t))", missingOps: [])) }
            return result(.failed("load: \(error)"))
        }

        let fm = FileManager.default
        let sets = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasPrefix("test_data_set_") }.sorted()
        if sets.isEmpty { return result(.failed("no test_data_set_* directories")) }
        for set in sets {
            let dir = path + "/" + set
            do {
                let ins = try numberedTensors(dir, prefix: "input_")
                let expected = try numberedTensors(dir, prefix: "output_")
                var feeds: [String: Tensor] = [:]
                let declared = proto.graph.inputs.map(\.name)
                for (i, (pname, t)) in ins.enumerated() {
                    let key = model.inputs.contains { $0.name == pname } ? pname : (i < declared.count ? declared[i] : pname)
                    feeds[key] = t
                }
                let out = try model.run(feeds, threads: threads)
                guard out.outputs.count >= expected.count else {
                    return result(.failed("\(set): \(out.outputs.count) outputs, expected \(expected.count)"))
                }
                for (i, (_, e)) in expected.enumerated() {
                    if let why = compare(out.outputs[i].tensor, e) {
                        return result(.failed("\(set) output \(i) '\(out.outputs[i].name)': \(why)"))
                    }
                }
            } catch let e as InferenceError {
                if case let .unsupportedDataType(t, _) = e { return result(.skipped(reason: "data type \(DType.onnxName(t))", missingOps: [])) }
                return result(.failed("\(set): \(e)"))
            } catch {
                return result(.failed("\(set): \(error)"))
            }
        }
        return result(.passed)
    }

    /// `input_0.pb`, `input_1.pb`, … in numeric order, with the names stored in them.
    static func numberedTensors(_ dir: String, prefix: String) throws -> [(String, Tensor)] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".pb") }
            .sorted { (Int($0.dropFirst(prefix.count).dropLast(3)) ?? 0) < (Int($1.dropFirst(prefix.count).dropLast(3)) ?? 0) }
        return try files.map { f in
            let p = try TensorProto(bytes: try FileBytes.read(dir + "/" + f, limit: Limits.maxModelBytes))
            return (p.name, try Tensor(proto: p))
        }
    }

    /// nil when `got` matches `want`: same dtype and shape; floats within atol + rtol·|want|
    /// (NaN matches NaN, infinities must be equal); everything else exactly.
    public static func compare(_ got: Tensor, _ want: Tensor, rtol: Double = Conformance.rtol, atol: Double = Conformance.atol) -> String? {
        guard got.dtype == want.dtype else { return "dtype \(got.dtype), expected \(want.dtype)" }
        guard got.shape == want.shape else { return "shape \(got.shape), expected \(want.shape)" }
        if got.dtype.isFloatingPoint {
            let g = got.doubleValues(), w = want.doubleValues()
            var worst = 0.0, at = -1
            for i in 0..<g.count {
                let a = g[i], b = w[i]
                if a.isNaN && b.isNaN { continue }
                if a == b { continue }
                let err = abs(a - b)
                if !(err <= atol + rtol * abs(b)) {
                    let rel = err / max(abs(b), 1e-30)
                    if at < 0 || rel > worst { worst = rel; at = i }
                }
            }
            if at >= 0 { return "element \(at): got \(g[at]), expected \(w[at]) (relative error \(worst))" }
            return nil
        }
        if got != want {
            let g = got.doubleValues(), w = want.doubleValues()
            let i = (0..<g.count).first { g[$0] != w[$0] } ?? 0
            return "element \(i): got \(g[i]), expected \(w[i])"
        }
        return nil
    }
}

/// Minimal JSON string quoting for hand-written JSON output.
public enum JSONText {
    public static func quote(_ s: String) -> String {
        var o = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\r": o += "\\r"
            case "\t": o += "\\t"
            default:
                if u.value < 0x20 { o += String(format: "\\u%04x", u.value) } else { o.unicodeScalars.append(u) }
            }
        }
        return o + "\""
    }
}
