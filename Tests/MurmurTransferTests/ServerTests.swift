import XCTest
import MurmurCore
import MurmurWire
@testable import MurmurTransfer

final class ServerTests: XCTestCase {
    let peer = NodeID(Bytes32(w0: 1, w1: 0, w2: 0, w3: 0))
    let other = NodeID(Bytes32(w0: 2, w1: 0, w2: 0, w3: 0))
    let t0 = Instant(nanoseconds: 1_000_000_000)

    func request(_ id: UInt32, _ m: ModelManifest, chunk: UInt32 = 0, offset: UInt32 = 0, length: UInt32 = 1000) -> ServeEvent {
        .message(from: peer, .request(ChunkRequest(requestID: id, modelHash: m.modelHash, chunkIndex: chunk, offset: offset, length: length)))
    }

    func refusals(_ fx: [ServeEffect]) -> [RefusalReason] {
        fx.compactMap { if case let .send(_, .refusal(r)) = $0 { return r.reason } else { return nil } }
    }

    func testRefusesWhatItDoesNotHoldAndSpansOutsideTheChunk() {
        let (m, _) = Mesh.model(seed: 1, size: 100_000, chunkSize: 64 * 1024)
        var s = Server()
        XCTAssertEqual(refusals(s.handle(request(1, m), now: t0)), [.notHeld])
        _ = s.handle(.serve(m), now: t0)
        // Chunk 1 is 100 000 − 65 536 = 34 464 bytes long.
        XCTAssertEqual(refusals(s.handle(request(2, m, chunk: 1, offset: 34_000, length: 465), now: t0)), [.badRequest])
        XCTAssertEqual(refusals(s.handle(request(3, m, chunk: 2), now: t0)), [.badRequest])
        let fx = s.handle(request(4, m, chunk: 1, offset: 34_000, length: 464), now: t0)
        XCTAssertEqual(fx, [.read(ticket: 1, model: m.modelHash, offset: 65_536 + 34_000, length: 464)])
        // The same request id while the first is being read is refused.
        XCTAssertEqual(refusals(s.handle(request(4, m), now: t0)), [.badRequest])
    }

    func testPiecesCoverTheSpanExactlyInOrder() throws {
        let (m, bytes) = Mesh.model(seed: 2, size: 300_000, chunkSize: 256 * 1024)
        var s = Server()
        _ = s.handle(.serve(m), now: t0)
        let fx = s.handle(request(9, m, chunk: 0, offset: 1000, length: 200_000), now: t0)
        guard case let .read(ticket, _, offset, length) = fx.first else { return XCTFail("\(fx)") }
        let sent = s.handle(.readCompleted(ticket: ticket, bytes: Array(bytes[Int(offset)..<Int(offset) + length])), now: t0)
        var next = 1000
        var assembled: [UInt8] = []
        for e in sent {
            guard case let .send(to, .piece(p)) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(to, peer)
            XCTAssertEqual(Int(p.offset), next)
            XCTAssertLessThanOrEqual(p.data.count, Limits.maxTransferPieceBytes)
            next += p.data.count
            assembled += p.data
        }
        XCTAssertEqual(sent.count, 4)   // 200 000 bytes in pieces of ≤ 61 440
        XCTAssertEqual(assembled, Array(bytes[1000..<201_000]))
        XCTAssertEqual(s.readsInFlight, 0)
    }

    func testBusyWhenOverThePerPeerReadLimitButNotForOthers() {
        let (m, _) = Mesh.model(seed: 3, size: 100_000, chunkSize: 64 * 1024)
        var c = ServerConfig()
        c.readsPerPeer = 2
        var s = Server(config: c)
        _ = s.handle(.serve(m), now: t0)
        _ = s.handle(request(1, m), now: t0)
        _ = s.handle(request(2, m), now: t0)
        let fx = s.handle(request(3, m), now: t0)
        XCTAssertEqual(fx, [.send(to: peer, .refusal(ChunkRefusal(requestID: 3, modelHash: m.modelHash, chunkIndex: 0, reason: .busy, retryAfterMs: c.busyRetryMs)))])
        let fromOther = s.handle(.message(from: other, .request(ChunkRequest(requestID: 3, modelHash: m.modelHash, chunkIndex: 0, offset: 0, length: 10))), now: t0)
        XCTAssertEqual(refusals(fromOther), [])
        XCTAssertEqual(s.readsInFlight(for: peer), 2)
    }

