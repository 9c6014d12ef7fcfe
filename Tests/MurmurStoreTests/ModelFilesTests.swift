#if canImport(Glibc)
import Glibc
#endif
import XCTest
import MurmurCore
import MurmurWire
@testable import MurmurStore

final class ModelFilesTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = StoreFixture.tempDirectory() }
    override func tearDown() { StoreFixture.removeTree(dir) }

    func testCompleteWriteIsAtomicAndContentAddressed() throws {
        let files = try ModelFiles(directory: dir + "/models")
        let bytes = StoreFixture.model
        let hash = Hash.of(bytes)
        XCTAssertFalse(files.has(hash))
        let path = try files.writeComplete(bytes, hash: hash)
        XCTAssertEqual(path, dir + "/models/" + hash.hex)
        XCTAssertTrue(files.has(hash))
        XCTAssertEqual(try files.read(hash), bytes)
        XCTAssertEqual(try files.list(), [hash])
        XCTAssertFalse(FileIO.exists(path + ".tmp"))
        // Bytes that do not match the name are refused and leave nothing behind.
        let other = Hash.of([1, 2, 3])
        XCTAssertThrowsError(try files.writeComplete(bytes, hash: other)) { e in
            XCTAssertEqual(e as? StoreError, .modelHashMismatch(expected: other, actual: hash))
        }
        XCTAssertFalse(files.has(other))
        try files.remove(hash)
        XCTAssertFalse(files.has(hash))
    }

    func testChunkedDownloadRefusesABadChunkAndResumesAfterRestart() throws {
        let files = try ModelFiles(directory: dir + "/models")
        let manifest = StoreFixture.manifestBody  // 10 000 bytes in 4096-byte chunks: 3 chunks, last one short
        XCTAssertEqual(manifest.chunkHashes.count, 3)
        let bytes = StoreFixture.model
        func chunk(_ i: Int) -> [UInt8] { Array(bytes[(i * 4096)..<min(bytes.count, (i + 1) * 4096)]) }

        let store = try NodeStore(path: dir + "/state.sqlite")
        var partial: PartialModelFile? = try files.resume(manifest)
        // A corrupted chunk is refused before anything is written.
        var bad = chunk(1)
        bad[17] ^= 0xFF
        XCTAssertThrowsError(try partial?.write(chunk: 1, bad)) { e in
            guard case .chunkHashMismatch(1, manifest.chunkHashes[1], _)? = e as? StoreError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try partial?.write(chunk: 3, chunk(2))) { XCTAssertEqual($0 as? StoreError, .chunkOutOfRange(index: 3, count: 3)) }
        XCTAssertThrowsError(try partial?.write(chunk: 0, chunk(2))) { XCTAssertEqual($0 as? StoreError, .chunkWrongLength(index: 0, expected: 4096, actual: 10_000 - 8192)) }
        XCTAssertFalse(partial?.verified[1] ?? true)

        try partial?.write(chunk: 2, chunk(2))
        try partial?.write(chunk: 0, chunk(0))
        XCTAssertThrowsError(try partial?.finish()) { XCTAssertEqual($0 as? StoreError, .modelIncomplete(missing: 1)) }
        try partial?.sync()
        var claimed = try XCTUnwrap(partial?.verified)
        claimed.set(1)  // pretend the store claims chunk 1 too (crash between write and record): must be re-checked
        try store.enqueue(modelFile: StoredModelFile(hash: manifest.modelHash, size: manifest.size, chunkSize: Int(manifest.chunkSize),
                                                     verified: claimed, complete: false))
        try store.commit()
        partial = nil  // "restart"

        let stored = try XCTUnwrap(try store.modelFile(hash: manifest.modelHash))
        let resumed = try files.resume(manifest, claimed: stored.verified)
        XCTAssertEqual(resumed.verified.missing, [1])  // chunk 1 was never written: not trusted
        try resumed.write(chunk: 1, chunk(1))
        XCTAssertTrue(resumed.isComplete)
        let path = try resumed.finish()
        XCTAssertEqual(path, files.path(for: manifest.modelHash))
        XCTAssertEqual(try files.read(manifest.modelHash), bytes)
        XCTAssertFalse(FileIO.exists(files.partialPath(for: manifest.modelHash)))
    }

    func testResumeDropsAClaimedChunkDamagedOnDisk() throws {
        let files = try ModelFiles(directory: dir + "/models")
        let manifest = StoreFixture.manifestBody
        let bytes = StoreFixture.model
        let p = try files.resume(manifest)
        for i in 0..<3 { try p.write(chunk: i, Array(bytes[(i * 4096)..<min(bytes.count, (i + 1) * 4096)])) }
        try p.sync()
        let claimed = p.verified
        // Damage chunk 0 on disk behind the file's back.
        let fd = try FileIO.open(files.partialPath(for: manifest.modelHash), flags: O_WRONLY, mode: 0)
        try FileIO.writeAll(fd, [0xEE], at: 5, path: "partial")
        FileIO.close(fd)
        let resumed = try files.resume(manifest, claimed: claimed)
        XCTAssertEqual(resumed.verified.missing, [0])
    }

    func testChunkBitmapEncoding() {
        var b = ChunkBitmap(count: 10)
        XCTAssertEqual(b.bytes.count, 2)
        b.set(9); b.set(0); b.set(42)
        XCTAssertEqual(b.bytes, [0x01, 0x02])
        XCTAssertEqual(b.verifiedCount, 2)
        XCTAssertEqual(ChunkBitmap(count: 10, bytes: b.bytes), b)
        XCTAssertNil(ChunkBitmap(count: 10, bytes: [0, 0x04]))  // bit beyond count
        XCTAssertNil(ChunkBitmap(count: 10, bytes: [0]))
        XCTAssertFalse(b[-1])
        XCTAssertFalse(b[10])
    }
}
