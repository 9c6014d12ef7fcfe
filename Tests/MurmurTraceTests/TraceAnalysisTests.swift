import Foundation
import XCTest
import MurmurCore
@testable import MurmurTrace

/// Propagation, coverage, links, drops, jobs and clock offsets on synthetic runs whose answers
/// the tests compute themselves (Dijkstra over the topology, counts over the generated events).
final class TraceAnalysisTests: XCTestCase {
    typealias S = TraceTestSupport

    /// Checks the record report against an independent shortest-path computation (jitter 0).
    func checkPropagation(_ sim: SyntheticTrace, record: Int, clock: ClockMode,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let path = S.write(S.lines(S.events(sim)))
        let id = sim.recordIDs[record].hex
        let (report, _) = try S.analyze([path], AnalysisOptions(record: String(id.prefix(16)), clock: clock))
        guard let r = report.record else { return XCTFail("no record report", file: file, line: line) }
        let origin = sim.origin(of: record)
        let n = sim.config.nodes
        let (dist, hops) = S.shortestTimes(sim, from: origin, avoiding: sim.config.droppingNodes.union(sim.config.downNodes))
        XCTAssertEqual(r.id, id, file: file, line: line)
        XCTAssertEqual(r.origin, sim.nodeIDs[origin].hex, file: file, line: line)
        XCTAssertTrue(r.originKnown, file: file, line: line)
        let reached = (0..<n).filter { dist[$0] != nil }
        XCTAssertEqual(r.delivered, reached.count, file: file, line: line)
        XCTAssertEqual(r.tree.count, reached.count, file: file, line: line)
        let index = Dictionary(uniqueKeysWithValues: sim.nodeIDs.enumerated().map { ($1.hex, $0) })
        var depthOf: [String: Int] = [:]
        for e in r.tree {
            let v = index[e.node]!
            XCTAssertEqual(e.sinceOriginNs, dist[v]!, "arrival time of node \(v)", file: file, line: line)
            XCTAssertFalse(e.orphan, file: file, line: line)
            if let f = e.from {
                // The parent must lie on a shortest path: its arrival plus the link delay.
                let u = index[f]!
                XCTAssertEqual(dist[u]! + sim.linkDelay[u * n + v]!, dist[v]!, "parent of \(v)", file: file, line: line)
                XCTAssertEqual(depthOf[f].map { $0 + 1 }, e.depth, "tree depth follows the parent", file: file, line: line)
                XCTAssertEqual(e.hops, hops[v], file: file, line: line)
            } else {
                XCTAssertEqual(v, origin, file: file, line: line)
                XCTAssertEqual(e.depth, 0, file: file, line: line)
            }
            depthOf[e.node] = e.depth
        }
        let sorted = reached.map { dist[$0]! }.sorted()
        XCTAssertEqual(r.coverageNs, TraceReport.Coverage(p50: S.nearestRank(sorted, 0.5), p90: S.nearestRank(sorted, 0.9),
                                                          p99: S.nearestRank(sorted, 0.99), p100: sorted.last!), file: file, line: line)
        XCTAssertEqual(r.curve.count, reached.count, file: file, line: line)
        XCTAssertEqual(r.curve.last?[1], Int64(reached.count), file: file, line: line)
    }

    func noJitter(_ c: SyntheticTrace.Config) -> SyntheticTrace.Config { var c = c; c.jitterNs = 0; return c }

    func testLine() throws {
        var c = noJitter(.init(nodes: 9, topology: .line))
        c.records = 2
        let sim = SyntheticTrace(c)
        try checkPropagation(sim, record: 0, clock: .raw)
        // Also the exact shape: a chain, hop k at depth k.
        let path = S.write(S.lines(S.events(sim)))
        let (report, _) = try S.analyze([path], AnalysisOptions(record: sim.recordIDs[0].hex, clock: .raw))
        XCTAssertEqual(report.record!.tree.map(\.depth), Array(0..<9))
        XCTAssertEqual(report.record!.tree.map(\.node), sim.nodeIDs.map(\.hex))
        XCTAssertEqual(report.record!.duplicates, 0, "a line has no second paths")
    }

