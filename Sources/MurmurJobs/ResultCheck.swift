import MurmurCore
import MurmurWire

/// Offline check of a job result, trusting nobody (`murmur verify`, clients of the API): the
/// job and every attestation are verified from their signatures alone (Specs/jobs.md, "Checking a
/// result").
public enum ResultCheck {
    /// What a valid result proves.
    public struct Verified: Sendable, Equatable {
        public var jobID: Hash
        public var outputHash: Hash
        /// Distinct executors that attested the output, sorted.
        public var executors: [NodeID]
        /// True when it rests on the dispute round (≥ m = r + 2 agreeing fresh executors).
        public var disputed: Bool
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case job(RecordError)
        case attestation(index: Int, RecordError)
        case notForThisJob(index: Int)
        case modelOrInputMismatch(index: Int)
        case duplicateExecutor(NodeID)
        case outputsDisagree
        case tooFewAttestations(have: Int, need: Int)
        case outputDoesNotMatchHash

        public var description: String {
            switch self {
            case let .job(e): return "job record: \(e)"
            case let .attestation(i, e): return "attestation \(i): \(e)"
            case let .notForThisJob(i): return "attestation \(i) is for another job"
            case let .modelOrInputMismatch(i): return "attestation \(i) names another model or input than the job"
            case let .duplicateExecutor(id): return "executor \(id.short) attests twice: attestations must come from distinct executors"
            case .outputsDisagree: return "attestations name different outputs"
            case let .tooFewAttestations(have, need): return "\(have) attestations, need \(need)"
            case .outputDoesNotMatchHash: return "the output bytes do not match the attested output hash"
            }
        }
    }

    /// Checks `attestations` (encoded records) for `job`: valid signatures and bodies, all for
    /// this job's model and input, distinct executors, one output hash, and either at least q
    /// attestations or at least `disputeMargin` (m = r + 2) dispute-round ones. If `output` is
    /// given, its hash must be the attested one. Clock-free: old results stay checkable.
    public static func verify(job jobBytes: [UInt8], attestations: [[UInt8]], output: [UInt8]? = nil,
                              config: JobsConfig = JobsConfig()) throws(Failure) -> Verified {
        let job: Signed<Job>
        do throws(RecordError) {
            job = try Signed<Job>(try SignedRecord(decoding: jobBytes))
        } catch {
            throw .job(error)
        }
        var executors = Set<NodeID>()
        var outputs = Set<Hash>()
        var disputeRound = 0
        for (i, bytes) in attestations.enumerated() {
            let a: Signed<Attestation>
            do throws(RecordError) {
                a = try Signed<Attestation>(try SignedRecord(decoding: bytes))
            } catch {
                throw .attestation(index: i, error)
            }
            if a.body.jobID != job.id { throw .notForThisJob(index: i) }
            if a.body.modelHash != job.body.modelHash || a.body.inputHash != job.body.inputHash { throw .modelOrInputMismatch(index: i) }
            if !executors.insert(a.author).inserted { throw .duplicateExecutor(a.author) }
            outputs.insert(a.body.outputHash)
            if a.body.stage != 0 { disputeRound += 1 }
        }
        guard outputs.count <= 1 else { throw .outputsDisagree }
        let r = Int(job.body.redundancy)
        let dispute = config.disputeMargin(r: r)
        let disputed = disputeRound >= dispute
        // Without a decided dispute, every agreeing attestation counts toward q whatever its
        // stage: a view that ranks an excluded liar lower takes a dispute decider's attestation
        // as a first-round one (Specs/jobs.md, "Views differ").
        if !disputed && executors.count < Int(job.body.quorum) {
            throw .tooFewAttestations(have: executors.count, need: Int(job.body.quorum))
        }
        guard let outputHash = outputs.first else { throw .tooFewAttestations(have: 0, need: Int(job.body.quorum)) }
        if let output, Hash.of(output) != outputHash { throw .outputDoesNotMatchHash }
        return Verified(jobID: job.id, outputHash: outputHash, executors: executors.sorted(), disputed: disputed)
    }

    /// The same check on a verified `JobResult` from the state machine.
    public static func verify(job: Signed<Job>, result: JobResult, output: [UInt8]? = nil,
                              config: JobsConfig = JobsConfig()) throws(Failure) -> Verified {
        try verify(job: job.envelope.encoded, attestations: result.attestations.map(\.envelope.encoded), output: output, config: config)
    }
}
