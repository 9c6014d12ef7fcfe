import MurmurCore

/// A fast path for the canonical job input (what the entry node signs, `JobRoutes.canonicalInput`):
/// `{"name":{"shape":[1,4],"dtype":"float32","data":[0.5,1.0,"NaN"]},...}` with no whitespace,
/// float32 data. Executors parse every job's input; Foundation's JSON parser costs more than the
/// model run for small models. Anything outside that narrow form (other dtypes, whitespace,
/// escapes, nested data, duplicate names, numbers with more than 9 significant digits) returns
/// nil and the general parser decides, so the two give identical tensors. Why float32 only and
/// at most 9 digits: Foundation's reading of long decimals is not correctly rounded (17-digit
/// float64 values come out a few ulps off, measured by CanonicalInputParserTests), so this path
/// takes only text that every float32 shortest form fits and that both reach the same float from.
enum CanonicalInputParser {
    static func parse(_ bytes: [UInt8]) -> [String: Tensor]? {
        bytes.withUnsafeBufferPointer { buffer -> [String: Tensor]? in
            var p = Cursor(buffer)
            guard p.take(UInt8(ascii: "{")) else { return nil }
            var out: [String: Tensor] = [:]
            if p.take(UInt8(ascii: "}")) { return p.atEnd ? out : nil }
            repeat {
                guard let name = p.plainString(), out[name] == nil, p.take(UInt8(ascii: ":")),
                      p.literal("{\"shape\":["), let shape = p.shape(), p.literal(",\"dtype\":"),
                      let dtype = p.plainString(), p.literal(",\"data\":["),
                      let tensor = p.data(dtype: dtype, shape: shape), p.take(UInt8(ascii: "}")) else { return nil }
                out[name] = tensor
            } while p.take(UInt8(ascii: ","))
            guard p.take(UInt8(ascii: "}")), p.atEnd else { return nil }
            return out
        }
    }

    struct Cursor {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0
        init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

        var atEnd: Bool { i == b.count }

        mutating func take(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }

        mutating func literal(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard b.count - i >= n else { return false }
            let lit = s.utf8Start
            for k in 0..<n where b[i + k] != lit[k] { return false }
            i += n
            return true
        }

        /// A string of printable ASCII without escapes (else nil: the general parser decodes it).
        mutating func plainString() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = i
            while i < b.count, b[i] != UInt8(ascii: "\"") {
                guard b[i] >= 0x20, b[i] < 0x7F, b[i] != UInt8(ascii: "\\") else { return nil }
                i += 1
            }
            guard i < b.count else { return nil }
            let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            i += 1
            return s
        }

