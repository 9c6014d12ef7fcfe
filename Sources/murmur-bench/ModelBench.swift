// `murmur-bench inference --only models`: the real models of issue 8 (found in the model cache),
// batch-1 latency and batch-64 throughput next to onnxruntime with the same thread count,
// interleaved in the same run (ours, then onnxruntime, then ours again; best of each).
import Foundation
import MurmurInference
import MurmurKernels

/// A long-lived `python3 Scripts/real_models/ort_bench.py`: one JSON job per line.
final class OrtServer {
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffer = Data()
    private(set) var version: String?

    init?(script: String) {
        guard FileManager.default.fileExists(atPath: script) else { return nil }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_CORETYPE"] = nil; env["OPENBLAS_L2_SIZE"] = nil
        process.environment = env
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Sends a job and waits for its answer line.
    func ask(_ job: [String: Any]) -> [String: Any]? {
        guard process.isRunning, let data = try? JSONSerialization.data(withJSONObject: job) else { return nil }
        do { try input.fileHandleForWriting.write(contentsOf: data + Data("\n".utf8)) } catch { return nil }
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[(nl + 1)...])
                let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                if let v = obj?["version"] as? String { version = v }
                return obj
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer += chunk
        }
    }
}

/// The repository root, for the ORT script: from the working directory or this source file.
func repoRoot() -> String {
    let cwd = FileManager.default.currentDirectoryPath
    if FileManager.default.fileExists(atPath: cwd + "/Scripts/real_models/ort_bench.py") { return cwd }
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}

/// Writes feeds as raw little-endian files for numpy.fromfile; returns the job's "inputs".
func writeRawInputs(_ feeds: [String: Tensor], dir: String, tag: String) throws -> [String: Any] {
    var out: [String: Any] = [:]
    for (name, t) in feeds {
        let file = "\(dir)/\(tag)-\(name.replacingOccurrences(of: "/", with: "_")).raw"
        let data: Data, dtype: String
        switch t.storage {
        case let .float32(a): data = a.withUnsafeBytes { Data($0) }; dtype = "float32"
        case let .int64(a): data = a.withUnsafeBytes { Data($0) }; dtype = "int64"
        case let .int32(a): data = a.withUnsafeBytes { Data($0) }; dtype = "int32"
        case let .float64(a): data = a.withUnsafeBytes { Data($0) }; dtype = "float64"
        case let .int8(a): data = a.withUnsafeBytes { Data($0) }; dtype = "int8"
        case let .uint8(a): data = a.withUnsafeBytes { Data($0) }; dtype = "uint8"
        case let .bool(a): data = a.withUnsafeBytes { Data($0) }; dtype = "bool"
        }
        try data.write(to: URL(fileURLWithPath: file))
        out[name] = ["dtype": dtype, "shape": t.shape, "file": file]
    }
    return out
}

/// Models with batch-64 rows: small ones where a batch is how they are used.
let batchedModels: Set<String> = ["magika_standard_v3_3", "ppocr_mobile_v2_cls", "minilm_l6_v2", "ppocr_v4_rec"]
let quickBatchedModels: Set<String> = ["magika_standard_v3_3", "ppocr_mobile_v2_cls"]

/// One model at one thread count: a timed first run sets the repeat count within `budget`
/// seconds, then ours, onnxruntime, ours again (interleaved, same input). Ours is the better of
/// the two; nil `ours` with the error when the model does not run.
func measureModel(_ model: InferenceModel, path: String, feeds: [String: Tensor], inputs: [String: Any], threads: Int,
                  ort: OrtServer?, budget: Double, maxRuns: Int) -> (ours: Double?, refMs: Double?, note: String?) {
    var failure: String?
    let once: () -> Void = {
        do { _ = try model.run(feeds, threads: threads) } catch { failure = "\(error)" }
    }
    var t0 = timespec(), t1 = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t0); once(); clock_gettime(CLOCK_MONOTONIC, &t1)
    if let failure { return (nil, nil, "run failed: \(failure)") }
    let first = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9
    let reps = max(2, min(maxRuns, Int(budget / max(first, 1e-6))))
    let before = bestTime(reps, once)
    let ref = ort?.ask(["model": path, "threads": threads, "repeats": reps, "inputs": inputs])
    let after = bestTime(reps, once)
    return (min(before, after), ref?["best_ms"] as? Double, (ref?["error"] as? String).map { "ort: \($0)" })
}

