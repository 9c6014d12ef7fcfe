import MurmurCore

extension Limits {
    /// Inbound connections (handshaking or established) a node keeps at once; more are closed
    /// right after accept and counted.
    public static let maxInboundConnections = 256
    /// Outbound connections (dials in progress or established).
    public static let maxOutboundConnections = 64
    /// Connections (either direction) still in their handshake; protects the DH work.
    public static let maxHalfOpenHandshakes = 32
    /// Bytes of messages queued for one peer (plaintext not yet sealed plus ciphertext not yet
    /// written). A full queue refuses sends and tells the protocol, which must slow down.
    public static let maxWriteQueueBytes = 4 * 1024 * 1024
    /// Queued bytes below which a blocked peer is reported writable again.
    public static let writeQueueLowWater = 1024 * 1024
    /// Bytes read from one socket per readiness event before serving the others (fairness).
    public static let maxReadBytesPerWakeup = 512 * 1024
    /// Largest message payload: one message never spans frames.
    public static let maxMessagePayload = Limits.maxFramePlaintext - MessageHeader.size
    /// Items waiting in a cross-thread `LoopChannel` created by the node.
    public static let maxLoopChannelItems = 4096
    /// Join addresses a node keeps links to.
    public static let maxJoinAddresses = 64
    /// Hosted protocols on one node.
    public static let maxHostedProtocols = 16
    /// Effects one protocol may return from one `handle` call before the node stops it.
    public static let maxEffectsPerEvent = 4096
    /// Bytes of fragmented gossip messages being reassembled, all peers together.
    public static let gossipMaxReassemblyBytes = 16 * 1024 * 1024
    /// Signatures of the latest delivered or published records the gossip shell remembers to
    /// recognise further copies of them without decoding (Specs/mesh.md, receiving step 0).
    public static let gossipHeldCopySignatures = 4096
}

/// Default timers of the transport (see Specs/transport.md).
public enum TransportDefaults {
    public static let connectTimeout = TimeSpan.seconds(5 as Int64)
    public static let handshakeTimeout = Limits.handshakeTimeout
    /// A link with no frame received for this long is closed.
    public static let idleTimeout = TimeSpan.seconds(30 as Int64)
    /// A link with nothing received for this long gets a ping (keepalive).
    public static let keepaliveInterval = TimeSpan.seconds(5 as Int64)
    /// How often the connection table checks deadlines.
    public static let sweepInterval = TimeSpan.milliseconds(250)
    public static let reconnectInitialBackoff = TimeSpan.milliseconds(200)
    public static let reconnectMaxBackoff = TimeSpan.seconds(10 as Int64)
}
