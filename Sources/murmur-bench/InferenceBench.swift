// `murmur-bench inference`: kernel and model speed next to references measured in the same run
// (numpy for MatMul, onnxruntime for MatMul and models). Sections are independent; to add one
// (e.g. a model), append to `inferenceSections` a function returning `InferenceRow`s.
import Foundation
import MurmurKernels

/// One measured line: Murmur's figure next to a reference's, same unit, same run.
struct InferenceRow: Encodable {
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

    enum CodingKeys: String, CodingKey { case section, name, threads, unit, murmur, reference, referenceName, note, ratio }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(section, forKey: .section); try c.encode(name, forKey: .name)
        try c.encode(threads, forKey: .threads); try c.encode(unit, forKey: .unit)
        try c.encode(murmur, forKey: .murmur); try c.encodeIfPresent(reference, forKey: .reference)
        try c.encodeIfPresent(referenceName, forKey: .referenceName); try c.encodeIfPresent(note, forKey: .note)
        try c.encodeIfPresent(ratio, forKey: .ratio)
    }
}

struct InferenceBenchOptions {
    var json = false
    var threads = [1, 2]
    var repeats = 10
    var sections: Set<String>? = nil
    /// `--quick`: fewer repeats, batch-64 rows only for the smallest models (finishes in minutes).
    var quick = false
    /// `--models a,b`: real models by alias or file stem (default: every cached one).
    var models: Set<String>? = nil
    /// `--model-threads 1,2`: thread counts for the models section (default: 1 and all cores).
    var modelThreads: [Int]? = nil
    /// `--profile-runs N`: run each selected model N times (ours only, no reference), for perf/callgrind.
    var profileRuns = 0
    /// `--op-profile`: with `--profile-runs`, print time per operator (op type and input shapes).
    var opProfile = false
}

struct InferenceSection: Sendable {
    let name: String
    let run: @Sendable (InferenceBenchOptions) throws -> [InferenceRow]
}

/// Every section of the suite, in output order. Add model sections here.
let inferenceSections: [InferenceSection] = [
    InferenceSection(name: "matmul", run: matmulSection),
    InferenceSection(name: "math", run: mathSection),
    InferenceSection(name: "conv", run: convSection),
    InferenceSection(name: "models", run: modelsSection),
    InferenceSection(name: "cputime", run: cpuTimeSection),
]

let inferenceSuite = BenchSuite(
    name: "inference",
    summary: "MatMul GFLOP/s vs numpy and onnxruntime, DetMath rates, models vs onnxruntime [--json] [--threads 1,2] [--repeats N] [--only matmul,math,conv,models,cputime] [--quick] [--models minilm,ppocr-rec,...] [--model-threads 1,2]",
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
        case "--quick": opts.quick = true; opts.repeats = min(opts.repeats, 3)
        case "--models" where i + 1 < args.count:
            opts.models = Set(args[i + 1].split(separator: ",").map(String.init)); i += 1
        case "--model-threads" where i + 1 < args.count:
            opts.modelThreads = args[i + 1].split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }; i += 1
        case "--profile-runs" where i + 1 < args.count:
            opts.profileRuns = max(1, Int(args[i + 1]) ?? 1); opts.sections = ["models"]; i += 1
        case "--op-profile": opts.opProfile = true
        case "--only" where i + 1 < args.count:
            opts.sections = Set(args[i + 1].split(separator: ",").map(String.init)); i += 1
        default:
            print("murmur-bench inference: unknown option \(args[i])")
            return 2
        }
        i += 1
    }
    var rows: [InferenceRow] = []
    // `cputime` is a diagnostic for shared machines; it runs only when asked for.
    for section in inferenceSections where opts.sections?.contains(section.name) ?? (section.name != "cputime") {
        rows += try section.run(opts)
    }
    if opts.json {
        struct Out: Encodable { var isa: String; var rows: [InferenceRow] }
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
    func num(_ x: Double?) -> String { x.map { String(format: $0 < 10 ? "%.3f" : "%.1f", $0) } ?? "—" }
    print(pad("section", 8) + pad("case", 44) + pad("thr", 4) + pad("murmur", 10) + pad("reference", 26) + pad("ratio", 7) + "unit")
    for r in rows {
        let ref = r.reference.map { "\(num($0)) \(r.referenceName ?? "")" } ?? (r.referenceName.map { "— \($0)" } ?? "—")
        let ratio = r.ratio.map { String(format: "%.2f×", $0) } ?? ""
        print(pad(r.section, 8) + pad(r.name, 44) + pad("\(r.threads)", 4) + pad(num(r.murmur), 10) + pad(ref, 26) + pad(ratio, 7) + r.unit
              + (r.note.map { "  (\($0))" } ?? ""))
    }
}

