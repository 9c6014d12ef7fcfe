import MurmurCore

/// An executor's signed statement: "running model M on input I gave output O". Inference is
/// deterministic, so two attestations for the same model and input with different output
/// hashes prove that one author is wrong. The executor's key is the author.
public struct Attestation: RecordBody {
    public static let kind = RecordKind.attestation
    public static let bodyVersion: UInt8 = 1

    public var jobID: Hash
    public var modelHash: Hash
    public var inputHash: Hash
    /// BLAKE2b-256 of the canonical output bytes.
    public var outputHash: Hash
    public var outputSize: UInt64
    public var engineVersion: String
    /// Wall time the inference took, microseconds.
    public var elapsedMicros: UInt64
    /// 0 for the first round, 1 for the dispute round.
    public var stage: UInt8
    /// The output itself when at most `Limits.maxInlineOutputBytes`; else fetched by hash.
    public var inlineOutput: [UInt8]?

    public init(jobID: Hash, modelHash: Hash, inputHash: Hash, outputHash: Hash, outputSize: UInt64,
                engineVersion: String, elapsedMicros: UInt64, stage: UInt8, inlineOutput: [UInt8]?) {
        self.jobID = jobID; self.modelHash = modelHash; self.inputHash = inputHash; self.outputHash = outputHash
        self.outputSize = outputSize; self.engineVersion = engineVersion; self.elapsedMicros = elapsedMicros
        self.stage = stage; self.inlineOutput = inlineOutput
    }

    /// Attests `output` for `job` (hash and size computed here; inline when small enough).
    public init(job: Signed<Job>, output: [UInt8], engineVersion: String, elapsedMicros: UInt64, stage: UInt8) {
        self.init(jobID: job.id, modelHash: job.body.modelHash, inputHash: job.body.inputHash, outputHash: Hash.of(output),
                  outputSize: UInt64(output.count), engineVersion: engineVersion, elapsedMicros: elapsedMicros, stage: stage,
                  inlineOutput: output.count <= Limits.maxInlineOutputBytes ? output : nil)
    }

    public func encode(into w: inout ByteWriter) {
        w.u8(Self.bodyVersion); w.hash(jobID); w.hash(modelHash); w.hash(inputHash); w.hash(outputHash)
        w.u64(outputSize); w.string16(engineVersion); w.u64(elapsedMicros); w.u8(stage)
        w.optionalBytes(inlineOutput)
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        try Self.readVersion(&r)
        jobID = try r.hash()
        modelHash = try r.hash()
        inputHash = try r.hash()
        outputHash = try r.hash()
        outputSize = try r.u64()
        engineVersion = try r.string16(field: "engine version", max: Limits.maxVersionStringBytes)
        elapsedMicros = try r.u64()
        stage = try r.u8()
        inlineOutput = try r.optionalBytes(field: "inline output", max: Limits.maxInlineOutputBytes)
    }

    public func check(issuedAt: Int64, expiresAt: Int64) throws(RecordError) {
        if stage > 1 { throw .invalid("attestation stage \(stage) (0 or 1)") }
        if engineVersion.utf8.count > Limits.maxVersionStringBytes { throw .invalid("engine version too long") }
        if outputSize > Limits.maxJobOutputBytes { throw .invalid("output size \(outputSize) over the limit \(Limits.maxJobOutputBytes)") }
        if let output = inlineOutput {
            if output.count > Limits.maxInlineOutputBytes { throw .invalid("inline output over \(Limits.maxInlineOutputBytes) bytes") }
            if UInt64(output.count) != outputSize { throw .invalid("inline output is \(output.count) bytes, outputSize says \(outputSize)") }
            if Hash.of(output) != outputHash { throw .invalid("inline output does not match its hash") }
        }
    }
}
