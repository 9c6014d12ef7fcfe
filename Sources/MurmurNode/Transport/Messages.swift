import MurmurCore

/// The header in front of each message inside a decrypted frame: `[type u8][length u32 BE]`.
public enum MessageHeader {
    public static let size = 5
}

/// A message type byte. Ranges are reserved per protocol (Specs/transport.md).
public struct MessageType: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    public static func < (a: MessageType, b: MessageType) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "0x" + String(rawValue, radix: 16) }

    // Transport (0x01–0x0F), handled by the node itself on the loop.
    public static let ping = MessageType(0x01)
    public static let pong = MessageType(0x02)
    /// Polite close: payload is a UTF-8 reason (≤ 256 bytes).
    public static let goodbye = MessageType(0x03)

    /// Ranges owned by each protocol. A hosted protocol declares one of them.
    public static let transportRange: ClosedRange<UInt8> = 0x01...0x0F
    public static let membershipRange: ClosedRange<UInt8> = 0x10...0x2F
    public static let broadcastRange: ClosedRange<UInt8> = 0x30...0x3F
    public static let jobsRange: ClosedRange<UInt8> = 0x40...0x5F
    public static let modelTransferRange: ClosedRange<UInt8> = 0x60...0x6F
    public static let controlRange: ClosedRange<UInt8> = 0x70...0x7F
    /// Benchmarks and experiments; never sent by a production node.
    public static let experimentalRange: ClosedRange<UInt8> = 0xF0...0xFE
    public static let benchData = MessageType(0xF0)
}

/// Why a decrypted frame's contents were rejected (the peer is then disconnected).
public enum MessageFrameError: Error, Equatable, Sendable {
    case emptyFrame
    case truncatedHeader(offset: Int)
    case zeroType(offset: Int)
    case payloadOverrun(offset: Int, declared: Int, available: Int)
}

/// Splits a decrypted frame into messages without copying; each `(type, payload)` is passed to
/// `body` as a view into the frame. A frame must hold at least one message, and its messages
/// must exactly fill it.
@inline(__always)
func forEachMessage(in frame: UnsafeRawBufferPointer, _ body: (MessageType, UnsafeRawBufferPointer) -> Void) throws(MessageFrameError) {
    guard frame.count > 0 else { throw .emptyFrame }
    var offset = 0
    while offset < frame.count {
        guard frame.count - offset >= MessageHeader.size else { throw .truncatedHeader(offset: offset) }
        let type = frame[offset]
        guard type != 0 else { throw .zeroType(offset: offset) }
        let length = Int(frame[offset + 1]) << 24 | Int(frame[offset + 2]) << 16 | Int(frame[offset + 3]) << 8 | Int(frame[offset + 4])
        let start = offset + MessageHeader.size
        guard length <= frame.count - start else {
            throw .payloadOverrun(offset: offset, declared: length, available: frame.count - start)
        }
        body(MessageType(type), UnsafeRawBufferPointer(rebasing: frame[start..<(start + length)]))
        offset = start + length
    }
}

/// Writes a message header at `p`.
@inline(__always)
func writeMessageHeader(_ p: UnsafeMutableRawPointer, type: MessageType, length: Int) {
    p.storeBytes(of: type.rawValue, as: UInt8.self)
    p.storeBytes(of: UInt32(truncatingIfNeeded: length).bigEndian, toByteOffset: 1, as: UInt32.self)
}

/// Reads the payload length of the message whose header starts at `p` (our own queued bytes).
@inline(__always)
func readMessageLength(_ p: UnsafeRawPointer) -> Int {
    Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
}
