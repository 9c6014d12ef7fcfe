import MurmurCore

/// Identifies one connection for the lifetime of a process (never reused, unlike descriptors).
public struct ConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: UInt64
    public static func < (a: ConnectionID, b: ConnectionID) -> Bool { a.raw < b.raw }
    public var description: String { "c\(raw)" }
}

public enum ConnectionDirection: Sendable { case inbound, outbound }

/// Why a connection ended.
public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    case peerClosed
    case localClose(String)
    case connectFailed(SystemError)
    case connectTimeout
    case handshakeFailed(String)
    case handshakeTimeout
    case idleTimeout
    /// The peer stopped reading: queued bytes made no progress for the idle timeout.
    case writeStalled
    case protocolError(String)
    case ioError(SystemError)
    case overLimit(String)
    case shutdown

    public var description: String {
        switch self {
        case .peerClosed: return "peer closed the connection"
        case .localClose(let why): return "closed locally: \(why)"
        case .connectFailed(let e): return "connect failed: \(e)"
        case .connectTimeout: return "connect timed out"
        case .handshakeFailed(let why): return "handshake failed: \(why)"
        case .handshakeTimeout: return "handshake timed out"
        case .idleTimeout: return "idle timeout"
        case .writeStalled: return "peer stopped reading (write stalled)"
        case .protocolError(let why): return "protocol error: \(why)"
        case .ioError(let e): return "I/O error: \(e)"
        case .overLimit(let which): return "over limit: \(which)"
        case .shutdown: return "shutting down"
        }
    }
}

/// Result of queueing a message for a peer.
public enum SendResult: Sendable, Equatable {
    case queued
    /// The peer's write queue is full: the message was not queued. The owner gets a
    /// `writable` callback once the queue drains below the low-water mark.
    case queueFull
    case notEstablished
    case tooLarge
}
