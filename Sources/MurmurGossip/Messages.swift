import MurmurCore
import MurmurWire

/// A peer as membership knows it: the authenticated identity plus an address it can be dialled at.
public struct PeerRef: Hashable, Sendable, CustomStringConvertible {
    public var id: NodeID
    public var address: String
    public init(id: NodeID, address: String) { self.id = id; self.address = address }
    public var description: String { "\(id.short)@\(address)" }
}

/// How much a `Neighbor` request insists (HyParView priority, plus our partition-heal variant).
public enum NeighborPriority: UInt8, Sendable, CaseIterable {
    /// The requester still has other active peers: accept only if there is room.
    case low = 0
    /// The requester has no active peers (or is answering a forward-join): always accept.
    case high = 1
    /// The requester lost us to a failure and got through again: accept if there is room, or if
    /// we also lost the requester (both sides of a healed partition).
    case reconnect = 2
}

/// One id announced lazily, with the hop count at which the announcer delivered it.
public struct IHaveEntry: Hashable, Sendable {
    public var id: Hash
    public var hops: UInt16
    public init(id: Hash, hops: UInt16) { self.id = id; self.hops = hops }
}

/// A record travelling with the hop count it has when it arrives (1 = straight from the author).
public struct HoppedRecord: Hashable, Sendable {
    public var record: SignedRecord
    public var hops: UInt16
    public init(record: SignedRecord, hops: UInt16) { self.record = record; self.hops = hops }
}

/// A range of record ids of one kind: the ids whose first `depth` hex digits equal `prefix`.
public struct IDRange: Hashable, Sendable, Comparable {
    public var kind: RecordKind
    /// Number of leading hex digits fixed (0 = every id of the kind).
    public var depth: UInt8
    /// The fixed digits, right-aligned (`prefix < 16^depth`).
    public var prefix: UInt32
    public init(kind: RecordKind, depth: UInt8, prefix: UInt32) { self.kind = kind; self.depth = depth; self.prefix = prefix }

    public static func whole(_ kind: RecordKind) -> IDRange { IDRange(kind: kind, depth: 0, prefix: 0) }

    public func contains(_ id: Hash) -> Bool {
        if depth == 0 { return true }
        let top = UInt32(truncatingIfNeeded: id.value.w0 >> 32)
        return top >> (32 - 4 * UInt32(depth)) == prefix
    }

    /// The 16 sub-ranges one digit deeper.
    public var children: [IDRange] {
        (0..<16).map { IDRange(kind: kind, depth: depth + 1, prefix: prefix << 4 | UInt32($0)) }
    }

    public static func < (a: IDRange, b: IDRange) -> Bool {
        (a.kind.rawValue, a.depth, a.prefix) < (b.kind.rawValue, b.depth, b.prefix)
    }
}

/// What one side says about an id range during reconciliation.
public enum RangeSummary: Hashable, Sendable {
    /// How many ids the sender holds in the range and the BLAKE2b of their sorted concatenation.
    case fingerprint(count: UInt32, hash: Hash)
    /// Every id the sender holds in the range (sent when the set is small or cannot be split).
    case ids([Hash])
}

/// One entry of a `Reconcile` message.
public struct RangeDigest: Hashable, Sendable {
    public var range: IDRange
    public var summary: RangeSummary
    public init(range: IDRange, summary: RangeSummary) { self.range = range; self.summary = summary }
}

/// Every message of the gossip layer (Specs/gossip.md, "Messages"). Encoded as one tag byte
/// followed by the fields, canonical and bounded; decoding a record verifies its signature.
public enum GossipMessage: Hashable, Sendable {
    // Membership (HyParView).
    case join(address: String)
    case forwardJoin(node: PeerRef, ttl: UInt8)
    case neighbor(priority: NeighborPriority, address: String)
    case neighborReply(accepted: Bool)
    case disconnect
    case shuffle(origin: PeerRef, ttl: UInt8, peers: [PeerRef])
    case shuffleReply(peers: [PeerRef])
    case ping(nonce: UInt64)
    case pong(nonce: UInt64)
    // Broadcast (Plumtree).
    case gossip(HoppedRecord)
    case ihave([IHaveEntry])
    case graft([Hash])
    case prune
    /// Per-author trees: stop pushing this author's records to me eagerly.
    case pruneTree(author: NodeID)
    /// Author trees: push this author's records to me eagerly (a shorter path than my parent's).
    case graftTree(author: NodeID)
    // Anti-entropy.
    case reconcile([RangeDigest])
    case want([Hash])
    case records([HoppedRecord])

