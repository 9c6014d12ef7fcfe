import MurmurCore

/// Maxima and timers of the node's HTTP API server (Specs/api.md, "Transport").
extension Limits {
    /// Open API connections at once; further connections are accepted and closed at once (counted).
    public static let maxAPIConnections = 64
    /// A connection that started a request must complete it within this (else 408 and close).
    public static let apiRequestTimeout = TimeSpan.seconds(Int64(10))
    /// A keep-alive connection with nothing in flight is closed after this long.
    public static let apiIdleTimeout = TimeSpan.seconds(Int64(60))
    /// Requests pipelined on one connection before the server stops reading it.
    public static let maxAPIPipelined = 16
    /// Live trace subscribers (`GET /v1/trace`) at once; more get 503.
    public static let maxTraceSubscribers = 8
    /// Unwritten bytes one trace subscriber may have queued; events beyond are dropped for it
    /// (counted, and announced with a `dropped` event once it catches up).
    public static let maxTraceSubscriberBytes = 256 * 1024
    /// Interval of the `: keep-alive` comment on an idle trace stream.
    public static let traceKeepAliveInterval = TimeSpan.seconds(Int64(15))
    /// Largest model file `POST /v1/models` publishes.
    public static let maxPublishedModelBytes = Int(Int32.max)
}