/// Best time of `repeats` runs (after one warm-up), in seconds: wall time unless `clock` says
/// otherwise.
func bestTime(_ repeats: Int, clock: clockid_t = CLOCK_MONOTONIC, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<repeats {
        var t0 = timespec(), t1 = timespec()
        clock_gettime(clock, &t0)
        body()
        clock_gettime(clock, &t1)
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

/// Reference measurements in Python. argv[1] is a JSON job: {"threads": T, "repeats": R,
/// "numpy": [[m, k, n], …], "ort": [[m, k, n], …], "math": N}. Prints one JSON object: GFLOP/s per
/// "numpy m×k×n" / "ort m×k×n" key, Gelem/s per "numpy exp" etc., plus version/thread info.
private let referenceScript = #"""
import json, sys, time
job = json.loads(sys.argv[1]); threads = job["threads"]; repeats = job["repeats"]
import numpy as np
res = {}
rng = np.random.default_rng(1)
def best(f):
    f(); t = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); t = min(t, time.perf_counter() - t0)
    return t
try:
    from threadpoolctl import threadpool_limits, threadpool_info
    ctx = threadpool_limits(limits=threads)
    res["numpy_info"] = " ".join(f"{i.get('internal_api')}:{i.get('num_threads')}:{i.get('architecture')}" for i in threadpool_info())
except Exception as e:
    res["numpy_info"] = "threadpoolctl unavailable"
for m, k, n in job.get("numpy", []):
    a = rng.standard_normal((m, k), dtype=np.float32); b = rng.standard_normal((k, n), dtype=np.float32)
    res[f"numpy {m}x{k}x{n}"] = 2 * m * k * n / best(lambda: np.matmul(a, b)) / 1e9
if job.get("math"):
    x = rng.standard_normal(job["math"], dtype=np.float32) * 4; y = np.empty_like(x)
    res["numpy exp"] = x.size / best(lambda: np.exp(x, out=y)) / 1e9
    res["numpy tanh"] = x.size / best(lambda: np.tanh(x, out=y)) / 1e9
try:
    import onnx, onnxruntime as ort
    from onnx import helper, TensorProto, numpy_helper
    res["ort_version"] = ort.__version__
    for m, k, n in job.get("ort", []):
        a = rng.standard_normal((m, k), dtype=np.float32); b = rng.standard_normal((k, n), dtype=np.float32)
        g = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "mm",
            [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k])],
            [helper.make_tensor_value_info("C", TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(b, "B")])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
        s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        res[f"ort {m}x{k}x{n}"] = 2 * m * k * n / best(lambda: s.run(None, {"A": a})) / 1e9
    for idx, (bn, c, h, w, m, kh, kw, pad, stride, groups) in enumerate(job.get("conv", [])):
        x = rng.standard_normal((bn, c, h, w), dtype=np.float32)
        wt = rng.standard_normal((m, c // groups, kh, kw), dtype=np.float32); bias = rng.standard_normal((m,), dtype=np.float32)
        node = helper.make_node("Conv", ["X", "W", "B"], ["Y"], pads=[pad] * 4, strides=[stride] * 2, group=groups)
        g = helper.make_graph([node], "conv", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
            [numpy_helper.from_array(wt, "W"), numpy_helper.from_array(bias, "B")])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
        s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        res[f"ort conv {idx}"] = best(lambda: s.run(None, {"X": x})) * 1e3
except Exception as e:
    res["ort_error"] = str(e)[:80]
print(json.dumps(res))
"""#

/// Runs the reference script with a job; nil when python3 (or numpy) is missing.
func pythonReference(threads: Int, repeats: Int, numpy: [[Int]] = [], ort: [[Int]] = [], math: Int = 0,
                     conv: [[Int]] = []) -> [String: Any]? {
    let job: [String: Any] = ["threads": threads, "repeats": repeats, "numpy": numpy, "ort": ort, "math": math, "conv": conv]
    guard let data = try? JSONSerialization.data(withJSONObject: job) else { return nil }
    return runPythonReference(referenceScript, [String(decoding: data, as: UTF8.self)])
}

/// Our best time around the reference run (before and after), to be fair under noisy load.
func bracketed(_ repeats: Int, _ body: () -> Void, around reference: () -> [String: Any]?) -> (Double, [String: Any]?) {
    let before = bestTime(repeats, body)
    let ref = reference()
    let after = bestTime(repeats, body)
    return (min(before, after), ref)
}

/// GEMM shapes: the 1024³ headline, batch-1, and transformer-layer shapes (pre-packed weights).
let matmulShapes: [(m: Int, k: Int, n: Int)] = [(1024, 1024, 1024), (1, 1024, 1024), (64, 768, 768), (64, 768, 3072), (64, 3072, 768)]

func matmulSection(_ opts: InferenceBenchOptions) throws -> [InferenceRow] {
    var rows: [InferenceRow] = []
    var g = SystemRandomNumberGenerator()
    for threads in opts.threads {
        let pool = WorkerPool(threads: threads)
        for (idx, shape) in matmulShapes.enumerated() {
            let (m, k, n) = shape
            let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer { a.deallocate(); b.deallocate(); c.deallocate() }
            for i in 0..<(m * k) { a[i] = Float.random(in: -1...1, using: &g) }
            for i in 0..<(k * n) { b[i] = Float.random(in: -1...1, using: &g) }
            let flops = 2.0 * Double(m * n * k)
            let reps = max(opts.repeats, Int(2e8 / flops))   // small shapes: more repeats
            let packed = PackedGemmB(k: k, n: n, b: b, ldb: n)
            let label = "\(m)×\(k)×\(n)"
            let key = "\(m)x\(k)x\(n)"
            let (tUnpacked, ref) = bracketed(reps, {
                Gemm.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, pool: pool)
            }, around: { pythonReference(threads: threads, repeats: reps, numpy: [[m, k, n]], ort: [[m, k, n]]) })
            let (tPacked, _) = bracketed(reps, {
                Gemm.sgemm(m: m, a: a, lda: k, packedB: packed, c: c, ldc: n, pool: pool)
            }, around: { nil })
            let ortName = (ref?["ort_version"] as? String).map { "ort \($0)" } ?? "ort (n/a)"
            rows.append(InferenceRow(section: "matmul", name: "sgemm \(label) vs numpy", threads: threads, unit: "GFLOP/s",
                                     murmur: flops / tUnpacked / 1e9, reference: ref?["numpy \(key)"] as? Double,
                                     referenceName: "numpy", note: idx == 0 ? (ref?["numpy_info"] as? String).map { "numpy threads \($0)" } : nil))
            rows.append(InferenceRow(section: "matmul", name: "sgemm \(label) packed B vs ort", threads: threads, unit: "GFLOP/s",
                                     murmur: flops / tPacked / 1e9, reference: ref?["ort \(key)"] as? Double,
                                     referenceName: ortName, note: nil))
        }
    }
    // Each ISA level on one thread at 1024³ (identical bits on every level; speed only).
    let n = 1024
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n), c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    defer { a.deallocate(); c.deallocate() }
    for i in 0..<(n * n) { a[i] = Float.random(in: -1...1, using: &g) }
    for isa in KernelISA.supported where isa != .baseline || KernelISA.supported.count == 1 {
        KernelISA.force(isa)
        let p = PackedGemmB(k: n, n: n, b: a, ldb: n)
        let t = bestTime(max(1, opts.repeats / 2)) { Gemm.sgemm(m: n, a: a, lda: n, packedB: p, c: c, ldc: n) }
        rows.append(InferenceRow(section: "matmul", name: "sgemm 1024³ packed B, ISA \(isa)", threads: 1, unit: "GFLOP/s",
                                 murmur: 2.0 * Double(n * n * n) / t / 1e9, reference: nil, referenceName: nil, note: nil))
    }
    KernelISA.force(nil)
    return rows
}

/// DetMath element rates (one thread) next to numpy's float32 ufuncs.
func mathSection(_ opts: InferenceBenchOptions) throws -> [InferenceRow] {
    let count = 1 << 20
    var g = SystemRandomNumberGenerator()
    let x = UnsafeMutablePointer<Float>.allocate(capacity: count), y = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { x.deallocate(); y.deallocate() }
    for i in 0..<count { x[i] = Float.random(in: -4...4, using: &g) }
    let xb = UnsafeBufferPointer(start: x, count: count), yb = UnsafeMutableBufferPointer(start: y, count: count)
    let ref = pythonReference(threads: 1, repeats: opts.repeats, math: count)
    var rows: [InferenceRow] = []
    for f in UnaryMath.allCases {
        let t = bestTime(opts.repeats) { DetMath.apply(f, xb, into: yb) }
        let refName: String? = (f == .exp || f == .tanh) ? "numpy" : nil
        rows.append(InferenceRow(section: "math", name: "DetMath.\(f) 1M floats", threads: 1, unit: "Gelem/s",
                                 murmur: Double(count) / t / 1e9, reference: refName == nil ? nil : ref?["numpy \(f)"] as? Double,
                                 referenceName: refName, note: nil))
    }
    let t = bestTime(opts.repeats) { DetMath.pow(xb, UnsafeBufferPointer(start: x, count: 1), into: yb) }
    rows.append(InferenceRow(section: "math", name: "DetMath.pow 1M floats", threads: 1, unit: "Gelem/s",
                             murmur: Double(count) / t / 1e9, reference: nil, referenceName: nil, note: nil))
    return rows
}

/// Best thread-CPU time of `repeats` runs: immune to time-slicing on a shared machine (not to
/// cache pollution). Single-threaded work only.
func bestCPUTime(_ repeats: Int, _ body: () -> Void) -> Double {
    bestTime(repeats, clock: CLOCK_THREAD_CPUTIME_ID, body)
}

/// `--only cputime`: 1-thread GEMM rates per ISA level measured in thread CPU time (no references;
/// for tuning on a loaded machine).
func cpuTimeSection(_ opts: InferenceBenchOptions) throws -> [InferenceRow] {
    var rows: [InferenceRow] = []
    var g = SystemRandomNumberGenerator()
    for (m, k, n) in [(1024, 1024, 1024), (64, 768, 3072), (1, 1024, 1024), (6, 256, 32), (32, 144, 196), (36, 144, 224)] {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k), b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(m * k) { a[i] = Float.random(in: -1...1, using: &g) }
        for i in 0..<(k * n) { b[i] = Float.random(in: -1...1, using: &g) }
        let flops = 2.0 * Double(m * n * k)
        for isa in KernelISA.supported where isa != .baseline {
            KernelISA.force(isa)
            let p = PackedGemmB(k: k, n: n, b: b, ldb: n)
            let reps = max(opts.repeats, Int(1e9 / flops))
            let t = bestCPUTime(reps) { Gemm.sgemm(m: m, a: a, lda: k, packedB: p, c: c, ldc: n) }
            let t2 = bestCPUTime(reps) { Gemm.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n) }
            rows.append(InferenceRow(section: "cputime", name: "\(m)×\(k)×\(n) packed B, \(isa)", threads: 1, unit: "GFLOP/s",
                                     murmur: flops / t / 1e9, reference: nil, referenceName: nil, note: nil))
            rows.append(InferenceRow(section: "cputime", name: "\(m)×\(k)×\(n) unpacked, \(isa)", threads: 1, unit: "GFLOP/s",
                                     murmur: flops / t2 / 1e9, reference: nil, referenceName: nil, note: nil))
        }
        KernelISA.force(nil)
    }
    for s in convShapes {
        var p = Conv2DParams(batch: s[0], inChannels: s[1], inHeight: s[2], inWidth: s[3], outChannels: s[4],
                             kernelHeight: s[5], kernelWidth: s[6])
        p.padTop = s[7]; p.padLeft = s[7]; p.padBottom = s[7]; p.padRight = s[7]
        p.strideH = s[8]; p.strideW = s[8]; p.groups = s[9]
        let xCount = p.batch * p.inChannels * p.inHeight * p.inWidth
        let wCount = p.outChannels * (p.inChannels / p.groups) * p.kernelHeight * p.kernelWidth
        let yCount = p.batch * p.outChannels * p.outHeight * p.outWidth
        let x = UnsafeMutablePointer<Float>.allocate(capacity: xCount), w = UnsafeMutablePointer<Float>.allocate(capacity: wCount)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: yCount)
        defer { x.deallocate(); w.deallocate(); y.deallocate() }
        for i in 0..<xCount { x[i] = Float.random(in: -1...1, using: &g) }
        for i in 0..<wCount { w[i] = Float.random(in: -1...1, using: &g) }
        let t = bestCPUTime(opts.repeats) { Conv2D.forward(p, input: x, weights: w, bias: nil, output: y) }
        rows.append(InferenceRow(section: "cputime", name: "conv \(s)", threads: 1, unit: "ms",
                                 murmur: t * 1e3, reference: nil, referenceName: nil, note: nil))
    }
    return rows
}

/// Conv layers (N, C, H, W, M, k, pad, stride, groups): a small MNIST-style CNN's, a ResNet-style
/// 3×3, a pointwise, a depthwise — next to onnxruntime's Conv with the same weights as constants.
let convShapes: [[Int]] = [
    [1, 1, 28, 28, 16, 3, 3, 1, 1, 1],
    [1, 16, 14, 14, 32, 3, 3, 1, 1, 1],
    [1, 64, 56, 56, 64, 3, 3, 1, 1, 1],
    [1, 128, 28, 28, 256, 1, 1, 0, 1, 1],
    [1, 128, 28, 28, 128, 3, 3, 1, 1, 128],
    [64, 16, 14, 14, 32, 3, 3, 1, 1, 1],
]

func convSection(_ opts: InferenceBenchOptions) throws -> [InferenceRow] {
    var rows: [InferenceRow] = []
    var g = SystemRandomNumberGenerator()
    for threads in opts.threads {
        let pool = WorkerPool(threads: threads)
        var measured: [(String, Double, Int)] = []
        for (idx, s) in convShapes.enumerated() {
            var p = Conv2DParams(batch: s[0], inChannels: s[1], inHeight: s[2], inWidth: s[3], outChannels: s[4],
                                 kernelHeight: s[5], kernelWidth: s[6])
            p.padTop = s[7]; p.padLeft = s[7]; p.padBottom = s[7]; p.padRight = s[7]
            p.strideH = s[8]; p.strideW = s[8]; p.groups = s[9]
            let xCount = p.batch * p.inChannels * p.inHeight * p.inWidth
            let wCount = p.outChannels * (p.inChannels / p.groups) * p.kernelHeight * p.kernelWidth
            let yCount = p.batch * p.outChannels * p.outHeight * p.outWidth
            let x = UnsafeMutablePointer<Float>.allocate(capacity: xCount), w = UnsafeMutablePointer<Float>.allocate(capacity: wCount)
            let bias = UnsafeMutablePointer<Float>.allocate(capacity: p.outChannels), y = UnsafeMutablePointer<Float>.allocate(capacity: yCount)
            defer { x.deallocate(); w.deallocate(); bias.deallocate(); y.deallocate() }
            for i in 0..<xCount { x[i] = Float.random(in: -1...1, using: &g) }
            for i in 0..<wCount { w[i] = Float.random(in: -1...1, using: &g) }
            for i in 0..<p.outChannels { bias[i] = Float.random(in: -1...1, using: &g) }
            let flops = 2.0 * Double(yCount * wCount / p.outChannels)
            let reps = max(opts.repeats, min(200, Int(2e8 / flops)))
            let t = bestTime(reps) { Conv2D.forward(p, input: x, weights: w, bias: bias, output: y, pool: pool) }
            let name = "conv \(s[0])×\(s[1])×\(s[2])×\(s[3])→\(s[4]) k\(s[5]) g\(s[9])"
            measured.append((name, t, idx))
        }
        let ref = pythonReference(threads: threads, repeats: opts.repeats, conv: convShapes)
        for (name, t, idx) in measured {
            rows.append(InferenceRow(section: "conv", name: name, threads: threads, unit: "ms", murmur: t * 1e3,
                                     reference: ref?["ort conv \(idx)"] as? Double,
                                     referenceName: (ref?["ort_version"] as? String).map { "ort \($0)" } ?? "ort (n/a)", note: nil))
        }
    }
    return rows
}
