/// Why bytes from the network or a file could not be decoded. Never a crash: always this.
public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(need: Int, have: Int)
    case tooLarge(field: String, limit: Int, actual: Int)
    case invalidValue(field: String, detail: String)
    case unknownTag(field: String, tag: UInt64)
    case unsupportedVersion(field: String, version: Int)
    case trailingBytes(context: String, count: Int)

    public var description: String {
        switch self {
        case let .truncated(need, have): return "input truncated: needed \(need) more bytes, had \(have)"
        case let .tooLarge(field, limit, actual): return "\(field) too large: \(actual) > limit \(limit)"
        case let .invalidValue(field, detail): return "invalid \(field): \(detail)"
        case let .unknownTag(field, tag): return "unknown \(field) tag \(tag)"
        case let .unsupportedVersion(field, version): return "unsupported \(field) version \(version)"
        case let .trailingBytes(context, count): return "\(count) unexpected trailing bytes after \(context)"
        }
    }
}