    /// Traces whose author writes no delivery of its own record (as the gossip simulator does):
    /// the origin is the node that sent it before delivering it, and the tree is unchanged.
    func testOriginFromSendsWhenTheAuthorWritesNoDelivery() throws {
        var c = noJitter(.init(nodes: 40, topology: .randomMesh(degree: 4)))
        c.seed = 5
        let sim = SyntheticTrace(c)
        let all = S.events(sim)
        let withoutOrigin = all.filter { !($0.kind == .deliver && $0.hops == 0) }
        XCTAssertEqual(withoutOrigin.count, all.count - 1)
        let opts = AnalysisOptions(record: sim.recordIDs[0].hex, clock: .raw)
        let (a, _) = try S.analyze([S.write(S.lines(all))], opts)
        let (b, _) = try S.analyze([S.write(S.lines(withoutOrigin))], opts)
        XCTAssertEqual(b.record!.origin, sim.nodeIDs[sim.origin(of: 0)].hex)
        XCTAssertTrue(b.record!.originKnown)
        XCTAssertEqual(b.record!.tree.map(\.node), a.record!.tree.map(\.node))
        XCTAssertEqual(b.record!.tree.map(\.sinceOriginNs), a.record!.tree.map(\.sinceOriginNs))
        XCTAssertEqual(b.record!.coverageNs, a.record!.coverageNs)
        XCTAssertEqual(b.record!.delivered, 40)
        XCTAssertTrue(b.record!.missing.isEmpty)
    }

    func testStar() throws {
        var c = noJitter(.init(nodes: 12, topology: .star))
        c.records = 2
        let sim = SyntheticTrace(c)
        try checkPropagation(sim, record: 0, clock: .raw)   // from the hub: everyone at hop 1
        try checkPropagation(sim, record: 1, clock: .raw)   // from a leaf: via the hub
        let path = S.write(S.lines(S.events(sim)))
        let (report, _) = try S.analyze([path], AnalysisOptions(record: sim.recordIDs[0].hex, clock: .raw))
        XCTAssertEqual(Set(report.record!.tree.dropFirst().map(\.depth)), [1])
    }

    func testSeededRandomMesh() throws {
        for seed: UInt64 in [3, 4] {
            var c = noJitter(.init(nodes: 60, topology: .randomMesh(degree: 4)))
            c.seed = seed
            c.records = 4
            let sim = SyntheticTrace(c)
            for r in 0..<4 { try checkPropagation(sim, record: r, clock: .raw) }
            // Symmetric delays without jitter: the clock estimate is exact, results identical.
            try checkPropagation(sim, record: 0, clock: .estimate)
        }
    }

    /// Summary numbers against counts over the generated events.
    func testSummaryLinksAndKinds() throws {
        var c = SyntheticTrace.Config(nodes: 25, topology: .randomMesh(degree: 4))
        c.records = 5
        c.jobs = 2
        let sim = SyntheticTrace(c)
        let events = S.events(sim)
        let (report, _) = try S.analyze([S.write(S.lines(events))], AnalysisOptions(clock: .raw))
        let ann = report.kinds.first { $0.kind == "announcement" }!
        XCTAssertEqual(ann.records, 5)
        XCTAssertEqual(ann.deliveries, events.filter { $0.kind == .deliver }.count)
        XCTAssertEqual(ann.duplicates, events.filter { $0.kind == .dup }.count)
        XCTAssertEqual(ann.duplicateRatio, Double(ann.duplicates) / Double(ann.deliveries), accuracy: 1e-12)
        XCTAssertEqual(ann.latencyNs?.count, ann.deliveries - 5, "origin deliveries are not latencies")
        XCTAssertEqual(report.nodes, 25)
        // Links: frames each way equal the send events on that link.
        var sends: [String: Int] = [:]
        for e in events where e.kind == .send { sends["\(e.node.hex)>\(e.peer!.hex)", default: 0] += 1 }
        XCTAssertEqual(report.links.count, sim.adjacency.map(\.count).reduce(0, +) / 2)
        for l in report.links {
            XCTAssertEqual(l.framesAB, sends["\(l.a)>\(l.b)"] ?? 0)
            XCTAssertEqual(l.framesBA, sends["\(l.b)>\(l.a)"] ?? 0)
            XCTAssertEqual(l.bytesAB, Int64(l.framesAB * c.recordBytes))
        }
        // Per record: duplicates counted from its own events.
        let (one, _) = try S.analyze([S.write(S.lines(events))], AnalysisOptions(record: sim.recordIDs[3].hex, clock: .raw))
        XCTAssertEqual(one.record!.duplicates, events.filter { $0.kind == .dup && $0.recordID == sim.recordIDs[3] }.count)
        XCTAssertGreaterThan(one.record!.duplicates, 0)
        XCTAssertEqual(report.jobs.count, 2)
        XCTAssertEqual(Set(report.jobs.map(\.outcome)), ["verified"])
    }

