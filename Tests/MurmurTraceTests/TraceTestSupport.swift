import Foundation
import XCTest
import MurmurCore
@testable import MurmurTrace

/// Helpers shared by the trace tests: temp files, running the analyzer, independent oracles.
enum TraceTestSupport {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func tempDir() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("murmur-trace-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    static func lines(_ events: [TraceEvent]) -> String {
        var b: [UInt8] = []
        for (i, e) in events.enumerated() { TraceEncoder.append(e, seq: Int64(i + 1), to: &b) }
        return String(decoding: b, as: UTF8.self)
    }

    static func events(_ sim: SyntheticTrace) -> [TraceEvent] {
        var out: [TraceEvent] = []
        sim.generate { out.append($0) }
        return out
    }

    /// Writes `text` to a temp file and returns its path.
    static func write(_ text: String, name: String = "trace.jsonl", in dir: URL? = nil) -> String {
        let d = dir ?? tempDir()
        let p = d.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    static func analyze(_ paths: [String], _ options: AnalysisOptions = AnalysisOptions()) throws -> (TraceReport, TraceAnalyzer) {
        let a = try TraceAnalyzer(options: options)
        for p in paths { try a.add(path: p) }
        return (try a.report(), a)
    }

    /// Dijkstra over the synthetic topology (jitter 0): first-arrival time and hop count of each node.
    static func shortestTimes(_ sim: SyntheticTrace, from origin: Int, avoiding: Set<Int> = []) -> (time: [Int64?], hops: [Int]) {
        let n = sim.config.nodes
        var dist = [Int64?](repeating: nil, count: n)
        var hops = [Int](repeating: 0, count: n)
        var done = [Bool](repeating: false, count: n)
        dist[origin] = 0
        for _ in 0..<n {
            var u = -1
            for v in 0..<n where !done[v] && dist[v] != nil && (u < 0 || dist[v]! < dist[u]!) { u = v }
            if u < 0 { break }
            done[u] = true
            if avoiding.contains(u) && u != origin { continue } // receives but does not forward
            for w in sim.adjacency[u] {
                let d = dist[u]! + sim.linkDelay[u * n + w]!
                if dist[w] == nil || d < dist[w]! { dist[w] = d; hops[w] = hops[u] + 1 }
            }
        }
        for a in avoiding { dist[a] = nil }
        return (dist, hops)
    }

    static func nearestRank(_ sorted: [Int64], _ q: Double) -> Int64 {
        let k = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, k)) - 1]
    }
}
