import XCTest
import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurJobs

/// Random (valid, signed) records and events in random order never trap the state machine, and
/// its bookkeeping stays within bounds.
final class JobsFuzzTests: XCTestCase {
    func testRandomEventSequencesNeverTrap() throws {
        var rng = SeededRNG(seed: 99)
        let t0 = Cluster.t0
        let model = Hash.of([3])
        let keys = (0..<12).map { i in SigningKey(seed: [0xF0, UInt8(i)] + [UInt8](repeating: 0, count: 30)) }
        let client = SigningKey(seed: [UInt8](repeating: 0xC4, count: 32))
        let jobs = try (0..<4).map { j in
            try Job(modelHash: model, input: [UInt8(j)], redundancy: UInt8(1 + j % 3), quorum: 1, deadline: t0 + 20_000,
                    nonce: [UInt8](repeating: UInt8(j), count: 16)).signed(by: client, issuedAt: t0, expiresAt: t0 + 40_000)
        }
        var started = 0, published = 0, decided = 0
        for round in 0..<20 {
            var node = JobsNode(key: keys[round % keys.count], config: JobsConfig(maxConcurrentExecutions: 2))
            var now = t0
            for _ in 0..<300 {
                now += Int64(rng.next() % 400)
                let at = Instant(unixMs: now)
                let job = jobs[Int(rng.next() % UInt64(jobs.count))]
                let k = keys[Int(rng.next() % UInt64(keys.count))]
                let event: JobsEvent
                switch rng.next() % 8 {
                case 0:
                    let a = try NodeAnnouncement(sequence: rng.next() % 4, addresses: [], models: rng.next() % 5 == 0 ? [] : [model],
                                                 freeSlots: UInt16(rng.next() % 2), totalSlots: 1, engineVersion: "t")
                        .signed(by: k, issuedAt: now, expiresAt: now + Int64(1 + rng.next() % 60_000))
                    event = .record(.nodeAnnouncement(a))
                case 1: event = .record(.job(job))
                case 2:
                    let issued = min(now, job.body.deadline - 1)
                    let c = try Claim(jobID: job.id, leaseExpiry: issued + Int64(rng.next() % 10_000), stage: UInt8(rng.next() % 2), rank: 0)
                        .signed(by: k, issuedAt: issued, expiresAt: job.body.deadline + 60_000)
                    event = .record(.claim(c))
                case 3:
                    let a = try Attestation(job: job, output: [UInt8(rng.next() % 3)], engineVersion: "t", elapsedMicros: 1, stage: UInt8(rng.next() % 2))
                        .signed(by: k, issuedAt: now, expiresAt: now + 3_600_000)
                    event = .record(.attestation(a))
                case 4: event = .inferenceFinished(jobID: job.id, output: [UInt8(rng.next() % 3)], elapsed: .milliseconds(Int64(5)))
                case 5: event = .inferenceFailed(jobID: job.id, reason: "fuzz")
                case 6: event = .timer(jobID: job.id)
                default: _ = node.refresh(job.id, now: at); continue
                }
                let fx = node.handle(event, now: at)
                XCTAssertGreaterThanOrEqual(node.runningExecutions, 0)
                XCTAssertLessThanOrEqual(node.runningExecutions, 2)
                for e in fx {
                    if case .runInference = e { started += 1 }
                    if case let .stateChanged(_, state) = e, state.isFinal { decided += 1 }
                    if case let .publish(r) = e {
                        published += 1
                        // Everything it signs passes the checks every other node applies.
                        XCTAssertNoThrow(try Record(validating: r, nowUnixMs: now))
                    }
                }
            }
        }
        XCTAssertGreaterThan(started, 10, "the fuzz reaches execution")
        XCTAssertGreaterThan(published, 10)
        XCTAssertGreaterThan(decided, 10)
    }
}