    func testRateLimitSaysWhenToComeBack() {
        let (m, _) = Mesh.model(seed: 4, size: 4 * 1024 * 1024, chunkSize: 1024 * 1024)
        var c = ServerConfig()
        c.bytesPerSecondPerPeer = 1024 * 1024          // 1 MiB/s
        c.burstBytesPerPeer = 1024 * 1024
        var s = Server(config: c)
        _ = s.handle(.serve(m), now: t0)
        guard case let .read(t1, _, _, _) = s.handle(request(1, m, length: 1024 * 1024), now: t0).first else { return XCTFail() }
        _ = s.handle(.readCompleted(ticket: t1, bytes: [UInt8](repeating: 0, count: 1024 * 1024)), now: t0)
        let fx = s.handle(request(2, m, chunk: 1, length: 512 * 1024), now: t0 + .milliseconds(Int64(100)))
        // 100 ms refilled 0.1 MiB; 0.4 MiB more takes 400 ms.
        guard case let .send(_, .refusal(r)) = fx.first else { return XCTFail("\(fx)") }
        XCTAssertEqual(r.reason, .busy)
        XCTAssertEqual(r.retryAfterMs, 400, accuracy: 1)
        XCTAssertEqual(refusals(s.handle(request(3, m, chunk: 1, length: 512 * 1024), now: t0 + .milliseconds(Int64(501)))), [])
    }

    func testCancelledAndLinkDownReadsSendNothing() {
        let (m, _) = Mesh.model(seed: 5, size: 100_000, chunkSize: 64 * 1024)
        var s = Server()
        _ = s.handle(.serve(m), now: t0)
        guard case let .read(t1, _, _, _) = s.handle(request(1, m), now: t0).first,
              case let .read(t2, _, _, _) = s.handle(request(2, m), now: t0).first else { return XCTFail() }
        _ = s.handle(.message(from: peer, .cancel(ChunkCancel(requestID: 1))), now: t0)
        XCTAssertEqual(s.handle(.readCompleted(ticket: t1, bytes: [UInt8](repeating: 0, count: 1000)), now: t0), [])
        _ = s.handle(.linkDown(peer), now: t0)
        XCTAssertEqual(s.handle(.readCompleted(ticket: t2, bytes: [UInt8](repeating: 0, count: 1000)), now: t0), [])
        XCTAssertEqual(s.readsInFlight, 0)
    }

    func testAFailedReadRefusesAndStopsServingTheModel() {
        let (m, _) = Mesh.model(seed: 6, size: 100_000, chunkSize: 64 * 1024)
        var s = Server()
        _ = s.handle(.serve(m), now: t0)
        guard case let .read(t1, _, _, _) = s.handle(request(1, m), now: t0).first else { return XCTFail() }
        let fx = s.handle(.readFailed(ticket: t1, reason: "EIO"), now: t0)
        XCTAssertEqual(refusals(fx), [.unavailable])
        XCTAssertTrue(fx.contains(.unservable(model: m.modelHash, reason: "EIO")))
        XCTAssertEqual(refusals(s.handle(request(2, m), now: t0)), [.notHeld])
    }
}

final class FetcherTests: XCTestCase {
    let t0 = Instant(nanoseconds: 5_000_000_000)
    func node(_ k: UInt64) -> NodeID { NodeID(Bytes32(w0: k, w1: 0, w2: 0, w3: 0)) }

    func testStartIsRefusedOverTheDiskBudgetAndTheFetchLimit() {
        let (a, _) = Mesh.model(seed: 1, size: 600_000, chunkSize: 64 * 1024, name: "a")
        let (b, _) = Mesh.model(seed: 2, size: 500_000, chunkSize: 64 * 1024, name: "b")
        var c = FetcherConfig()
        c.diskBudgetBytes = UInt64(1_000_000)
        c.maxConcurrentFetches = 1
        var f = Fetcher(config: c, rng: SeededRNG(seed: 1), storedBytes: UInt64(300_000))
        let started = f.handle(.start(a, verifiedChunks: []), now: t0)
        XCTAssertFalse(started.contains { if case .refused = $0 { return true } else { return false } })
        XCTAssertEqual(f.activeModels, [a.modelHash])   // 300 000 + 600 000 ≤ 1 000 000
        XCTAssertTrue(f.handle(.start(a, verifiedChunks: []), now: t0).contains(.refused(model: a.modelHash, .alreadyFetching)))
        XCTAssertTrue(f.handle(.start(b, verifiedChunks: []), now: t0).contains(.refused(model: b.modelHash, .tooManyFetches(limit: 1))))
        var g = Fetcher(config: c, rng: SeededRNG(seed: 1), storedBytes: UInt64(600_000))
        XCTAssertTrue(g.handle(.start(a, verifiedChunks: []), now: t0).contains(.refused(model: a.modelHash, .overDiskBudget(needed: 600_000, available: 400_000))))
        XCTAssertEqual(g.activeModels, [])
    }

