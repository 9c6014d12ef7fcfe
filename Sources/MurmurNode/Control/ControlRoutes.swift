import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurWire

/// The routes of the minimal control endpoint (Specs/mesh.md):
///
/// | method, path | answer |
/// |---|---|
/// | `GET /v1/status` | `MeshStatus` as JSON |
/// | `POST /v1/debug/records?count=N` | developer tool: this node signs and publishes N test `Job` records (N ≤ 64); answers `{"published":[ids]}` |
public enum ControlRoutes {
    public static let maxDebugRecords = 64

    public static func handler(node: Node, gossip: GossipService, identity: SigningKey, startedAt: Instant) -> (ControlRequest) -> ControlResponse {
        var published = 0
        return { [unowned node, unowned gossip] request in
            switch (request.method, request.path) {
            case ("GET", "/v1/status"):
                return .json(MeshStatus(node: node, gossip: gossip, startedAt: startedAt).json())
            case ("POST", "/v1/debug/records"):
                let count = Int(request.query["count"] ?? "1") ?? -1
                guard (1...maxDebugRecords).contains(count) else { return .error(400, "count must be 1…\(maxDebugRecords)") }
                var ids: [String] = []
                for _ in 0..<count {
                    published += 1
                    guard let record = try? DebugRecords.testJob(by: identity, index: published, nowUnixMs: gossip.unixNowMs) else {
                        return .error(500, "could not sign a test record")
                    }
                    node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: record.encoded))
                    ids.append("\"\(record.id.hex)\"")
                }
                return .json("{\"published\":[\(ids.joined(separator: ","))]}")
            case (_, "/v1/status"), (_, "/v1/debug/records"):
                return .error(405, "method not allowed")
            default:
                return .error(404, "no such endpoint: \(request.path)")
            }
        }
    }
}
