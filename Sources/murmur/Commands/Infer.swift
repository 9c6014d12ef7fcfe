import Dispatch
import Foundation
import MurmurCore
import MurmurInference

let inferCommand = Command(
    name: "infer",
    summary: "run an ONNX model locally on a JSON input",
    usage: """
    usage: murmur infer MODEL.onnx --input INPUT.json [--threads N] [--json]

    Runs MODEL.onnx with the deterministic engine and prints each output and the output hash
    (BLAKE2b-256 of the canonical output encoding, Specs/inference.md). The same model and
    input give the same bytes and hash on every machine and thread count.
      --input FILE    JSON object {name: {"shape": [...], "dtype": "float32", "data": [...]}}
                      or {name: nested arrays} (dtype from the model). "-" reads stdin.
      --threads N     worker threads (1...256, default 1); never changes the result
      --json          {"outputs": {name: {"shape", "dtype", "data"}}, "output_hash", "model_hash"}
      --repeat N      run N times and print the median and best run time to stderr
    """,
    run: { args in
        let a = try Arguments(args, command: "infer", booleans: ["--json"], valued: ["--input", "--threads", "--repeat"])
        guard a.positionals.count == 1 else { throw UsageError("infer: give exactly one MODEL.onnx (see murmur infer --help)") }
        guard let inputPath = a.value("--input") else { throw UsageError("infer: --input INPUT.json is required") }
        let threads = try a.int("--threads", default: 1, range: 1...Limits.maxInferenceThreads)
        do {
            let model = try InferenceModel(path: a.positionals[0])
            let bytes = inputPath == "-" ? readStandardInput() : try FileBytes.read(inputPath, limit: Limits.maxInputJSONBytes)
            let feeds = try InputJSON.parse(bytes, for: model.inputs)
            var result = try model.run(feeds, threads: threads)
            let repeats = try a.int("--repeat", default: 0, range: 0...100_000)
            if repeats > 0 {
                var times: [Double] = []
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    result = try model.run(feeds, threads: threads)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                }
                times.sort()
                printError("runs: \(repeats), median \(String(format: "%.3f", times[times.count / 2])) ms, best \(String(format: "%.3f", times[0])) ms (threads \(threads))")
            }
            if a.has("--json") {
                print(OutputJSON.encode(result, modelHash: model.modelHash))
            } else {
                for o in result.outputs {
                    print("\(o.name): \(o.tensor.dtype) \(o.tensor.shape)")
                    let shown = OutputJSON.values(o.tensor.count > 64 ? firstElements(o.tensor, 64) : o.tensor)
                    print("  [\(shown)\(o.tensor.count > 64 ? ", … (\(o.tensor.count) values)" : "")]")
                }
                print("output_hash: \(result.hash.hex)")
                print("model_hash:  \(model.modelHash.hex)")
            }
            return 0
        } catch let e as InferenceError {
            throw CommandFailure("\(e)")
        }
    }
)

private func firstElements(_ t: Tensor, _ n: Int) -> Tensor {
    t.flatPrefix(n)
}

private func readStandardInput() -> [UInt8] {
    var out: [UInt8] = []
    while let line = readLine(strippingNewline: false) { out += Array(line.utf8) }
    return out
}
