import XCTest
import MurmurCore
import MurmurWire
@testable import MurmurTransfer

/// Whole transfers over the in-memory mesh: what a user cares about is that the assembled file
/// is byte-identical to the published one, that bad peers are dropped, and that the bounds hold.
final class TransferMeshTests: XCTestCase {
    /// Small requests and pieces so that chunks take several requests and requests several pieces.
    static var config: FetcherConfig {
        var c = FetcherConfig()
        c.requestsPerPeer = 2
        c.requestsInFlight = 6
        c.requestBytes = Limits.maxTransferPieceBytes   // 60 KiB: a 128 KiB chunk takes 3 requests
        c.bufferedBytes = Limits.maxModelChunkBytes
        return c
    }

    static var server: ServerConfig {
        var s = ServerConfig()
        s.pieceBytes = 16 * 1024
        return s
    }

    func testSeveralHoldersAndFetchersWithLossCorruptionAndADyingHolder() {
        let (manifest, bytes) = Mesh.model(seed: 11, size: 3 * 1024 * 1024 + 12_345, chunkSize: 128 * 1024)
        // 0–3 hold the model (0 corrupts every piece, 1 dies mid-transfer, 3 is slow to serve);
        // 4–6 fetch it.
        var slow = Self.server
        slow.readsPerPeer = 1
        slow.bytesPerSecondPerPeer = 2 * 1024 * 1024
        slow.burstBytesPerPeer = UInt64(Limits.maxTransferRequestBytes)
        var mesh = Mesh(seed: 7, nodes: 7, fetcher: Self.config, server: Self.server, servers: [3: slow])
        mesh.loss = 0.01
        mesh.linkAll()
        mesh.nodes[0].behaviour = .corrupt
        for h in 0...3 { mesh.give(h, manifest, bytes: bytes) }
        for f in 4...6 { mesh.post(f, .event(.fetch(.start(manifest, verifiedChunks: []))), after: .milliseconds(Int64(f))) }
        mesh.run(until: .milliseconds(Int64(60))) { _ in false }
        mesh.kill(1, detect: .seconds(Int64(20)))   // its links look alive for a while: stalls must be caught by timeouts
        mesh.run(until: .seconds(Int64(600))) { m in (4...6).allSatisfy { !m.nodes[$0].completed.isEmpty } }

        XCTAssertEqual(mesh.violations, [])
        for f in 4...6 {
            let node = mesh.nodes[f]
            XCTAssertEqual(node.completed, [manifest.modelHash], "fetcher \(f): \(node.failed) \(node.refused)")
            XCTAssertTrue(node.files[manifest.modelHash] == bytes, "fetcher \(f): file differs")
            XCTAssertTrue(node.failed.isEmpty)
            XCTAssertFalse(node.dropped.contains(mesh.nodes[2].id), "honest peer dropped")
            XCTAssertFalse(node.progressLines.isEmpty)
        }
        // The corrupting holder was caught by everyone it sent to, and dropped.
        let victims = (4...6).filter { mesh.nodes[$0].penalised[mesh.nodes[0].id] != nil }
        XCTAssertFalse(victims.isEmpty)
        for f in victims { XCTAssertTrue(mesh.nodes[f].dropped.contains(mesh.nodes[0].id), "fetcher \(f) kept the corrupt peer") }
        XCTAssertGreaterThan(mesh.nodes[4...6].map(\.busyRefusalsReceived).reduce(0, +), 0, "the slow holder never said busy")
        XCTAssertLessThanOrEqual(mesh.maxPerPeerSeen, Self.config.requestsPerPeer)
        XCTAssertEqual(mesh.maxInFlightSeen, Self.config.requestsInFlight, "parallelism never reached its limit")
    }