func modelsSection(_ opts: InferenceBenchOptions) throws -> [InferenceRow] {
    var rows: [InferenceRow] = []
    // MURMUR_BENCH_CONV_IM2COL=1: convolutions through the previous im2col + GEMM path (same
    // bits), for before/after ratios measured in the same conditions.
    if ProcessInfo.processInfo.environment["MURMUR_BENCH_CONV_IM2COL"] == "1" {
        Conv2D.useIm2col = true
        FileHandle.standardError.write(Data("conv: im2col + GEMM path (MURMUR_BENCH_CONV_IM2COL=1)\n".utf8))
    }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let threadCounts = opts.modelThreads ?? Array(Set([1, cores])).sorted()
    let selected = RealModels.all.filter { opts.models == nil || opts.models!.contains($0.alias) || opts.models!.contains($0.name) }
    if opts.profileRuns > 0 {
        var targets: [(name: String, load: () throws -> (InferenceModel, [String: Tensor]))] = []
        let fixtures = repoRoot() + "/Tests/Fixtures/models"
        for name in ["mlp", "forest", "cnn", "transformer"] where opts.models?.contains(name) == true || opts.models?.contains("fixtures") == true {
            targets.append(("fixture \(name)", {
                let model = try InferenceModel(path: "\(fixtures)/\(name).onnx")
                let bytes = FileManager.default.contents(atPath: "\(fixtures)/\(name).input.json") ?? Data()
                return (model, try InputJSON.parse(Array(bytes), for: model.inputs))
            }))
        }
        for m in selected where m.isCached { targets.append((m.name, { (try InferenceModel(path: m.path), m.sampleInputs()) })) }
        for m in targets {
            let (model, feeds) = try m.load()
            if opts.opProfile { _ = try model.run(feeds, threads: threadCounts[0]); _ = OpProfile.drain(); OpProfile.enabled = true }
            var hash = ""
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0)
            for _ in 0..<opts.profileRuns { hash = try model.run(feeds, threads: threadCounts[0]).hash.hex }
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1)
            let cpu = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9
            print("\(m.name): output hash \(hash), \(String(format: "%.3f", cpu * 1e3 / Double(opts.profileRuns))) ms thread CPU per run")
            if opts.opProfile {
                OpProfile.enabled = false
                let rows = OpProfile.drain()
                let total = max(1, rows.reduce(0) { $0 + $1.ns })
                for r in rows.prefix(40) {
                    print(String(format: "  %6.2f%% %9.1f us/run %5d calls/run  ", 100 * Double(r.ns) / Double(total),
                                 Double(r.ns) / 1e3 / Double(opts.profileRuns), r.calls / opts.profileRuns) + r.key)
                }
            }
        }
        return []
    }
    let tmp = NSTemporaryDirectory() + "murmur-bench-models-\(getpid())"
    try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    let ort = OrtServer(script: repoRoot() + "/Scripts/real_models/ort_bench.py")
    // Wall-time budget per measurement (ours before, ours after, onnxruntime).
    let budget = opts.quick ? 0.4 : 1.5
    let maxRuns = opts.quick ? 5 : max(opts.repeats, 20)

    // The repository's fixture models (issue 5: MLP, random forest, CNN, transformer), with their
    // committed inputs as they are (their first dimension is the batch the fixture was made with).
    let fixtureDir = repoRoot() + "/Tests/Fixtures/models"
    for name in ["mlp", "forest", "cnn", "transformer"] where opts.models == nil || opts.models!.contains(name) || opts.models!.contains("fixtures") {
        let path = "\(fixtureDir)/\(name).onnx"
        guard let model = try? InferenceModel(path: path),
              let bytes = FileManager.default.contents(atPath: "\(fixtureDir)/\(name).input.json"),
              let feeds = try? InputJSON.parse(Array(bytes), for: model.inputs) else {
            rows.append(InferenceRow(section: "models", name: "fixture \(name)", threads: 1, unit: "ms", murmur: 0, reference: nil,
                                     referenceName: nil, note: "cannot load \(path) or its input (run from the repository root)"))
            continue
        }
        let batch = feeds.values.first?.shape.first ?? 1
        let inputs = try writeRawInputs(feeds, dir: tmp, tag: "fixture-\(name)")
        for threads in threadCounts {
            let res = measureModel(model, path: path, feeds: feeds, inputs: inputs, threads: threads, ort: ort,
                                   budget: budget, maxRuns: opts.quick ? 500 : 5000)
            rows.append(InferenceRow(section: "models", name: "fixture \(name) batch \(batch)", threads: threads, unit: "ms",
                                     murmur: (res.ours ?? 0) * 1e3, reference: res.refMs,
                                     referenceName: ort?.version.map { "ort \($0)" } ?? "ort (n/a)", note: res.note))
            guard let ours = res.ours else { break }
            if !opts.json {
                FileHandle.standardError.write(Data("  fixture \(name) batch \(batch) t\(threads): ours \(String(format: "%.4f", ours * 1e3)) ms, ort \(res.refMs.map { String(format: "%.4f", $0) } ?? "-") ms\n".utf8))
            }
        }
    }

    for m in selected {
        guard m.isCached else {
            rows.append(InferenceRow(section: "models", name: m.name, threads: 1, unit: "ms", murmur: 0, reference: nil,
                                     referenceName: nil, note: "not cached at \(m.path): run Scripts/real_models/fetch.sh"))
            continue
        }
        let model: InferenceModel
        do { model = try InferenceModel(path: m.path) } catch {
            rows.append(InferenceRow(section: "models", name: m.name, threads: 1, unit: "ms", murmur: 0, reference: nil,
                                     referenceName: nil, note: "load failed: \(error)"))
            continue
        }
        var batches = [1]
        if m.batchable && (opts.quick ? quickBatchedModels : batchedModels).contains(m.name) { batches.append(64) }
        for batch in batches {
            let feeds = m.sampleInputs(batch: batch)
            let inputs = try writeRawInputs(feeds, dir: tmp, tag: "\(m.name)-\(batch)")
            for threads in threadCounts {
                let res = measureModel(model, path: m.path, feeds: feeds, inputs: inputs, threads: threads, ort: ort,
                                       budget: budget, maxRuns: maxRuns)
                guard let ours = res.ours else {
                    rows.append(InferenceRow(section: "models", name: m.name, threads: threads, unit: "ms", murmur: 0,
                                             reference: nil, referenceName: nil, note: res.note))
                    break
                }
                let refMs = res.refMs
                let refName = ort?.version.map { "ort \($0)" } ?? "ort (n/a)"
                let note = res.note
                if batch == 1 {
                    rows.append(InferenceRow(section: "models", name: "\(m.name) batch 1", threads: threads, unit: "ms",
                                             murmur: ours * 1e3, reference: refMs, referenceName: refName, note: note))
                } else {
                    rows.append(InferenceRow(section: "models", name: "\(m.name) batch \(batch)", threads: threads, unit: "items/s",
                                             murmur: Double(batch) / ours, reference: refMs.map { Double(batch) / ($0 / 1e3) },
                                             referenceName: refName, note: note))
                }
                if !opts.json {
                    let r = rows[rows.count - 1]
                    FileHandle.standardError.write(Data("  \(r.name) t\(threads): ours \(String(format: "%.3f", ours * 1e3)) ms, ort \(refMs.map { String(format: "%.3f", $0) } ?? "-") ms\n".utf8))
                }
            }
        }
    }
    return rows
}
