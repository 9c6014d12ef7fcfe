import XCTest
import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurJobs

final class JobsTests: XCTestCase {
    private func verified(_ c: Cluster, _ job: Hash, at i: Int) -> JobResult? {
        if case let .verified(r) = c.nodes[i].state(of: job) { return r }
        return nil
    }

    func testRankingIsRendezvousOrderWhateverTheArrivalOrder() throws {
        let c = Cluster(count: 10)
        try c.announceAll()
        let job = try c.submit()
        let expected = Ranking.order(c.ids(Array(0..<10)), job: job.id)
        // By definition: ascending BLAKE2b(job id ‖ node id).
        let keys = expected.map { Ranking.key(job: job.id, node: $0) }
        XCTAssertEqual(keys, keys.sorted())
        XCTAssertEqual(keys.first, Hash.of(job.id.bytes + expected[0].bytes))
        for i in 0..<10 { XCTAssertEqual(c.nodes[i].ranking(of: job.id), expected) }
        // A node that hears the announcements in the opposite order ranks identically.
        var late = JobsNode(key: SigningKey(seed: [UInt8](repeating: 0x99, count: 32)))
        for a in c.published.reversed() where a.kind == .nodeAnnouncement { _ = late.handle(.record(try Record(a)), now: c.now) }
        for i in (0..<10).reversed() {
            let a = try NodeAnnouncement(sequence: 1, addresses: [], models: [c.model], freeSlots: 1, totalSlots: 1, engineVersion: "t")
                .signed(by: c.keys[i], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 600_000)
            _ = late.handle(.record(.nodeAnnouncement(a)), now: c.now)
        }
        _ = late.handle(.record(.job(job)), now: c.now)
        XCTAssertEqual(late.ranking(of: job.id), expected)
    }

