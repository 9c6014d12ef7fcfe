import XCTest
import MurmurCore
import MurmurWire
@testable import MurmurTransfer

/// Random event sequences — hostile pieces and refusals aimed at real open requests, random
/// acknowledgements, links flapping, timers at random times — never trap, and the bounds hold
/// after every event.
final class StateMachineFuzzTests: XCTestCase {
    func testFetcherSurvivesHostileEventSequences() {
        let (a, aBytes) = Mesh.model(seed: 31, size: 400_000, chunkSize: 64 * 1024, name: "a")
        let (b, _) = Mesh.model(seed: 32, size: 150_000, chunkSize: 4096, name: "b")
        let peers = (1...5).map { NodeID(Bytes32(w0: UInt64($0), w1: 0, w2: 0, w3: 0)) }
        for seed: UInt64 in 1...20 {
            var rng = SeededRNG(seed: seed)
            var config = FetcherConfig()
            config.requestsPerPeer = 3
            config.requestsInFlight = 7
            config.requestBytes = Limits.maxTransferPieceBytes
            config.bufferedBytes = Limits.maxModelChunkBytes
            var f = Fetcher(config: config, rng: rng.fork())
            var now = Instant(nanoseconds: 1_000_000_000)
            for _ in 0..<600 {
                now = now + .milliseconds(Int64(rng.next() % 800))
                let event: FetchEvent
                let open = f.requests.sorted { $0.key < $1.key }
                switch rng.next() % 12 {
                case 0: event = .start(rng.next() % 2 == 0 ? a : b, verifiedChunks: Set((0..<5).map { _ in Int(rng.next() % 40) - 2 }))
                case 1: event = .holdings(peer: peers[Int(rng.next() % 5)], models: rng.next() % 4 == 0 ? [] : [a.modelHash, b.modelHash])
                case 2: event = .linkUp(peers[Int(rng.next() % 5)])
                case 3: event = rng.next() % 3 == 0 ? .linkDown(peers[Int(rng.next() % 5)]) : .timer
                case 4, 5, 6:
                    // A piece for an open request: right or wrong in every field.
                    guard let (id, r) = open.randomElement(using: &rng) else { event = .timer; break }
                    let honest = rng.next() % 3 != 0
                    let start = honest ? r.offset + r.received : Int(rng.next() % 70_000)
                    let n = honest ? min(r.length - r.received, 1 + Int(rng.next() % 30_000)) : 1 + Int(rng.next() % 61_440)
                    let src = r.model == a.modelHash ? aBytes : []
                    let fileStart = Int(ModelLayout(a).fileOffset(r.chunk)) + start
                    let data = honest && fileStart + n <= src.count ? Array(src[fileStart..<fileStart + n]) : (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    let peer = rng.next() % 5 == 0 ? peers[Int(rng.next() % 5)] : r.peer
                    event = .message(from: peer, .piece(ChunkPiece(requestID: honest ? id : UInt32(rng.next() % 50), modelHash: r.model,
                                                                  chunkIndex: UInt32(r.chunk), offset: UInt32(start), data: data)))
                case 7:
                    guard let (id, r) = open.randomElement(using: &rng) else { event = .timer; break }
                    let reason = RefusalReason.allCases[Int(rng.next() % 4)]
                    event = .message(from: r.peer, .refusal(ChunkRefusal(requestID: id, modelHash: r.model, chunkIndex: UInt32(r.chunk),
                                                                         reason: reason, retryAfterMs: reason == .busy ? 1 + UInt32(rng.next() % 5000) : 0)))
                case 8: event = .malformed(from: peers[Int(rng.next() % 5)], .truncated(need: 1, have: 0))
                case 9:
                    let m = rng.next() % 2 == 0 ? a.modelHash : b.modelHash
                    event = rng.next() % 8 == 0 ? .writeFailed(model: m, index: Int(rng.next() % 40), reason: "x")
                                                : .chunkWritten(model: m, index: Int(rng.next() % 40))
                case 10: event = .fileVerified(model: rng.next() % 2 == 0 ? a.modelHash : b.modelHash, matches: rng.next() % 2 == 0)
                default: event = rng.next() % 10 == 0 ? .cancel(model: a.modelHash) : .timer
                }
                _ = f.handle(event, now: now)
                XCTAssertLessThanOrEqual(f.requestsInFlight, config.requestsInFlight)
                XCTAssertGreaterThanOrEqual(f.bufferedByteCount, 0)
                XCTAssertLessThanOrEqual(f.bufferedByteCount, config.bufferedBytes)
                for p in peers {
                    XCTAssertGreaterThanOrEqual(f.requestsInFlight(to: p), 0)
                    XCTAssertLessThanOrEqual(f.requestsInFlight(to: p), config.requestsPerPeer)
                }
                XCTAssertEqual(f.requests.count, f.peers.values.reduce(0) { $0 + $1.inFlight }, "seed \(seed): per-peer counts drifted")
            }
        }
    }

    func testServerSurvivesHostileEventSequences() {
        let (m, bytes) = Mesh.model(seed: 33, size: 300_000, chunkSize: 64 * 1024)
        let peers = (1...4).map { NodeID(Bytes32(w0: UInt64($0), w1: 0, w2: 0, w3: 0)) }
        var rng = SeededRNG(seed: 9)
        var s = Server()
        var now = Instant(nanoseconds: 1)
        var tickets: [(UInt64, UInt64, Int)] = []
        for _ in 0..<5000 {
            now = now + .microseconds(Int64(rng.next() % 5000))
            let peer = peers[Int(rng.next() % 4)]
            var fx: [ServeEffect]
            switch rng.next() % 8 {
            case 0: fx = s.handle(rng.next() % 4 == 0 ? .stopServing(model: m.modelHash) : .serve(m), now: now)
            case 1, 2, 3:
                let r = ChunkRequest(requestID: UInt32(rng.next() % 20), modelHash: rng.next() % 10 == 0 ? .zero : m.modelHash,
                                     chunkIndex: UInt32(rng.next() % 6), offset: UInt32(rng.next() % 70_000), length: 1 + UInt32(rng.next() % 70_000))
                fx = s.handle(.message(from: peer, .request(r)), now: now)
            case 4: fx = s.handle(.message(from: peer, .cancel(ChunkCancel(requestID: UInt32(rng.next() % 20)))), now: now)
            case 5: fx = s.handle(.linkDown(peer), now: now)
            default:
                guard !tickets.isEmpty else { continue }
                let (t, offset, length) = tickets.remove(at: Int(rng.next() % UInt64(tickets.count)))
                let ok = Int(offset) + length <= bytes.count && rng.next() % 10 != 0
                fx = s.handle(ok ? .readCompleted(ticket: t, bytes: Array(bytes[Int(offset)..<Int(offset) + length]))
                                 : .readFailed(ticket: t, reason: "x"), now: now)
            }
            for e in fx {
                if case let .read(t, _, offset, length) = e { tickets.append((t, offset, length)) }
                if case let .send(_, .piece(p)) = e { XCTAssertLessThanOrEqual(p.data.count, Limits.maxTransferPieceBytes) }
            }
            for p in peers { XCTAssertLessThanOrEqual(s.readsInFlight(for: p), s.config.readsPerPeer) }
            XCTAssertLessThanOrEqual(s.readsInFlight, s.config.readsInFlight)
        }
    }
}
