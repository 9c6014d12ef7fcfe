import XCTest
import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

extension XCTestCase {
    /// The `murmur` binary next to this test bundle (`.build/<triple>/debug/murmur`; the bundle is
    /// `.../debug/MurmurPackageTests.xctest`, a file on Linux). Skips when it has not been built.
    func murmurPath() throws -> String {
        var dir = try XCTUnwrap(currentExecutablePath())
        while let slash = dir.lastIndex(of: "/") {
            dir = String(dir[..<slash])
            let candidate = dir + "/murmur"
            if access(candidate, X_OK) == 0 { return candidate }
            if dir.hasSuffix("/.build") || dir.isEmpty { break }
        }
        throw XCTSkip("murmur executable not built next to the tests (run `swift build --build-tests`)")
    }
}
