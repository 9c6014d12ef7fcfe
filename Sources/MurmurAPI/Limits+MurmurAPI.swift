import MurmurCore

/// Maxima and defaults of the HTTP API's routes (Specs/api.md).
extension Limits {
    /// Longest `?wait=` a `GET /v1/jobs/{id}` may park for.
    public static let maxAPIWaitSeconds = 60
    /// Deadline used when a submission gives none.
    public static let defaultAPIJobDeadlineMs: Int64 = 30_000
    /// Shortest deadline a submission may ask for.
    public static let minAPIJobDeadlineMs: Int64 = 1_000
    /// Most items in one list response (`/v1/models`, `/v1/peers`).
    public static let maxAPIListItems = 1_000
    /// Most named inputs in one submission.
    public static let maxAPIInputTensors = 64
}
