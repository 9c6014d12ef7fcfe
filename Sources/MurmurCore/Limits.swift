/// Every maximum in Murmur lives on this one type. Each module adds its own constants in an
/// extension in a file named `Limits+<Module>.swift`, so `Limits.` autocompletes to the
/// complete list. Hitting a limit is a counted, traced event, never unbounded growth.
public enum Limits {
    /// Largest plaintext in one encrypted frame.
    public static let maxFramePlaintext = 64 * 1024
    /// Largest encoded record (any kind) accepted from the network.
    public static let maxRecordBytes = 256 * 1024
    /// Longest string field (names, addresses) in any record or message.
    public static let maxStringBytes = 1024
}