    /// Nodes that never got a record are listed with the last thing they saw, and drops are counted.
    func testMissingNodesAndDrops() throws {
        var c = noJitter(.init(nodes: 30, topology: .randomMesh(degree: 4)))
        c.seed = 11
        c.downNodes = [3]
        c.droppingNodes = [5]
        let sim = SyntheticTrace(c)
        try checkPropagation(sim, record: 0, clock: .raw)
        let events = S.events(sim)
        let (report, _) = try S.analyze([S.write(S.lines(events))], AnalysisOptions(record: sim.recordIDs[0].hex, clock: .raw))
        let r = report.record!
        let missing = Dictionary(uniqueKeysWithValues: r.missing.map { ($0.node, $0) })
        let down = missing[sim.nodeIDs[3].hex]!
        XCTAssertEqual(down.lastEvent?.ev, "disconnect")
        XCTAssertEqual(down.lastEvent?.reason, "crashed")
        XCTAssertFalse(down.lastEventIsAboutRecord)
        let dropping = missing[sim.nodeIDs[5].hex]!
        XCTAssertEqual(dropping.lastEvent?.ev, "drop")
        XCTAssertEqual(dropping.lastEvent?.reason, "invalid-signature")
        XCTAssertTrue(dropping.lastEventIsAboutRecord)
        XCTAssertEqual(r.delivered + r.missing.count, r.nodesInTrace)
        let drops = report.drops.first { $0.node == sim.nodeIDs[5].hex }!
        XCTAssertEqual(drops.byReason["invalid-signature"], events.filter { $0.kind == .drop }.count)
    }

    /// Per-node files in any order give the same answers as one merged file.
    func testManyFilesMergeLikeOne() throws {
        var c = SyntheticTrace.Config(nodes: 20, topology: .randomMesh(degree: 3))
        c.records = 3; c.maxSkewNs = 20_000_000; c.jobs = 1
        let sim = SyntheticTrace(c)
        let events = S.events(sim)
        let one = S.write(S.lines(events))
        let dir = S.tempDir()
        var byNode: [String: [TraceEvent]] = [:]
        for e in events { byNode[e.node.hex, default: []].append(e) }
        let files = byNode.keys.sorted(by: >).map { S.write(S.lines(byNode[$0]!), name: "\($0).jsonl", in: dir) }
        let opts = AnalysisOptions(record: sim.recordIDs[1].hex, job: sim.jobIDs[0].hex)
        let (a, _) = try S.analyze([one], opts)
        let (b, _) = try S.analyze(files, opts)
        XCTAssertEqual(b.input.files, 20)
        XCTAssertEqual(a.record!.coverageNs, b.record!.coverageNs)
        XCTAssertEqual(a.record!.tree.map(\.node), b.record!.tree.map(\.node))
        XCTAssertEqual(a.kinds.map(\.deliveries), b.kinds.map(\.deliveries))
        XCTAssertEqual(a.job!.timeline.map(\.ev), b.job!.timeline.map(\.ev))
        for (x, y) in zip(a.clock.nodes.sorted { $0.node < $1.node }, b.clock.nodes.sorted { $0.node < $1.node }) {
            XCTAssertEqual(x.offsetNs - y.offsetNs, a.clock.nodes[0].offsetNs - b.clock.nodes.first { $0.node == a.clock.nodes[0].node }!.offsetNs)
        }
    }

