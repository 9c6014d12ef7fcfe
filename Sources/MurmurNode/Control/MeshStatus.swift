import Foundation
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurWire

/// What `GET /v1/status` returns and `murmur status` prints (Specs/mesh.md).
public struct MeshStatus: Codable, Sendable, Equatable {
    public var node_id: String
    public var listen: String
    /// Peer ids (64 hex) of the active view, then of the passive view.
    public var active_view: [String]
    public var passive_view: [String]
    /// Live nodes known through unexpired announcements, this node included.
    public var directory_size: Int
    /// Records held, by kind name (`announcement`, `job` …).
    public var records: [String: Int]
    /// Counter groups: `gossip` (state machine), `host` (decoding, validation, sends), `transport`, `node`.
    public var counters: [String: [String: Int]]
    /// Authenticated peers with a link (active, pending and temporary links).
    public var linked_peers: Int
    public var eager_peers: Int
    public var local_health: Int
    public var uptime_s: Double
    // The fields of Specs/api.yaml's `Status` (the same route serves both views).
    public var version: String
    public var uptime_seconds: Double
    /// The addresses this node announces (its advertised or listen address).
    public var addresses: [String]
    public var peers_connected: Int
    public var models_held: Int
    public var free_slots: Int
    public var total_slots: Int
    /// Jobs this node tracks, by state name.
    public var jobs: [String: Int]
    public var excluded_nodes: Int

    public init(node: Node, gossip: GossipService, startedAt: Instant, jobs service: JobsService? = nil) {
        node_id = node.localID.hex
        listen = gossip.gossip?.me.address ?? node.listenAddress.map { "\($0)" } ?? ""
        let g = gossip.gossip
        active_view = g?.activeView.map(\.id.hex) ?? []
        passive_view = g?.passiveView.map(\.id.hex) ?? []
        directory_size = g?.directorySize ?? 0
        var records: [String: Int] = [:]
        for (kind, n) in g?.recordCounts ?? [:] { records[kind.description] = n }
        self.records = records
        var counters: [String: [String: Int]] = [:]
        counters["gossip"] = MeshStatus.flatten(g?.counters ?? GossipCounters())
        var host = MeshStatus.flatten(gossip.counters)
        for (k, v) in gossip.counters.received { host["received." + k] = v }
        for (k, v) in gossip.counters.sent { host["sent." + k] = v }
        for (k, v) in gossip.counters.recordsRefused { host["refused." + k] = v }
        counters["host"] = host
        counters["transport"] = MeshStatus.flatten(node.transport.counters)
        counters["node"] = MeshStatus.flatten(node.counters)
        self.counters = counters
        linked_peers = node.connectedPeers.count
        eager_peers = g?.eagerPeers.count ?? 0
        local_health = g?.localHealthScore ?? 0
        uptime_s = max(0, (node.loop.now - startedAt).seconds)
        version = MurmurVersion.software
        uptime_seconds = uptime_s
        addresses = listen.isEmpty ? [] : [listen]
        peers_connected = linked_peers
        models_held = service?.store.held.count ?? 0
        free_slots = service?.freeSlots ?? 0
        total_slots = service?.slots ?? 0
        var byState: [String: Int] = [:]
        if let service {
            for state in ["pending", "running", "disputed", "verified", "failed"] { byState[state] = 0 }
            for id in service.jobRecords.keys { byState[service.state(of: id)?.name ?? "pending", default: 0] += 1 }
            self.counters["jobs"] = MeshStatus.flatten(service.counters)
        }
        jobs = byState
        excluded_nodes = service?.jobs.excluded.count ?? 0
    }

    /// The integer fields of a counters struct, by their snake_case names.
    static func flatten(_ value: Any) -> [String: Int] {
        var out: [String: Int] = [:]
        for child in Mirror(reflecting: value).children {
            guard let label = child.label, let n = child.value as? Int else { continue }
            out[snakeCase(label)] = n
        }
        return out
    }

    static func snakeCase(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    public func json(pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public static func decode(_ bytes: [UInt8]) throws -> MeshStatus {
        try JSONDecoder().decode(MeshStatus.self, from: Data(bytes))
    }
}

/// Records for developers and tests: `POST /v1/debug/records?count=N` publishes N signed `Job`
/// records for a model that does not exist (so no node will try to run them).
public enum DebugRecords {
    /// Most records one `POST /v1/debug/records` (or `--publish-test-records`) publishes.
    public static let maxCount = 64
    /// The model hash test jobs name: BLAKE2b-256 of "murmur/debug/test-model".
    public static let testModel = Hash.of(Array("murmur/debug/test-model".utf8))

    public static func testJob(by key: SigningKey, index: Int, nowUnixMs: Int64, lifetimeMs: Int64 = 600_000) throws -> SignedRecord {
        // 16 bytes: the index, then randomness (two runs never publish the same record).
        var nonce: [UInt8] = withUnsafeBytes(of: UInt64(truncatingIfNeeded: index).bigEndian) { Array($0) }
        nonce += (0..<8).map { _ in UInt8.random(in: 0...255) }
        let input = Array("debug record \(index)".utf8)
        let job = Job(modelHash: testModel, input: input, redundancy: 1, quorum: 1, deadline: nowUnixMs + lifetimeMs / 2, nonce: nonce)
        return try SignedRecord.sign(job, by: key, issuedAt: nowUnixMs, expiresAt: nowUnixMs + lifetimeMs)
    }
}
