import XCTest
import MurmurCore
import MurmurGossip
import MurmurSim

final class SimulatorTests: XCTestCase {
    func smallConfig(nodes: Int, seed: UInt64) -> SimConfig {
        var c = SimConfig()
        c.nodes = nodes
        c.broadcasts = 20
        c.seed = seed
        c.warmup = .seconds(Int64(5))
        c.settle = .seconds(Int64(12))
        c.payloadBytes = 64
        return c
    }

    /// The same seed replays the same run, byte for byte; another seed does not.
    func testSameSeedSameTrace() throws {
        func trace(seed: UInt64) -> [UInt8] {
            var c = smallConfig(nodes: 40, seed: seed)
            c.broadcasts = 5
            c.loss = 0.05
            c.crashFraction = 0.1
            c.trace = true
            let sink = MemoryTraceSink()
            _ = Simulator(config: c, trace: sink).run()
            return sink.bytes
        }
        let a = trace(seed: 11), b = trace(seed: 11), c = trace(seed: 12)
        XCTAssertGreaterThan(a.count, 10_000)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        // Every line is a JSON object with the trace fields.
        let lines = String(decoding: a, as: UTF8.self).split(separator: "\n")
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(first["v"] as? Int, 1)
        XCTAssertNotNil(first["t"]); XCTAssertNotNil(first["node"]); XCTAssertNotNil(first["ev"])
        XCTAssertTrue(lines.contains { $0.contains("\"ev\":\"deliver\"") && $0.contains("\"hops\":") && $0.contains("\"kind\":\"job\"") })
    }

    func testNoFaultsFullCoverageFewCopies() {
        let r = Simulator(config: smallConfig(nodes: 150, seed: 3)).run()
        XCTAssertEqual(r.coverageMin, 1)
        XCTAssertEqual(r.coverageMinAfterAntiEntropy, 1)
        XCTAssertLessThanOrEqual(r.payloadCopiesPerNode, 1.25)
        XCTAssertEqual(r.overlayComponents, 1)
        XCTAssertEqual(r.eagerComponents, 1, "the broadcast tree spans the mesh")
    }

    /// Per-author trees follow each publisher's shortest paths once its first record has
    /// flooded and been pruned.
    func testPerAuthorTreesAreShortestPathTrees() {
        var c = smallConfig(nodes: 150, seed: 4)
        c.gossip.perAuthorTrees = true
        c.sources = 2
        let r = Simulator(config: c).run()
        XCTAssertEqual(r.coverageMin, 1)
        XCTAssertLessThan(r.hopsStretch, 1.5)
        XCTAssertLessThan(r.payloadCopiesPerNode, 1.6)
    }

    func testCrashesAndLossRepairedByAntiEntropy() {
        var c = smallConfig(nodes: 150, seed: 5)
        c.loss = 0.05
        c.crashFraction = 0.2
        let r = Simulator(config: c).run()
        XCTAssertGreaterThanOrEqual(r.coverageMin, 0.97)
        XCTAssertEqual(r.coverageMinAfterAntiEntropy, 1)
        XCTAssertEqual(r.liveNodesAtEnd, 120)
        XCTAssertGreaterThan(r.failuresDetected, 0)
    }

    func testPartitionHealsWithinTenSeconds() throws {
        var c = smallConfig(nodes: 100, seed: 9)
        c.partition = true
        c.partitionDuration = .seconds(Int64(20))
        let r = Simulator(config: c).run()
        let heal = try XCTUnwrap(r.healConvergenceS)
        XCTAssertGreaterThanOrEqual(heal, 0, "did not converge")
        XCTAssertLessThan(heal, 10)
        XCTAssertGreaterThan(r.messagesPartitioned, 0)
        XCTAssertEqual(r.overlayComponents, 1)
    }

    func testRestartedNodesCatchUp() {
        // Seed 14: at seed 13 one broadcast's source crashed within 25 ms of publishing while its
        // only eager peer was already dead, so no other node ever had that record (nothing a
        // restarted node could catch up on); see Specs/gossip.md §4, "origin".
        var c = smallConfig(nodes: 80, seed: 14)
        c.crashFraction = 0.2
        c.restartFraction = 1
        c.restartDelay = .seconds(Int64(1))
        let r = Simulator(config: c).run()
        XCTAssertEqual(r.liveNodesAtEnd, 80)
        XCTAssertEqual(r.coverageMinAfterAntiEntropy, 1)
    }
}