    /// Clocks off by up to ±50 ms: offsets recovered from send/recv pairs within a tolerance,
    /// causality restored, and coverage close to the truth.
    func testClockSkewIsEstimated() throws {
        var c = SyntheticTrace.Config(nodes: 40, topology: .randomMesh(degree: 4))
        c.seed = 21
        c.records = 30
        c.maxSkewNs = 50_000_000
        c.jitterNs = 1_000_000
        let sim = SyntheticTrace(c)
        let path = S.write(S.lines(S.events(sim)))
        let (est, _) = try S.analyze([path], AnalysisOptions(record: sim.recordIDs[0].hex, clock: .estimate))
        let (raw, _) = try S.analyze([path], AnalysisOptions(record: sim.recordIDs[0].hex, clock: .raw))
        XCTAssertGreaterThan(raw.clock.causalityViolations, 0, "50 ms skew with ≤ 21 ms delays must show recv before send")
        XCTAssertEqual(est.clock.causalityViolations, 0)
        let index = Dictionary(uniqueKeysWithValues: sim.nodeIDs.enumerated().map { ($1.hex, $0) })
        let ref = index[est.clock.referenceNode!]!
        var checked = 0
        for n in est.clock.nodes {
            let truth = sim.clockOffset[index[n.node]!] - sim.clockOffset[ref]
            let err = abs(n.offsetNs - truth)
            switch n.method {
            case .reference: XCTAssertEqual(n.offsetNs, 0)
            case .pairs:
                XCTAssertLessThanOrEqual(err, 1_000_000, "node \(n.node.prefix(8)) off by \(err) ns")
                checked += 1
            case .oneway:
                XCTAssertLessThanOrEqual(err, n.uncertaintyNs + 1_000_000)
            default: XCTFail("unexpected method \(n.method)")
            }
        }
        XCTAssertGreaterThan(checked, 30)
        // The coverage with corrected clocks is within 2 ms of the truth; raw clocks are not.
        let truthOffsets = sim.clockOffset
        var truthTimes: [Int64] = []
        let events = S.events(sim).filter { $0.kind == .deliver && $0.recordID == sim.recordIDs[0] }
        let o = events.first { $0.hops == 0 }!
        let t0 = o.time.nanoseconds - truthOffsets[index[o.node.hex]!]
        for e in events { truthTimes.append(e.time.nanoseconds - truthOffsets[index[e.node.hex]!] - t0) }
        truthTimes.sort()
        XCTAssertEqual(Double(est.record!.coverageNs.p100), Double(truthTimes.last!), accuracy: 2e6)
        XCTAssertEqual(Double(est.record!.coverageNs.p50), Double(S.nearestRank(truthTimes, 0.5)), accuracy: 2e6)
        XCTAssertTrue(TraceText.render(est).contains("NTP-style"), "the output says how times were aligned")
    }

    func testRecordPrefixResolution() throws {
        var c = SyntheticTrace.Config(nodes: 5, topology: .line)
        c.records = 40
        let sim = SyntheticTrace(c)
        let path = S.write(S.lines(S.events(sim)))
        let hex = sim.recordIDs.map(\.hex)
        // A one-digit prefix shared by several of the 40 ids.
        var counts: [Character: Int] = [:]
        for h in hex { counts[h.first!, default: 0] += 1 }
        let shared = counts.first { $0.value > 1 }!.key
        XCTAssertThrowsError(try S.analyze([path], AnalysisOptions(record: String(shared)))) { e in
            XCTAssertTrue("\(e)".contains("matches"), "\(e)")
        }
        XCTAssertThrowsError(try S.analyze([path], AnalysisOptions(record: "zz"))) { e in XCTAssertTrue("\(e)".contains("not a hex")) }
        let absent = (0..<256).map { String(format: "%02x", $0) }.first { p in !hex.contains { $0.hasPrefix(p) } }!
        XCTAssertThrowsError(try S.analyze([path], AnalysisOptions(record: absent))) { e in XCTAssertTrue("\(e)".contains("no record")) }
        let (r, _) = try S.analyze([path], AnalysisOptions(record: hex[7].uppercased(), clock: .raw))
        XCTAssertEqual(r.record?.id, hex[7])
    }

