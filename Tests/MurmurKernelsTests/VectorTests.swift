import Foundation
import MurmurKernels
import XCTest

/// Golden vectors (Specs/vectors/kernels/kernels.json): inputs and expected outputs as float32 bit
/// patterns (8 hex digits). Any implementation of Specs/kernels.md must reproduce them exactly; this
/// test checks ours on every ISA level the machine has. Regenerate (only on a deliberate contract
/// change) with `MURMUR_WRITE_VECTORS=1 swift test --filter VectorTests`.
final class VectorTests: XCTestCase {
    struct GemmCase: Codable {
        var m: Int, n: Int, k: Int, transA: Bool, transB: Bool
        var alpha: String, beta: String
        var a: [String], b: [String]
        var addend: [String]?          // full m×n matrix when present
        var c: [String]
    }
    struct ConvCase: Codable {
        var params: [Int]              // batch, C, H, W, M, kH, kW, sH, sW, pT, pL, pB, pR, dH, dW, groups
        var x: [String], w: [String], bias: [String]?
        var y: [String]
    }
    struct Vectors: Codable {
        var unary: [String: [[String]]]    // name → [[x, f(x)]]
        var pow: [[String]]                // [[x, y, pow(x, y)]]
        var reduce: [String: [String]]     // "x", "y", "sum", "dot", "max"
        var gemm: [GemmCase]
        var conv: [ConvCase]
    }

