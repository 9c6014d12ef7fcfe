import MurmurCore

/// Maxima of the HTTP API parser and the JSON parser (Specs/api.md, "Limits"). Hitting one is a
/// typed error mapped to a 4xx response, never unbounded buffering.
extension Limits {
    /// Longest request line (method, target, version) before `414 URI Too Long`.
    public static let maxHTTPRequestLineBytes = 8 * 1024
    /// Largest request head (request line + headers) before `431`.
    public static let maxHTTPHeaderBytes = 32 * 1024
    /// Most header fields in one request before `431`.
    public static let maxHTTPHeaderCount = 64
    /// Largest request body (Content-Length) before `413`.
    public static let maxHTTPBodyBytes = 8 * 1024 * 1024
    /// Longest method token.
    public static let maxHTTPMethodBytes = 16
    /// Most query parameters in one request target.
    public static let maxHTTPQueryParameters = 32
    /// Deepest nesting of arrays/objects in a JSON document.
    public static let maxJSONDepth = 64
    /// Longest number literal in a JSON document (digits, sign, point, exponent).
    public static let maxJSONNumberChars = 64
    /// Largest JSON document parsed.
    public static let maxJSONBytes = 8 * 1024 * 1024
    /// Most members in one JSON object.
    public static let maxJSONObjectMembers = 4096
}
