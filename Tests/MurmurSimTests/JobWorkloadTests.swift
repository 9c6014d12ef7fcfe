import XCTest
import MurmurCore
import MurmurSim

/// The job workload: the MurmurJobs machines of every simulated node, over simulated gossip.
final class JobWorkloadTests: XCTestCase {
    func config(nodes: Int, jobs: Int, seed: UInt64, liars: Double = 0, collude: Bool = false,
                crash: Double = 0, loss: Double = 0) -> SimConfig {
        var c = SimConfig()
        c.nodes = nodes
        c.broadcasts = 0
        c.seed = seed
        c.warmup = .seconds(Int64(5))
        c.settle = .seconds(Int64(2))
        c.loss = loss
        c.crashFraction = crash
        var w = JobWorkloadConfig()
        w.jobs = jobs
        w.liarFraction = liars
        w.collude = collude
        w.interval = .milliseconds(200)
        w.deadline = .seconds(Int64(40))
        c.jobs = w
        return c
    }

    func testHonestMeshVerifiesEveryJobWithRExecutions() throws {
        let r = try XCTUnwrap(Simulator(config: config(nodes: 60, jobs: 20, seed: 1)).run().jobs)
        XCTAssertEqual(r.jobs, 20)
        XCTAssertEqual(r.verifiedByDeadline, 20)
        XCTAssertEqual(r.failed, 0)
        XCTAssertEqual(r.wrongResultsAccepted, 0)
        XCTAssertEqual(r.disputed, 0)
        XCTAssertEqual(r.executionsPerJob, 3, "converged views: exactly r executions")
        XCTAssertEqual(r.honestExcluded, 0)
    }

    func testIndependentLiarsNeverWinAndAreExcluded() throws {
        let r = try XCTUnwrap(Simulator(config: config(nodes: 80, jobs: 40, seed: 2, liars: 0.1)).run().jobs)
        XCTAssertEqual(r.liars, 8)
        XCTAssertEqual(r.wrongResultsAccepted, 0)
        XCTAssertGreaterThan(r.disputed, 0)
        XCTAssertEqual(r.verifiedByDeadline, 40)
        XCTAssertGreaterThan(r.liarsExcluded, 0)
        XCTAssertEqual(r.liarsExcluded, r.liarsExcludedByAllLive, "verdicts reach every node")
        XCTAssertEqual(r.honestExcluded, 0)
        // Where the executions went: the first round and the dispute round add up.
        XCTAssertEqual(r.firstRoundPerJob + r.disputeRoundPerJob, r.executionsPerJob, accuracy: 1e-9)
        XCTAssertGreaterThan(r.disputeRoundPerJob, 0)
        XCTAssertGreaterThan(r.byLiarsPerJob, 0)
        XCTAssertEqual(r.byLiarsPerJob, r.executionsPerJob - r.honestExecutionsPerJob, accuracy: 1e-9)
    }

    func testCrashedExecutorsAreTakenOver() throws {
        // Long inferences, so that crashes land while executors run.
        var c = config(nodes: 60, jobs: 30, seed: 3, crash: 0.2, loss: 0.05)
        c.jobs?.inferenceMinMs = 2000
        c.jobs?.inferenceMaxMs = 5000
        let r = try XCTUnwrap(Simulator(config: c).run().jobs)
        XCTAssertEqual(r.verifiedByDeadline, 30)
        XCTAssertEqual(r.wrongResultsAccepted, 0)
        XCTAssertGreaterThan(r.executionsMax, 3, "an executor crashed mid-job and was replaced")
        XCTAssertLessThanOrEqual(r.executionsPerJob, 4)
    }

    func testSameSeedSameReport() {
        func run(_ seed: UInt64) -> String {
            var c = config(nodes: 40, jobs: 12, seed: seed, liars: 0.1, collude: true, crash: 0.1, loss: 0.05)
            c.jobs?.interval = .milliseconds(100)
            return Simulator(config: c).run().json
        }
        let a = run(7), b = run(7), c = run(8)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertTrue(a.contains("\"jobs_verified\":"))
        XCTAssertTrue(a.contains("\"jobs_top_r_all_liars\":"))
    }
}
