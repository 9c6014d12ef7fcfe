/// One thing a node did or saw, as recorded in traces (Specs/trace.md). Produced by the pure
/// state machines (as an effect) and by the shell; written as JSON Lines by MurmurTrace. Kept in
/// Core so that every module can emit it without depending on the trace tooling.
public struct TraceEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case connect, disconnect
        case handshakeFail = "handshake.fail"
        case send, recv, deliver, dup, drop, graft, prune, ihave, antientropy
        case jobSubmit = "job.submit", jobAssign = "job.assign", jobClaim = "job.claim"
        case jobExecute = "job.execute", jobAttest = "job.attest", jobVerified = "job.verified"
        case jobDisputed = "job.disputed", jobFailed = "job.failed"
        case verdict
    }

    /// Node-local time (monotonic, or simulated) in nanoseconds.
    public var time: Instant
    public var node: NodeID
    public var kind: Kind
    /// Record kind name (`manifest`, `announcement`, `job`, `claim`, `attestation`) or message type.
    public var recordKind: String?
    public var recordID: Hash?
    public var peer: NodeID?
    public var bytes: Int?
    public var hops: Int?
    /// Why, for `drop`, `disconnect`, `handshake.fail`, `job.failed`.
    public var reason: String?

    public init(time: Instant, node: NodeID, kind: Kind, recordKind: String? = nil, recordID: Hash? = nil,
                peer: NodeID? = nil, bytes: Int? = nil, hops: Int? = nil, reason: String? = nil) {
        self.time = time; self.node = node; self.kind = kind; self.recordKind = recordKind
        self.recordID = recordID; self.peer = peer; self.bytes = bytes; self.hops = hops; self.reason = reason
    }
}