    func testResumeAfterRestartFetchesOnlyMissingChunks() {
        let (manifest, bytes) = Mesh.model(seed: 12, size: 2 * 1024 * 1024 + 1, chunkSize: 64 * 1024)
        let chunks = ModelLayout(manifest).chunkCount
        var mesh = Mesh(seed: 8, nodes: 3, fetcher: Self.config, server: Self.server)
        mesh.linkAll()
        mesh.give(0, manifest, bytes: bytes)
        mesh.give(1, manifest, bytes: bytes)
        mesh.post(2, .event(.fetch(.start(manifest, verifiedChunks: []))))
        mesh.run(until: .seconds(Int64(60))) { m in
            Mesh.verifiedChunks(of: m.nodes[2].partial[manifest.modelHash] ?? [], manifest).count >= chunks / 2
        }
        // "kill -9": the fetcher's memory is gone, the partial file stays. A torn write leaves
        // garbage in one more chunk, which the resume scan must not trust.
        var partial = mesh.nodes[2].partial[manifest.modelHash] ?? []
        let verified = Mesh.verifiedChunks(of: partial, manifest)
        XCTAssertGreaterThanOrEqual(verified.count, chunks / 2)
        XCTAssertLessThan(verified.count, chunks)
        let torn = (0..<chunks).first { !verified.contains($0) } ?? 0
        let start = Int(ModelLayout(manifest).fileOffset(torn))
        if partial.count < start + 10 { partial += [UInt8](repeating: 0, count: start + 10 - partial.count) }
        for k in start..<start + 10 { partial[k] = bytes[k] ^ 1 }
        let rescanned = Mesh.verifiedChunks(of: partial, manifest)
        XCTAssertEqual(rescanned, verified)

        var restarted = Mesh(seed: 9, nodes: 3, fetcher: Self.config, server: Self.server)
        restarted.linkAll()
        restarted.give(0, manifest, bytes: bytes)
        restarted.give(1, manifest, bytes: bytes)
        restarted.nodes[2].partial[manifest.modelHash] = partial
        restarted.post(2, .event(.fetch(.start(manifest, verifiedChunks: rescanned))))
        restarted.run(until: .seconds(Int64(60))) { m in !m.nodes[2].completed.isEmpty }
        XCTAssertEqual(restarted.nodes[2].completed, [manifest.modelHash])
        XCTAssertTrue(restarted.nodes[2].files[manifest.modelHash] == bytes)
        XCTAssertTrue(Set(restarted.nodes[2].requestedChunks).isDisjoint(with: rescanned), "asked again for a verified chunk")
        XCTAssertEqual(Set(restarted.nodes[2].requestedChunks), Set(0..<chunks).subtracting(rescanned))
        XCTAssertEqual(restarted.violations, [])
    }

    func testAFetchWithEveryChunkAlreadyVerifiedOnlyChecksTheFile() {
        let (manifest, bytes) = Mesh.model(seed: 13, size: 300_000, chunkSize: 64 * 1024)
        var mesh = Mesh(seed: 1, nodes: 1, fetcher: Self.config)
        mesh.nodes[0].partial[manifest.modelHash] = bytes
        mesh.post(0, .event(.fetch(.start(manifest, verifiedChunks: Set(0..<ModelLayout(manifest).chunkCount)))))
        mesh.run(until: .seconds(Int64(5))) { m in !m.nodes[0].completed.isEmpty }
        XCTAssertEqual(mesh.nodes[0].completed, [manifest.modelHash])
        XCTAssertTrue(mesh.nodes[0].requestedChunks.isEmpty)
    }

    func testAManifestWithAWrongChunkHashFailsWithoutDroppingHonestPeers() {
        var (manifest, bytes) = Mesh.model(seed: 14, size: 600_000, chunkSize: 64 * 1024)
        manifest.chunkHashes[3] = Hash.of([1, 2, 3])
        var mesh = Mesh(seed: 2, nodes: 5, fetcher: Self.config, server: Self.server)
        mesh.linkAll()
        for h in 0...3 { mesh.give(h, manifest, bytes: bytes) }
        mesh.post(4, .event(.fetch(.start(manifest, verifiedChunks: []))))
        mesh.run(until: .seconds(Int64(60))) { m in !m.nodes[4].failed.isEmpty }
        XCTAssertEqual(mesh.nodes[4].failed.map(\.1), [.manifestSuspect(chunk: 3, peers: 3)])
        XCTAssertTrue(mesh.nodes[4].dropped.isEmpty, "honest holders dropped for the publisher's mistake")
        XCTAssertNil(mesh.nodes[4].partial[manifest.modelHash], "partial file of a suspect manifest kept")
    }

    func testChunksMatchingButWholeFileNotIsAFailure() {
        var (manifest, bytes) = Mesh.model(seed: 15, size: 200_000, chunkSize: 64 * 1024)
        manifest.modelHash = Hash.of([9])   // chunk hashes right, model hash wrong
        var mesh = Mesh(seed: 3, nodes: 2, fetcher: Self.config, server: Self.server)
        mesh.linkAll()
        mesh.give(0, manifest, bytes: bytes)
        mesh.post(1, .event(.fetch(.start(manifest, verifiedChunks: []))))
        mesh.run(until: .seconds(Int64(60))) { m in !m.nodes[1].failed.isEmpty }
        XCTAssertEqual(mesh.nodes[1].failed.map(\.1), [.modelHashMismatch])
        XCTAssertTrue(mesh.nodes[1].completed.isEmpty)
    }

    func testAllHoldersGoneThenOneComesBack() {
        let (manifest, bytes) = Mesh.model(seed: 16, size: 1_000_000, chunkSize: 64 * 1024)
        var mesh = Mesh(seed: 4, nodes: 3, fetcher: Self.config, server: Self.server)
        mesh.linkAll()
        mesh.give(0, manifest, bytes: bytes)
        mesh.post(2, .event(.fetch(.start(manifest, verifiedChunks: []))))
        mesh.run(until: .milliseconds(Int64(40)))
        mesh.kill(0, detect: .milliseconds(Int64(100)))
        mesh.run(until: .seconds(Int64(10)))
        XCTAssertTrue(mesh.nodes[2].completed.isEmpty)
        XCTAssertEqual(mesh.nodes[2].transfer.fetcher.requestsInFlight, 0)
        // A new holder appears (announcement, then a link).
        mesh.give(1, manifest, bytes: bytes)
        mesh.run(until: .seconds(Int64(60))) { m in !m.nodes[2].completed.isEmpty }
        XCTAssertTrue(mesh.nodes[2].files[manifest.modelHash] == bytes)
    }

