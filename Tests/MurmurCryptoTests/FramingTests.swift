import XCTest
import MurmurCore
@testable import MurmurCrypto

final class FramingTests: XCTestCase {
    let key = SecretBytes([UInt8](repeating: 0x42, count: 32))
    let header = [UInt8](repeating: 0x24, count: 24)

    func pair(_ options: FramingOptions = .default) -> (FrameSealer, FrameOpener) {
        (FrameSealer(key: key, header: header, options: options), FrameOpener(key: key, header: header, options: options))
    }

    func compressible(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: ($0 / 7) % 5) } }
    func random(_ n: Int, _ rng: inout SeededRNG) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

    func testRoundTripWithAndWithoutLZ4() throws {
        var rng = SeededRNG(seed: 1)
        for compression in [FrameCompression.never, .always, .adaptive] {
            let (sealer, opener) = pair(FramingOptions(compression: compression, rekeyAfterFrames: 5))
            var stream: [UInt8] = []
            var sent: [[UInt8]] = []
            for n in [0, 1, 5, 100, 1000, 4096, 65535, Limits.maxFramePlaintext] {
                for p in [compressible(n), random(n, &rng)] {
                    sealer.seal(p, appendingTo: &stream)
                    sent.append(p)
                }
            }
            stream += sealer.close()
            // Deliver in random-sized pieces, as a socket would.
            var received: [OpenedFrame] = []
            var offset = 0
            while offset < stream.count {
                let n = min(stream.count - offset, 1 + Int(rng.next() % 70_000))
                received += try opener.feed(stream[offset..<offset + n])
                offset += n
            }
            XCTAssertEqual(received, sent.map { .message($0) } + [.closed])
            XCTAssertNoThrow(try opener.finish())
            if compression == .never {
                XCTAssertEqual(sealer.compressedFrames, 0)
            } else {
                XCTAssertGreaterThan(sealer.compressedFrames, 0)
            }
            XCTAssertGreaterThan(sealer.rekeys, 0)
        }
    }

    func testZeroCopyInterface() throws {
        let (sealer, opener) = pair()
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: sealer.maxFrameBytes, alignment: 16)
        defer { out.deallocate() }
        let message = compressible(3000)
        let n = message.withUnsafeBytes { sealer.seal($0, into: out) }
        opener.readInto { space in
            space.copyMemory(from: UnsafeRawBufferPointer(rebasing: out[0..<n]))
            return n
        }
        var got: [UInt8] = []
        XCTAssertEqual(try opener.nextMessage { got = Array($0) }, .message)
        XCTAssertEqual(got, message)
        XCTAssertEqual(try opener.nextMessage { _ in XCTFail() }, .needMoreBytes)
    }

    func testTamperedFramesFail() throws {
        let (sealer, _) = pair(FramingOptions(compression: .always))
        let frames = [sealer.seal(Array("short".utf8)), sealer.seal(compressible(500))]
        for (index, frame) in frames.enumerated() {
            for i in frame.indices {
                let (_, opener) = pair(FramingOptions(compression: .always))
                if index == 1 { _ = try opener.feed(frames[0]) }
                var bad = frame
                bad[i] ^= 0x10
                // Either refused now, or (a length made larger) never completes: both fail.
                XCTAssertThrowsError(try { _ = try opener.feed(bad); try opener.finish() }(), "frame \(index) byte \(i)")
            }
        }
    }

    func testReorderedReplayedAndCrossStreamFramesFail() throws {
        let (sealer, _) = pair()
        let f1 = sealer.seal([1]), f2 = sealer.seal([2])
        let (_, reordered) = pair()
        XCTAssertThrowsError(try reordered.feed(f2)) { XCTAssertEqual($0 as? FrameError, .authenticationFailed) }
        // Once failed, the opener refuses everything.
        XCTAssertThrowsError(try reordered.feed(f1)) { XCTAssertEqual($0 as? FrameError, .authenticationFailed) }

        let (_, replayed) = pair()
        XCTAssertEqual(try replayed.feed(f1), [.message([1])])
        XCTAssertThrowsError(try replayed.feed(f1)) { XCTAssertEqual($0 as? FrameError, .authenticationFailed) }

        let other = FrameOpener(key: SecretBytes([UInt8](repeating: 1, count: 32)), header: header, options: .default)
        XCTAssertThrowsError(try other.feed(f1)) { XCTAssertEqual($0 as? FrameError, .authenticationFailed) }
    }

    func testTruncatedStreamsAreReported() throws {
        let (sealer, opener) = pair()
        var rng = SeededRNG(seed: 3)
        let f = sealer.seal(random(100, &rng))
        XCTAssertEqual(try opener.feed(f.prefix(50)), [])
        XCTAssertThrowsError(try opener.finish()) { XCTAssertEqual($0 as? FrameError, .truncated(bufferedBytes: 50)) }

        let (sealer2, opener2) = pair()
        XCTAssertEqual(try opener2.feed(sealer2.seal([7])), [.message([7])])
        XCTAssertThrowsError(try opener2.finish()) { XCTAssertEqual($0 as? FrameError, .truncated(bufferedBytes: 0)) }
    }

    func testOverLengthFrameRefusedFromItsLengthAlone() throws {
        let (_, opener) = pair()
        // Only the 4 length bytes: refused before anything else is read or allocated.
        XCTAssertThrowsError(try opener.feed([0xff, 0xff, 0xff, 0xff])) { error in
            XCTAssertEqual(error as? FrameError, .frameTooLarge(declared: 0xffff_ffff, limit: Limits.maxFramePlaintext + 17))
        }
        let (_, opener2) = pair()
        let justOver = UInt32(Limits.maxFramePlaintext + 18)
        XCTAssertThrowsError(try opener2.feed(withUnsafeBytes(of: justOver.bigEndian) { Array($0) }))
        let (_, opener3) = pair()
        XCTAssertThrowsError(try opener3.feed([0, 0, 0, 16])) { XCTAssertEqual($0 as? FrameError, .frameTooSmall(declared: 16)) }
    }

    func testFinalFrame() throws {
        let (sealer, opener) = pair()
        var stream = sealer.seal([1, 2, 3])
        stream += sealer.close()
        XCTAssertTrue(sealer.isClosed)
        XCTAssertEqual(try opener.feed(stream), [.message([1, 2, 3]), .closed])
        XCTAssertTrue(opener.isClosed)
        XCTAssertNoThrow(try opener.finish())
        XCTAssertEqual(try opener.next(), .closed)
        XCTAssertThrowsError(try opener.feed([0])) { XCTAssertEqual($0 as? FrameError, .dataAfterFinal) }

        // Bytes in the same read as the FINAL frame are refused too.
        let (sealer2, opener2) = pair()
        XCTAssertThrowsError(try opener2.feed(sealer2.close() + [0, 0, 0, 17])) { XCTAssertEqual($0 as? FrameError, .dataAfterFinal) }
    }

    /// Pushes a raw secretstream message, to build frames an honest sealer never makes.
    func craftedFrame(_ body: [UInt8], tag: UInt8) -> [UInt8] {
        let stream = SecretStreamState(key: key, header: header)
        var frame = withUnsafeBytes(of: UInt32(body.count + 17).bigEndian) { Array($0) } + [UInt8](repeating: 0, count: body.count + 17)
        frame.withUnsafeMutableBytes { f in
            body.withUnsafeBytes { b in
                stream.push(c: f.baseAddress! + 4, m: b.baseAddress, mlen: b.count, ad: f.baseAddress!, adlen: 4, tag: tag)
            }
        }
        return frame
    }

    func testDecompressionIsBoundedAndChecked() throws {
        let compressed = [UInt8](repeating: 0, count: 200_000)
        // An LZ4 block of 200 000 zero bytes: far more than the limit.
        var block = [UInt8](repeating: 0, count: 2000)
        let n = compressed.withUnsafeBytes { src in
            block.withUnsafeMutableBytes { dst in
                LZ4Shim.compress(src, into: dst)
            }
        }
        block = Array(block.prefix(n))
        func body(declared: UInt32) -> [UInt8] { withUnsafeBytes(of: declared.bigEndian) { Array($0) } + block }

        let (_, o1) = pair()
        XCTAssertThrowsError(try o1.feed(craftedFrame(body(declared: 200_000), tag: 0x80))) {
            XCTAssertEqual($0 as? FrameError, .declaredLengthTooLarge(declared: 200_000, limit: Limits.maxFramePlaintext))
        }
        // Declares less than it holds: the bounded buffer stops it.
        let (_, o2) = pair()
        XCTAssertThrowsError(try o2.feed(craftedFrame(body(declared: 1000), tag: 0x80))) {
            XCTAssertEqual($0 as? FrameError, .decompressionFailed(declared: 1000))
        }
        let (_, o3) = pair()
        XCTAssertThrowsError(try o3.feed(craftedFrame([1, 2, 3, 4, 5, 6, 7, 8], tag: 0x80)))
        let (_, o4) = pair()
        XCTAssertThrowsError(try o4.feed(craftedFrame([1, 2], tag: 0x01))) { XCTAssertEqual($0 as? FrameError, .unknownTag(1)) }
    }

    func testSeededFuzzOfOpenerNeverTraps() throws {
        var rng = SeededRNG(seed: 0xf00d)
        let (sealer, _) = pair(FramingOptions(compression: .always))
        var valid: [UInt8] = []
        for i in 0..<8 { sealer.seal(i % 2 == 0 ? compressible(300 * i) : random(100, &rng), appendingTo: &valid) }
        for round in 0..<400 {
            let (_, opener) = pair(FramingOptions(compression: .always))
            var input: [UInt8]
            if round % 2 == 0 {
                input = random(Int(rng.next() % 3000), &rng)
                if round % 4 == 0 && input.count >= 4 { input[0] = 0; input[1] = 0 }  // plausible lengths
            } else {
                input = valid
                for _ in 0..<(1 + Int(rng.next() % 3)) { input[Int(rng.next() % UInt64(input.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            }
            var offset = 0
            while offset < input.count {
                let n = min(input.count - offset, 1 + Int(rng.next() % 500))
                do { _ = try opener.feed(input[offset..<offset + n]) } catch { break }
                offset += n
            }
            XCTAssertThrowsError(try opener.finish())
        }
    }
}
