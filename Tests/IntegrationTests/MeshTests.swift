import XCTest
import Foundation
import MurmurCore
import MurmurCrypto
import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

/// A real mesh: `murmur node` processes on loopback joined through one seed, gossiping signed
/// records over encrypted links (Specs/gossip.md). Every wait has a deadline; every child is
/// killed and reaped when the test ends, whatever its outcome (and exits by itself if we die).
final class MeshTests: XCTestCase {
    /// 10 by default; `MURMUR_MESH_NODES=8…16` to try other sizes.
    static let nodeCount: Int = {
        guard let text = getenv("MURMUR_MESH_NODES").map({ String(cString: $0) }), let n = Int(text), (8...16).contains(n) else { return 10 }
        return n
    }()
    static let activeViewSize = 5

    /// One `murmur node` child with its id, gossip address and control address.
    final class MeshNode {
        let index: Int
        let process: ChildProcess
        var id = ""
        var address = ""
        var control: SocketAddress?
        var alive = true
        private var partial: [UInt8] = []
        private var lines: [String] = []

        init(index: Int, process: ChildProcess) {
            self.index = index
            self.process = process
        }

        /// Reads the start-up lines ("node ID listening on ADDR", "control ADDR").
        func waitStarted(seconds: Double) -> Bool {
            let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
            while control == nil || id.isEmpty {
                if Posix.monotonicNanoseconds() > deadline { return false }
                guard let chunk = process.readStdout() else { return false }
                if chunk.isEmpty { usleep(5_000); continue }
                for b in chunk {
                    if b == 0x0A { line(String(decoding: partial, as: UTF8.self)); partial.removeAll() } else { partial.append(b) }
                }
            }
            return true
        }

        private func line(_ text: String) {
            let parts = text.split(separator: " ").map(String.init)
            if parts.count == 5, parts[0] == "node", parts[2] == "listening" {
                id = parts[1]
                address = parts[4]
            } else if parts.count == 2, parts[0] == "control" {
                control = try? SocketAddress(parsing: parts[1])
            }
        }

        func status() -> MeshStatus? {
            guard alive, let control,
                  let r = try? ControlClient.request(control, path: "/v1/status", timeout: .seconds(Int64(2))), r.status == 200 else { return nil }
            return try? MeshStatus.decode(r.body)
        }

