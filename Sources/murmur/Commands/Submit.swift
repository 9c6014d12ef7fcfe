import Foundation
import MurmurCore
import MurmurNode

let submitCommand = Command(
    name: "submit",
    summary: "submit a job to a running node and (with --wait) print the verified result",
    usage: """
    usage: murmur submit MODEL --input input.json [--node HOST:PORT] [--redundancy R] [--quorum Q]
                         [--deadline-ms MS] [--wait] [--save result.json] [--timeout SECONDS]

    MODEL is a model hash or a manifest name known to the node. The input is the `murmur infer`
    JSON format. Prints the job id; with --wait, waits until the job is verified or failed and
    prints its state, the output, the output hash and who attested it. --save writes the node's
    full answer (job record, attestations, output bytes) for `murmur verify`.

      --node HOST:PORT     the node's --api address (default 127.0.0.1:7001); MURMUR_API_TOKEN or
                           MURMUR_API_TOKEN_FILE give the bearer token for a node off loopback
      --redundancy R       executors (1…15, default 3); --quorum Q (1…R, default R/2+1)
      --deadline-ms MS     the job's deadline from now (default 30000)
      --wait               wait for the outcome (exit 1 unless verified)

    """,
    run: runSubmit
)

@Sendable func runSubmit(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, command: "submit", booleans: ["--wait"],
                             valued: ["--input", "--node", "--redundancy", "--quorum", "--deadline-ms", "--save", "--timeout"])
    guard args.positionals.count == 1, let model = args.positionals.first else { throw UsageError("submit: expected one MODEL argument") }
    guard let inputPath = args.value("--input") else { throw UsageError("submit: --input FILE is required") }
    let address = try parseAddress(args.value("--node") ?? "127.0.0.1:7001", option: "--node", command: "submit")
    let r = try args.int("--redundancy", default: 3, range: 1...15)
    let q = try args.int("--quorum", default: r / 2 + 1, range: 1...r)
    let deadline = try args.int("--deadline-ms", default: 30_000, range: 1000...3_600_000)
    let timeout = try args.double("--timeout", default: 10, range: 0.1...600)
    guard let inputData = FileManager.default.contents(atPath: inputPath),
          let input = try? JSONSerialization.jsonObject(with: inputData) as? [String: Any] else {
        throw CommandFailure("submit: \(inputPath) is not a readable JSON object")
    }
    let body = try JSONSerialization.data(withJSONObject: ["model": model, "input": input, "redundancy": r, "quorum": q,
                                                           "deadline_ms": deadline] as [String: Any])
    let accepted = try controlCall(address, method: "POST", path: "/v1/jobs", body: Array(body), timeout: timeout, command: "submit")
    guard accepted.status == 202, let o = (try? JSONSerialization.jsonObject(with: Data(accepted.body))) as? [String: Any],
          let jobID = o["job_id"] as? String else {
        throw CommandFailure("submit: the node refused the job (\(accepted.status)): \(errorMessage(accepted.body))")
    }
    writeLine("job \(jobID)")
    guard args.has("--wait") else { return 0 }
    let waitUntil = Double(deadline) / 1000 + 5
    let started = Posix.monotonicNanoseconds()
    var answer: (status: Int, body: [UInt8]) = (0, [])
    var view: [String: Any] = [:]
    while true {
        let left = waitUntil - Double(Posix.monotonicNanoseconds() - started) / 1e9
        let wait = min(60, max(0, left))
        answer = try controlCall(address, method: "GET", path: "/v1/jobs/\(jobID)?wait=\(Int(wait.rounded(.up)))", timeout: wait + timeout, command: "submit")
        guard answer.status == 200, let v = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] else {
            throw CommandFailure("submit: \(answer.status): \(errorMessage(answer.body))")
        }
        view = v
        let state = v["state"] as? String ?? "?"
        if state == "verified" || state == "failed" || left <= 0 { break }
    }
    if let save = args.value("--save") {
        guard FileManager.default.createFile(atPath: save, contents: Data(answer.body)) else { throw CommandFailure("submit: cannot write \(save)") }
    }
    let state = view["state"] as? String ?? "?"
    let elapsed = Double(Posix.monotonicNanoseconds() - started) / 1e6
    writeLine("state \(state)\((view["reason"] as? String).map { ": \($0)" } ?? "")  (\(format3(elapsed)) ms)")
    guard state == "verified" else { return 1 }
    if let output = view["output"], !(output is NSNull), let text = try? JSONSerialization.data(withJSONObject: output, options: [.sortedKeys]) {
        writeLine("output \(String(decoding: text, as: UTF8.self))")
    }
    writeLine("output_hash \(view["output_hash"] as? String ?? "?")")
    let executors = view["executors"] as? [String] ?? []
    writeLine("attested by \(executors.count): \(executors.map { String($0.prefix(16)) }.joined(separator: " "))")
    return 0
}
