// `murmur-bench inference`: kernel and model speed next to references measured in the same run
// (numpy for MatMul, onnxruntime for MatMul and models). Sections are independent; to add one
// (e.g. a model), append to `inferenceSections` a function returning `InferenceRow`s.
import Foundation
import MurmurKernels

/// One measured line: Murmur's figure next to a reference's, same unit, same run.
struct InferenceRow: Codable {
    var section: String
    var name: String
    var threads: Int
    var unit: String            // "GFLOP/s" (higher is better) or "ms" (lower is better)
    var murmur: Double
    var reference: Double?
    var referenceName: String?
    var note: String?

    /// Murmur relative to the reference, > 1 meaning Murmur is better.
    var ratio: Double? {
        guard let r = reference, r > 0, murmur > 0 else { return nil }
        return unit == "ms" ? r / murmur : murmur / r
    }
}

struct InferenceBenchOptions {
    var json = false
    var threads = [1, 2]
    var repeats = 10
    var sections: Set<String>? = nil
}

struct InferenceSection: Sendable {
    let name: String
    let run: @Sendable (InferenceBenchOptions) throws -> [InferenceRow]
}

/// Every section of the suite, in output order. Add model sections here.
let inferenceSections: [InferenceSection] = [
    InferenceSection(name: "matmul", run: matmulSection),
]

let inferenceSuite = BenchSuite(
    name: "inference",
    summary: "MatMul GFLOP/s (1024³) vs numpy and onnxruntime, model latency vs onnxruntime [--json] [--threads 1,2] [--repeats N] [--only matmul,...]",
    run: runInferenceBench
)

func runInferenceBench(_ args: [String]) throws -> Int32 {
    var opts = InferenceBenchOptions()
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--json": opts.json = true
        case "--threads" where i + 1 < args.count:
            opts.threads = args[i + 1].split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }; i += 1
        case "--repeats" where i + 1 < args.count:
            opts.repeats = max(1, Int(args[i + 1]) ?? 10); i += 1
        case "--only" where i + 1 < args.count:
            opts.sections = Set(args[i + 1].split(separator: ",").map(String.init)); i += 1
        default:
            print("murmur-bench inference: unknown option \(args[i])")
            return 2
        }
        i += 1
    }
    var rows: [InferenceRow] = []
    for section in inferenceSections where opts.sections?.contains(section.name) ?? true {
        rows += try section.run(opts)
    }
    if opts.json {
        struct Out: Codable { var isa: String; var rows: [InferenceRow] }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try enc.encode(Out(isa: KernelISA.active.description, rows: rows)), as: UTF8.self))
    } else {
        printInferenceTable(rows)
    }
    return 0
}

func printInferenceTable(_ rows: [InferenceRow]) {
    print("kernels: \(KernelISA.active) (supported: \(KernelISA.supported.map(\.description).joined(separator: ", ")))")
    func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    func num(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "—" }
    print(pad("section", 8) + pad("case", 40) + pad("thr", 4) + pad("murmur", 10) + pad("reference", 26) + pad("ratio", 7) + "unit")
    for r in rows {
        let ref = r.reference.map { "\(num($0)) \(r.referenceName ?? "")" } ?? (r.referenceName.map { "— \($0)" } ?? "—")
        let ratio = r.ratio.map { String(format: "%.2f×", $0) } ?? ""
        print(pad(r.section, 8) + pad(r.name, 40) + pad("\(r.threads)", 4) + pad(num(r.murmur), 10) + pad(ref, 26) + pad(ratio, 7) + r.unit
              + (r.note.map { "  (\($0))" } ?? ""))
    }
}

/// Best wall time of `repeats` runs (after one warm-up), in seconds.
func bestTime(_ repeats: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<repeats {
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        body()
        clock_gettime(CLOCK_MONOTONIC, &t1)
        best = min(best, Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9)
    }
    return best
}

/// Runs a Python snippet that prints one JSON object; nil when python3 or a module is missing.
/// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed for this command only (they slow numpy).
func runPythonReference(_ script: String, _ arguments: [String]) -> [String: Any]? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + arguments
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_CORETYPE"] = nil
    env["OPENBLAS_L2_SIZE"] = nil
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
          let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
    return obj
}

private let matmulReferenceScript = #"""
import json, sys, time
n, threads, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
import numpy as np
res = {}
rng = np.random.default_rng(1)
a = rng.standard_normal((n, n), dtype=np.float32); b = rng.standard_normal((n, n), dtype=np.float32)
x = rng.standard_normal((1, n), dtype=np.float32)
def best(f):
    f(); t = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); t = min(t, time.perf_counter() - t0)
    return t
