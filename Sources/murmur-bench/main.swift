#if canImport(Glibc)
import Glibc
#endif

/// One benchmark suite: `murmur-bench <name> [--json] [options]`. Each suite measures its
/// reference (raw libsodium, raw TCP, onnxruntime, numpy …) in the same run and reports ratios.
struct BenchSuite: Sendable {
    let name: String
    let summary: String
    let run: @Sendable ([String]) throws -> Int32
}

/// Every suite: add yours here (one line), implemented in `<Name>Bench.swift`.
let suites: [BenchSuite] = [
    inferenceSuite,
    channelSuite,
    cryptoSuite,
    jobsSuite,
    traceSuite,
]

let args = Array(CommandLine.arguments.dropFirst())
guard let name = args.first, let suite = suites.first(where: { $0.name == name }) else {
    print("usage: murmur-bench <suite> [--json]  (build with -c release)\nsuites:")
    for s in suites { print("  \(s.name): \(s.summary)") }
    exit(args.isEmpty || args.first == "--help" ? 0 : 2)
}
do {
    exit(try suite.run(Array(args.dropFirst())))
} catch {
    print("murmur-bench \(name): \(error)")
    exit(1)
}
