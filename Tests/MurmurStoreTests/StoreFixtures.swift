#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurStore

enum StoreFixture {
    static let t0: Int64 = 1_780_000_000_000
    static let hour: Int64 = 3_600_000
    static let client = SigningKey(seed: [UInt8](repeating: 0x22, count: 32))
    static let executors = (1...4).map { SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
    static let model: [UInt8] = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    static var manifestBody: ModelManifest {
        ModelManifest(describing: model, name: "tiny", modelVersion: "1", chunkSize: 4096,
                      inputs: [TensorSpec(name: "x", dtype: .float32, shape: [-1, 4])],
                      outputs: [TensorSpec(name: "y", dtype: .float32, shape: [-1, 3])])
    }

    static func manifest(issuedAt: Int64 = t0) throws -> Record {
        .modelManifest(try manifestBody.signed(by: client, issuedAt: issuedAt, expiresAt: issuedAt + 7 * 24 * hour))
    }

    static func job(nonce: UInt8 = 0, issuedAt: Int64 = t0, life: Int64 = 40_000) throws -> Signed<Job> {
        try Job(modelHash: Hash.of(model), input: [1, 2, 3, nonce], redundancy: 3, quorum: 2, deadline: issuedAt + 30_000,
                nonce: [UInt8](repeating: nonce, count: 16)).signed(by: client, issuedAt: issuedAt, expiresAt: issuedAt + life)
    }

    static func claim(_ job: Signed<Job>, by i: Int, at: Int64) throws -> Record {
        .claim(try Claim(jobID: job.id, leaseExpiry: at + 10_000, stage: 0, rank: UInt16(i))
            .signed(by: executors[i], issuedAt: at, expiresAt: job.expiresAt))
    }

    static func attestation(_ job: Signed<Job>, by i: Int, output: [UInt8], at: Int64) throws -> Signed<Attestation> {
        try Attestation(job: job, output: output, engineVersion: "test", elapsedMicros: 10, stage: 0)
            .signed(by: executors[i], issuedAt: at, expiresAt: at + 24 * hour)
    }

    /// A fresh temporary directory (removed by the caller's `cleanup`).
    static func tempDirectory() -> String {
        var template = Array("/tmp/murmur-store-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return p.map { String(cString: $0) } ?? "/tmp/murmur-store-test-\(getpid())"
    }

    static func removeTree(_ path: String) {
        guard path.hasPrefix("/tmp/murmur-store-test-") else { return }
        if let dir = opendir(path) {
            while let e = readdir(dir) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink(path + "/" + name); removeTree(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}
