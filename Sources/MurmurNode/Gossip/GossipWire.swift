import MurmurCore
import MurmurGossip
import MurmurWire

/// How gossip messages travel as transport messages (Specs/mesh.md).
///
/// One gossip message is one transport message. Its type byte names the gossip tag in the
/// ranges of Specs/transport.md — membership tags 1…9 → 0x11…0x19, Plumtree tags 16…19 →
/// 0x30…0x33, anti-entropy tags 32…34 → 0x38…0x3A — and its payload is the message's canonical
/// encoding (tag byte included), so the gossip codec and its test vectors stay the one
/// definition. A payload whose tag disagrees with its type is malformed.
public enum GossipWire {
    /// The transport types the hosted gossip layer owns (membership + broadcast ranges).
    public static let messageTypes: ClosedRange<UInt8> = MessageType.membershipRange.lowerBound...MessageType.broadcastRange.upperBound

    public static func messageType(for tag: GossipMessage.Tag) -> MessageType {
        let raw = tag.rawValue
        switch raw {
        case 1...15: return MessageType(0x10 + raw)
        case 16...23: return MessageType(0x30 + (raw - 16))
        default: return MessageType(0x38 + (raw - 32))
        }
    }

    public static func tag(for type: MessageType) -> GossipMessage.Tag? {
        let raw = type.rawValue
        let tagRaw: UInt8
        switch raw {
        case 0x11...0x1F: tagRaw = raw - 0x10
        case 0x30...0x37: tagRaw = raw - 0x30 + 16
        case 0x38...0x3F: tagRaw = raw - 0x38 + 32
        default: return nil
        }
        return GossipMessage.Tag(rawValue: tagRaw)
    }

    /// Why an incoming gossip payload was refused.
    public enum InboundError: Error, Equatable, Sendable {
        /// Not a gossip message of its type (garbage: the link may be closed).
        case malformed(String)
        /// A well-formed message whose record fails a signature, body or clock rule.
        case record(RecordError, SignedRecord?)
    }

    /// Decodes one payload of transport type `type` with the bounded gossip decoder. Records
    /// whose id `knownIDs` names (already verified here) skip the signature check.
    public static func decode(type: MessageType, payload: [UInt8], knownIDs: (Hash) -> Bool = { _ in false }) -> Result<GossipMessage, InboundError> {
        guard let expected = tag(for: type) else { return .failure(.malformed("type \(type) is not a gossip message")) }
        guard payload.first == expected.rawValue else { return .failure(.malformed("payload tag does not match type \(type)")) }
        do {
            return .success(try GossipMessage(decoding: payload, knownIDs: knownIDs))
        } catch {
            switch error {
            case let .malformed(e): return .failure(.malformed("\(e)"))
            case let .record(e): return .failure(.record(e, nil))
            }
        }
    }

    /// Kebab-case reason for a refused record (trace `drop` reasons, status counters).
    public static func reason(_ e: RecordError) -> String {
        switch e {
        case .malformed: return "malformed-record"
        case .badSignature: return "invalid-signature"
        case .expired: return "expired"
        case .notYetValid: return "not-yet-valid"
        case .lifetimeTooLong: return "lifetime-too-long"
        case .wrongKind: return "wrong-kind"
        case .invalid: return "invalid-body"
        }
    }

    /// Transport type of a fragment of a gossip message too large for one transport message.
    public static let fragmentType = MessageType(0x3F)
    /// `id u32 ‖ index u16 ‖ count u16` in front of each fragment's bytes.
    public static let fragmentHeaderBytes = 8
    /// Most fragments of one message (a maximal gossip message in maximal fragments).
    public static var maxFragments: Int {
        let per = Limits.maxMessagePayload - fragmentHeaderBytes
        return (Limits.gossipMaxMessageBytes + per - 1) / per
    }

    /// Cuts an encoded gossip message into fragment payloads (each ≤ `maxBytes`).
    public static func fragments(of encoded: [UInt8], id: UInt32, maxBytes: Int = Limits.maxMessagePayload) -> [[UInt8]] {
        let per = maxBytes - fragmentHeaderBytes
        let count = (encoded.count + per - 1) / per
        precondition(count >= 2 && count <= Int(UInt16.max))
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        for index in 0..<count {
            var w = ByteWriter(capacity: maxBytes)
            w.u32(id); w.u16(UInt16(index)); w.u16(UInt16(count))
            w.raw(Array(encoded[(index * per)..<min(encoded.count, (index + 1) * per)]))
            out.append(w.bytes)
        }
        return out
    }

