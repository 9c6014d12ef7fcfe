import MurmurInference

let conformanceCommand = Command(
    name: "conformance",
    summary: "run ONNX backend tests against the inference engine",
    usage: """
    usage: murmur conformance [DIR] [--json] [--threads N] [--filter SUBSTRING]

    Runs the ONNX backend test cases under DIR (default: \(Conformance.defaultRoot), suites
    \(Conformance.defaultSuites.joined(separator: ", "))) and prints passed / failed / skipped per
    operator. Cases using operators the engine lacks are skipped and counted per missing op.
    Tolerance: rtol \(Conformance.rtol), atol \(Conformance.atol).
      --json          one JSON object: passed, failed, skipped, per_op, failures
      --threads N     worker threads per inference (results must not change)
      --filter S      only cases whose name contains S
    Exit status 1 when a case fails that is not a documented known gap.
    """,
    run: { args in
        let a = try Arguments(args, command: "conformance", booleans: ["--json"], valued: ["--threads", "--filter"])
        guard a.positionals.count <= 1 else { throw UsageError("conformance: at most one directory") }
        let dir = a.positionals.first ?? Conformance.defaultRoot
        let threads = try a.int("--threads", default: 1, range: 1...256)
        let filter = a.value("--filter")
        let report = Conformance.run(directory: dir, threads: threads, include: { filter == nil || $0.contains(filter!) })
        if report.cases.isEmpty { throw CommandFailure("no test cases found under \(dir) (install libonnx-testdata)") }
        print(a.has("--json") ? report.json() : report.table(), terminator: a.has("--json") ? "\n" : "")
        return report.unexpected.isEmpty ? 0 : 1
    }
)