    func testJobTimeline() throws {
        var c = SyntheticTrace.Config(nodes: 6, topology: .star)
        c.records = 1; c.jobs = 2
        let sim = SyntheticTrace(c)
        let path = S.write(S.lines(S.events(sim)))
        let (r, _) = try S.analyze([path], AnalysisOptions(job: String(sim.jobIDs[1].hex.prefix(10)), clock: .raw))
        let j = r.job!
        XCTAssertEqual(j.id, sim.jobIDs[1].hex)
        XCTAssertEqual(j.outcome, "verified")
        XCTAssertEqual(j.timeline.map(\.ev), ["job.submit", "job.assign", "job.assign", "job.claim", "job.claim", "job.execute",
                                              "job.execute", "job.attest", "job.attest", "job.verified"])
        XCTAssertEqual(j.durationNs, 55_000_000)
        XCTAssertEqual(j.timeline.map(\.tNs), j.timeline.map(\.tNs).sorted())
        XCTAssertTrue(TraceText.jobTimeline(j).contains("job.verified"))
    }

    /// `--json` keys are the ones Specs/trace.md documents.
    func testJSONKeysAreStable() throws {
        var c = SyntheticTrace.Config(nodes: 6, topology: .star)
        c.jobs = 1
        let sim = SyntheticTrace(c)
        let path = S.write(S.lines(S.events(sim)))
        let (r, _) = try S.analyze([path], AnalysisOptions(record: sim.recordIDs[0].hex, job: sim.jobIDs[0].hex))
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let obj = try JSONSerialization.jsonObject(with: enc.encode(r)) as! [String: Any]
        XCTAssertEqual(Set(obj.keys), ["format", "version", "input", "clock", "startNs", "endNs", "nodes", "nodesWithEvents",
                                       "records", "eventCounts", "kinds", "messages", "links", "drops", "jobs", "record", "job"])
        let rec = obj["record"] as! [String: Any]
        XCTAssertEqual(Set(rec.keys), ["id", "kind", "origin", "originKnown", "originNs", "delivered", "nodesInTrace", "duplicates",
                                       "grafts", "coverageNs", "curve", "tree", "missing", "events"])
        let spec = try String(contentsOf: S.repoRoot.appendingPathComponent("Specs/trace.md"), encoding: .utf8)
        for k in obj.keys { XCTAssertTrue(spec.contains("`\(k)`"), "Specs/trace.md documents report key \(k)") }
        for k in rec.keys { XCTAssertTrue(spec.contains("`\(k)`"), "Specs/trace.md documents record key \(k)") }
    }