    public enum Tag: UInt8, Sendable, CaseIterable {
        case join = 1, forwardJoin = 2, neighbor = 3, neighborReply = 4, disconnect = 5
        case shuffle = 6, shuffleReply = 7, ping = 8, pong = 9
        case gossip = 16, ihave = 17, graft = 18, prune = 19, pruneTree = 20, graftTree = 21
        case reconcile = 32, want = 33, records = 34
    }

    public var tag: Tag {
        switch self {
        case .join: return .join
        case .forwardJoin: return .forwardJoin
        case .neighbor: return .neighbor
        case .neighborReply: return .neighborReply
        case .disconnect: return .disconnect
        case .shuffle: return .shuffle
        case .shuffleReply: return .shuffleReply
        case .ping: return .ping
        case .pong: return .pong
        case .gossip: return .gossip
        case .ihave: return .ihave
        case .graft: return .graft
        case .prune: return .prune
        case .pruneTree: return .pruneTree
        case .graftTree: return .graftTree
        case .reconcile: return .reconcile
        case .want: return .want
        case .records: return .records
        }
    }

    /// Name used in traces and counters.
    public var name: String {
        switch tag {
        case .join: return "join"
        case .forwardJoin: return "forward_join"
        case .neighbor: return "neighbor"
        case .neighborReply: return "neighbor_reply"
        case .disconnect: return "disconnect"
        case .shuffle: return "shuffle"
        case .shuffleReply: return "shuffle_reply"
        case .ping: return "ping"
        case .pong: return "pong"
        case .gossip: return "gossip"
        case .ihave: return "ihave"
        case .graft: return "graft"
        case .prune: return "prune"
        case .pruneTree: return "prune_tree"
        case .graftTree: return "graft_tree"
        case .reconcile: return "reconcile"
        case .want: return "want"
        case .records: return "records"
        }
    }

    /// True for messages that carry whole records (the rest are control traffic).
    public var carriesPayload: Bool {
        switch self {
        case .gossip, .records: return true
        default: return false
        }
    }
}

/// Why a gossip message could not be decoded.
public enum GossipDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(DecodeError)
    case record(RecordError)
    public var description: String {
        switch self {
        case let .malformed(e): return "malformed gossip message: \(e)"
        case let .record(e): return "gossip message carries a bad record: \(e)"
        }
    }
}

// MARK: - Encoding

extension GossipMessage {
    /// The canonical encoding.
    public func encode(into w: inout ByteWriter) {
        w.u8(tag.rawValue)
        switch self {
        case let .join(address):
            w.string16(address)
        case let .forwardJoin(node, ttl):
            Self.encodePeer(node, into: &w); w.u8(ttl)
        case let .neighbor(priority, address):
            w.u8(priority.rawValue); w.string16(address)
        case let .neighborReply(accepted):
            w.bool(accepted)
        case .disconnect, .prune:
            break
        case let .shuffle(origin, ttl, peers):
            Self.encodePeer(origin, into: &w); w.u8(ttl); Self.encodePeers(peers, into: &w)
        case let .shuffleReply(peers):
            Self.encodePeers(peers, into: &w)
        case let .ping(nonce), let .pong(nonce):
            w.u64(nonce)
        case let .pruneTree(author), let .graftTree(author):
            w.nodeID(author)
        case let .gossip(item):
            w.u16(item.hops); w.bytes32(item.record.encoded)
        case let .ihave(entries):
            precondition(entries.count <= Limits.gossipMaxIDsPerMessage)
            w.u16(UInt16(entries.count))
            for e in entries { w.hash(e.id); w.u16(e.hops) }
        case let .graft(ids), let .want(ids):
            precondition(ids.count <= Limits.gossipMaxIDsPerMessage)
            w.u16(UInt16(ids.count))
            for id in ids { w.hash(id) }
        case let .reconcile(ranges):
            precondition(ranges.count <= Limits.gossipMaxReconcileRanges)
            w.u16(UInt16(ranges.count))
            for r in ranges {
                w.u8(r.range.kind.rawValue); w.u8(r.range.depth); w.u32(r.range.prefix)
                switch r.summary {
                case let .fingerprint(count, hash):
                    w.u8(0); w.u32(count); w.hash(hash)
                case let .ids(ids):
                    precondition(ids.count <= Limits.gossipMaxRangeIDs)
                    w.u8(1); w.u16(UInt16(ids.count))
                    for id in ids { w.hash(id) }
                }
            }
        case let .records(items):
            precondition(items.count <= Limits.gossipMaxRecordsPerMessage)
            w.u16(UInt16(items.count))
            for item in items { w.u16(item.hops); w.bytes32(item.record.encoded) }
        }
    }

