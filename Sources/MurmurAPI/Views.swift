import MurmurCore
import MurmurHTTP
import MurmurWire

/// A model as `GET /v1/models` lists it: its manifest and this node's copy.
public struct ModelListing: Sendable {
    public var manifest: Signed<ModelManifest>
    /// Verified chunks on this node's disk (== chunk count when held).
    public var chunksVerified: Int
    /// Whether this node holds the complete verified file (and announces it).
    public var held: Bool
    /// Live nodes whose announcement lists the model.
    public var holders: Int

    public init(manifest: Signed<ModelManifest>, chunksVerified: Int, held: Bool, holders: Int) {
        self.manifest = manifest; self.chunksVerified = chunksVerified; self.held = held; self.holders = holders
    }
}

/// A peer as `GET /v1/peers` lists it.
public struct PeerListing: Sendable {
    public var node: NodeID
    public var address: String
    /// Connected now (an active link).
    public var connected: Bool
    /// Unix ms of the last message or announcement.
    public var lastSeen: Int64
    public var models: [Hash]
    public var freeSlots: Int?
    public var excluded: Bool

    public init(node: NodeID, address: String, connected: Bool, lastSeen: Int64, models: [Hash] = [], freeSlots: Int? = nil, excluded: Bool = false) {
        self.node = node; self.address = address; self.connected = connected; self.lastSeen = lastSeen
        self.models = models; self.freeSlots = freeSlots; self.excluded = excluded
    }
}

/// `GET /v1/status`.
public struct NodeStatus: Sendable {
    public var node: NodeID
    public var version: String
    public var uptimeSeconds: Double
    public var addresses: [String]
    public var peersConnected: Int
    public var modelsHeld: Int
    public var freeSlots: Int
    public var totalSlots: Int
    public var jobsByState: [String: Int]
    public var recordsByKind: [String: Int]
    public var excludedNodes: Int

    public init(node: NodeID, version: String, uptimeSeconds: Double, addresses: [String], peersConnected: Int, modelsHeld: Int,
                freeSlots: Int, totalSlots: Int, jobsByState: [String: Int], recordsByKind: [String: Int], excludedNodes: Int) {
        self.node = node; self.version = version; self.uptimeSeconds = uptimeSeconds; self.addresses = addresses
        self.peersConnected = peersConnected; self.modelsHeld = modelsHeld; self.freeSlots = freeSlots; self.totalSlots = totalSlots
        self.jobsByState = jobsByState; self.recordsByKind = recordsByKind; self.excludedNodes = excludedNodes
    }
}

public enum APIViews {
    static func tensorSpec(_ t: TensorSpec) -> JSONValue {
        ["name": .string(t.name), "dtype": .string(t.dtype.description), "shape": .array(t.shape.map { .int($0) })]
    }

    public static func models(_ models: [ModelListing]) -> HTTPResponse {
        let items: [JSONValue] = models.prefix(Limits.maxAPIListItems).map { m in
            let b = m.manifest.body
            return [
                "model_hash": .string(b.modelHash.hex),
                "name": .string(b.name),
                "version": .string(b.modelVersion),
                "format": .string(b.format.description),
                "size": .int(b.size),
                "chunk_size": .int(Int64(b.chunkSize)),
                "chunks": .int(b.chunkHashes.count),
                "chunks_verified": .int(m.chunksVerified),
                "held": .bool(m.held),
                "holders": .int(m.holders),
                "publisher": .string(m.manifest.author.hex),
                "manifest_id": .string(m.manifest.id.hex),
                "inputs": .array(b.inputs.map(tensorSpec)),
                "outputs": .array(b.outputs.map(tensorSpec)),
            ]
        }
        return .json(.ok, ["models": .array(items)])
    }

    public static func peers(_ peers: [PeerListing]) -> HTTPResponse {
        let items: [JSONValue] = peers.prefix(Limits.maxAPIListItems).map { p in
            [
                "node_id": .string(p.node.hex),
                "address": .string(p.address),
                "connected": .bool(p.connected),
                "last_seen": .int(p.lastSeen),
                "models": .array(p.models.map { .string($0.hex) }),
                "free_slots": p.freeSlots.map { .int($0) } ?? .null,
                "excluded": .bool(p.excluded),
            ]
        }
        return .json(.ok, ["peers": .array(items)])
    }

    public static func status(_ s: NodeStatus) -> HTTPResponse {
        .json(.ok, [
            "node_id": .string(s.node.hex),
            "version": .string(s.version),
            "uptime_seconds": .double(s.uptimeSeconds),
            "addresses": .array(s.addresses.map { .string($0) }),
            "peers_connected": .int(s.peersConnected),
            "models_held": .int(s.modelsHeld),
            "free_slots": .int(s.freeSlots),
            "total_slots": .int(s.totalSlots),
            "jobs": .object(s.jobsByState.mapValues { .int($0) }),
            "records": .object(s.recordsByKind.mapValues { .int($0) }),
            "excluded_nodes": .int(s.excludedNodes),
        ])
    }
}