    /// Send/recv lines of control messages (no record id) are counted per message kind, apart from
    /// the record kinds, with bytes both ways; they never show as empty record-kind rows.
    func testControlMessagesAreTheirOwnTable() throws {
        let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64), id = String(repeating: "c", count: 64)
        func line(_ seq: Int, _ t: Int, _ node: String, _ ev: String, _ kind: String, _ peer: String, _ bytes: Int, id rid: String? = nil) -> String {
            "{\"v\":1,\"t\":\(t),\"seq\":\(seq),\"node\":\"\(node)\",\"ev\":\"\(ev)\",\"kind\":\"\(kind)\"" +
                (rid.map { ",\"id\":\"\($0)\"" } ?? "") + ",\"peer\":\"\(peer)\",\"bytes\":\(bytes)}"
        }
        let text = [line(1, 100, a, "send", "join", b, 40), line(2, 200, b, "recv", "join", a, 40),
                    line(3, 300, a, "send", "ihave", b, 70), line(4, 310, a, "send", "ihave", b, 30),
                    line(5, 400, b, "recv", "ihave", a, 70),
                    line(6, 500, a, "send", "job", b, 300, id: id), line(7, 600, b, "recv", "job", a, 300, id: id),
                    "{\"v\":1,\"t\":700,\"seq\":8,\"node\":\"\(b)\",\"ev\":\"deliver\",\"kind\":\"job\",\"id\":\"\(id)\",\"peer\":\"\(a)\",\"hops\":1}"]
            .joined(separator: "\n") + "\n"
        let (r, _) = try S.analyze([S.write(text)], AnalysisOptions(clock: .raw))
        XCTAssertEqual(r.kinds.map(\.kind), ["job"], "only kinds that name records are record kinds")
        let join = try XCTUnwrap(r.messages.first { $0.kind == "join" })
        XCTAssertEqual([join.sends, join.recvs], [1, 1])
        XCTAssertEqual([join.sendBytes, join.recvBytes], [40, 40])
        let ihave = try XCTUnwrap(r.messages.first { $0.kind == "ihave" })
        XCTAssertEqual([ihave.sends, ihave.recvs], [2, 1])
        XCTAssertEqual([ihave.sendBytes, ihave.recvBytes], [100, 70])
        XCTAssertEqual(r.messages.map(\.kind), ["ihave", "join"], "sorted by bytes")
        let text2 = TraceText.render(r)
        XCTAssertTrue(text2.contains("control messages"), text2)
    }

    /// The terminal tree uses box-drawing characters, one line per delivering node.
    func testTerminalTree() throws {
        let sim = SyntheticTrace(noJitter(.init(nodes: 7, topology: .star)))
        let path = S.write(S.lines(S.events(sim)))
        let (r, _) = try S.analyze([path], AnalysisOptions(record: sim.recordIDs[0].hex, clock: .raw))
        let text = TraceText.record(r.record!)
        XCTAssertEqual(text.components(separatedBy: "├─ ").count - 1, 5)
        XCTAssertEqual(text.components(separatedBy: "└─ ").count - 1, 1)
        XCTAssertTrue(text.contains("time to reach 50%"))
    }
}

/// A trace written by the gossip simulator (MurmurSim), checked against the simulator's own
/// report of the same run: the tool recovers the same latencies from the trace alone.
final class GossipSimulatorTraceTests: XCTestCase {
    func testSimulatorTraceMatchesItsOwnReport() throws {
        let dir = TraceTestSupport.repoRoot.appendingPathComponent("Tests/MurmurTraceTests/Fixtures")
        let sim = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("gossip-sim-24.report.json"))) as! [String: Any]
        let (r, _) = try TraceTestSupport.analyze([dir.appendingPathComponent("gossip-sim-24.jsonl").path], AnalysisOptions(clock: .raw))
        XCTAssertEqual(r.input.errors, 0)
        XCTAssertEqual(r.nodesWithEvents, sim["nodes"] as? Int)
        let k = try XCTUnwrap(r.kinds.first { $0.deliveries > 0 })
        XCTAssertEqual(k.records, sim["broadcasts"] as? Int)
        let live = sim["live_nodes"] as! Int
        XCTAssertEqual(k.deliveries, (live - 1) * k.records, "full coverage: every live node but the author delivered each")
        let lat = try XCTUnwrap(k.latencyNs)
        XCTAssertEqual(Double(lat.p50) / 1e6, sim["latency_ms_p50"] as! Double, accuracy: 0.001)
        XCTAssertEqual(Double(lat.p99) / 1e6, sim["latency_ms_p99"] as! Double, accuracy: 0.001)
        XCTAssertEqual(r.clock.causalityViolations, 0)
    }

    /// Each record's tree has one node per delivering node, rooted at its author, with hop counts
    /// that grow by one from parent to child.
    func testSimulatorTreesAreConsistent() throws {
        let path = TraceTestSupport.repoRoot.appendingPathComponent("Tests/MurmurTraceTests/Fixtures/gossip-sim-24.jsonl").path
        let a = try TraceAnalyzer(options: AnalysisOptions(clock: .raw, keepEventsForExport: true))
        try a.add(path: path)
        let report = try a.report()
        let export = a.exportData(report: report)
        XCTAssertEqual(export.records.count, 5)
        for rec in export.records {
            XCTAssertTrue(rec.originKnown)
            XCTAssertEqual(rec.tree.count, rec.delivered)
            XCTAssertEqual(rec.tree.first?.node, rec.origin)
            let hops = Dictionary(uniqueKeysWithValues: rec.tree.map { ($0.node, $0.hops ?? 0) })
            for e in rec.tree.dropFirst() {
                XCTAssertFalse(e.orphan)
                XCTAssertEqual(e.hops, hops[e.from!]! + 1)
                XCTAssertGreaterThan(e.sinceOriginNs, 0)
            }
        }
    }
}

