import Foundation
import MurmurCore
import MurmurJobs
import MurmurNode

let verifyCommand = Command(
    name: "verify",
    summary: "check a saved job result offline (signatures, distinct executors, quorum, hashes)",
    usage: """
    usage: murmur verify result.json

    result.json is a node's answer to GET /v1/jobs/ID (`murmur submit --wait --save FILE`). Trusting
    nobody, checks: the job record's and every attestation's signature; every attestation names
    this job, its model hash and input hash; executors are distinct; all attest one output hash; at
    least quorum agreeing attestations (or m = r + 2 agreeing dispute deciders); and, when output_bytes is
    present, that it hashes to the attested output hash (Specs/jobs.md, "Checking a result").
    Prints "verified JOB output OUTPUT_HASH by N executors" and exits 0, or the reason and exits 1.
    """,
    run: runVerify
)

@Sendable func runVerify(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, command: "verify", booleans: [], valued: [])
    guard args.positionals.count == 1, let path = args.positionals.first else { throw UsageError("verify: expected one result.json argument") }
    guard let data = FileManager.default.contents(atPath: path),
          let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw CommandFailure("verify: \(path) is not a readable JSON object")
    }
    guard let job = o["job"] as? [String: Any], let jobHex = job["record"] as? String, let jobBytes = Hex.decode(jobHex) else {
        throw CommandFailure("verify: \(path) has no job.record (hex)")
    }
    let rows = o["attestations"] as? [[String: Any]] ?? []
    var attestations: [[UInt8]] = []
    for (i, row) in rows.enumerated() {
        guard let hex = row["record"] as? String, let bytes = Hex.decode(hex) else { throw CommandFailure("verify: attestation \(i) has no record (hex)") }
        attestations.append(bytes)
    }
    var output: [UInt8]?
    if let hex = o["output_bytes"] as? String {
        guard let bytes = Hex.decode(hex) else { throw CommandFailure("verify: output_bytes is not hex") }
        output = bytes
    }
    do {
        let v = try ResultCheck.verify(job: jobBytes, attestations: attestations, output: output)
        if let claimed = o["job_id"] as? String, claimed != v.jobID.hex {
            throw CommandFailure("verify: job_id \(claimed) is not the hash of job.record (\(v.jobID.hex))")
        }
        writeLine("verified \(v.jobID.hex) output \(v.outputHash.hex) by \(v.executors.count) executors\(v.disputed ? " (dispute round)" : "")\(output == nil ? " (output bytes not included)" : "")")
        for e in v.executors { writeLine("  \(e.hex)") }
        return 0
    } catch let failure as ResultCheck.Failure {
        printError("murmur verify: REJECTED: \(failure)")
        return 1
    }
}