try:
    from threadpoolctl import threadpool_limits, threadpool_info
    ctx = threadpool_limits(limits=threads)
    info = [(i.get("internal_api"), i.get("num_threads"), i.get("architecture")) for i in threadpool_info()]
except Exception:
    ctx = None; info = []
res["numpy"] = 2 * n**3 / best(lambda: np.matmul(a, b)) / 1e9
res["numpy_gemv"] = 2 * n * n / best(lambda: np.matmul(x, b)) / 1e9
res["numpy_info"] = " ".join(f"{api}:{nt}:{arch}" for api, nt, arch in info)
try:
    import onnx, onnxruntime as ort
    from onnx import helper, TensorProto, numpy_helper
    def session(m):
        g = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "mm",
            [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, n])],
            [helper.make_tensor_value_info("C", TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(b, "B")])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
        return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    s = session(n); res["ort"] = 2 * n**3 / best(lambda: s.run(None, {"A": a})) / 1e9
    s1 = session(1); res["ort_gemv"] = 2 * n * n / best(lambda: s1.run(None, {"A": x})) / 1e9
    res["ort_version"] = ort.__version__
except Exception as e:
    res["ort_error"] = str(e)[:80]
print(json.dumps(res))
"""#

func matmulSection(_ opts: InferenceBenchOptions) throws -> [InferenceRow] {
    let n = 1024
    var g = SystemRandomNumberGenerator()
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    for i in 0..<(n * n) {
        a[i] = Float.random(in: -1...1, using: &g); b[i] = Float.random(in: -1...1, using: &g); c[i] = 0
    }
    let flops = 2.0 * Double(n * n * n)
    let packed = PackedGemmB(k: n, n: n, b: b, ldb: n)
    var rows: [InferenceRow] = []
    for threads in opts.threads {
        let pool = WorkerPool(threads: threads)
        let ref = runPythonReference(matmulReferenceScript, ["\(n)", "\(threads)", "\(opts.repeats)"])
        let tPack = bestTime(opts.repeats) { Gemm.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n, pool: pool) }
        let tPre = bestTime(opts.repeats) { Gemm.sgemm(m: n, a: a, lda: n, packedB: packed, c: c, ldc: n, pool: pool) }
        let tGemv = bestTime(opts.repeats * 10) { Gemm.sgemm(m: 1, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n, pool: pool) }
        let tGemvP = bestTime(opts.repeats * 10) { Gemm.sgemm(m: 1, a: a, lda: n, packedB: packed, c: c, ldc: n, pool: pool) }
        let numpyNote = (ref?["numpy_info"] as? String).map { "numpy threads: \($0)" }
        let ortName = (ref?["ort_version"] as? String).map { "onnxruntime \($0)" } ?? "onnxruntime (n/a)"
        rows.append(InferenceRow(section: "matmul", name: "sgemm 1024³ vs numpy", threads: threads, unit: "GFLOP/s",
                                 murmur: flops / tPack / 1e9, reference: ref?["numpy"] as? Double, referenceName: "numpy",
                                 note: numpyNote))
        rows.append(InferenceRow(section: "matmul", name: "sgemm 1024³ pre-packed B vs ort", threads: threads, unit: "GFLOP/s",
                                 murmur: flops / tPre / 1e9, reference: ref?["ort"] as? Double, referenceName: ortName,
                                 note: nil))
        rows.append(InferenceRow(section: "matmul", name: "gemv 1×1024·1024² vs numpy", threads: threads, unit: "GFLOP/s",
                                 murmur: 2.0 * Double(n * n) / tGemv / 1e9, reference: ref?["numpy_gemv"] as? Double,
                                 referenceName: "numpy", note: nil))
        rows.append(InferenceRow(section: "matmul", name: "gemv pre-packed B vs ort", threads: threads, unit: "GFLOP/s",
                                 murmur: 2.0 * Double(n * n) / tGemvP / 1e9, reference: ref?["ort_gemv"] as? Double,
                                 referenceName: ortName, note: nil))
    }
    // Each ISA level on one thread (all give identical bits; speed only).
    for isa in KernelISA.supported where isa != .baseline || KernelISA.supported.count == 1 {
        KernelISA.force(isa)
        let p = PackedGemmB(k: n, n: n, b: b, ldb: n)
        let t = bestTime(max(1, opts.repeats / 2)) { Gemm.sgemm(m: n, a: a, lda: n, packedB: p, c: c, ldc: n) }
        rows.append(InferenceRow(section: "matmul", name: "sgemm 1024³ pre-packed, ISA \(isa)", threads: 1, unit: "GFLOP/s",
                                 murmur: flops / t / 1e9, reference: nil, referenceName: nil, note: nil))
    }
    KernelISA.force(nil)
    return rows
}
