extension TraceEvent {
    /// The same event as `init(time:node:kind:recordKind:recordID:peer:bytes:hops:reason:)`, but
    /// inlinable: built in place by its caller on traced hot paths (a gossip message, a channel
    /// send), without a cross-module call that passes every field indirectly and copies the
    /// ~200-byte result. `murmur-bench trace` measures those paths.
    @inlinable @inline(__always)
    public init(at time: Instant, node: NodeID, kind: Kind, recordKind: String? = nil, recordID: Hash? = nil,
                peer: NodeID? = nil, bytes: Int? = nil, hops: Int? = nil, reason: String? = nil) {
        self.time = time; self.node = node; self.kind = kind; self.recordKind = recordKind
        self.recordID = recordID; self.peer = peer; self.bytes = bytes; self.hops = hops; self.reason = reason
    }
}
