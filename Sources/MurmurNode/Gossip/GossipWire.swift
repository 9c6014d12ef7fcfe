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

    /// Decodes one payload of transport type `type` with the bounded gossip decoder.
    public static func decode(type: MessageType, payload: [UInt8]) -> Result<GossipMessage, InboundError> {
        guard let expected = tag(for: type) else { return .failure(.malformed("type \(type) is not a gossip message")) }
        guard payload.first == expected.rawValue else { return .failure(.malformed("payload tag does not match type \(type)")) }
        do {
            return .success(try GossipMessage(decoding: payload))
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

    /// Cuts a message into messages that each fit one transport message. `Records` and
    /// `Reconcile` split by item (each item stands alone); any other message — or a single record —
    /// too large for a transport message comes back in `tooLarge`.
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
