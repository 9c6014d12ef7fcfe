import XCTest
import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurJobs

/// Work the rules save without changing what gets accepted: held claims, a dispute round that
/// grows only on disagreement (Specs/jobs.md, "Deciding"), and nodes that know they were proven wrong.
final class JobsEfficiencyTests: XCTestCase {
    private func verified(_ c: Cluster, _ job: Hash, at i: Int) -> JobResult? {
        if case let .verified(r) = c.nodes[i].state(of: job) { return r }
        return nil
    }

    private let held = JobsConfig(claimDelay: .milliseconds(Int64(100)))

    func testFastExecutorsAttestWithoutGossipingAClaim() throws {
        let c = Cluster(count: 8, config: held)
        c.inferenceTime = .milliseconds(Int64(20)) // well inside the claim delay
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(5)))
        XCTAssertEqual(c.published.filter { $0.kind == .claim }.count, 0, "the attestation went out before the claim was due")
        XCTAssertEqual(c.executions.count, 3)
        for i in 0..<8 { XCTAssertEqual(verified(c, job.id, at: i)?.attesters.count, 3, "node \(i)") }
    }

    func testSlowExecutorsGossipTheirClaimAfterTheDelay() throws {
        let c = Cluster(count: 8, config: held)
        c.inferenceTime = .seconds(Int64(2))
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(1)))
        let claims = c.published.filter { $0.kind == .claim }
        XCTAssertEqual(Set(claims.map(\.author)), Set(c.ids(Array(c.rankOrder(job.id).prefix(3)))))
        XCTAssertEqual(claims.count, 3, "one claim each, gossiped once the claim delay passed")
        c.run(for: .seconds(Int64(5)))
        XCTAssertEqual(c.executions.count, 3)
        XCTAssertNotNil(verified(c, job.id, at: 0))
    }

    func testDisputeSetGrowsByTwoForEachDisagreeingDecider() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        let order = c.rankOrder(job.id)
        // A round-1 liar and a round-2 liar with outputs of their own.
        c.lies[order[0]] = [0xE1]
        c.lies[order[4]] = [0xE2]
        c.run(for: .seconds(Int64(20)))
        let ran = c.executions.filter { $0.job == job.id }
        XCTAssertEqual(Set(ran.filter { $0.stage == 1 }.map(\.node)), Set(order[3..<10]),
                       "m = 5 fresh deciders, plus two for the one that disagreed (its vote, and one to restore the lead)")
        for i in 0..<24 where i != order[0] && i != order[4] {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i)")
            XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
            XCTAssertTrue(r.disputed)
            XCTAssertEqual(Set(c.nodes[i].excluded), Set(c.ids([order[0], order[4]])), "node \(i)")
        }
    }

    func testAProvenLiarStopsExecuting() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 9)
        let liar = c.rankOrder(job.id)[0]
        c.lies[liar] = [0xEE]
        c.run(for: .seconds(Int64(20)))
        XCTAssertTrue(c.nodes[liar].provenWrong, "the verdict accuses it")
        let before = c.executions.count
        var liarTop = 0
        for nonce in UInt8(20)..<UInt8(40) {
            let next = try c.submit(r: 3, q: 2, nonce: nonce)
            if c.nodes[liar].ranking(of: next.id).prefix(3).contains(c.keys[liar].publicKey) { liarTop += 1 }
        }
        c.run(for: .seconds(Int64(10)))
        XCTAssertGreaterThan(liarTop, 0, "in its own view the liar is still ranked for some jobs")
        XCTAssertFalse(c.executions[before...].contains { $0.node == liar })
        XCTAssertEqual(c.executions.count - before, 20 * 3, "every other job ran exactly r times")
    }
}
