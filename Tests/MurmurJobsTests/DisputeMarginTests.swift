import XCTest
import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurJobs

/// The dispute round of Specs/jobs.md ("Deciding"): fresh nodes in rank order, started only as
/// many as could still give the leading output its lead of m = r + 2 (5 for r = 3); the output
/// leading by m once every member attested wins.
final class DisputeMarginTests: XCTestCase {
    private func verified(_ c: Cluster, _ job: Hash, at i: Int) -> JobResult? {
        if case let .verified(r) = c.nodes[i].state(of: job) { return r }
        return nil
    }

    private func disputeRunners(_ c: Cluster, _ job: Hash) -> Set<Int> {
        Set(c.executions.filter { $0.job == job && $0.stage == 1 }.map(\.node))
    }

    func testUnanimousDisputeStartsOnlyTheMargin() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        let order = c.rankOrder(job.id)
        c.lies[order[0]] = [0xE1]
        c.run(for: .seconds(Int64(20)))
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<8]), "m = r + 2 = 5 fresh nodes, not 2r + 1 = 7")
        for i in 0..<24 where i != order[0] {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i)")
            XCTAssertTrue(r.disputed)
            XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
            XCTAssertEqual(Set(r.attesters), Set(c.ids(Array(order[1..<8]))), "5 deciders + the 2 agreeing first-round executors")
            XCTAssertEqual(c.nodes[i].excluded, [c.keys[order[0]].publicKey])
        }
        XCTAssertNoThrow(try ResultCheck.verify(job: job, result: XCTUnwrap(verified(c, job.id, at: order[1]))))
    }

    /// The first five fresh deciders split 4–1 (a colluder among them): a lead of 3, so exactly two
    /// more start; nothing is decided before they attest, and then the lead of 5 decides.
    func testASplitStartsJustEnoughMoreAndTheLaterOnesDecide() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        let order = c.rankOrder(job.id)
        let wrong: [UInt8] = [0xBA, 0xD0]
        c.lies[order[0]] = wrong
        c.lies[order[5]] = wrong
        // Round 1 attests at 0.5 s, the first five deciders at 1.0 s, the next two at 1.5 s.
        c.run(for: .milliseconds(Int64(1200)))
        XCTAssertEqual(c.nodes[order[1]].state(of: job.id), .disputed, "4 against 1 is a lead of 3, not 5")
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<10]))
        c.run(for: .seconds(Int64(10)))
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<10]), "6 against 1 decides: nobody else starts")
        for i in 0..<24 where i != order[0] && i != order[5] {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i)")
            XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
            XCTAssertEqual(Set(c.nodes[i].excluded), Set(c.ids([order[0], order[5]])), "node \(i)")
        }
    }

    /// Two colluders among the first five fresh deciders (3–2, a lead of 1): four more start.
    func testTwoColludersAmongTheDecidersCostFourMore() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        let order = c.rankOrder(job.id)
        let wrong: [UInt8] = [0xBA, 0xD0]
        for k in [1, 3, 6] { c.lies[order[k]] = wrong }
        c.run(for: .seconds(Int64(20)))
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<12]))
        let r = try XCTUnwrap(verified(c, job.id, at: order[2]))
        XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
        XCTAssertEqual(Set(c.nodes[order[2]].excluded), Set(c.ids([order[1], order[3], order[6]])))
    }

    /// A fresh decider crashes while it runs: its lease lapses and the next fresh node in rank
    /// takes its place; the decision waits for it rather than settling on four.
    func testAFreshDeciderThatCrashesIsReplacedByTheNextInRank() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        let order = c.rankOrder(job.id)
        c.lies[order[0]] = [0xE1]
        c.run(for: .milliseconds(Int64(700))) // the dispute round started at 0.5 s
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<8]))
        c.crash(order[4])
        c.run(for: .seconds(Int64(5)))
        XCTAssertEqual(c.nodes[order[1]].state(of: job.id), .disputed, "four agreeing deciders are not a lead of five")
        c.run(for: .seconds(Int64(15))) // the lease (10 s + 2 s slack) lapses
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<9]))
        let r = try XCTUnwrap(verified(c, job.id, at: order[1]))
        XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
        XCTAssertEqual(Set(r.attesters), Set(c.ids([order[1], order[2], order[3], order[5], order[6], order[7], order[8]])))
    }

    /// Colluders ranked further down attest in the dispute round without being asked: they are
    /// not members of the set (it is a rank prefix; participants do not jump ahead), so they do
    /// not count, and their losing attestations get them excluded.
    func testUninvitedDisputeAttestationsDoNotCount() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        let order = c.rankOrder(job.id)
        let wrong: [UInt8] = [0xBA, 0xD0]
        c.lies[order[0]] = wrong
        c.run(for: .milliseconds(Int64(600)))
        XCTAssertEqual(c.nodes[order[1]].state(of: job.id), .disputed)
        let far = Array(order[14..<22])
        for k in far {
            let a = try Attestation(job: job, output: wrong, engineVersion: "x", elapsedMicros: 1, stage: 1)
                .signed(by: c.keys[k], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 3_600_000)
            for i in 0..<24 where i != k { c.deliver(a.envelope, to: i) }
        }
        XCTAssertEqual(c.nodes[order[1]].state(of: job.id), .disputed, "8 far-off votes decide nothing")
        c.run(for: .seconds(Int64(10)))
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<8]))
        let r = try XCTUnwrap(verified(c, job.id, at: order[1]))
        XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
        XCTAssertEqual(Set(c.nodes[order[1]].excluded), Set(c.ids([order[0]] + far)))
    }

    /// A verdict whose deciders are not the first fresh nodes in rank is refused: colluders far
    /// down cannot frame an honest executor by signing a "majority" among themselves.
    func testAForgedVerdictFromFarDownTheRankIsRefused() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        let order = c.rankOrder(job.id)
        c.run(for: .seconds(Int64(5)))
        XCTAssertNotNil(verified(c, job.id, at: order[5]))
        let honestAttestation = try XCTUnwrap(c.nodes[order[5]].attestations(of: job.id).first { $0.author == c.keys[order[1]].publicKey })
        func forge(_ deciders: [Int]) throws -> Signed<Verdict> {
            var evidence: [Verdict.Evidence] = []
            for k in deciders {
                let a = try Attestation(job: job, output: [0xBA], engineVersion: "x", elapsedMicros: 1, stage: 1)
                    .signed(by: c.keys[k], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 3_600_000)
                evidence.append(Verdict.Evidence(attestation: a, isDecider: true))
            }
            evidence.append(Verdict.Evidence(attestation: honestAttestation, isDecider: false))
            return try Verdict(jobID: job.id, evidence: evidence).signed(by: c.keys[deciders[0]], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 3_600_000)
        }
        var checker = c.nodes[order[5]]
        let far = try forge(Array(order[13..<18]))
        let fx = checker.handle(.record(.verdict(far)), now: c.now)
        XCTAssertFalse(fx.contains { if case .excluded = $0 { return true } else { return false } })
        XCTAssertTrue(checker.excluded.isEmpty)
        // The same forgery by the first five fresh nodes passes the check: that is what the
        // dispute rule itself would let them do (the known limit of Specs/jobs.md, "Grinding").
        let top = try forge(Array(order[3..<8]))
        _ = checker.handle(.record(.verdict(top)), now: c.now)
        XCTAssertEqual(checker.excluded, [c.keys[order[1]].publicKey])
    }

    /// Round 0 is a rank prefix too: when the top executors are silent (crashed), colluders far
    /// down who claim and attest uninvited do not fill their places ahead of the honest
    /// next-in-rank (with "participants first" they did, and won outright).
    func testUninvitedFirstRoundParticipantsDoNotFillGaps() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job0 = try Job(modelHash: c.model, input: [1, 2, 3, 4], redundancy: 3, quorum: 2, deadline: c.now.unixMs + 60_000,
                           nonce: [UInt8](repeating: 4, count: 16)).signed(by: c.client, issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 120_000)
        let order = c.rankOrder(job0.id)
        c.crash(order[0]); c.crash(order[1])
        let wrong: [UInt8] = [0xBA, 0xD0]
        c.lies[order[2]] = wrong
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        XCTAssertEqual(job.id, job0.id)
        for k in [order[12], order[13]] {
            let claim = try Claim(jobID: job.id, leaseExpiry: c.now.unixMs + 10_000, stage: 0, rank: 0)
                .signed(by: c.keys[k], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 120_000)
            let a = try Attestation(job: job, output: wrong, engineVersion: "x", elapsedMicros: 1, stage: 0)
                .signed(by: c.keys[k], issuedAt: c.now.unixMs + 1, expiresAt: c.now.unixMs + 3_600_000)
            for i in 0..<24 where i != k { c.deliver(claim.envelope, to: i); c.deliver(a.envelope, to: i) }
        }
        c.run(for: .seconds(Int64(30)))
        XCTAssertEqual(Set(c.executions.filter { $0.job == job.id && $0.stage == 0 }.map(\.node)), Set([order[2], order[3], order[4]]),
                       "the crashed top two are passed over for the next in rank, not for the far claimers")
        for i in [order[3], order[5], order[20]] {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i): \(String(describing: c.nodes[i].state(of: job.id)))")
            XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)), "node \(i)")
            XCTAssertTrue(r.disputed)
        }
    }

    /// The job record `Cluster.submit(nonce:)` will publish, to know its ranking beforehand.
    private func upcomingJob(_ c: Cluster, nonce: UInt8) throws -> Signed<Job> {
        try Job(modelHash: c.model, input: [1, 2, 3, nonce], redundancy: 3, quorum: 2, deadline: c.now.unixMs + 60_000,
                nonce: [UInt8](repeating: nonce, count: 16))
            .signed(by: c.client, issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 120_000)
    }

    /// Views differ on an exclusion (Specs/jobs.md, "When views differ"): node E already excluded
    /// the liar L ranked first, the others have not. For them L, order[1], order[2] are round 0
    /// and order[3] is the first fresh decider of the dispute L's lie starts; for E, order[1..3]
    /// are round 0. order[3]'s dispute-round attestation answers E's round 0: E verifies instead
    /// of waiting for a round-0 attestation nobody will sign (it failed at the deadline before,
    /// seen once in the 1,000-node simulation).
    func testAViewThatExcludedTheLiarTakesTheFreshDecidersAttestationAsItsFirstRound() throws {
        let c = Cluster(count: 24)
        let job = try upcomingJob(c, nonce: 9)
        let order = c.rankOrder(job.id)
        let liar = order[0], e = order[12]
        c.nodes[e] = JobsNode(key: c.keys[e], excluded: [c.keys[liar].publicKey])
        try c.announceAll()
        XCTAssertEqual(try c.submit(r: 3, q: 2, nonce: 9).id, job.id)
        c.lies[liar] = [0xE1]
        c.run(for: .seconds(Int64(20)))
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[3..<8]), "the others' dispute: m = 5 fresh deciders")
        let seen = try XCTUnwrap(verified(c, job.id, at: e), "E must not fail the job")
        XCTAssertEqual(seen.outputHash, Hash.of(c.honest(job)))
        XCTAssertEqual(Set(seen.attesters), Set(c.ids(Array(order[1...3]))))
        XCTAssertFalse(seen.disputed)
        XCTAssertNoThrow(try ResultCheck.verify(job: job, result: seen), "a client can check E's answer")
        for i in 0..<24 where i != liar && i != e {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i)")
            XCTAssertTrue(r.disputed)
            XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
        }
    }

    /// The mirror case: the node ranked fourth already excluded the liar, so in its own view it
    /// is in round 0 and runs there; the others' dispute round then starts from the fifth node
    /// (the fourth is a round-0 participant), and everyone ends with the honest output.
    func testAnExecutorThatExcludedTheLiarRunsRoundZeroAndTheDisputeSkipsIt() throws {
        let c = Cluster(count: 24)
        let job = try upcomingJob(c, nonce: 9)
        let order = c.rankOrder(job.id)
        let liar = order[0], x = order[3]
        c.nodes[x] = JobsNode(key: c.keys[x], excluded: [c.keys[liar].publicKey])
        try c.announceAll()
        _ = try c.submit(r: 3, q: 2, nonce: 9)
        c.lies[liar] = [0xE1]
        c.run(for: .seconds(Int64(20)))
        XCTAssertEqual(Set(c.executions.filter { $0.job == job.id && $0.stage == 0 }.map(\.node)), Set(order[0...3]))
        XCTAssertEqual(disputeRunners(c, job.id), Set(order[4..<9]))
        for i in 0..<24 where i != liar {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i)")
            XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
            XCTAssertNoThrow(try ResultCheck.verify(job: job, result: r))
        }
    }
}