    /// Cuts a message into messages that each fit one transport message. `Records` and
    /// `Reconcile` split by item (each item stands alone); any other message — or a single record —
    /// too large for a transport message comes back in `tooLarge` (to be sent in fragments).
    public static func fit(_ message: GossipMessage, maxBytes: Int = Limits.maxMessagePayload) -> (parts: [GossipMessage], tooLarge: [GossipMessage]) {
        if message.encodedSize <= maxBytes { return ([message], []) }
        switch message {
        case let .records(items):
            var parts: [GossipMessage] = [], tooLarge: [GossipMessage] = []
            var batch: [HoppedRecord] = []
            var size = 3
            for item in items {
                let itemSize = 6 + item.record.encoded.count
                if 3 + itemSize > maxBytes { tooLarge.append(.records([item])); continue }
                if size + itemSize > maxBytes { parts.append(.records(batch)); batch = []; size = 3 }
                batch.append(item); size += itemSize
            }
            if !batch.isEmpty { parts.append(.records(batch)) }
            return (parts, tooLarge)
        case let .reconcile(ranges):
            var parts: [GossipMessage] = []
            var batch: [RangeDigest] = []
            for r in ranges {
                let candidate = GossipMessage.reconcile(batch + [r])
                if !batch.isEmpty && candidate.encodedSize > maxBytes { parts.append(.reconcile(batch)); batch = [] }
                batch.append(r)
            }
            if !batch.isEmpty { parts.append(.reconcile(batch)) }
            // A single range of ≤ 256 ids is ≤ 8.2 KiB: always fits.
            return (parts, [])
        default:
            return ([], [message])
        }
    }
}

/// Puts fragmented gossip messages back together (Specs/mesh.md, "Fragments"). Fragments of one
/// message travel back to back on one ordered link, so each peer has at most one message in
/// reassembly; anything out of order discards it. Bounded per message
/// (`Limits.gossipMaxMessageBytes`) and in total (`Limits.gossipMaxReassemblyBytes`).
public struct FragmentAssembler: Sendable {
    struct Partial: Sendable {
        var id: UInt32
        var count: UInt16
        var next: UInt16
        var bytes: [UInt8]
    }
    private var partials: [NodeID: Partial] = [:]
    public private(set) var bufferedBytes = 0
    /// Partial messages thrown away (out of order, a new message started, over a limit).
    public private(set) var discarded = 0

    public init() {}

    public enum Outcome: Equatable, Sendable {
        case incomplete
        case complete([UInt8])
        /// Not a fragment (garbage: the link may be closed).
        case malformed(String)
        /// A well-formed fragment that could not be used (counted in `discarded`).
        case dropped(String)
    }

    public mutating func add(_ payload: [UInt8], from peer: NodeID) -> Outcome {
        var r = ByteReader(payload)
        guard let id = try? r.u32(), let index = try? r.u16(), let count = try? r.u16(), payload.count > GossipWire.fragmentHeaderBytes else {
            return .malformed("fragment shorter than its header")
        }
        guard count >= 2, Int(count) <= GossipWire.maxFragments, index < count else {
            return .malformed("fragment \(index) of \(count)")
        }
        let data = payload[GossipWire.fragmentHeaderBytes...]
        if index == 0 {
            if partials[peer] != nil { drop(peer) }
            partials[peer] = Partial(id: id, count: count, next: 0, bytes: [])
        }
        guard var partial = partials[peer], partial.id == id, partial.count == count, partial.next == index else {
            if partials[peer] != nil { drop(peer) } else { discarded += 1 }
            return .dropped("fragment out of order")
        }
        guard partial.bytes.count + data.count <= Limits.gossipMaxMessageBytes,
              bufferedBytes + data.count <= Limits.gossipMaxReassemblyBytes else {
            drop(peer)
            return .dropped("reassembly over its limit")
        }
        partials[peer] = nil
        partial.bytes.append(contentsOf: data)
        bufferedBytes += data.count
        partial.next += 1
        if partial.next == partial.count {
            bufferedBytes -= partial.bytes.count
            return .complete(partial.bytes)
        }
        partials[peer] = partial
        return .incomplete
    }

    /// The peer's link went down: its partial message is gone.
    public mutating func forget(_ peer: NodeID) {
        if let p = partials.removeValue(forKey: peer) { bufferedBytes -= p.bytes.count }
    }

    private mutating func drop(_ peer: NodeID) {
        forget(peer)
        discarded += 1
    }
}
