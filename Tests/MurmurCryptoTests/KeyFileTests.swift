import Foundation
import XCTest
import MurmurCore
@testable import MurmurCrypto

final class KeyFileTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "murmur-keyfile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func mode(_ path: String) throws -> Int {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    func testIdentitySaveAndLoad() throws {
        let key = SigningKey()
        let path = dir + "/identity"
        try key.save(to: path)
        XCTAssertEqual(try mode(path), 0o600)
        XCTAssertEqual(try SigningKey.load(from: path).publicKey, key.publicKey)
        // No temporary file left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["identity"])
    }

    func testRefusesToOverwriteUnlessAsked() throws {
        let path = dir + "/identity"
        try SigningKey().save(to: path)
        XCTAssertThrowsError(try SigningKey().save(to: path)) { XCTAssertEqual($0 as? KeyFileError, .alreadyExists(path: path)) }
        let replacement = SigningKey()
        try replacement.save(to: path, replacing: true)
        XCTAssertEqual(try SigningKey.load(from: path).publicKey, replacement.publicKey)
    }

    func testRefusesAKeyFileOthersCanRead() throws {
        let path = dir + "/identity"
        try SigningKey().save(to: path)
        chmod(path, 0o644)
        XCTAssertThrowsError(try SigningKey.load(from: path)) { error in
            guard case .insecurePermissions = error as? KeyFileError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("chmod 600"))
        }
        chmod(path, 0o640)
        XCTAssertThrowsError(try SigningKey.load(from: path))
        chmod(path, 0o400)
        XCTAssertNoThrow(try SigningKey.load(from: path))
    }

    func testMalformedAndMissingFiles() throws {
        let cases: [String] = ["", "abc", String(repeating: "a", count: 63), String(repeating: "a", count: 65),
                               String(repeating: "g", count: 64), String(repeating: "ab", count: 16) + " " + String(repeating: "ab", count: 16),
                               String(repeating: "0", count: 2000)]
        for (i, text) in cases.enumerated() {
            let path = dir + "/bad\(i)"
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
            XCTAssertThrowsError(try SigningKey.load(from: path), "case \(i)") { error in
                guard case .malformed = error as? KeyFileError else { return XCTFail("case \(i): \(error)") }
            }
        }
        let good = dir + "/good"
        XCTAssertTrue(FileManager.default.createFile(atPath: good, contents: Data(("\n  " + String(repeating: "AB", count: 32) + "\n").utf8),
                                       attributes: [.posixPermissions: 0o600]))
        XCTAssertEqual(try SigningKey.load(from: good).seed, [UInt8](repeating: 0xab, count: 32))
        XCTAssertThrowsError(try SigningKey.load(from: dir + "/missing")) {
            XCTAssertEqual($0 as? KeyFileError, .notFound(path: self.dir + "/missing"))
        }
    }

    func testNetworkKeyFile() throws {
        let path = dir + "/network.key"
        let key = NetworkKey.random()
        try key.save(to: path)
        XCTAssertEqual(try mode(path), 0o600)
        let loaded = try NetworkKey.load(from: path)
        XCTAssertEqual(loaded.withBytes { $0 }, key.withBytes { $0 })
        XCTAssertEqual(loaded.fingerprint, key.fingerprint)
        XCTAssertNotEqual(loaded.fingerprint, NetworkKey.default.fingerprint)
        XCTAssertNil(NetworkKey(bytes: [1, 2, 3]))
    }
}