    func testSameSeedSameRun() {
        func run() -> ([String], Int) {
            let (manifest, bytes) = Mesh.model(seed: 17, size: 700_000, chunkSize: 64 * 1024)
            var mesh = Mesh(seed: 5, nodes: 4, fetcher: Self.config, server: Self.server)
            mesh.loss = 0.02
            mesh.linkAll()
            for h in 0...2 { mesh.give(h, manifest, bytes: bytes) }
            mesh.post(3, .event(.fetch(.start(manifest, verifiedChunks: []))))
            mesh.run(until: .seconds(Int64(120))) { m in !m.nodes[3].completed.isEmpty }
            return (mesh.nodes[3].progressLines, mesh.events)
        }
        let a = run(), b = run()
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1, b.1)
    }

    /// Seeded runs with random faults: a corrupt holder, a silent one, deaths, loss. Every fetcher
    /// ends with the exact bytes, no honest peer is dropped, no bound is exceeded.
    func testRandomFaultsAcrossSeeds() {
        for seed: UInt64 in 1...6 {
            var r = SeededRNG(seed: seed)
            let size = 200_000 + Int(r.next() % 1_500_000)
            let (manifest, bytes) = Mesh.model(seed: seed, size: size, chunkSize: [64, 128, 256][Int(r.next() % 3)] * 1024)
            var mesh = Mesh(seed: seed, nodes: 8, fetcher: Self.config, server: Self.server)
            mesh.loss = Double(r.next() % 5) / 100
            mesh.latencyMs = 1...Int64(1 + r.next() % 50)
            mesh.linkAll()
            mesh.nodes[0].behaviour = .corrupt
            mesh.nodes[1].behaviour = .silent
            for h in 0...4 { mesh.give(h, manifest, bytes: bytes) }
            for f in 5...7 { mesh.post(f, .event(.fetch(.start(manifest, verifiedChunks: []))), after: .milliseconds(Int64(r.next() % 100))) }
            mesh.run(until: .milliseconds(Int64(50 + r.next() % 200)))
            mesh.kill(2 + Int(r.next() % 2), detect: .seconds(Int64(r.next() % 30)))
            mesh.run(until: .seconds(Int64(900))) { m in (5...7).allSatisfy { !m.nodes[$0].completed.isEmpty } }
            XCTAssertEqual(mesh.violations, [], "seed \(seed)")
            for f in 5...7 {
                XCTAssertTrue(mesh.nodes[f].files[manifest.modelHash] == bytes, "seed \(seed) fetcher \(f): \(mesh.nodes[f].failed)")
                let honest = Set([2, 3, 4].map { mesh.nodes[$0].id })
                XCTAssertTrue(mesh.nodes[f].dropped.isDisjoint(with: honest), "seed \(seed): honest peer dropped")
            }
        }
    }

    func testTwoModelsAtOnceFromDifferentHoldersWithAByzantineOne() {
        let (a, aBytes) = Mesh.model(seed: 21, size: 900_000, chunkSize: 128 * 1024, name: "a")
        let (b, bBytes) = Mesh.model(seed: 22, size: 1_300_000, chunkSize: 64 * 1024, name: "b")
        var mesh = Mesh(seed: 6, nodes: 5, fetcher: Self.config, server: Self.server)
        mesh.linkAll()
        mesh.nodes[0].behaviour = .overrun
        mesh.give(0, a, bytes: aBytes); mesh.give(0, b, bytes: bBytes)
        mesh.give(1, a, bytes: aBytes)
        mesh.give(2, b, bytes: bBytes)
        mesh.give(3, a, bytes: aBytes); mesh.give(3, b, bytes: bBytes)
        mesh.post(4, .event(.fetch(.start(a, verifiedChunks: []))))
        mesh.post(4, .event(.fetch(.start(b, verifiedChunks: []))))
        mesh.run(until: .seconds(Int64(120))) { m in m.nodes[4].completed.count == 2 }
        XCTAssertEqual(Set(mesh.nodes[4].completed), [a.modelHash, b.modelHash])
        XCTAssertTrue(mesh.nodes[4].files[a.modelHash] == aBytes)
        XCTAssertTrue(mesh.nodes[4].files[b.modelHash] == bBytes)
        XCTAssertEqual(mesh.nodes[4].dropped, [mesh.nodes[0].id], "the holder sending misplaced pieces")
        XCTAssertEqual(mesh.violations, [])
        // Both models drew on their own holders: every holder served something.
        for h in 1...3 { XCTAssertGreaterThan(mesh.nodes[h].transfer.server.stats.bytesServed, 0, "holder \(h)") }
    }
}
