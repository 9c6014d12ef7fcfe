import MurmurCore

/// A JSON value for the HTTP API: parsed by `JSONParser` (strict RFC 8259, bounded) and written
/// by `serialized()` (compact, object keys sorted by their UTF-8 bytes, so equal values give
/// equal bytes). Integers that fit in `Int64` stay exact (`.int`); other numbers are `.double`,
/// written in Swift's shortest round-tripping form, so parse ∘ serialize is the identity.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    // MARK: Accessors (nil when the value has another type)

    public subscript(key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    public var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    public var objectValue: [String: JSONValue]? { if case let .object(o) = self { return o }; return nil }
    public var isNull: Bool { self == .null }

    /// The value as an exact integer: `.int`, or a `.double` with no fractional part in range.
    public var intValue: Int64? {
        switch self {
        case let .int(i): return i
        case let .double(d):
            guard d.isFinite, d == d.rounded(), abs(d) < 9.2e18 else { return nil }
            return Int64(d)
        default: return nil
        }
    }

    /// Any number as a `Double` (integers beyond 2⁵³ are rounded).
    public var doubleValue: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    /// The JSON type name, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var o: [String: JSONValue] = [:]
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
}

extension JSONValue {
    /// Convenience constructors for handlers.
    public static func int(_ v: Int) -> JSONValue { .int(Int64(v)) }
    public static func int(_ v: UInt64) -> JSONValue { v <= UInt64(Int64.max) ? .int(Int64(v)) : .double(Double(v)) }
    public static func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
}

// MARK: - Serializer

extension JSONValue {
    /// Compact JSON, object keys sorted by their UTF-8 bytes. Non-finite doubles (which JSON
    /// cannot express) are written as `null`.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    /// `serialized()` as a String.
    public var text: String { String(decoding: serialized(), as: UTF8.self) }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Self.nullBytes)
        case let .bool(b): out.append(contentsOf: b ? Self.trueBytes : Self.falseBytes)
        case let .int(i): out.append(contentsOf: String(i).utf8)
        case let .double(d):
            // Swift's shortest round-tripping form; always with a point or exponent ("3.0",
            // "-0.0", "1e+300"), so a double re-parses as a double, bit for bit.
            out.append(contentsOf: (d.isFinite ? d.description : "null").utf8)
        case let .string(s): Self.writeString(s, into: &out)
        case let .array(a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(o):
            out.append(UInt8(ascii: "{"))
            let keys = o.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            for (i, k) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                o[k]?.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let nullBytes = Array("null".utf8)
    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Runs of bytes that need no escape (hex ids and records, plain text) are appended whole.
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            for (i, b) in utf8.enumerated() where b < 0x20 || b == 0x7F || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                escape(b, into: &out)
                runStart = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func escape(_ b: UInt8, into out: inout [UInt8]) {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
        case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
        default:
            out.append(contentsOf: "\\u00".utf8)
            out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 0xF)])
        }
    }
}

// MARK: - Parser

/// Why a JSON document was refused. Offsets are byte offsets into the document.
public enum JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(limit: Int, actual: Int)
    case tooDeep(limit: Int)
    case tooManyMembers(limit: Int)
    case invalidUTF8
    case unexpectedEnd
    case unexpected(byte: UInt8, offset: Int)
    case badNumber(offset: Int)
    case numberOutOfRange(offset: Int)
    case badEscape(offset: Int)
    case controlCharacterInString(offset: Int)
    case duplicateKey(String)
    case trailingBytes(offset: Int)

    public var description: String {
        switch self {
        case let .tooLarge(limit, actual): return "JSON document is \(actual) bytes, limit \(limit)"
        case let .tooDeep(limit): return "JSON nests deeper than \(limit) levels"
        case let .tooManyMembers(limit): return "JSON object has more than \(limit) members"
        case .invalidUTF8: return "JSON is not valid UTF-8"
        case .unexpectedEnd: return "JSON ends early"
        case let .unexpected(byte, offset):
            let shown = (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
            return "unexpected \(shown) at offset \(offset)"
        case let .badNumber(offset): return "malformed number at offset \(offset)"
        case let .numberOutOfRange(offset): return "number out of range at offset \(offset)"
        case let .badEscape(offset): return "bad string escape at offset \(offset)"
        case let .controlCharacterInString(offset): return "unescaped control character in string at offset \(offset)"
        case let .duplicateKey(k): return "duplicate object key \"\(k)\""
        case let .trailingBytes(offset): return "unexpected data after the JSON value at offset \(offset)"
        }
    }
}

/// Strict, bounded JSON parser (RFC 8259): one value, optional surrounding whitespace, no
/// comments, no trailing commas, no NaN/Infinity literals, no duplicate keys, valid UTF-8 and
/// surrogate pairs only. Bounded in size, depth, object members and number length; recursion
/// depth never exceeds `maxDepth`, so no input can exhaust the stack.
public struct JSONParser {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxNumberChars: Int
    public var maxObjectMembers: Int

    public init(maxBytes: Int = Limits.maxJSONBytes, maxDepth: Int = Limits.maxJSONDepth,
                maxNumberChars: Int = Limits.maxJSONNumberChars, maxObjectMembers: Int = Limits.maxJSONObjectMembers) {
        self.maxBytes = maxBytes; self.maxDepth = maxDepth
        self.maxNumberChars = maxNumberChars; self.maxObjectMembers = maxObjectMembers
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        try JSONParser().parse(bytes)
    }

