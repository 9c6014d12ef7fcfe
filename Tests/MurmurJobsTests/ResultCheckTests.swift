import XCTest
import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurJobs

final class ResultCheckTests: XCTestCase {
    func testResultsFromTheMeshVerifyOfflineAndForgeriesDoNot() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2)
        c.run(for: .seconds(Int64(5)))
        guard case let .verified(result)? = c.nodes[0].state(of: job.id) else { return XCTFail() }
        let ok = try ResultCheck.verify(job: job, result: result, output: c.honest(job))
        XCTAssertEqual(ok.executors.count, 3)
        XCTAssertFalse(ok.disputed)

        let enc = result.attestations.map(\.envelope.encoded)
        // Duplicated attestation.
        XCTAssertThrowsError(try ResultCheck.verify(job: job.envelope.encoded, attestations: enc + [enc[0]])) {
            guard case .duplicateExecutor = $0 as? ResultCheck.Failure else { return XCTFail("\($0)") }
        }
        // Forged: one byte changed.
        var forged = enc[1]
        forged[forged.count - 70] ^= 1
        XCTAssertThrowsError(try ResultCheck.verify(job: job.envelope.encoded, attestations: [enc[0], forged, enc[2]])) {
            guard case .attestation(index: 1, .badSignature) = $0 as? ResultCheck.Failure else { return XCTFail("\($0)") }
        }
        // Too few.
        XCTAssertThrowsError(try ResultCheck.verify(job: job.envelope.encoded, attestations: [enc[0]])) {
            XCTAssertEqual($0 as? ResultCheck.Failure, .tooFewAttestations(have: 1, need: 2))
        }
        // Wrong output bytes.
        XCTAssertThrowsError(try ResultCheck.verify(job: job, result: result, output: [0]))
        // An attestation for another job.
        let other = try c.submit(r: 3, q: 2, nonce: 1)
        c.run(for: .seconds(Int64(5)))
        guard case let .verified(otherResult)? = c.nodes[0].state(of: other.id) else { return XCTFail() }
        XCTAssertThrowsError(try ResultCheck.verify(job: job.envelope.encoded, attestations: [enc[0], otherResult.attestations[0].envelope.encoded])) {
            XCTAssertEqual($0 as? ResultCheck.Failure, .notForThisJob(index: 1))
        }
    }

    func testDisputedResultsCarryTheDecidingMajority() throws {
        let c = Cluster(count: 24)
        try c.announceAll()
        let job = try c.submit(r: 3, q: 2, nonce: 4)
        c.lies[c.rankOrder(job.id)[0]] = [0xEE]
        c.run(for: .seconds(Int64(20)))
        guard case let .verified(result)? = c.nodes[c.rankOrder(job.id)[5]].state(of: job.id) else { return XCTFail() }
        let ok = try ResultCheck.verify(job: job, result: result)
        XCTAssertTrue(ok.disputed)
        XCTAssertGreaterThanOrEqual(ok.executors.count, 7)
    }
}
