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
    /// `active`, `passive` or `none`: where the peer is in this node's HyParView views.
    public var view: String

    public init(node: NodeID, address: String, connected: Bool, lastSeen: Int64, models: [Hash] = [], freeSlots: Int? = nil,
                excluded: Bool = false, view: String = "none") {
        self.node = node; self.address = address; self.connected = connected; self.lastSeen = lastSeen
        self.models = models; self.freeSlots = freeSlots; self.excluded = excluded; self.view = view
    }
}

/// A live transport link as `GET /v1/peers` lists it: its traffic both ways.
public struct LinkListing: Sendable {
    public var peer: NodeID?
    public var link: Int64
    public var inbound: Bool
    public var remoteAddress: String?
    public var bytesIn: Int, bytesOut: Int, framesIn: Int, framesOut: Int, messagesIn: Int, messagesOut: Int, queuedBytes: Int

    public init(peer: NodeID?, link: Int64, inbound: Bool, remoteAddress: String?, bytesIn: Int, bytesOut: Int, framesIn: Int,
                framesOut: Int, messagesIn: Int, messagesOut: Int, queuedBytes: Int) {
        self.peer = peer; self.link = link; self.inbound = inbound; self.remoteAddress = remoteAddress
        self.bytesIn = bytesIn; self.bytesOut = bytesOut; self.framesIn = framesIn; self.framesOut = framesOut
        self.messagesIn = messagesIn; self.messagesOut = messagesOut; self.queuedBytes = queuedBytes
    }
}

/// The mesh part of `GET /v1/status` (the fields `murmur status` shows).
public struct MeshView: Sendable {
    public var listen: String
    public var activeView: [NodeID]
    public var passiveView: [NodeID]
    public var directorySize: Int
    /// Counter groups (`gossip`, `host`, `transport`, `node`, `jobs`) of named integers.
    public var counters: [String: [String: Int]]
    public var linkedPeers: Int
    public var eagerPeers: Int
    public var localHealth: Int

    public init(listen: String = "", activeView: [NodeID] = [], passiveView: [NodeID] = [], directorySize: Int = 0,
                counters: [String: [String: Int]] = [:], linkedPeers: Int = 0, eagerPeers: Int = 0, localHealth: Int = 0) {
        self.listen = listen; self.activeView = activeView; self.passiveView = passiveView; self.directorySize = directorySize
        self.counters = counters; self.linkedPeers = linkedPeers; self.eagerPeers = eagerPeers; self.localHealth = localHealth
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
    public var mesh: MeshView

    public init(node: NodeID, version: String, uptimeSeconds: Double, addresses: [String], peersConnected: Int, modelsHeld: Int,
                freeSlots: Int, totalSlots: Int, jobsByState: [String: Int], recordsByKind: [String: Int], excludedNodes: Int,
                mesh: MeshView = MeshView()) {
        self.node = node; self.version = version; self.uptimeSeconds = uptimeSeconds; self.addresses = addresses
        self.peersConnected = peersConnected; self.modelsHeld = modelsHeld; self.freeSlots = freeSlots; self.totalSlots = totalSlots
        self.jobsByState = jobsByState; self.recordsByKind = recordsByKind; self.excludedNodes = excludedNodes; self.mesh = mesh
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

    /// `GET /v1/peers`: the peers, the HyParView views (id and address) and the live links.
    public static func peers(_ peers: [PeerListing], activeView: [(NodeID, String)] = [], passiveView: [(NodeID, String)] = [],
                             links: [LinkListing] = []) -> HTTPResponse {
        let items: [JSONValue] = peers.prefix(Limits.maxAPIListItems).map { p in
            [
                "node_id": .string(p.node.hex),
                "address": .string(p.address),
                "connected": .bool(p.connected),
                "last_seen": .int(p.lastSeen),
                "models": .array(p.models.map { .string($0.hex) }),
                "free_slots": p.freeSlots.map { .int($0) } ?? .null,
                "excluded": .bool(p.excluded),
                "view": .string(p.view),
            ]
        }
        func ref(_ p: (NodeID, String)) -> JSONValue { ["node_id": .string(p.0.hex), "address": .string(p.1)] }
        let linkItems: [JSONValue] = links.prefix(Limits.maxAPIListItems).map { l in
            [
                "peer": l.peer.map { .string($0.hex) } ?? .null,
                "link": .int(l.link),
                "direction": .string(l.inbound ? "inbound" : "outbound"),
                "remote_address": .optional(l.remoteAddress),
                "bytes_in": .int(l.bytesIn), "bytes_out": .int(l.bytesOut),
                "frames_in": .int(l.framesIn), "frames_out": .int(l.framesOut),
                "messages_in": .int(l.messagesIn), "messages_out": .int(l.messagesOut),
                "queued_bytes": .int(l.queuedBytes),
            ]
        }
        return .json(.ok, ["peers": .array(items), "active_view": .array(activeView.map(ref)),
                           "passive_view": .array(passiveView.map(ref)), "links": .array(linkItems)])
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
            "listen": .string(s.mesh.listen),
            "active_view": .array(s.mesh.activeView.map { .string($0.hex) }),
            "passive_view": .array(s.mesh.passiveView.map { .string($0.hex) }),
            "directory_size": .int(s.mesh.directorySize),
            "counters": .object(s.mesh.counters.mapValues { .object($0.mapValues { .int($0) }) }),
            "linked_peers": .int(s.mesh.linkedPeers),
            "eager_peers": .int(s.mesh.eagerPeers),
            "local_health": .int(s.mesh.localHealth),
            "uptime_s": .double(s.uptimeSeconds),
        ])
    }
}