        /// `1,4]`: non-negative integers of at most 9 digits, then the closing bracket.
        mutating func shape() -> [Int]? {
            var dims: [Int] = []
            if take(UInt8(ascii: "]")) { return dims }
            repeat {
                let start = i
                var v = 0
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { v = v * 10 + Int(b[i] - 0x30); i += 1 }
                let digits = i - start
                guard digits >= 1, digits <= 9, !(digits > 1 && b[start] == 0x30) else { return nil }
                dims.append(v)
                guard dims.count <= Limits.maxTensorRank else { return nil }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "]")) else { return nil }
            return dims
        }

        /// The flat data array up to its `]`, as float32 (other dtypes: nil).
        mutating func data(dtype: String, shape: [Int]) -> Tensor? {
            guard dtype == "float32" else { return nil }
            var n = 1
            for d in shape {
                let (m, overflow) = n.multipliedReportingOverflow(by: d)
                guard !overflow, m <= Limits.maxTensorElements else { return nil }
                n = m
            }
            var values: [Double] = []
            values.reserveCapacity(n)
            if !take(UInt8(ascii: "]")) {
                repeat {
                    guard values.count < n, let v = number() else { return nil }
                    values.append(v)
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "]")) else { return nil }
            }
            guard values.count == n else { return nil }
            return try? Tensor.checked(shape: shape, storage: .float32(values.map { Float($0) }))
        }

        /// A JSON number with a fraction or exponent and at most 9 significant digits (read as the
        /// nearest double), an integer of at most 15 digits, or "NaN" / "Infinity" / "-Infinity".
        mutating func number() -> Double? {
            if i < b.count, b[i] == UInt8(ascii: "\"") {
                if literal("\"NaN\"") { return .nan }
                if literal("\"Infinity\"") { return .infinity }
                if literal("\"-Infinity\"") { return -.infinity }
                return nil
            }
            let start = i
            let negative = take(UInt8(ascii: "-"))
            let intStart = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            let intDigits = i - intStart
            guard intDigits >= 1, !(intDigits > 1 && b[intStart] == 0x30) else { return nil }
            var isInteger = true
            // Significant digits: leading zeros (of "0.000123") do not count.
            var significant = 0
            for k in intStart..<i where significant > 0 || b[k] != 0x30 { significant += 1 }
            if take(UInt8(ascii: ".")) {
                isInteger = false
                let f = i
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                    if significant > 0 || b[i] != 0x30 { significant += 1 }
                    i += 1
                }
                guard i > f else { return nil }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                isInteger = false
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                let e = i
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
                guard i > e else { return nil }
            }
            guard i - start <= 64 else { return nil }
            if isInteger {
                // An integer token is an integer to the general parser: -0 reads as +0.
                guard intDigits <= 15 else { return nil }
                var v: Int64 = 0
                for k in intStart..<i { v = v * 10 + Int64(b[k] - 0x30) }
                return Double(negative ? -v : v)
            }
            guard significant <= 9 else { return nil }
            if let d = exactDouble(start, i) { return d }
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            guard let d = Double(text), d.isFinite else { return nil }
            return d
        }

        /// Powers of ten a double holds exactly.
        static let exactPowers: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                            1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

        /// The nearest double to the decimal token `b[start..<end]` (at most 9 significant digits,
        /// already checked) without `strtod` when that is exact arithmetic (Clinger's fast path):
        /// its digits as an integer m < 10⁹ and its decimal exponent k with |k| ≤ 22 are both
        /// doubles exactly, so the one IEEE operation m × 10ᵏ (or m ÷ 10⁻ᵏ) is the correctly
        /// rounded value, the same bits `Double(text)` gives. Nil: read it the general way.
        func exactDouble(_ start: Int, _ end: Int) -> Double? {
            var k = start
            let negative = b[k] == UInt8(ascii: "-")
            if negative { k += 1 }
            var m: UInt64 = 0
            var fractionDigits = 0
            var inFraction = false
            while k < end {
                let c = b[k]
                if c == UInt8(ascii: ".") { inFraction = true; k += 1; continue }
                guard c >= 0x30, c <= 0x39 else { break }
                m = m &* 10 &+ UInt64(c - 0x30)
                if inFraction { fractionDigits += 1 }
                guard m < 1_000_000_000_000_000 else { return nil }
                k += 1
            }
            var exponent = 0
            if k < end {  // "e" or "E", sign, digits
                k += 1
                var expNegative = false
                if b[k] == UInt8(ascii: "+") || b[k] == UInt8(ascii: "-") { expNegative = b[k] == UInt8(ascii: "-"); k += 1 }
                guard end - k <= 4 else { return nil }
                while k < end { exponent = exponent * 10 + Int(b[k] - 0x30); k += 1 }
                if expNegative { exponent = -exponent }
            }
            guard m < 1 << 53 else { return nil }
            let power = exponent - fractionDigits
            guard power >= -22, power <= 22 else { return nil }
            let magnitude = power >= 0 ? Double(m) * Self.exactPowers[power] : Double(m) / Self.exactPowers[-power]
            guard magnitude.isFinite else { return nil }
            return negative ? -magnitude : magnitude
        }
    }
}
