import MurmurCore
import MurmurInference

let inspectCommand = Command(
    name: "inspect",
    summary: "describe an ONNX model: inputs, outputs, ops, parameters, hash",
    usage: """
    usage: murmur inspect MODEL.onnx [--json]

    Prints the model hash (BLAKE2b-256 of the file), producer and opsets, inputs and outputs
    with types and shapes, operator counts, the number of parameters (initializer elements)
    and the operators this engine lacks (the model is refused at load time if any).
    """,
    run: { args in
        let a = try Arguments(args, command: "inspect", booleans: ["--json"], valued: [])
        guard a.positionals.count == 1 else { throw UsageError("inspect: give exactly one MODEL.onnx") }
        do {
            let info = try ModelSummary(path: a.positionals[0])
            print(a.has("--json") ? info.json() : info.text(), terminator: "")
            return 0
        } catch let e as InferenceError {
            throw CommandFailure("\(e)")
        }
    }
)
