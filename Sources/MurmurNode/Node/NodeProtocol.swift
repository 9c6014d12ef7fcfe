import MurmurCore

/// A link to a peer as a hosted protocol sees it.
public struct PeerLink: Sendable, Equatable {
    public let peer: NodeID
    public let link: ConnectionID
    public let direction: ConnectionDirection
    public let remoteAddress: SocketAddress?
}

/// What the node feeds a hosted protocol. All on the loop thread, with `now` injected.
public enum ProtocolEvent: Sendable, Equatable {
    /// The node is up: its own id and the address it listens on.
    case started(local: NodeID, listen: SocketAddress?)
    /// A new authenticated link (there may be more than one per peer; messages are per peer).
    case peerConnected(PeerLink)
    /// The peer's last link went down.
    case peerDisconnected(peer: NodeID, reason: String)
    /// A `connect` this protocol asked for did not produce a link (refused, timeout, handshake).
    case connectFailed(SocketAddress, reason: String)
    /// A message of one of the protocol's own types from an authenticated peer.
    case message(from: NodeID, type: MessageType, payload: [UInt8])
    /// A timer the protocol set (`setTimer`) is due.
    case timer(id: UInt64)
    /// A `send` was refused because the peer's write queue is full.
    case sendRefused(to: NodeID, type: MessageType)
    /// The peer's queue drained after a refused send: sending may resume.
    case writable(peer: NodeID)
    /// A `.work` effect was refused (no worker pool, or its queue is full).
    case workRefused(tag: UInt64)
    /// Something another thread delivered (e.g. an inference result) via `Node.inbox`.
    case delivered(tag: UInt64, payload: [UInt8])
}

/// What a hosted protocol asks the node to do.
public enum ProtocolEffect: Sendable, Equatable {
    case send(to: NodeID, type: MessageType, payload: [UInt8])
    /// Open a link (no reconnect; the protocol decides when to retry).
    case connect(SocketAddress, expectedPeer: NodeID?)
    case disconnect(NodeID, reason: String)
    /// (Re)arm the protocol's timer `id` (ids are per protocol).
    case setTimer(id: UInt64, at: Instant)
    case cancelTimer(id: UInt64)
    /// Hand work that may block (inference, disk) to the node's worker pool; the result comes
    /// back as `.delivered(tag:payload:)` through `Node.inbox`.
    case work(tag: UInt64, payload: [UInt8])
    case trace(TraceEvent)
    case log(String)
}

/// A pure protocol state machine the node can host (membership, broadcast, jobs, model
/// transfer …): no sockets, clocks or threads inside; events in, effects out.
///
/// The node routes every message whose type is in `messageTypes` to this protocol, and every
/// link/timer event to all protocols. Transport messages (ping/pong/goodbye) never reach it:
/// keepalives are answered by the transport on the loop.
public protocol NodeProtocol {
    /// The reserved range this protocol owns (`MessageType.membershipRange`, …). Ranges of
    /// hosted protocols must not overlap, nor touch `MessageType.transportRange`.
    var messageTypes: ClosedRange<UInt8> { get }
    mutating func handle(_ event: ProtocolEvent, now: Instant) -> [ProtocolEffect]
}