    public func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        guard bytes.count <= maxBytes else { throw .tooLarge(limit: maxBytes, actual: bytes.count) }
        // Validating once up front lets string slices be decoded without further checks.
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .invalidUTF8 }
        var cursor = Cursor(bytes: bytes, parser: self)
        cursor.skipWhitespace()
        let value = try cursor.value(depth: 0)
        cursor.skipWhitespace()
        if cursor.offset != bytes.count { throw .trailingBytes(offset: cursor.offset) }
        return value
    }

    private struct Cursor {
        let bytes: [UInt8]
        let parser: JSONParser
        var offset = 0

        init(bytes: [UInt8], parser: JSONParser) { self.bytes = bytes; self.parser = parser }

        mutating func skipWhitespace() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        func peek() throws(JSONError) -> UInt8 {
            guard offset < bytes.count else { throw .unexpectedEnd }
            return bytes[offset]
        }

        mutating func expect(_ literal: String, value: JSONValue) throws(JSONError) -> JSONValue {
            for b in literal.utf8 {
                let c = try peek()
                guard c == b else { throw .unexpected(byte: c, offset: offset) }
                offset += 1
            }
            return value
        }

        mutating func value(depth: Int) throws(JSONError) -> JSONValue {
            let c = try peek()
            switch c {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
            case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
            case UInt8(ascii: "n"): return try expect("null", value: .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw .unexpected(byte: c, offset: offset)
            }
        }

        mutating func array(depth: Int) throws(JSONError) -> JSONValue {
            guard depth <= parser.maxDepth else { throw .tooDeep(limit: parser.maxDepth) }
            offset += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if try peek() == UInt8(ascii: "]") { offset += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth))
                skipWhitespace()
                let c = try peek()
                offset += 1
                if c == UInt8(ascii: "]") { return .array(items) }
                guard c == UInt8(ascii: ",") else { throw .unexpected(byte: c, offset: offset - 1) }
            }
        }

        mutating func object(depth: Int) throws(JSONError) -> JSONValue {
            guard depth <= parser.maxDepth else { throw .tooDeep(limit: parser.maxDepth) }
            offset += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if try peek() == UInt8(ascii: "}") { offset += 1; return .object(members) }
            while true {
                skipWhitespace()
                let c = try peek()
                guard c == UInt8(ascii: "\"") else { throw .unexpected(byte: c, offset: offset) }
                let key = try string()
                skipWhitespace()
                let colon = try peek()
                guard colon == UInt8(ascii: ":") else { throw .unexpected(byte: colon, offset: offset) }
                offset += 1
                skipWhitespace()
                let v = try value(depth: depth)
                guard members.updateValue(v, forKey: key) == nil else { throw .duplicateKey(key) }
                guard members.count <= parser.maxObjectMembers else { throw .tooManyMembers(limit: parser.maxObjectMembers) }
                skipWhitespace()
                let next = try peek()
                offset += 1
                if next == UInt8(ascii: "}") { return .object(members) }
                guard next == UInt8(ascii: ",") else { throw .unexpected(byte: next, offset: offset - 1) }
            }
        }

        mutating func hex4() throws(JSONError) -> UInt32 {
            guard offset + 4 <= bytes.count else { throw .unexpectedEnd }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[offset]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw .badEscape(offset: offset)
                }
                v = v << 4 | d
                offset += 1
            }
            return v
        }

        mutating func string() throws(JSONError) -> String {
            offset += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard offset < bytes.count else { throw .unexpectedEnd }
                let c = bytes[offset]
                switch c {
                case UInt8(ascii: "\""):
                    offset += 1
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    let escapeAt = offset
                    offset += 1
                    guard offset < bytes.count else { throw .unexpectedEnd }
                    let e = bytes[offset]
                    offset += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            // A high surrogate must be followed by an escaped low surrogate.
                            guard offset + 2 <= bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                                throw .badEscape(offset: escapeAt)
                            }
                            offset += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw .badEscape(offset: escapeAt) }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw .badEscape(offset: escapeAt)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw .badEscape(offset: escapeAt) }
                        out.append(contentsOf: String(Character(u)).utf8)
                    default: throw .badEscape(offset: escapeAt)
                    }
                case 0..<0x20:
                    throw .controlCharacterInString(offset: offset)
                default:
                    out.append(c)
                    offset += 1
                }
            }
        }

        mutating func number() throws(JSONError) -> JSONValue {
            let start = offset
            var isInteger = true
            if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            // int = "0" / digit1-9 *digit
            guard offset < bytes.count else { throw .badNumber(offset: start) }
            if bytes[offset] == UInt8(ascii: "0") {
                offset += 1
            } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[offset]) {
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            } else {
                throw .badNumber(offset: start)
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
                isInteger = false
                offset += 1
                guard offset < bytes.count, isDigit(bytes[offset]) else { throw .badNumber(offset: start) }
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
                isInteger = false
                offset += 1
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
                guard offset < bytes.count, isDigit(bytes[offset]) else { throw .badNumber(offset: start) }
                while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            }
            guard offset - start <= parser.maxNumberChars else { throw .numberOutOfRange(offset: start) }
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            // "-0" is kept as the double −0.0 (its sign matters for float tensor data).
            if isInteger, text != "-0", let i = Int64(text) { return .int(i) }
            guard let d = Double(text), d.isFinite else { throw .numberOutOfRange(offset: start) }
            return .double(d)
        }

        @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    }
}