    func testTopRExecuteAndEveryNodeVerifies() throws {
        let c = Cluster(count: 8)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        XCTAssertEqual(c.executors(of: job.id), Array(c.rankOrder(job.id).prefix(3)).sorted(), "exactly the top 3 in rank run it")
        c.run(for: .seconds(Int64(5)))
        for i in 0..<8 {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i): \(String(describing: c.nodes[i].state(of: job.id)))")
            XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
            XCTAssertEqual(Set(r.attesters), Set(c.ids(Array(c.rankOrder(job.id).prefix(3)))))
            XCTAssertFalse(r.disputed)
        }
        XCTAssertEqual(c.executions.count, 3)
        XCTAssertEqual(c.published.filter { $0.kind == .verdict }.count, 0)
    }

    func testLeaseIsRenewedWhileRunning() throws {
        let c = Cluster(count: 5)
        c.inferenceTime = .seconds(Int64(25)) // longer than two leases
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(30)))
        let claims = c.published.filter { $0.kind == .claim }
        XCTAssertGreaterThan(claims.count, 3 * 3, "each executor renews its claim several times")
        XCTAssertEqual(c.executions.count, 3, "renewed leases never lapse, so nobody takes over")
        XCTAssertNotNil(verified(c, job.id, at: 0))
    }

    func testLapsedLeaseIsTakenOverByTheNextInRank() throws {
        let c = Cluster(count: 8)
        c.inferenceTime = .seconds(Int64(20))
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        let order = c.rankOrder(job.id)
        c.run(for: .seconds(Int64(1)))
        c.crash(order[0]) // claimed, then died: its lease will lapse
        c.run(for: .seconds(Int64(15))) // lease 10 s + slack 2 s
        XCTAssertEqual(c.executors(of: job.id), [order[0], order[1], order[2], order[3]].sorted())
        c.run(for: .seconds(Int64(30)))
        let r = try XCTUnwrap(verified(c, job.id, at: order[5]))
        XCTAssertEqual(Set(r.attesters), Set(c.ids([order[1], order[2], order[3]])))
    }

    func testSilentExecutorIsSkippedAfterTheClaimGrace() throws {
        let c = Cluster(count: 8)
        try c.announceAll()
        let order0 = c.rankOrder(try Job(modelHash: c.model, input: [1, 2, 3, 0], redundancy: 3, quorum: 2,
                                         deadline: c.now.unixMs + 60_000, nonce: [UInt8](repeating: 0, count: 16))
            .signed(by: c.client, issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 120_000).id)
        c.crash(order0[0]) // dead before the job: announced, never claims
        let job = try c.submit(r: 3, q: 2)
        XCTAssertEqual(c.rankOrder(job.id), order0)
        XCTAssertEqual(c.executors(of: job.id).count, 2)
        c.run(for: .seconds(Int64(10)))
        XCTAssertEqual(c.executors(of: job.id), [order0[1], order0[2], order0[3]].sorted())
        XCTAssertNotNil(verified(c, job.id, at: order0[4]))
    }

    func testDisagreementEscalatesAndTheLiarIsExcludedEverywhere() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let probe = try c.submit(r: 3, q: 2, nonce: 1)
        let order = c.rankOrder(probe.id)
        c.run(for: .seconds(Int64(5)))
        XCTAssertNotNil(verified(c, probe.id, at: 0))
        // Now make the second-ranked executor of the next job lie.
        let job = try c.submit(r: 3, q: 2, nonce: 2)
        let jobOrder = c.rankOrder(job.id)
        let liar = jobOrder[1]
        c.lies[liar] = [UInt8](repeating: 0xEE, count: 8)
        c.run(for: .seconds(Int64(20)))
        let honestHash = Hash.of(c.honest(job))
        for i in 0..<24 where i != liar {
            let r = try XCTUnwrap(verified(c, job.id, at: i), "node \(i): \(String(describing: c.nodes[i].state(of: job.id)))")
            XCTAssertTrue(r.disputed)
            XCTAssertEqual(r.outputHash, honestHash)
            XCTAssertTrue(c.nodes[i].excluded.contains(c.keys[liar].publicKey), "node \(i) excludes the liar")
        }
        // Round 1 (3) + the dispute round: m = r + 2 = 5 fresh nodes further down the rank,
        // unanimous, lead by 5 and decide; nobody else starts.
        let ran = c.executions.filter { $0.job == job.id }
        XCTAssertEqual(ran.filter { $0.stage == 0 }.count, 3)
        XCTAssertEqual(Set(ran.filter { $0.stage == 1 }.map(\.node)), Set(jobOrder[3..<8]))
        let verdicts = c.published.filter { $0.kind == .verdict }
        XCTAssertGreaterThanOrEqual(verdicts.count, 1)
        XCTAssertLessThanOrEqual(verdicts.count, 3, "only a decider that is first among the agreeing deciders it knows publishes")
        for record in verdicts {
            guard case let .verdict(v) = try Record(record) else { return XCTFail() }
            XCTAssertEqual(v.body.accused, [c.keys[liar].publicKey])
            XCTAssertEqual(v.body.majority.count, 5)
        }
        _ = order
        // The liar is no longer ranked for new jobs: it may still run them, but never counts.
        let next = try c.submit(r: 3, q: 2, nonce: 3)
        XCTAssertFalse(c.nodes[0].ranking(of: next.id).contains(c.keys[liar].publicKey))
        c.run(for: .seconds(Int64(5)))
        let r = try XCTUnwrap(verified(c, next.id, at: 0))
        XCTAssertFalse(r.attesters.contains(c.keys[liar].publicKey))
        XCTAssertFalse(r.disputed)
    }

    func testVerdictConvincesANodeThatNeverSawTheDispute() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 9)
        let liar = c.rankOrder(job.id)[0]
        c.lies[liar] = [0xEE]
        c.run(for: .seconds(Int64(20)))
        let verdict = try XCTUnwrap(c.published.first { $0.kind == .verdict })
        // A newcomer with the same directory gets the verdict before the job, then the job.
        var newcomer = JobsNode(key: SigningKey(seed: [UInt8](repeating: 0x42, count: 32)))
        for a in c.published where a.kind == .nodeAnnouncement { _ = newcomer.handle(.record(try Record(a)), now: c.now) }
        for i in 0..<24 {
            let a = try NodeAnnouncement(sequence: 1, addresses: [], models: [c.model], freeSlots: 2, totalSlots: 2, engineVersion: "t")
                .signed(by: c.keys[i], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 600_000)
            _ = newcomer.handle(.record(.nodeAnnouncement(a)), now: c.now)
        }
        XCTAssertTrue(newcomer.handle(.record(try Record(verdict)), now: c.now).isEmpty, "held until the job is known")
        let fx = newcomer.handle(.record(.job(job)), now: c.now)
        XCTAssertTrue(fx.contains(.excluded(node: c.keys[liar].publicKey, evidence: verdict.id)))
        XCTAssertTrue(newcomer.excluded.contains(c.keys[liar].publicKey))
    }

    func testColludersHoldingAllRPlacesWinButTwoOfThreeAreOutvoted() throws {
        // Two of the top three return the same wrong output: a first-q-agree rule would accept it.
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 5)
        let order = c.rankOrder(job.id)
        let wrong = [UInt8](repeating: 0xBA, count: 4)
        c.lies[order[0]] = wrong
        c.lies[order[2]] = wrong
        c.run(for: .seconds(Int64(20)))
        let r = try XCTUnwrap(verified(c, job.id, at: order[5]))
        XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
        XCTAssertEqual(Set(c.nodes[order[5]].excluded), Set(c.ids([order[0], order[2]])))
        // All three places held by colluders: unanimity cannot tell (the f^r case of Specs/jobs.md).
        let job2 = try c.submit(r: 3, q: 2, nonce: 6)
        let order2 = c.nodes[order[5]].ranking(of: job2.id).map { c.index(of: $0) }
        for i in order2.prefix(3) { c.lies[i] = wrong }
        c.run(for: .seconds(Int64(20)))
        XCTAssertEqual(verified(c, job2.id, at: order[5])?.outputHash, Hash.of(wrong))
    }

    func testDeadlineEndsTheJobFailedWithAReason() throws {
        let c = Cluster(count: 4)
        let orphan = try c.submit(r: 3, q: 2, deadline: .seconds(Int64(10)), nonce: 1)
        c.run(for: .seconds(Int64(11)))
        XCTAssertEqual(c.nodes[0].state(of: orphan.id), .failed(.noExecutors))
        try c.announceAll(holders: [0, 1, 2])
        c.crash(0); c.crash(1); c.crash(2)
        let stuck = try c.submit(r: 3, q: 2, deadline: .seconds(Int64(10)), nonce: 2)
        c.run(for: .seconds(Int64(11)))
        guard case let .failed(why) = c.nodes[3].state(of: stuck.id) else { return XCTFail("\(String(describing: c.nodes[3].state(of: stuck.id)))") }
        XCTAssertEqual(why, .notEnoughAttestations(agreeing: 0, needed: 3))
        XCTAssertTrue(why.description.contains("deadline"))
    }

    func testFewerHoldersThanRVerifyWithQuorum() throws {
        let c = Cluster(count: 4)
        try c.announceAll(holders: [0, 1])
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(5)))
        XCTAssertEqual(verified(c, job.id, at: 3)?.attesters.count, 2)
        let strict = try c.submit(r: 3, q: 3, deadline: .seconds(Int64(10)), nonce: 7)
        c.run(for: .seconds(Int64(11)))
        XCTAssertEqual(c.nodes[3].state(of: strict.id), .failed(.notEnoughAttestations(agreeing: 2, needed: 3)))
    }

    /// A node that does not know the top-ranked node believes it is in the top r: it runs too.
    /// The extra agreeing attestation is counted; nobody else runs; everyone verifies.
    func testExtraExecutorFromAViewThatMissesANode() throws {
        let c = Cluster(count: 8)
        let job0 = try Job(modelHash: c.model, input: [1, 2, 3, 0], redundancy: 3, quorum: 2, deadline: c.now.unixMs + 60_000,
                           nonce: [UInt8](repeating: 0, count: 16)).signed(by: c.client, issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 120_000)
        let order = c.rankOrder(job0.id)
        let blind = order[3]
        c.knows = { i, j in !(i == blind && j == order[0]) }
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        XCTAssertEqual(job.id, job0.id)
        c.run(for: .seconds(Int64(5)))
        XCTAssertEqual(c.executors(of: job.id), [order[0], order[1], order[2], blind].sorted())
        for i in 0..<8 { XCTAssertNotNil(verified(c, job.id, at: i), "node \(i)") }
    }

    /// Two halves of the mesh each know only themselves and the other half's lower-ranked
    /// nodes differently: the job is neither dropped nor run by everyone.
    /// A node that never hears the top-ranked node's announcement still counts its claim and
    /// attestation (they show it runs the model): it verifies without walking down the rank.
    func testMissingAnnouncementIsFilledByTheClaim() throws {
        let c = Cluster(count: 8)
        let job0 = try Job(modelHash: c.model, input: [1, 2, 3, 0], redundancy: 3, quorum: 2, deadline: c.now.unixMs + 60_000,
                           nonce: [UInt8](repeating: 0, count: 16)).signed(by: c.client, issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 120_000)
        let order = c.rankOrder(job0.id)
        let blind = order[6]
        c.knows = { i, j in !(i == blind && j == order[0]) }
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(2)))
        let r = try XCTUnwrap(verified(c, job.id, at: blind))
        XCTAssertEqual(Set(r.attesters), Set(c.ids(Array(order.prefix(3)))))
        XCTAssertEqual(c.executions.count, 3)
    }

    func testDisjointViewsNeitherDropNorFlood() throws {
        let c = Cluster(count: 12)
        c.knows = { i, j in (i % 2) == (j % 2) } // evens know evens, odds know odds
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(10)))
        let ran = c.executors(of: job.id)
        XCTAssertLessThanOrEqual(ran.count, 6, "at most r per view")
        XCTAssertGreaterThanOrEqual(ran.count, 3)
        for i in 0..<12 { XCTAssertNotNil(verified(c, job.id, at: i), "node \(i): \(String(describing: c.nodes[i].state(of: job.id)))") }
    }

    func testAttestationFromFarDownTheRankDoesNotCount() throws {
        let c = Cluster(count: 20)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        let far = c.rankOrder(job.id)[19]
        let fake = try Attestation(job: job, output: [0xFF], engineVersion: "x", elapsedMicros: 1, stage: 0)
            .signed(by: c.keys[far], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 3_600_000)
        for i in 0..<20 where i != far { c.deliver(fake.envelope, to: i) }
        c.run(for: .seconds(Int64(5)))
        let r = try XCTUnwrap(verified(c, job.id, at: 0))
        XCTAssertFalse(r.disputed)
        XCTAssertEqual(r.attestations.count, 3)
    }

    func testNoFreeSlotReleasesAtOnce() throws {
        let c = Cluster(count: 6, config: JobsConfig(maxConcurrentExecutions: 1))
        c.inferenceTime = .seconds(Int64(5))
        try c.announceAll()
        var jobs: [Signed<Job>] = []
        for n in 0..<4 { jobs.append(try c.submit(r: 3, q: 2, nonce: UInt8(n))) }
        c.run(for: .seconds(Int64(40)))
        for j in jobs { XCTAssertNotNil(verified(c, j.id, at: 0), "\(j.id)") }
        let perNode = Dictionary(grouping: c.executions, by: \.node)
        XCTAssertEqual(c.nodes.map(\.runningExecutions), Array(repeating: 0, count: 6))
        XCTAssertLessThanOrEqual(perNode.values.map(\.count).max() ?? 0, 4)
    }

    /// A job verified by unanimity re-opens if a conflicting attestation from a ranked node
    /// arrives before the deadline: someone is lying, and the dispute finds out who.
    func testLateConflictReopensAVerifiedJob() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(2)))
        XCTAssertNotNil(verified(c, job.id, at: 0))
        let late = c.rankOrder(job.id)[3] // inside the window, outside the executor set
        let wrong = try Attestation(job: job, output: [0xAB], engineVersion: "x", elapsedMicros: 1, stage: 0)
            .signed(by: c.keys[late], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 3_600_000)
        for i in 0..<24 where i != late { c.deliver(wrong.envelope, to: i) }
        XCTAssertEqual(c.nodes[0].state(of: job.id), .disputed)
        c.run(for: .seconds(Int64(10)))
        let r = try XCTUnwrap(verified(c, job.id, at: 0))
        XCTAssertTrue(r.disputed)
        XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)))
        XCTAssertTrue(c.nodes[0].excluded.contains(c.keys[late].publicKey))
    }

    /// Seeded scenarios with independent liars, crashes at random moments, random delays and
    /// loss, and partial views: every job ends verified or failed (with a reason) by its deadline
    /// at every live node, no wrong output is ever accepted, nobody runs a job twice, and no job
    /// is run by everyone.
    func testRandomScenariosKeepTheInvariants() throws {
        var verifiedCount = 0, total = 0
        for seed in 1...5 {
            var rng = SeededRNG(seed: UInt64(seed))
            let n = 24
            let c = Cluster(count: n, seed: UInt8(seed))
            c.knows = { i, j in (i &* 31 &+ j &* 17 &+ seed) % 10 != 0 } // ~10 % of announcements never arrive
            try c.announceAll()
            var delays = rng.fork()
            c.latency = { _, _ in delays.unitDouble() < 0.05 ? nil : .milliseconds(Int64(5 + delays.next() % 80)) }
            for i in 0..<n where rng.unitDouble() < 0.1 { c.lies[i] = Array("lie \(i)".utf8) }
            var jobs: [Signed<Job>] = []
            for k in 0..<4 { jobs.append(try c.submit(r: 3, q: 2, deadline: .seconds(Int64(30)), nonce: UInt8(k))) }
            let crashers = (0..<n).filter { _ in rng.unitDouble() < 0.15 }
            for i in crashers {
                c.run(for: .milliseconds(Int64(rng.next() % 400)))
                c.crash(i)
            }
            c.run(until: Instant(unixMs: Cluster.t0 + 31_000))
            for job in jobs {
                let ran = c.executions.filter { $0.job == job.id }.map(\.node)
                XCTAssertEqual(ran.count, Set(ran).count, "seed \(seed): a node ran a job twice")
                // r + a dispute set of 4r + 1, plus a few takeovers and view differences; never everyone.
                XCTAssertLessThanOrEqual(ran.count, 3 + 13 + 4, "seed \(seed): job run by too many")
                for i in 0..<n where c.alive[i] && c.lies[i] == nil {
                    total += 1
                    switch c.nodes[i].state(of: job.id) {
                    case let .verified(r)?:
                        verifiedCount += 1
                        XCTAssertEqual(r.outputHash, Hash.of(c.honest(job)), "seed \(seed): wrong output accepted at \(i)")
                    case .failed?: break
                    case let other: XCTFail("seed \(seed) node \(i): \(String(describing: other)) after the deadline")
                    }
                }
            }
        }
        XCTAssertGreaterThan(Double(verifiedCount) / Double(total), 0.8, "most jobs verify: \(verifiedCount) of \(total)")
    }

    /// In a large mesh a node that ranks far down keeps a job's records without ranking all
    /// holders on every record; asked about the job, it catches up and answers exactly.
    func testFarNodesFollowPassivelyAndCatchUpWhenAsked() throws {
        let t0 = Cluster.t0
        let model = Hash.of([9])
        let holders = (0..<300).map { i in SigningKey(seed: [7, UInt8(i >> 8), UInt8(i & 0xff)] + [UInt8](repeating: 0, count: 29)) }
        let client = SigningKey(seed: [UInt8](repeating: 0xC2, count: 32))
        let job = try Job(modelHash: model, input: [1], redundancy: 3, quorum: 2, deadline: t0 + 60_000, nonce: [UInt8](repeating: 1, count: 16))
            .signed(by: client, issuedAt: t0, expiresAt: t0 + 120_000)
        let now = Instant(unixMs: t0 + 1000)
        func observer(near: Bool) -> JobsNode {
            var seed: UInt8 = 0
            while true {
                seed += 1
                let k = SigningKey(seed: [0xAA, seed] + [UInt8](repeating: 0, count: 30))
                let fraction = Double(Ranking.key(job: job.id, node: k.publicKey).value.w0) / 18_446_744_073_709_551_616.0
                if near ? fraction < 0.1 : fraction > 0.5 { return JobsNode(key: k) }
            }
        }
        let announcements = try holders.map {
            try NodeAnnouncement(sequence: 1, addresses: [], models: [model], freeSlots: 1, totalSlots: 1, engineVersion: "t")
                .signed(by: $0, issuedAt: t0, expiresAt: t0 + 600_000)
        }
        let top = Ranking.order(holders.map(\.publicKey), job: job.id).prefix(3)
        let attestations = try top.map { id in
            try Attestation(job: job, output: [42], engineVersion: "t", elapsedMicros: 1, stage: 0)
                .signed(by: holders.first { $0.publicKey == id }!, issuedAt: t0 + 500, expiresAt: t0 + 600_000)
        }
        // Asked only after the deadline, with the third executor silent: the same answer a node
        // following the job would have reached (the silent one passed over, two agree ≥ q),
        // and an attestation signed after the deadline does not count.
        do {
            var o = observer(near: false)
            for a in announcements { _ = o.handle(.record(.nodeAnnouncement(a)), now: now) }
            _ = o.handle(.record(.job(job)), now: now)
            for a in attestations.prefix(2) { _ = o.handle(.record(.attestation(a)), now: now) }
            let late = Instant(unixMs: t0 + 70_000)
            let tooLate = try Attestation(job: job, output: [43], engineVersion: "t", elapsedMicros: 1, stage: 0)
                .signed(by: holders.first { $0.publicKey == top[top.startIndex + 2] }!, issuedAt: t0 + 61_000, expiresAt: t0 + 600_000)
            _ = o.handle(.record(.attestation(tooLate)), now: late)
            _ = o.refresh(job.id, now: late)
            guard case let .verified(r)? = o.state(of: job.id) else { return XCTFail("\(String(describing: o.state(of: job.id)))") }
            XCTAssertEqual(r.attestations.count, 2)
            XCTAssertFalse(r.disputed, "the late, different attestation does not count")
        }
        for near in [false, true] {
            var o = observer(near: near)
            for a in announcements { _ = o.handle(.record(.nodeAnnouncement(a)), now: now) }
            _ = o.handle(.record(.job(job)), now: now)
            for a in attestations { _ = o.handle(.record(.attestation(a)), now: now) }
            if near {
                guard case .verified? = o.state(of: job.id) else { return XCTFail("near node follows actively") }
            } else {
                XCTAssertEqual(o.state(of: job.id), .pending, "far node has not evaluated")
                let fx = o.refresh(job.id, now: now)
                guard case let .verified(r)? = o.state(of: job.id) else { return XCTFail("caught up: \(fx)") }
                XCTAssertEqual(Set(r.attesters), Set(top))
            }
        }
    }

    /// Only a prefix of the ranking is kept; when the walk needs more (here: the first 60 in
    /// rank have no free slot), the prefix is extended and the answer is still exact.
    func testRankingPrefixIsExtendedWhenTheWalkNeedsIt() throws {
        let t0 = Cluster.t0
        let model = Hash.of([5])
        let holders = (0..<80).map { i in SigningKey(seed: [8, UInt8(i)] + [UInt8](repeating: 0, count: 30)) }
        let client = SigningKey(seed: [UInt8](repeating: 0xC3, count: 32))
        let job = try Job(modelHash: model, input: [2], redundancy: 1, quorum: 1, deadline: t0 + 60_000, nonce: [UInt8](repeating: 2, count: 16))
            .signed(by: client, issuedAt: t0, expiresAt: t0 + 120_000)
        let order = Ranking.order(holders.map(\.publicKey), job: job.id)
        let now = Instant(unixMs: t0 + 1000)
        var o = JobsNode(key: SigningKey(seed: [UInt8](repeating: 0xAB, count: 32)), config: JobsConfig(followAllJobs: true))
        for k in holders {
            let busy = order.prefix(60).contains(k.publicKey)
            let a = try NodeAnnouncement(sequence: 1, addresses: [], models: [model], freeSlots: busy ? 0 : 1, totalSlots: 1, engineVersion: "t")
                .signed(by: k, issuedAt: t0, expiresAt: t0 + 600_000)
            _ = o.handle(.record(.nodeAnnouncement(a)), now: now)
        }
        _ = o.handle(.record(.job(job)), now: now)
        XCTAssertEqual(o.executors(of: job.id, now: now), [order[60]])
        let executor = try XCTUnwrap(holders.first { $0.publicKey == order[60] })
        let a = try Attestation(job: job, output: [1], engineVersion: "t", elapsedMicros: 1, stage: 0)
            .signed(by: executor, issuedAt: t0 + 500, expiresAt: t0 + 600_000)
        _ = o.handle(.record(.attestation(a)), now: now)
        guard case let .verified(r)? = o.state(of: job.id) else { return XCTFail("\(String(describing: o.state(of: job.id)))") }
        XCTAssertEqual(r.attesters, [order[60]])
    }

    /// Two attestations by one executor for one job with different outputs prove it wrong on
    /// their own: every node that receives both excludes it.
    func testEquivocationIsItsOwnProof() throws {
        let c = Cluster(count: 8)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(2)))
        let liar = c.rankOrder(job.id)[0]
        let second = try Attestation(job: job, output: [0xAB], engineVersion: "x", elapsedMicros: 1, stage: 0)
            .signed(by: c.keys[liar], issuedAt: c.now.unixMs, expiresAt: c.now.unixMs + 3_600_000)
        for i in 0..<8 where i != liar { c.deliver(second.envelope, to: i) }
        for i in 0..<8 where i != liar { XCTAssertTrue(c.nodes[i].excluded.contains(c.keys[liar].publicKey), "node \(i)") }
    }

    func testReplayIsDeterministic() throws {
        func run(cache: RankingCache? = nil) throws -> [Hash] {
            let c = Cluster(count: 16, config: JobsConfig(rankingCache: cache))
            try c.announceAll()
            c.lies[3] = [7]
            for n in 0..<3 { try c.submit(nonce: UInt8(n)) }
            c.crash(5)
            c.run(for: .seconds(Int64(30)))
            return c.published.map(\.id)
        }
        let plain = try run()
        XCTAssertEqual(plain, try run())
        XCTAssertEqual(plain, try run(cache: RankingCache()), "a shared ranking cache changes nothing but speed")
    }
}
