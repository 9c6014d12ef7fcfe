import MurmurCore

/// A trace event that the state machine kept apart from its effects, for a shell that asked
/// for them apart (`GossipNode.handle(_:now:into:traces:)`): no `.trace` effect (an enum case as
/// large as the event) goes through the effect buffer. `effectIndex` effects of the buffer came
/// before it: a shell that writes it just before applying effect number `effectIndex` (or after
/// the last effect) writes the events in the order the `.trace` effects would have had.
public struct GossipTrace: Sendable {
    public var effectIndex: Int
    public var event: TraceEvent
    @inlinable public init(effectIndex: Int, event: TraceEvent) {
        self.effectIndex = effectIndex
        self.event = event
    }
}
