import MurmurCore

extension Limits {
    /// Longest trace line accepted; longer lines are skipped to the next newline and counted.
    public static let traceMaxLineBytes = 64 * 1024
    /// Size of one read from a trace file (memory per open file while reading).
    public static let traceReadChunkBytes = 4 * 1024 * 1024
    /// Distinct strings (event kinds, record kinds, reasons) interned while reading; more are
    /// folded into one "(other)" entry so that hostile input cannot grow the table.
    public static let traceMaxDistinctStrings = 4096
    /// Unmatched send/recv halves kept for clock-offset estimation; beyond this new halves are
    /// not remembered (counted in the report).
    public static let tracePendingPairs = 4_000_000
    /// Events of one record (or job) kept for the detailed views (`--record`, `--job`, HTML).
    public static let traceMaxRecordEvents = 2_000_000
    /// Per-line error examples kept for the report (all errors are counted).
    public static let traceMaxErrorExamples = 20
    /// Events embedded in the HTML swimlane and the Chrome trace (the first ones by time).
    public static let traceMaxExportEvents = 200_000
    /// Records embedded in the HTML page's record selector.
    public static let traceMaxHTMLRecords = 200
    /// Default size of one trace file before rotation, and the number of rotated files kept.
    public static let traceDefaultFileBytes = 64 * 1024 * 1024
    public static let traceDefaultRotatedFiles = 4
    /// Writer buffer size: events are appended in memory and written in one syscall per batch.
    public static let traceWriterBufferBytes = 256 * 1024
}