/// Hostile but well-formed traces: extreme times, self-links, cycles of senders, ids reused as
/// both jobs and records. Every output path runs without trapping.
final class TraceHostileInputTests: XCTestCase {
    func testRandomEventsNeverCrashAnyOutput() throws {
        var rng = SeededRNG(seed: 1234)
        let nodes = (0..<7).map { _ in NodeID(Bytes32(w0: rng.next(), w1: 0, w2: 0, w3: 0)) }
        let ids = (0..<4).map { _ in Hash(Bytes32(w0: rng.next(), w1: 1, w2: 2, w3: 3)) }
        let kinds = TraceEvent.Kind.allCases
        let limit = Int64(1) << 62 - 1
        let times: [Int64] = [0, 1, -1, limit, -limit, limit / 2, 123_456_789]
        var events: [TraceEvent] = []
        for _ in 0..<1500 {
            func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
            events.append(TraceEvent(time: Instant(nanoseconds: pick(times) &+ Int64(rng.next() % 1000)),
                                     node: pick(nodes), kind: pick(kinds),
                                     recordKind: rng.next() % 3 == 0 ? nil : pick(["job", "manifest", "x\"y"]),
                                     recordID: rng.next() % 5 == 0 ? nil : pick(ids),
                                     peer: rng.next() % 4 == 0 ? nil : pick(nodes),
                                     bytes: rng.next() % 2 == 0 ? nil : Int(rng.next() % 100_000),
                                     hops: rng.next() % 2 == 0 ? nil : Int(rng.next() % 4),
                                     reason: rng.next() % 2 == 0 ? nil : pick(["a", "b\n", ""])))
        }
        let path = TraceTestSupport.write(TraceTestSupport.lines(events))
        for clock in [ClockMode.estimate, .raw] {
            for id in ids {
                let a = try TraceAnalyzer(options: AnalysisOptions(record: id.hex, job: id.hex, clock: clock, keepEventsForExport: true))
                try a.add(path: path)
                // Times at or beyond ±2^62 are refused line by line (Specs/trace.md §1).
                XCTAssertEqual(a.reader.stats.errors, events.filter { $0.time.nanoseconds.magnitude >= 1 << 62 }.count)
                XCTAssertEqual(a.reader.stats.errorsByCategory.keys.sorted(), a.reader.stats.errors > 0 ? ["bad-value"] : [])
                let r: TraceReport
                do { r = try a.report() } catch {
                    // The id may never appear in a job event: a clear error, not a crash.
                    XCTAssertTrue("\(error)".contains("no record"), "\(error)")
                    continue
                }
                let x = a.exportData(report: r)
                _ = TraceText.render(r)
                _ = TraceHTML.render(report: r, export: x)
                _ = try JSONSerialization.jsonObject(with: Data(ChromeTrace.render(report: r, export: x).utf8))
                _ = try JSONEncoder().encode(r)
            }
        }
    }
}
