import XCTest
import Foundation
import MurmurCore
import MurmurHTTP
@testable import MurmurInference
@testable import MurmurNode

/// The executors' fast path for canonical job inputs must give exactly the tensors of the
/// general (Foundation JSON) parser, or decline: fixtures, fuzzed tensors, mutated bytes.
final class CanonicalInputParserTests: XCTestCase {
    /// Same names, shapes, dtypes and bit patterns (NaN payloads and -0 included).
    func assertIdentical(_ a: [String: Tensor], _ b: [String: Tensor], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), what, file: file, line: line)
        for (name, x) in a {
            guard let y = b[name] else { continue }
            XCTAssertEqual(x.shape, y.shape, "\(what) \(name)", file: file, line: line)
            switch (x.storage, y.storage) {
            case let (.float32(p), .float32(q)):
                XCTAssertEqual(p.map(\.bitPattern), q.map(\.bitPattern), "\(what) \(name)", file: file, line: line)
            case let (.float64(p), .float64(q)):
                XCTAssertEqual(p.map(\.bitPattern), q.map(\.bitPattern), "\(what) \(name)", file: file, line: line)
            default:
                XCTAssertEqual(x, y, "\(what) \(name)", file: file, line: line)
            }
        }
    }

    func testFixtureInputsInCanonicalFormParseIdentically() throws {
        let dir = JobsNodeShellTests.fixtures
        for name in ["mlp", "linear", "logistic", "cnn", "forest", "wide", "ops", "transformer", "forest_regressor"] {
            guard let bytes = FileManager.default.contents(atPath: "\(dir)/\(name).input.json"),
                  let model = try? InferenceModel(path: "\(dir)/\(name).onnx") else { continue }
            let tensors = try InputJSON.parseGeneral(Array(bytes), for: model.inputs)
            let canonical = JobRoutes.canonicalInput(tensors)
            let general = try InputJSON.parseGeneral(canonical, for: model.inputs)
            let fast = try InputJSON.parse(canonical, for: model.inputs)
            assertIdentical(general, fast, name)
            assertIdentical(tensors, fast, name)
            if name == "mlp" { XCTAssertNotNil(CanonicalInputParser.parse(canonical), "the sample MLP's input takes the fast path") }
        }
    }

    /// The entry node's direct float32 path gives the general reader's tensors, or declines.
    func testEntryNodeDirectFloat32PathMatchesTheGeneralReader() throws {
        let mlp = try XCTUnwrap(FileManager.default.contents(atPath: JobsNodeShellTests.fixtures + "/mlp.input.json"))
        let parsed = try XCTUnwrap(try JSONParser.parse(Array(mlp)).objectValue)
        let direct = try XCTUnwrap(JobRoutes.directFloat32Tensors(parsed), "the sample MLP's input takes the direct path")
        assertIdentical(try InputJSON.parseGeneral(JSONValue.object(parsed).serialized(), for: []), direct, "mlp")

        var rng = SeededRNG(seed: 0xD1EC7)
        for round in 0..<300 {
            let count = Int(rng.next() % 12)
            var items: [JSONValue] = []
            for _ in 0..<count {
                switch rng.next() % 6 {
                case 0: items.append(.int(Int64(Int(rng.next() % 40_000_001) - 20_000_000)))
                case 1: items.append(.double(Double(bitPattern: rng.next())))
                case 2: items.append(.double(Double(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())))))
                case 3: items.append(.double(Double(Float(Int(rng.next() % 2001) - 1000) / 16)))
                case 4: items.append(.string("NaN"))
                default: items.append(.double(Double(rng.next() % 1000) / 7))
                }
            }
            if rng.next() % 3 != 0 { items.removeAll { if case .string = $0 { return true }; return false } }
            var form: [String: JSONValue] = ["data": .array(items), "dtype": .string(rng.next() % 8 == 0 ? "float64" : "float32")]
            switch rng.next() % 4 {
            case 0: form["shape"] = .array([.int(1), .int(Int64(items.count))])
            case 1: form["shape"] = .array([.int(Int64(items.count + 1))])
            default: break
            }
            let typed: [String: JSONValue] = ["x": .object(form)]
            let general = try? InputJSON.parseGeneral(JSONValue.object(typed).serialized(), for: [])
            guard let direct = JobRoutes.directFloat32Tensors(typed) else { continue }
            let reference = try XCTUnwrap(general, "round \(round): the direct path took an input the general reader refuses")
            assertIdentical(reference, direct, "round \(round)")
        }
    }

    /// The byte-by-byte canonical writer gives the bytes of the original string-joining one.
    func testCanonicalWriterMatchesTheReferenceForm() {
        func reference(_ tensors: [String: Tensor]) -> [UInt8] {
            let parts = tensors.sorted(by: { $0.key < $1.key }).map { name, t -> String in
                let values = OutputJSON.values(t).replacingOccurrences(of: " ", with: "")
                return "\(JobRoutes.quote(name)):{\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"dtype\":\"\(t.dtype.name)\",\"data\":[\(values)]}"
            }
            return Array("{\(parts.joined(separator: ","))}".utf8)
        }
        var rng = SeededRNG(seed: 0xCA40)
        XCTAssertEqual(JobRoutes.canonicalInput([:]), reference([:]))
        for round in 0..<300 {
            var tensors: [String: Tensor] = [:]
            for k in 0..<Int(rng.next() % 3 + 1) {
                let n = Int(rng.next() % 6)
                let name = ["x", "a b", "é", "q\"uote", "in\(k)"][Int(rng.next() % 5)]
                let storage: TensorStorage
                switch rng.next() % 7 {
                case 0: storage = .float32((0..<n).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) })
                case 1: storage = .float64((0..<n).map { _ in Double(bitPattern: rng.next()) })
                case 2: storage = .int64((0..<n).map { _ in Int64(bitPattern: rng.next()) })
                case 3: storage = .int32((0..<n).map { _ in Int32(truncatingIfNeeded: rng.next()) })
                case 4: storage = .int8((0..<n).map { _ in Int8(truncatingIfNeeded: rng.next()) })
                case 5: storage = .uint8((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                default: storage = .bool((0..<n).map { _ in rng.next() % 2 == 0 })
                }
                tensors[name] = Tensor(shape: [1, n], storage: storage)
            }
            tensors["inf"] = Tensor(shape: [4], storage: .float32([.infinity, -.infinity, .nan, -0.0]))
            XCTAssertEqual(String(decoding: JobRoutes.canonicalInput(tensors), as: UTF8.self),
                           String(decoding: reference(tensors), as: UTF8.self), "round \(round)")
        }
    }

    /// Every float32 shortest form the entry node writes reads back to the same float on both paths.
    func testManyFloat32ValuesReadTheSameOnBothPaths() throws {
        var rng = SeededRNG(seed: 0xF10A7)
        var values: [Float] = []
        for k in 0..<60_000 {
            let bits = UInt32(truncatingIfNeeded: rng.next())
            // A third subnormal or tiny, a third huge, the rest anywhere.
            switch k % 3 {
            case 0: values.append(Float(bitPattern: bits & 0x80FF_FFFF))
            case 1: values.append(Float(bitPattern: (bits & 0x807F_FFFF) | 0x7E80_0000))
            default: values.append(Float(bitPattern: bits))
            }
        }
        let tensors = ["x": Tensor(shape: [values.count], storage: .float32(values))]
        let canonical = JobRoutes.canonicalInput(tensors)
        XCTAssertNotNil(CanonicalInputParser.parse(canonical), "the fast path takes the canonical form")
        assertIdentical(try InputJSON.parseGeneral(canonical, for: []), try InputJSON.parse(canonical, for: []), "60k floats")
    }

    /// Values of everyday magnitudes (1e-12 … 1e12), where the reader skips `strtod` (exact
    /// m × 10^k arithmetic, Clinger's fast path), read bit for bit as the general reader does.
    func testEverydayMagnitudesTakeTheExactPathAndReadTheSame() throws {
        var rng = SeededRNG(seed: 0xC11_4E7)
        var values: [Float] = []
        for _ in 0..<60_000 {
            let mantissa = Float(Double(rng.next() % 2_000_001) / 1_000_000 - 1)
            let scale = Float(pow(10.0, Double(Int(rng.next() % 25) - 12)))
            values.append(mantissa * scale)
        }
        let tensors = ["x": Tensor(shape: [values.count], storage: .float32(values))]
        let canonical = JobRoutes.canonicalInput(tensors)
        XCTAssertNotNil(CanonicalInputParser.parse(canonical))
        assertIdentical(try InputJSON.parseGeneral(canonical, for: []), try InputJSON.parse(canonical, for: []), "60k everyday floats")
        // And each token on its own against Double(String), including signs and exponents.
        for text in ["-0.0", "0.0", "1.5e+3", "1e-05", "-2.5e-22", "9.99999e+21", "1.0e22", "12345678.0", "0.000000001", "1e-23", "3.4028235e+38"] {
            let bytes = Array("{\"x\":{\"shape\":[1],\"dtype\":\"float32\",\"data\":[\(text)]}}".utf8)
            guard let t = CanonicalInputParser.parse(bytes)?["x"], case let .float32(v) = t.storage else { return XCTFail(text) }
            XCTAssertEqual(v.first?.bitPattern, Float(Double(text)!).bitPattern, text)
        }
    }

    func testFuzzedTensorsAndMutatedBytesAgreeWithTheGeneralParser() throws {
        var rng = SeededRNG(seed: 0x1D_7A_5E)
        let specials: [Float] = [0, -0.0, 1, -1, .nan, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                                 .greatestFiniteMagnitude, 16_777_216, 1e-45, 3.4028235e38, 0.1, 1e20, 123456.79]
        for round in 0..<400 {
            var tensors: [String: Tensor] = [:]
            for k in 0..<Int(rng.next() % 3 + 1) {
                let rank = Int(rng.next() % 4)
                let shape = (0..<rank).map { _ in Int(rng.next() % 4) }
                let n = shape.reduce(1, *)
                let name = ["x", "input", "a b", "é", "q\"uote", "input.\(k)"][Int(rng.next() % 6)]
                if rng.next() % 3 == 0 {
                    let values = (0..<n).map { _ -> Double in
                        rng.next() % 4 == 0 ? Double(specials[Int(rng.next() % UInt64(specials.count))])
                                            : Double(bitPattern: rng.next())
                    }
                    tensors[name] = Tensor(shape: shape, storage: .float64(values))
                } else {
                    let values = (0..<n).map { _ -> Float in
                        switch rng.next() % 4 {
                        case 0: return specials[Int(rng.next() % UInt64(specials.count))]
                        case 1: return Float(Int(rng.next() % 2001) - 1000) / 8
                        default: return Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
                        }
                    }
                    tensors[name] = Tensor(shape: shape, storage: .float32(values))
                }
            }
            let canonical = JobRoutes.canonicalInput(tensors)
            let general = try InputJSON.parseGeneral(canonical, for: [])
            let fast = try InputJSON.parse(canonical, for: [])
            // NaN payloads are not kept by the text form; compare against the general parser.
            assertIdentical(general, fast, "round \(round)")

            // Mutations: the fast path accepts only what the general parser reads the same way.
            for _ in 0..<4 {
                var bytes = canonical
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                let alphabet = Array("0123456789-+.eE,[]{}\":nulNaIfity \\".utf8)
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                }
                let slow = try? InputJSON.parseGeneral(bytes, for: [])
                let quick = try? InputJSON.parse(bytes, for: [])
                XCTAssertEqual(slow == nil, quick == nil, "mutated round \(round): \(String(decoding: bytes, as: UTF8.self).prefix(200))")
                if let slow, let quick { assertIdentical(slow, quick, "mutated round \(round)") }
            }
        }
    }
}