    public var encoded: [UInt8] {
        var w = ByteWriter(capacity: encodedSize)
        encode(into: &w)
        return w.bytes
    }

    /// Length of `encoded`, computed without encoding (the simulator counts bytes with it).
    public var encodedSize: Int {
        switch self {
        case let .join(address): return 1 + 2 + address.utf8.count
        case let .forwardJoin(node, _): return 1 + Self.peerSize(node) + 1
        case let .neighbor(_, address): return 1 + 1 + 2 + address.utf8.count
        case .neighborReply: return 2
        case .disconnect, .prune: return 1
        case let .shuffle(origin, _, peers): return 1 + Self.peerSize(origin) + 1 + Self.peersSize(peers)
        case let .shuffleReply(peers): return 1 + Self.peersSize(peers)
        case .ping, .pong: return 9
        case .pruneTree, .graftTree: return 33
        case let .gossip(item): return 1 + 2 + 4 + item.record.encoded.count
        case let .ihave(entries): return 1 + 2 + 34 * entries.count
        case let .graft(ids), let .want(ids): return 1 + 2 + 32 * ids.count
        case let .reconcile(ranges):
            var n = 3
            for r in ranges {
                n += 6 + 1
                switch r.summary {
                case .fingerprint: n += 36
                case let .ids(ids): n += 2 + 32 * ids.count
                }
            }
            return n
        case let .records(items):
            var n = 3
            for item in items { n += 6 + item.record.encoded.count }
            return n
        }
    }

    private static func encodePeer(_ p: PeerRef, into w: inout ByteWriter) {
        precondition(p.address.utf8.count <= Limits.gossipMaxAddressBytes, "address too long")
        w.nodeID(p.id); w.string16(p.address)
    }
    private static func encodePeers(_ peers: [PeerRef], into w: inout ByteWriter) {
        precondition(peers.count <= Limits.gossipMaxShufflePeers)
        w.u8(UInt8(peers.count))
        for p in peers { encodePeer(p, into: &w) }
    }
    private static func peerSize(_ p: PeerRef) -> Int { 32 + 2 + p.address.utf8.count }
    private static func peersSize(_ peers: [PeerRef]) -> Int {
        var n = 1
        for p in peers { n += peerSize(p) }
        return n
    }
}

// MARK: - Decoding

extension GossipMessage {
    /// Decodes one message; never traps. Records inside are signature-checked.
    public init(decoding bytes: [UInt8]) throws(GossipDecodeError) {
        try self.init(decoding: bytes, knownIDs: { _ in false })
    }

    /// Decodes one message; never traps. Records inside are signature-checked, except those whose
    /// id `knownIDs` says this node verified before (a duplicate copy: the id hashes the complete
    /// bytes, signature included, so the same id means the same verified bytes).
    public init(decoding bytes: [UInt8], knownIDs: (Hash) -> Bool) throws(GossipDecodeError) {
        if bytes.count > Limits.gossipMaxMessageBytes {
            throw .malformed(.tooLarge(field: "gossip message", limit: Limits.gossipMaxMessageBytes, actual: bytes.count))
        }
        var r = ByteReader(bytes)
        do {
            self = try Self.decodeBody(&r, knownIDs: knownIDs)
            try r.expectEnd("gossip message")
        } catch let e as DecodeError {
            throw .malformed(e)
        } catch let e as RecordError {
            throw .record(e)
        } catch {
            throw .malformed(.invalidValue(field: "gossip message", detail: "\(error)"))
        }
    }

