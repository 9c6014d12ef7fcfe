import MurmurCore
import MurmurWire

extension JobResult {
    /// A verified result rebuilt from stored records (the node's SQLite store after a restart:
    /// a job past its deadline is not re-decided, its stored outcome is shown as it was).
    public init(restoring outputHash: Hash, attestations: [Signed<Attestation>], disputed: Bool) {
        self.init(outputHash: outputHash, attestations: attestations, disputed: disputed)
    }
}