    static var path: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Specs/vectors/kernels/kernels.json")
    }
    static func hex(_ f: Float) -> String { String(format: "%08x", f.bitPattern) }
    static func float(_ s: String) -> Float { Float(bitPattern: UInt32(s, radix: 16) ?? 0) }

    static func params(_ v: [Int]) -> Conv2DParams {
        var p = Conv2DParams(batch: v[0], inChannels: v[1], inHeight: v[2], inWidth: v[3], outChannels: v[4],
                             kernelHeight: v[5], kernelWidth: v[6])
        p.strideH = v[7]; p.strideW = v[8]; p.padTop = v[9]; p.padLeft = v[10]; p.padBottom = v[11]; p.padRight = v[12]
        p.dilationH = v[13]; p.dilationW = v[14]; p.groups = v[15]
        return p
    }

    func runGemm(_ g: GemmCase) -> [String] {
        let a = g.a.map(Self.float), b = g.b.map(Self.float), e = g.addend?.map(Self.float)
        var c = [Float](repeating: 0, count: g.m * g.n)
        a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in c.withUnsafeMutableBufferPointer { cb in
            let cp = cb.baseAddress!
            let run = { (add: GemmAddend?) in
                Gemm.sgemm(m: g.m, n: g.n, k: g.k, a: ab.baseAddress!, lda: g.transA ? g.m : g.k, transA: g.transA,
                           b: bb.baseAddress!, ldb: g.transB ? g.k : g.n, transB: g.transB, c: cp, ldc: g.n,
                           alpha: Self.float(g.alpha), addend: add)
            }
            if let e { e.withUnsafeBufferPointer { run(.matrix($0.baseAddress!, ld: g.n, beta: Self.float(g.beta))) } } else { run(nil) }
        } } }
        return c.map(Self.hex)
    }

    func runConv(_ cc: ConvCase) -> [String] {
        let p = Self.params(cc.params)
        let x = cc.x.map(Self.float), w = cc.w.map(Self.float), bias = cc.bias?.map(Self.float)
        var y = [Float](repeating: 0, count: p.batch * p.outChannels * p.outHeight * p.outWidth)
        x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in y.withUnsafeMutableBufferPointer { yb in
            if let bias {
                bias.withUnsafeBufferPointer { Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: $0.baseAddress!, output: yb.baseAddress!) }
            } else {
                Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: nil, output: yb.baseAddress!)
            }
        } } }
        return y.map(Self.hex)
    }

    func generate() -> Vectors {
        var g = SplitMix(seed: 2026)
        var inputs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1, -1, 0.5, 2, Float.leastNonzeroMagnitude,
                               Float.leastNormalMagnitude, Float.greatestFiniteMagnitude, 88.72, -87.5, -103.9, 3.92, 0.875]
        inputs += (0..<120).map { _ in Float(Int64(bitPattern: g.next()) % 40_000_000) / 1_000_000 }
        inputs += (0..<40).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: g.next())) }
        var unary: [String: [[String]]] = [:]
        for f in UnaryMath.allCases {
            unary["\(f)"] = inputs.map { [Self.hex($0), Self.hex(DetMath.apply(f, $0))] }
        }
        var pows: [[String]] = []
        for _ in 0..<150 {
            let x = Float(Int64(bitPattern: g.next()) % 2_000_000) / 100_000
            let y = Float(Int64(bitPattern: g.next()) % 2000) / 100
            pows.append([Self.hex(x), Self.hex(y), Self.hex(DetMath.pow(x, y))])
        }
        for (x, y) in [(Float(-2), Float(3)), (-8, 1.0 / 3), (0, -1), (-0.0, -3), (2, -149), (10, 38.5), (.nan, 0), (1, .nan)] {
            pows.append([Self.hex(x), Self.hex(y), Self.hex(DetMath.pow(x, y))])
        }
        let rx = randomFloats(77, &g), ry = randomFloats(77, &g)
        var reduce: [String: [String]] = ["x": rx.map(Self.hex), "y": ry.map(Self.hex)]
        rx.withUnsafeBufferPointer { xb in ry.withUnsafeBufferPointer { yb in
            reduce["sum"] = [Self.hex(Reduce.sum(xb))]
            reduce["dot"] = [Self.hex(Reduce.dot(xb, yb))]
            reduce["max"] = [Self.hex(Reduce.max(xb))]
        } }
        var gemms: [GemmCase] = []
        for (m, n, k, tA, tB, alpha, add) in [(5, 19, 41, false, false, Float(1), false), (7, 37, 300, true, false, 1, true),
                                               (1, 70, 33, false, true, 0.5, true), (6, 33, 7, true, true, 2, false)] {
            var cse = GemmCase(m: m, n: n, k: k, transA: tA, transB: tB, alpha: Self.hex(alpha), beta: Self.hex(0.75),
                               a: randomFloats(m * k, &g).map(Self.hex), b: randomFloats(k * n, &g).map(Self.hex),
                               addend: add ? randomFloats(m * n, &g).map(Self.hex) : nil, c: [])
            cse.c = runGemm(cse)
            gemms.append(cse)
        }
        var convs: [ConvCase] = []
        for v in [[1, 3, 7, 9, 4, 3, 3, 2, 1, 1, 1, 0, 2, 1, 1, 1], [2, 4, 6, 5, 6, 3, 2, 1, 1, 0, 1, 1, 0, 2, 1, 2],
                  [1, 3, 8, 19, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3]] {
            let p = Self.params(v)
            var cc = ConvCase(params: v, x: randomFloats(p.batch * p.inChannels * p.inHeight * p.inWidth, &g).map(Self.hex),
                              w: randomFloats(p.outChannels * (p.inChannels / p.groups) * p.kernelHeight * p.kernelWidth, &g).map(Self.hex),
                              bias: randomFloats(p.outChannels, &g).map(Self.hex), y: [])
            cc.y = runConv(cc)
            convs.append(cc)
        }
        return Vectors(unary: unary, pow: pows, reduce: reduce, gemm: gemms, conv: convs)
    }

    func testGoldenVectorsOnEveryISA() throws {
        if ProcessInfo.processInfo.environment["MURMUR_WRITE_VECTORS"] == "1" {
            KernelISA.force(.baseline)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            try FileManager.default.createDirectory(at: Self.path.deletingLastPathComponent(), withIntermediateDirectories: true)
            try enc.encode(generate()).write(to: Self.path)
            KernelISA.force(nil)
        }
        let v = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.path))
        defer { KernelISA.force(nil) }
        for isa in KernelISA.supported {
            KernelISA.force(isa)
            for f in UnaryMath.allCases {
                guard let rows = v.unary["\(f)"] else { XCTFail("no vectors for \(f)"); continue }
                for r in rows {
                    XCTAssertEqual(Self.hex(DetMath.apply(f, Self.float(r[0]))), r[1], "\(f)(\(r[0])) on \(isa)")
                }
            }
            for r in v.pow { XCTAssertEqual(Self.hex(DetMath.pow(Self.float(r[0]), Self.float(r[1]))), r[2], "pow \(r) on \(isa)") }
            let rx = v.reduce["x", default: []].map(Self.float), ry = v.reduce["y", default: []].map(Self.float)
            rx.withUnsafeBufferPointer { xb in ry.withUnsafeBufferPointer { yb in
                XCTAssertEqual([Self.hex(Reduce.sum(xb))], v.reduce["sum"], "sum on \(isa)")
                XCTAssertEqual([Self.hex(Reduce.dot(xb, yb))], v.reduce["dot"], "dot on \(isa)")
                XCTAssertEqual([Self.hex(Reduce.max(xb))], v.reduce["max"], "max on \(isa)")
            } }
            for gc in v.gemm { XCTAssertTrue(runGemm(gc) == gc.c, "gemm \(gc.m)×\(gc.n)×\(gc.k) on \(isa)") }
            for cc in v.conv { XCTAssertTrue(runConv(cc) == cc.y, "conv \(cc.params) on \(isa)") }
        }
    }
}
