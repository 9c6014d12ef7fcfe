import Foundation
import XCTest
@testable import MurmurInference

/// ONNX's backend tests (Debian libonnx-testdata): every case whose operators the engine
/// supports must pass, except the documented `Conformance.knownGaps`.
final class ConformanceTests: XCTestCase {
    func testBackendSuites() throws {
        guard FileManager.default.fileExists(atPath: Conformance.defaultRoot + "/node") else {
            throw XCTSkip("libonnx-testdata is not installed (apt-get install libonnx-testdata)")
        }
        let report = Conformance.run()
        print(report.table())
        XCTAssertGreaterThan(report.passed, 600)
        XCTAssertEqual(report.unexpected, [])
    }
}
