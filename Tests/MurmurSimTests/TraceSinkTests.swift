import Foundation
import XCTest
import MurmurCore
import MurmurGossip
import MurmurSim

/// The simulator's traced path keeps the gossip events apart from the effects and its file sink
/// encodes on a writer thread: the file must hold exactly the lines the in-memory sink gets, and
/// the events must come in the order the plain `.trace` effects have.
final class TraceSinkTests: XCTestCase {
    func testFileSinkWritesTheSameBytesAsMemory() throws {
        var c = SimConfig()
        c.nodes = 30
        c.broadcasts = 4
        c.seed = 5
        c.loss = 0.05
        c.warmup = .seconds(Int64(3))
        c.settle = .seconds(Int64(5))
        c.payloadBytes = 64
        c.trace = true
        let memory = MemoryTraceSink()
        _ = Simulator(config: c, trace: memory).run()
        let path = NSTemporaryDirectory() + "murmur-sim-trace-\(getpid()).jsonl"
        defer { unlink(path) }
        let file = try XCTUnwrap(FileTraceSink(path: path))
        file.write(Array("{\"v\":1,\"t\":0,\"node\":\"\(String(repeating: "0", count: 64))\",\"ev\":\"connect\"}\n".utf8))
        _ = Simulator(config: c, trace: file).run() // closes the sink
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let first = written.firstIndex(of: 10).map { $0 + 1 } ?? 0
        XCTAssertGreaterThan(memory.lines, 1_000)
        XCTAssertEqual(file.eventsAppended, memory.lines)
        XCTAssertEqual(Array(written[first...]), memory.bytes)
    }

    /// `handle(_:now:into:traces:)` gives the events of the `.trace` effects, each placed before
    /// the effect it preceded.
    func testTracesApartMatchTraceEffects() {
        func node(_ i: UInt64) -> GossipNode {
            var config = GossipConfig()
            config.traceEnabled = true
            return GossipNode(me: PeerRef(id: NodeID(Bytes32(w0: i, w1: 0, w2: 0, w3: 0)), address: "sim:\(i)"),
                              seeds: ["sim:9"], config: config, rng: SeededRNG(seed: i))
        }
        var a = node(1), b = node(1)
        let peer = NodeID(Bytes32(w0: 9, w1: 0, w2: 0, w3: 0))
        let events: [GossipEvent] = [.start, .linkUp(peer: peer, address: "sim:9", outbound: true),
                                     .linkDown(peer: peer, reason: "closed"), .timer(.housekeeping)]
        var now = Instant(nanoseconds: 1_000)
        var traced = 0
        for e in events {
            now = now + TimeSpan(nanoseconds: 1_000_000)
            let plain = a.handle(e, now: now)
            var effects: [GossipEffect] = [], traces: [GossipTrace] = []
            b.handle(e, now: now, into: &effects, traces: &traces)
            // Rebuild the plain sequence: trace events before the effect they preceded.
            var merged: [String] = []
            var t = 0
            for (k, fx) in effects.enumerated() {
                while t < traces.count && traces[t].effectIndex <= k { merged.append("trace \(traces[t].event)"); t += 1 }
                merged.append("\(fx)")
            }
            while t < traces.count { merged.append("trace \(traces[t].event)"); t += 1 }
            let expected = plain.map { fx -> String in
                if case let .trace(ev) = fx { return "trace \(ev)" }
                return "\(fx)"
            }
            XCTAssertEqual(merged, expected)
            XCTAssertFalse(effects.contains { if case .trace = $0 { return true } else { return false } })
            traced += traces.count
        }
        XCTAssertGreaterThan(traced, 0)
    }
}