        func publish(_ count: Int) throws -> [String] {
            let control = try XCTUnwrap(control)
            let r = try ControlClient.request(control, method: "POST", path: "/v1/debug/records?count=\(count)", timeout: .seconds(Int64(5)))
            XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
            let object = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: [String]]
            return try XCTUnwrap(object?["published"])
        }
    }


    /// Polls until `condition` holds for the statuses of the live nodes; false at the deadline.
    func waitFor(_ nodes: [MeshNode], seconds: Double, _ condition: ([Int: MeshStatus]) -> Bool) -> [Int: MeshStatus] {
        let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
        var last: [Int: MeshStatus] = [:]
        while true {
            last = [:]
            for n in nodes where n.alive { if let s = n.status() { last[n.index] = s } }
            if last.count == nodes.filter(\.alive).count && condition(last) { return last }
            if Posix.monotonicNanoseconds() > deadline { return [:] }
            usleep(100_000)
        }
    }

    /// "Full" active views as HyParView can make them. Links are symmetric and a full node
    /// refuses a low-priority neighbour request, so the views stop growing when every node is
    /// full or its only possible partners are full: then any two short nodes are already
    /// neighbours (e.g. with 10 nodes and views of 5, two linked nodes can stay at 3, and with
    /// `n × size` odd one node must stay short). Required: no dead peer in any view, no empty view,
    /// and that maximal state.
    static func viewsFull(_ statuses: [String: MeshStatus], size: Int, dead: Set<String>) -> Bool {
        let views = statuses.mapValues { Set($0.active_view) }
        guard views.values.allSatisfy({ dead.isDisjoint(with: $0) && !$0.isEmpty }) else { return false }
        let short = views.filter { $0.value.count < size }.map(\.key)
        for a in short { for b in short where a < b { if views[a]?.contains(b) != true { return false } } }
        return true
    }

    static func byID(_ all: [Int: MeshStatus]) -> [String: MeshStatus] {
        Dictionary(all.values.map { ($0.node_id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    func dump(_ nodes: [MeshNode]) {
        let names = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.index) })
        for n in nodes where n.alive {
            guard let s = n.status() else { print("node \(n.index): no status"); continue }
            print("node \(n.index): active \(s.active_view.map { names[$0] ?? -1 }) passive \(s.passive_view.map { names[$0] ?? -1 }) directory \(s.directory_size) jobs \(s.records["job"] ?? -1) linked \(s.linked_peers)")
        }
    }

    func testMeshConvergesSurvivesThreeKillsAndRefills() throws {
        let exe = try murmurPath()
        var template = Array("/tmp/murmur-mesh-XXXXXX".utf8CString)
        let root = String(cString: try XCTUnwrap(mkdtemp(&template)))
        var nodes: [MeshNode] = []
        defer {
            for n in nodes { n.process.kill() }
            for n in nodes { _ = n.process.reap(blocking: true) }
            _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", root]).reap(blocking: true)
        }
        let keyPath = root + "/network.key"
        try NetworkKey.random().save(to: keyPath)
        let started = Posix.monotonicNanoseconds()
        func elapsed() -> String { String(format: "%.2f s", Double(Posix.monotonicNanoseconds() - started) / 1e9) }

        // A seed, then everyone joins through its address only.
        for i in 0..<Self.nodeCount {
            var args = ["node", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--data", "\(root)/n\(i)",
                        "--network-key", keyPath, "--gossip-fast", "--trace", "\(root)/trace\(i).jsonl", "--parent-pid", "\(getpid())"]
            if i > 0 { args += ["--join", nodes[0].address] }
            let node = MeshNode(index: i, process: try ChildProcess(executable: exe, arguments: args, discardStderr: true))
            nodes.append(node)
            XCTAssertTrue(node.waitStarted(seconds: 10), "node \(i) did not start")
        }
        let full = min(Self.activeViewSize, Self.nodeCount - 1)
        let formed = waitFor(nodes, seconds: 20) { all in
            Self.viewsFull(Self.byID(all), size: full, dead: []) && all.values.allSatisfy { $0.directory_size == Self.nodeCount }
        }
        XCTAssertFalse(formed.isEmpty, "the mesh did not form: full active views (\(full)) and a directory of \(Self.nodeCount) everywhere")
        if formed.isEmpty { dump(nodes) }
        print("mesh: \(Self.nodeCount) nodes, active views full and directory complete after \(elapsed())")

        // Records published at three nodes reach every node.
        var published: Set<String> = []
        for i in [1, Self.nodeCount / 2, Self.nodeCount - 2] { published.formUnion(try nodes[i].publish(2)) }
        XCTAssertEqual(published.count, 6)
        let t0 = Posix.monotonicNanoseconds()
        let converged = waitFor(nodes, seconds: 15) { all in all.values.allSatisfy { $0.records["job"] == published.count } }
        XCTAssertFalse(converged.isEmpty, "not every node holds all \(published.count) records")
        print("mesh: \(published.count) records on all \(Self.nodeCount) nodes after \(String(format: "%.3f", Double(Posix.monotonicNanoseconds() - t0) / 1e9)) s")

        // Kill three nodes (the seed among them) without warning.
        let victims = [0, 3, 6]
        for i in victims { nodes[i].process.kill(); nodes[i].alive = false }
        for i in victims { _ = nodes[i].process.reap(blocking: true) }
        let dead = Set(victims.map { nodes[$0].id })
        let survivors = nodes.filter(\.alive)
        for i in [2, Self.nodeCount - 1] { published.formUnion(try nodes[i].publish(2)) }
        XCTAssertEqual(published.count, 10)
        let t1 = Posix.monotonicNanoseconds()
        let healed = waitFor(survivors, seconds: 20) { all in
            all.values.allSatisfy { $0.records["job"] == published.count }
                && Self.viewsFull(Self.byID(all), size: min(Self.activeViewSize, survivors.count - 1), dead: dead)
        }
        XCTAssertFalse(healed.isEmpty, "after 3 kills the \(survivors.count) survivors did not converge with refilled active views")
        print("mesh: after killing 3 nodes, \(survivors.count) survivors hold all \(published.count) records with full active views after \(String(format: "%.3f", Double(Posix.monotonicNanoseconds() - t1) / 1e9)) s (total \(elapsed()))")
        dump(survivors)

        // `murmur status --json` shows the same through the CLI.
        let cli = try ChildProcess(executable: exe, arguments: ["status", "--node", "\(try XCTUnwrap(survivors[0].control))", "--json"],
                                   discardStderr: true)
        XCTAssertEqual(cli.reap(blocking: true), 0)
        var output: [UInt8] = []
        while let chunk = cli.readStdout(), !chunk.isEmpty { output += chunk }
        let fromCLI = try MeshStatus.decode(output)
        XCTAssertEqual(fromCLI.node_id, survivors[0].id)
        XCTAssertEqual(fromCLI.records["job"], published.count)

        // The traces of the real run explain where a record went (`murmur trace --record`).
        for n in survivors { n.process.terminate() }
        for n in survivors { XCTAssertEqual(n.process.stop(grace: 5), 0); n.alive = false }
        let first = try XCTUnwrap(published.sorted().first)
        let traces = (0..<Self.nodeCount).map { "\(root)/trace\($0).jsonl" }
        let analysis = try ChildProcess(executable: exe, arguments: ["trace"] + traces + ["--record", first, "--json"], discardStderr: true)
        var report: [UInt8] = []
        let deadline = Posix.monotonicNanoseconds() + 20_000_000_000
        while let chunk = analysis.readStdout() {
            if Posix.monotonicNanoseconds() > deadline { analysis.kill(); break }
            if chunk.isEmpty { usleep(5_000) } else { report += chunk }
        }
        XCTAssertEqual(analysis.reap(blocking: true), 0)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(report)) as? [String: Any])
        let record = try XCTUnwrap(object["record"] as? [String: Any])
        XCTAssertEqual(record["id"] as? String, first)
        XCTAssertGreaterThanOrEqual(record["delivered"] as? Int ?? 0, survivors.count, "trace of a real run: \(record)")
        // The gossip shell's own events (control messages, packed straight into the file) too.
        let messages = try XCTUnwrap(object["messages"] as? [[String: Any]])
        XCTAssertGreaterThan(messages.reduce(0) { $0 + ($1["sends"] as? Int ?? 0) }, 0, "control messages traced: \(messages)")
        XCTAssertGreaterThan(messages.reduce(0) { $0 + ($1["recvs"] as? Int ?? 0) }, 0, "control messages traced: \(messages)")
    }
}
