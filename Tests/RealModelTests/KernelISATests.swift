import Foundation
import XCTest
import MurmurCore
import MurmurKernels
@testable import MurmurInference

/// Another machine, simulated: the same real models with every kernel ISA level this CPU can run
/// (baseline, x86-64-v3 / AVX2, x86-64-v4 / AVX-512) must give the golden output hashes.
final class KernelISATests: XCTestCase {
    /// Fast cases that between them use GEMM, convolution, LSTM, If, Erf/Exp/Tanh/Sigmoid and pooling.
    static let cases = ["minilm_l6_v2", "ppocr_v4_rec", "silero_vad", "magika_standard_v3_3", "ddddocr_common"]

    func testGoldenHashesOnEveryISALevel() throws {
        let fixture = try RealFixtures.shared()
        let golden = try RealFixtures.golden()
        defer { KernelISA.force(nil) }
        var ran = 0
        for name in Self.cases {
            guard let c = fixture.cases.first(where: { $0.name == name }), let want = golden[name] else {
                XCTFail("\(name): no case or golden hash"); continue
            }
            let path = RealFixtures.modelPath(c.model)
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let model = try InferenceModel(path: path)
            for isa in KernelISA.supported {
                XCTAssertTrue(KernelISA.force(isa))
                var carried: [String: Tensor] = [:]
                var hashes: [String] = []
                for call in c.calls {
                    var feeds = carried
                    for (input, spec) in call.inputs { feeds[input] = try RealFixtures.input(spec) }
                    let result = try model.run(feeds, threads: 2)
                    hashes.append(result.hash.hex)
                    carried = [:]
                    for (from, to) in c.carry { carried[to] = result[from] }
                }
                XCTAssertEqual(hashes, want.output_hashes, "\(name) on \(isa): output bytes differ from the golden hashes")
            }
            ran += 1
        }
        if ran == 0 { throw XCTSkip("models not cached; run Scripts/real_models/fetch.sh") }
        print("kernel ISA levels checked: \(KernelISA.supported.map(\.description).joined(separator: ", ")) on \(ran) models")
    }
}