    private static func decodeBody(_ r: inout ByteReader, knownIDs: (Hash) -> Bool) throws -> GossipMessage {
        let rawTag = try r.u8()
        guard let tag = Tag(rawValue: rawTag) else { throw DecodeError.unknownTag(field: "gossip message", tag: UInt64(rawTag)) }
        switch tag {
        case .join:
            return .join(address: try address(&r))
        case .forwardJoin:
            let node = try peer(&r)
            return .forwardJoin(node: node, ttl: try r.u8())
        case .neighbor:
            let raw = try r.u8()
            guard let priority = NeighborPriority(rawValue: raw) else { throw DecodeError.unknownTag(field: "neighbor priority", tag: UInt64(raw)) }
            return .neighbor(priority: priority, address: try address(&r))
        case .neighborReply:
            return .neighborReply(accepted: try r.bool())
        case .disconnect:
            return .disconnect
        case .shuffle:
            let origin = try peer(&r)
            let ttl = try r.u8()
            return .shuffle(origin: origin, ttl: ttl, peers: try peers(&r))
        case .shuffleReply:
            return .shuffleReply(peers: try peers(&r))
        case .ping:
            return .ping(nonce: try r.u64())
        case .pong:
            return .pong(nonce: try r.u64())
        case .gossip:
            let hops = try r.u16()
            return .gossip(HoppedRecord(record: try record(&r, knownIDs), hops: hops))
        case .ihave:
            let n = try r.count16(field: "ihave ids", max: Limits.gossipMaxIDsPerMessage)
            var entries: [IHaveEntry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                let id = try r.hash()
                entries.append(IHaveEntry(id: id, hops: try r.u16()))
            }
            return .ihave(entries)
        case .graft:
            return .graft(try hashes(&r, field: "graft ids", max: Limits.gossipMaxIDsPerMessage))
        case .prune:
            return .prune
        case .pruneTree:
            return .pruneTree(author: try r.nodeID())
        case .graftTree:
            return .graftTree(author: try r.nodeID())
        case .reconcile:
            let n = try r.count16(field: "reconcile ranges", max: Limits.gossipMaxReconcileRanges)
            var ranges: [RangeDigest] = []
            ranges.reserveCapacity(n)
            for _ in 0..<n {
                let rawKind = try r.u8()
                guard let kind = RecordKind(rawValue: rawKind) else { throw DecodeError.unknownTag(field: "range kind", tag: UInt64(rawKind)) }
                let depth = try r.u8()
                guard Int(depth) <= Limits.gossipMaxRangeDepth else {
                    throw DecodeError.tooLarge(field: "range depth", limit: Limits.gossipMaxRangeDepth, actual: Int(depth))
                }
                let prefix = try r.u32()
                guard depth == 0 ? prefix == 0 : UInt64(prefix) < (UInt64(1) << (4 * UInt64(depth))) else {
                    throw DecodeError.invalidValue(field: "range prefix", detail: "\(prefix) has more than \(depth) hex digits")
                }
                let range = IDRange(kind: kind, depth: depth, prefix: prefix)
                let summaryTag = try r.u8()
                switch summaryTag {
                case 0:
                    let count = try r.u32()
                    ranges.append(RangeDigest(range: range, summary: .fingerprint(count: count, hash: try r.hash())))
                case 1:
                    let ids = try hashes(&r, field: "range ids", max: Limits.gossipMaxRangeIDs)
                    ranges.append(RangeDigest(range: range, summary: .ids(ids)))
                default:
                    throw DecodeError.unknownTag(field: "range summary", tag: UInt64(summaryTag))
                }
            }
            return .reconcile(ranges)
        case .want:
            return .want(try hashes(&r, field: "want ids", max: Limits.gossipMaxIDsPerMessage))
        case .records:
            let n = try r.count16(field: "records", max: Limits.gossipMaxRecordsPerMessage)
            var items: [HoppedRecord] = []
            items.reserveCapacity(n)
            for _ in 0..<n {
                let hops = try r.u16()
                items.append(HoppedRecord(record: try record(&r, knownIDs), hops: hops))
            }
            return .records(items)
        }
    }

    private static func address(_ r: inout ByteReader) throws(DecodeError) -> String {
        let s = try r.string16(field: "address", max: Limits.gossipMaxAddressBytes)
        if s.isEmpty { throw .invalidValue(field: "address", detail: "empty") }
        return s
    }
    private static func peer(_ r: inout ByteReader) throws(DecodeError) -> PeerRef {
        let id = try r.nodeID()
        return PeerRef(id: id, address: try address(&r))
    }
    private static func peers(_ r: inout ByteReader) throws(DecodeError) -> [PeerRef] {
        let n = Int(try r.u8())
        if n > Limits.gossipMaxShufflePeers { throw .tooLarge(field: "shuffle peers", limit: Limits.gossipMaxShufflePeers, actual: n) }
        var out: [PeerRef] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try peer(&r)) }
        return out
    }
    private static func hashes(_ r: inout ByteReader, field: String, max: Int) throws(DecodeError) -> [Hash] {
        let n = try r.count16(field: field, max: max)
        var out: [Hash] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try r.hash()) }
        return out
    }
    private static func record(_ r: inout ByteReader, _ knownIDs: (Hash) -> Bool) throws -> SignedRecord {
        let bytes = try r.bytes32(field: "record", max: Limits.maxRecordBytes + 256)
        return try SignedRecord(decoding: bytes, skipSignatureCheck: { id, _ in knownIDs(id) })
    }
}