    func testAnInconsistentManifestIsRefused() {
        var (m, _) = Mesh.model(seed: 3, size: 200_000, chunkSize: 64 * 1024)
        m.chunkHashes.removeLast()
        var f = Fetcher(rng: SeededRNG(seed: 1))
        let fx = f.handle(.start(m, verifiedChunks: []), now: t0)
        guard case .refused(_, .invalidManifest) = fx.first else { return XCTFail("\(fx)") }
    }

    func testAsksForLinksToHoldersItIsNotLinkedTo() {
        let (m, _) = Mesh.model(seed: 4, size: 200_000, chunkSize: 64 * 1024)
        var f = Fetcher(rng: SeededRNG(seed: 1))
        for k: UInt64 in 1...6 { _ = f.handle(.holdings(peer: node(k), models: [m.modelHash]), now: t0) }
        _ = f.handle(.linkUp(node(6)), now: t0)
        let fx = f.handle(.start(m, verifiedChunks: []), now: t0)
        let wanted = fx.compactMap { if case let .wantLink(p) = $0 { return p } else { return nil } }
        XCTAssertEqual(wanted.count, f.config.targetSources - 1)
        XCTAssertFalse(wanted.contains(node(6)))
        let asked = fx.compactMap { if case let .send(p, .request) = $0 { return p } else { return nil } }
        XCTAssertEqual(Set(asked), [node(6)])
        XCTAssertEqual(asked.count, f.config.requestsPerPeer)
    }

    func testUndecodableAnswersAreStrikesAndUnknownTypesAreNot() {
        let (m, _) = Mesh.model(seed: 5, size: 200_000, chunkSize: 64 * 1024)
        var t = ModelTransfer(rng: SeededRNG(seed: 1))
        let bad = node(9)
        _ = t.handle(.fetch(.holdings(peer: bad, models: [m.modelHash])), now: t0)
        _ = t.handle(.linkUp(bad), now: t0)
        _ = t.handle(.fetch(.start(m, verifiedChunks: [])), now: t0)
        XCTAssertEqual(t.fetcher.requestsInFlight(to: bad), t.fetcher.config.requestsPerPeer)
        _ = t.handle(.message(from: bad, type: 0x6A, payload: [1, 2, 3]), now: t0)
        XCTAssertEqual(t.fetcher.strikes(of: bad), 0)
        _ = t.handle(.message(from: bad, type: TransferMessageType.piece, payload: [1, 2, 3]), now: t0)
        XCTAssertEqual(t.fetcher.strikes(of: bad), 1)
        let fx = t.handle(.message(from: bad, type: TransferMessageType.refusal, payload: []), now: t0)
        XCTAssertTrue(fx.contains { if case .fetch(.peerDropped(bad, _)) = $0 { return true } else { return false } })
        XCTAssertTrue(t.fetcher.isDropped(bad, now: t0))
        XCTAssertEqual(t.fetcher.requestsInFlight, 0)
        // Its outstanding requests were cancelled.
        XCTAssertEqual(fx.filter { if case .fetch(.send(bad, .cancel)) = $0 { return true } else { return false } }.count, 2)
    }

    func testBusyPeerIsAskedAgainAfterRetryAfter() {
        let (m, _) = Mesh.model(seed: 6, size: 200_000, chunkSize: 64 * 1024)
        var f = Fetcher(rng: SeededRNG(seed: 1))
        let p = node(3)
        _ = f.handle(.holdings(peer: p, models: [m.modelHash]), now: t0)
        _ = f.handle(.linkUp(p), now: t0)
        let fx = f.handle(.start(m, verifiedChunks: []), now: t0)
        guard case let .send(_, .request(r)) = fx.first(where: { if case .send = $0 { return true } else { return false } }) else { return XCTFail() }
        let after = f.handle(.message(from: p, .refusal(ChunkRefusal(requestID: r.requestID, modelHash: m.modelHash, chunkIndex: r.chunkIndex,
                                                                      reason: .busy, retryAfterMs: 300))), now: t0)
        XCTAssertFalse(after.contains { if case .send(_, .request) = $0 { return true } else { return false } }, "asked again at once")
        XCTAssertTrue(after.contains(.setTimer(at: t0 + .milliseconds(Int64(300)))))
        let later = f.handle(.timer, now: t0 + .milliseconds(Int64(300)))
        XCTAssertTrue(later.contains { if case let .send(_, .request(q)) = $0 { return q.chunkIndex == r.chunkIndex } else { return false } })
    }
}
