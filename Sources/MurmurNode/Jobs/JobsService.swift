#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurInference
import MurmurJobs
import MurmurStore
import MurmurTransfer
import MurmurWire
import Synchronization

/// Loaded models shared by the loop and the workers (loading happens on a worker).
public final class LoadedModels: Sendable {
    private let models = Mutex<[Hash: InferenceModel]>([:])
    public init() {}
    public func get(_ hash: Hash) -> InferenceModel? { models.withLock { $0[hash] } }
    public func put(_ model: InferenceModel) { models.withLock { $0[model.modelHash] = model } }

    /// The model, loading `path` (checked against `hash`) on first use. Call on a worker.
    public func load(_ hash: Hash, path: String, size: UInt64) -> Result<InferenceModel, ModelStore.StoreError> {
        if let m = get(hash) { return .success(m) }
        do {
            let bytes = try ModelStore.readFile(path, limit: Int(clamping: size))
            guard Hash.of(bytes) == hash else { return .failure(.hashMismatch(expected: hash, actual: Hash.of(bytes))) }
            let model = try ModelStore.load(bytes)
            put(model)
            return .success(model)
        } catch {
            return .failure(error)
        }
    }
}

/// Why `murmur publish` was refused, in words.
public struct PublishRefusal: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// How a node runs jobs: `JobsNode` (MurmurJobs) hosted on the node. Records come from gossip
/// (`GossipService.onDeliver` → `enqueue`, drained on the loop as a `.delivered` event); the
/// machine's `publish` effects go back to gossip (`GossipService.publishTag`); its timers become
/// node timers; inference runs on the `WorkQueue` and answers through `Node.inbox`.
///
/// The machine's clock is the wall clock (ns since the Unix epoch, Specs/jobs.md); node timers
/// are on the loop's monotonic clock, so timer instants are converted at the moment they are set.
public final class JobsService: NodeProtocol {
    public let messageTypes: ClosedRange<UInt8> = MessageType.jobsRange

    /// `.delivered` tags this service understands.
    public static let drainTag: UInt64 = 0x6A6F_6273_6472_6E31       // "jobsdrn1"
    public static let resultTag: UInt64 = 0x6A6F_6273_7273_6C31      // "jobsrsl1"
    public static let refreshTag: UInt64 = 0x6A6F_6273_7266_7331     // "jobsrfs1"
    public static let publishedTag: UInt64 = 0x6A6F_6273_7075_6231   // "jobspub1"
    public static let timeLimitTag: UInt64 = 0x6A6F_6273_746C_6D31   // "jobstlm1"
    public static let fetchTimeoutTag: UInt64 = 0x6A6F_6273_6674_6F31 // "jobsfto1"
    public static let fetchOutputTag: UInt64 = 0x6A6F_6273_666F_7531  // "jobsfou1"

    public private(set) var jobs: JobsNode
    public let identity: SigningKey
    public let store: ModelStore
    public let loadedModels: LoadedModels
    public let workers: WorkQueue
    public unowned let node: Node
    public let slots: Int
    /// Inference times of this node's executions (`GET /metrics`, `murmur_inference_seconds`).
    public private(set) var inferenceTimes = InferenceTimes()
    /// Test-only: this node attests a wrong output (the demo's and tests' liar).
    public var lies = false
    /// Test-only: each inference waits this long first (so that the demo can kill an executor
    /// in the middle of a job).
    public var inferenceDelay = TimeSpan.zero
    /// Called (on the loop) when the held models changed: re-announce.
    public var onModelsChanged: (() -> Void)?
    /// Called (on the loop, outside any protocol's handling) for a model this node published.
    public var onModelPublished: ((Signed<ModelManifest>) -> Void)?
    /// Called (on the loop) for log-worthy events (CLI prints them with -v).
    public var log: ((String) -> Void)?
    /// Per-job limits (Specs/node-jobs.md §5): an execution still running after this (or after
    /// the job's deadline, if sooner) is abandoned; a model whose file is larger than
    /// `memoryCapBytes` is refused (nil: no cap).
    public var executionTimeLimit = JobsLimits.defaultExecutionTime
    public var memoryCapBytes: UInt64?
    /// Durable state (SQLite): job states, exclusions, accepted job records. Nil: memory only.
    public weak var persistence: JobsPersistence?
    /// Final states read back from the store on start, shown when the machine cannot decide
    /// again (a replayed job past its deadline reads `seenAfterDeadline`). Bounded by the store.
    private var restoredStates: [Hash: JobState] = [:]

    private var pendingRecords: [Record] = []
    private var drainScheduled = false
    private var timerIDs: [Hash: UInt64] = [:]
    private var timerJobs: [UInt64: Hash] = [:]
    private var nextTimerID: UInt64 = 1
    private var running: Set<Hash> = []
    /// Job records this node knows (the API answers for them), bounded.
    public private(set) var jobRecords: [Hash: Signed<Job>] = [:]
    private var jobOrder: [Hash] = []
    /// Output bytes by output hash (local inference or inline in an attestation), bounded.
    private var outputs: [Hash: [UInt8]] = [:]
    private var outputOrder: [Hash] = []
    private var waiters: [Hash: [(Instant, (JobsService) -> Void)]] = [:]
    private var publishWaiters: [UInt64: (Result<Signed<ModelManifest>, PublishRefusal>) -> Void] = [:]
    private var nextPublish: UInt64 = 1
    public private(set) var counters = Counters()
    /// Free-slot re-announcement (rate-limited): whether the last announcement this service
    /// asked for showed free slots, when it was asked for, and whether a check is scheduled.
    private var announcedFree = true
    private var lastSlotAnnounce = Instant(nanoseconds: Int64.min / 2)
    private var slotCheckScheduled = false
    /// Loop instant since which the node has had no free slot (nil: it has one).
    private var fullSince: Instant?
    /// The time-limit timer of each running inference.
    private var timeLimitTimers: [Hash: LoopToken] = [:]
    /// Outputs over the inline limit being fetched from their executors, by output hash
    /// (Specs/node-jobs.md §7), and the jobs whose `?wait` answers wait for them.
    private var outputFetches: [Hash: OutputFetch] = [:]
    private var connectedPeers: Set<NodeID> = []
    private var outputBytesKept = 0

    struct OutputFetch {
        var assembly: BlobAssembly
        /// Attesters still to ask, in order; `asking` is the current one.
        var sources: [NodeID]
        var asking: NodeID?
        var requestSerial: UInt64 = 0
        var jobs: Set<Hash>
        /// Jobs whose inference waits for this blob as its input.
        var inputFor: [Signed<Job>] = []
    }
    /// Jobs this node executes whose input is being fetched (a cancel removes them).
    private var awaitingInput: Set<Hash> = []

    public struct Counters: Sendable {
        public var inferencesRun = 0, inferencesFailed = 0, inferencesRefused = 0, resultsDropped = 0
        public var recordsIn = 0, published = 0, timeLimited = 0, slotAnnouncements = 0
        public var outputsFetched = 0, outputFetchesFailed = 0, blobChunksServed = 0
    }

    /// Output bytes kept for the API and for peers fetching them, all outputs together.
    public static let maxOutputBytesKept = 256 * 1024 * 1024
    /// An unanswered chunk request moves on to the next attester after this.
    public static let blobRequestTimeout = TimeSpan.seconds(Int64(5))

    public static let maxKnownJobs = 4096
    public static let maxOutputs = 1024

    public init(identity: SigningKey, node: Node, store: ModelStore, workers: WorkQueue, slots: Int,
                config: JobsConfig? = nil, excluded: Set<NodeID> = []) {
        self.identity = identity
        self.node = node
        self.store = store
        self.workers = workers
        self.slots = slots
        loadedModels = LoadedModels()
        var c = config ?? JobsConfig()
        c.maxConcurrentExecutions = slots
        // Inference on a node is usually far faster than a gossip round: hold first claims.
        if c.claimDelay == .zero { c.claimDelay = JobsLimits.heldClaimDelay }
        c.engineVersion = "murmur/\(MurmurVersion.software)"
        jobs = JobsNode(key: identity, config: c, excluded: excluded)
    }

    /// Wall clock as the machine's `now`.
    public static func wallNow() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    /// Free execution slots as announced: "full" (0) only once the node has had no free slot
    /// for `JobsLimits.slotSettle`. A momentary full state (inferences of microseconds) in a
    /// periodic announcement would make other nodes rank around this one while it does not,
    /// and a job whose entry node still counts on it then waits out the 3 s claim grace.
    public var freeSlots: Int {
        let free = max(0, slots - jobs.runningExecutions)
        if free > 0 { return free }
        guard let since = fullSince else { return 1 }
        return node.loop.now - since >= JobsLimits.slotSettle ? 0 : 1
    }

    // MARK: feeding records (loop thread, from gossip's delivery callback)

    /// Takes a delivered record; the machine sees it at the end of this loop iteration (gossip is
    /// in the middle of handling an event now).
    /// - Parameter validated: the same record as gossip validated it (`GossipService.delivering`),
    ///   which spares decoding and checking its body again.
    public func enqueue(_ envelope: SignedRecord, validated: Record? = nil) {
        guard let record = validated.flatMap({ $0.id == envelope.id ? $0 : nil }) ?? (try? Record(envelope)) else { return }
        switch record {
        case let .job(j): remember(j)
        case let .attestation(a):
            if let out = a.body.inlineOutput, Hash.of(out) == a.body.outputHash { keepOutput(a.body.outputHash, out) }
        case let .modelManifest(m): store.learn(m)
        default: break
        }
        pendingRecords.append(record)
        scheduleDrain()
    }

    /// A record this node published itself: its jobs, manifests and announcements must reach
    /// the machine too (its claims, attestations and verdicts are already applied there).
    public func enqueueLocal(_ envelope: SignedRecord) {
        switch envelope.kind {
        case .job, .modelManifest, .nodeAnnouncement: enqueue(envelope)
        default: break
        }
    }

    private func scheduleDrain() {
        guard !drainScheduled else { return }
        drainScheduled = true
        node.loop.atEndOfIteration { [weak self] in
            guard let self else { return }
            self.node.deliverLocally(NodeDelivery(tag: Self.drainTag, payload: []))
        }
    }

    private func remember(_ job: Signed<Job>) {
        guard jobRecords[job.id] == nil else { return }
        jobRecords[job.id] = job
        jobOrder.append(job.id)
        if jobOrder.count > Self.maxKnownJobs {
            let old = jobOrder.removeFirst()
            jobRecords[old] = nil
        }
    }

    private func keepOutput(_ hash: Hash, _ bytes: [UInt8]) {
        guard outputs[hash] == nil else { return }
        outputs[hash] = bytes
        outputOrder.append(hash)
        outputBytesKept += bytes.count
        while outputOrder.count > Self.maxOutputs || (outputBytesKept > Self.maxOutputBytesKept && outputOrder.count > 1) {
            let old = outputOrder.removeFirst()
            outputBytesKept -= outputs.removeValue(forKey: old)?.count ?? 0
        }
    }

    public func output(_ hash: Hash) -> [UInt8]? { outputs[hash] }

    /// An input over `Limits.maxInlineInputBytes` that this (entry) node signs a job for: kept
    /// by hash so that the executors can fetch it (Specs/node-jobs.md §7). Call before gossiping
    /// the job record.
    public func offerInput(_ bytes: [UInt8]) { keepOutput(Hash.of(bytes), bytes) }

    private func verifiedOutput(_ state: JobState) -> [UInt8]? {
        if case let .verified(r) = state { return outputs[r.outputHash] }
        return nil
    }

    // MARK: NodeProtocol

    public func handle(_ event: ProtocolEvent, now loopNow: Instant) -> [ProtocolEffect] {
        var out: [ProtocolEffect] = []
        let now = Self.wallNow()
        switch event {
        case let .timer(id):
            guard let job = timerJobs.removeValue(forKey: id) else { break }
            timerIDs[job] = nil
            run(.timer(jobID: job), now: now, loopNow: loopNow, into: &out)
        case let .delivered(tag, payload):
            switch tag {
            case Self.drainTag:
                drainScheduled = false
                let records = pendingRecords
                pendingRecords.removeAll()
                for r in records {
                    counters.recordsIn += 1
                    run(.record(r), now: now, loopNow: loopNow, into: &out)
                }
            case Self.resultTag:
                resultArrived(payload, now: now, loopNow: loopNow, into: &out)
            case Self.refreshTag:
                guard let value = Bytes32(payload) else { break }
                apply(jobs.refresh(Hash(value), now: now), now: now, loopNow: loopNow, into: &out)
            case Self.publishedTag:
                publishFinished(payload)
            case Self.fetchOutputTag:
                guard let value = Bytes32(payload) else { break }
                let job = Hash(value)
                if let state = jobs.state(of: job), !fetchOutputIfNeeded(job, state, into: &out) { wake(job) }
            case Self.fetchTimeoutTag:
                var r = ByteReader(payload)
                guard let value = try? r.bytes32(), let serial = try? r.u64(), outputFetches[Hash(value)]?.requestSerial == serial else { break }
                nextSource(Hash(value), into: &out)
            case Self.timeLimitTag:
                guard let value = Bytes32(payload), running.remove(Hash(value)) != nil else { break }
                counters.timeLimited += 1
                let reason = "time limit exceeded (\(executionTimeLimit.milliseconds) ms or the deadline): abandoned"
                log?("job \(Hash(value).short): \(reason)")
                run(.inferenceFailed(jobID: Hash(value), reason: reason), now: now, loopNow: loopNow, into: &out)
            default: break
            }
        case let .peerConnected(link):
            connectedPeers.insert(link.peer)
            for (hash, f) in outputFetches where f.asking == link.peer { ask(hash, into: &out) }
        case let .peerDisconnected(peer, _):
            connectedPeers.remove(peer)
            for (hash, f) in outputFetches where f.asking == peer { nextSource(hash, into: &out) }
        case let .message(from, type, payload):
            blobMessage(from: from, type: type.rawValue, payload: payload, into: &out)
        default:
            break
        }
        expireWaiters(loopNow)
        noteFreeSlots(loopNow)
        return out
    }

    /// Asks for a fresh announcement when the node went from free to full or back and stayed
    /// so for `JobsLimits.slotSettle`, at most once per `JobsLimits.slotAnnounceEvery` (a
    /// momentary full node must not make every view rank around it).
    private func noteFreeSlots(_ loopNow: Instant) {
        let hasFree = slots > jobs.runningExecutions
        if hasFree { fullSince = nil } else if fullSince == nil { fullSince = loopNow }
        guard hasFree != announcedFree, !slotCheckScheduled else { return }
        slotCheckScheduled = true
        let at = max(loopNow + JobsLimits.slotSettle, lastSlotAnnounce + JobsLimits.slotAnnounceEvery)
        _ = node.loop.schedule(at: at) { [weak self] in
            guard let self else { return }
            self.slotCheckScheduled = false
            let free = self.freeSlots > 0
            guard free != self.announcedFree else { return }
            self.announcedFree = free
            self.lastSlotAnnounce = self.node.loop.now
            self.counters.slotAnnouncements += 1
            self.onModelsChanged?()
        }
    }

    private func run(_ event: JobsEvent, now: Instant, loopNow: Instant, into out: inout [ProtocolEffect]) {
        apply(jobs.handle(event, now: now), now: now, loopNow: loopNow, into: &out)
    }

    private func apply(_ effects: [JobsEffect], now: Instant, loopNow: Instant, into out: inout [ProtocolEffect]) {
        var followUps: [JobsEvent] = []
        for effect in effects {
            switch effect {
            case let .runInference(job, _):
                if let failure = startInference(job, into: &out) { followUps.append(.inferenceFailed(jobID: job.id, reason: failure)) }
            case let .cancelInference(id):
                running.remove(id)
                awaitingInput.remove(id)
                if let token = timeLimitTimers.removeValue(forKey: id) { node.loop.cancelTimer(token) }
            case let .publish(record):
                counters.published += 1
                let bytes = record.encoded
                node.loop.atEndOfIteration { [weak self] in
                    self?.node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: bytes))
                }
            case let .setTimer(job, at):
                if let old = timerIDs[job] { out.append(.cancelTimer(id: old)); timerJobs[old] = nil }
                let id = nextTimerID
                nextTimerID &+= 1
                timerIDs[job] = id
                timerJobs[id] = job
                out.append(.setTimer(id: id, at: loopNow + (at - now)))
            case let .stateChanged(job, state):
                persistence?.jobStateChanged(job, state, output: verifiedOutput(state))
                if state.isFinal && (waiters[job] == nil || !fetchOutputIfNeeded(job, state, into: &out)) { wake(job) }
                log?("job \(job.short) \(state)")
            case let .excluded(peer, evidence):
                persistence?.nodeExcluded(peer, evidence: evidence)
                log?("excluding \(peer.short): proven wrong by \(evidence.short)")
            case let .trace(event):
                out.append(.trace(event))
            }
        }
        for event in followUps { run(event, now: now, loopNow: loopNow, into: &out) }
    }

    // MARK: inference

    /// Queues the inference; a reason when it cannot even start.
    private func startInference(_ job: Signed<Job>, into out: inout [ProtocolEffect]) -> String? {
        let hash = job.body.modelHash
        guard let manifest = store.held[hash] else { return "model \(hash.short) not held here" }
        let input: [UInt8]
        if let inline = job.body.inlineInput {
            input = inline
        } else if let held = outputs[job.body.inputHash] {
            input = held
        } else {
            return fetchInput(job, into: &out)
        }
        if let cap = memoryCapBytes, manifest.body.size + UInt64(input.count) > cap {
            return "model \(hash.short) (\(manifest.body.size) bytes) is over this node's memory cap of \(cap) bytes"
        }
        let path = store.path(of: hash)
        let models = loadedModels
        let inbox = node.inbox
        let jobID = job.id
        let lies = self.lies
        let delayMicros = UInt32(clamping: inferenceDelay.nanoseconds / 1000)
        // The run stops between operators at the same limit the loop's timer enforces, so an
        // abandoned job does not keep its worker (queue time counts, as for the timer).
        let untilDeadline = TimeSpan(nanoseconds: max(0, (job.body.deadline - Self.wallNow().unixMs) * 1_000_000))
        let limit = min(executionTimeLimit, untilDeadline)
        let stopAt = Posix.monotonicNanoseconds() &+ limit.nanoseconds
        let shouldStop: @Sendable () -> Bool = { Posix.monotonicNanoseconds() >= stopAt }
        running.insert(jobID)
        let accepted = workers.submit {
            if delayMicros > 0 { usleep(delayMicros) }
            let started = Posix.monotonicNanoseconds()
            var w = ByteWriter()
            w.raw(jobID.bytes)
            switch models.load(hash, path: path, size: manifest.body.size) {
            case let .failure(e):
                w.u8(1); w.u64(0); w.raw(Array("\(e)".utf8))
            case let .success(model):
                do {
                    let feeds = try InputJSON.parse(input, for: model.inputs)
                    let result = try model.run(feeds, shouldStop: shouldStop)
                    var bytes = OutputHash.encode(result.outputs)
                    if lies, !bytes.isEmpty { bytes[bytes.count - 1] ^= 0x5A }
                    w.u8(0); w.u64(UInt64(max(0, Posix.monotonicNanoseconds() - started))); w.raw(bytes)
                } catch {
                    w.u8(1); w.u64(0); w.raw(Array("\(error)".utf8))
                }
            }
            let delivery = NodeDelivery(tag: JobsService.resultTag, payload: w.bytes)
            for _ in 0..<1000 {
                if inbox.send(delivery) { return }
                usleep(1000)
            }
        }
        if !accepted {
            running.remove(jobID)
            counters.inferencesRefused += 1
            return "inference queue full"
        }
        // Past the limit the machine is told it failed (it releases its claim); the run itself
        // stops at its next operator, and a late result is dropped when it comes.
        timeLimitTimers[jobID] = node.loop.schedule(after: limit) { [weak self] in
            guard let self else { return }
            self.timeLimitTimers[jobID] = nil
            guard self.running.contains(jobID) else { return }
            self.node.deliverLocally(NodeDelivery(tag: Self.timeLimitTag, payload: jobID.bytes))
        }
        return nil
    }

    private func resultArrived(_ payload: [UInt8], now: Instant, loopNow: Instant, into out: inout [ProtocolEffect]) {
        guard payload.count >= 41, let value = Bytes32(payload[0..<32]) else { return }
        let jobID = Hash(value)
        if let token = timeLimitTimers.removeValue(forKey: jobID) { node.loop.cancelTimer(token) }
        guard running.remove(jobID) != nil else { counters.resultsDropped += 1; return }
        var elapsed: UInt64 = 0
        for b in payload[33..<41] { elapsed = elapsed << 8 | UInt64(b) }
        let rest = Array(payload[41...])
        if payload[32] == 0 {
            counters.inferencesRun += 1
            inferenceTimes.observe(seconds: Double(elapsed) / 1e9)
            keepOutput(Hash.of(rest), rest)
            run(.inferenceFinished(jobID: jobID, output: rest, elapsed: TimeSpan(nanoseconds: Int64(clamping: elapsed))),
                now: now, loopNow: loopNow, into: &out)
        } else {
            counters.inferencesFailed += 1
            let reason = String(decoding: rest, as: UTF8.self)
            log?("inference for job \(jobID.short) failed: \(reason)")
            run(.inferenceFailed(jobID: jobID, reason: reason), now: now, loopNow: loopNow, into: &out)
        }
    }

    // MARK: publishing models

    /// Loads, stores and signs a model on a worker; `done` is called on the loop with the signed
    /// manifest (already gossiped and announced) or the reason it was refused.
    public func publishModel(path: String, name: String?, done: @escaping (Result<Signed<ModelManifest>, PublishRefusal>) -> Void) {
        let id = nextPublish
        nextPublish += 1
        publishWaiters[id] = done
        let identity = self.identity
        let dir = store.directory
        let models = loadedModels
        let inbox = node.inbox
        let accepted = workers.submit {
            var w = ByteWriter()
            w.u64(id)
            do {
                let bytes = try ModelStore.readFile(path, limit: Int(Int32.max))
                let model = try ModelStore.load(bytes)
                let base = String(path.split(separator: "/").last ?? "model")
                let modelName = name ?? (base.hasSuffix(".onnx") ? String(base.dropLast(5)) : base)
                let manifest = ModelManifest.describing(bytes, model: model, name: modelName,
                                                        chunkSize: TransferDefaults.chunkSize(forModelSize: UInt64(bytes.count)))
                let nowMs = JobsService.wallNow().unixMs
                let record = try SignedRecord.sign(manifest, by: identity, issuedAt: nowMs,
                                                   expiresAt: nowMs + RecordKind.modelManifest.maxLifetimeMs)
                let hex = manifest.modelHash.hex
                try ModelStore.writeFile(dir + "/" + hex, bytes)
                try ModelStore.writeFile(dir + "/" + hex + ".manifest", record.encoded)
                models.put(model)
                w.u8(0); w.raw(record.encoded)
            } catch {
                w.u8(1); w.raw(Array("\(error)".utf8))
            }
            let delivery = NodeDelivery(tag: JobsService.publishedTag, payload: w.bytes)
            for _ in 0..<1000 {
                if inbox.send(delivery) { return }
                usleep(1000)
            }
        }
        if !accepted {
            publishWaiters[id] = nil
            done(.failure(PublishRefusal("the node's work queue is full; try again")))
        }
    }

    private func publishFinished(_ payload: [UInt8]) {
        var r = ByteReader(payload)
        guard let id = try? r.u64(), let status = try? r.u8(), let done = publishWaiters.removeValue(forKey: id) else { return }
        let rest = Array(payload[9...])
        guard status == 0 else { done(.failure(PublishRefusal(String(decoding: rest, as: UTF8.self)))); return }
        do {
            let manifest = try Signed<ModelManifest>(try SignedRecord(decoding: rest))
            store.markHeld(manifest)
            node.loop.atEndOfIteration { [weak self] in
                self?.node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: rest))
                self?.onModelPublished?(manifest)
                self?.onModelsChanged?()
            }
            done(.success(manifest))
        } catch {
            done(.failure(PublishRefusal("signed manifest does not decode: \(error)")))
        }
    }

    /// A model fetched or found on disk is held: announce it.
    public func modelsChanged() { onModelsChanged?() }

    // MARK: durability (loop thread)

    /// Commits the job record to the store (Specs/store.md, "commit before 202"), then publishes
    /// it. Throws — and publishes nothing — when it cannot be made durable: answer 503, not 202.
    /// Without a store it only publishes.
    @discardableResult
    public func submitDurably(_ record: SignedRecord, offeredInput: [UInt8]? = nil) throws(StoreError) -> Hash {
        try persistence?.persistNow(record, blob: offeredInput)
        if let offeredInput { offerInput(offeredInput) }
        node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: record.encoded))
        return record.id
    }

    /// Final states and outputs read back from the store on start (`NodePersistence.replay`).
    public func restore(finalStates: [Hash: JobState], outputs restoredOutputs: [Hash: [UInt8]]) {
        for (id, state) in finalStates.prefix(Self.maxKnownJobs) where state.isFinal { restoredStates[id] = state }
        for (hash, bytes) in restoredOutputs { keepOutput(hash, bytes) }
    }

    // MARK: API queries (loop thread)

    /// Lets the machine catch up with time for this job (timers may lag), performing effects.
    public func refreshNow(_ job: Hash) {
        node.deliverLocally(NodeDelivery(tag: Self.refreshTag, payload: job.bytes))
    }

    public func state(of job: Hash) -> JobState? {
        let live = jobs.state(of: job)
        if let restored = restoredStates[job], live == nil || live == .failed(.seenAfterDeadline) { return restored }
        if let s = live { return s }
        return jobRecords[job] != nil ? .pending : nil
    }

    /// Calls `body` when the job is final or at `until` (loop instant), whichever first.
    public func whenFinal(_ job: Hash, until: Instant, _ body: @escaping (JobsService) -> Void) {
        if state(of: job)?.isFinal == true && !awaitingOutput(job) {
            guard needsOutputFetch(job) else { body(self); return }
            // Verified with an output that did not travel inline: fetch it first (§7).
            node.deliverLocally(NodeDelivery(tag: Self.fetchOutputTag, payload: job.bytes))
        }
        waiters[job, default: []].append((until, body))
        _ = node.loop.schedule(at: until) { [weak self] in self?.expireWaiters(until) }
    }

    private func wake(_ job: Hash) {
        guard let list = waiters.removeValue(forKey: job) else { return }
        node.loop.atEndOfIteration { [weak self] in
            guard let self else { return }
            for (_, body) in list { body(self) }
        }
    }

    private func expireWaiters(_ loopNow: Instant) {
        for (job, list) in waiters {
            let due = list.filter { $0.0 <= loopNow }
            guard !due.isEmpty else { continue }
            let keep = list.filter { $0.0 > loopNow }
            waiters[job] = keep.isEmpty ? nil : keep
            node.loop.atEndOfIteration { [weak self] in
                guard let self else { return }
                for (_, body) in due { body(self) }
            }
        }
    }
}

// MARK: outputs over the inline limit (Specs/node-jobs.md §7)

extension JobsService {
    /// Starts fetching a verified job's output from its attesters when it did not travel inline.
    /// True when the job's waiters must wait for it.
    private func fetchOutputIfNeeded(_ job: Hash, _ state: JobState, into out: inout [ProtocolEffect]) -> Bool {
        guard case let .verified(result) = state, outputs[result.outputHash] == nil,
              let size = result.attestations.first?.body.outputSize, size > 0, size <= UInt64(Limits.maxFetchedBlobBytes) else { return false }
        let hash = result.outputHash
        if outputFetches[hash] != nil {
            outputFetches[hash]?.jobs.insert(job)
            return true
        }
        let sources = result.attesters.filter { $0 != identity.publicKey }
        guard !sources.isEmpty else { return false }
        outputFetches[hash] = OutputFetch(assembly: BlobAssembly(hash: hash, total: size), sources: sources, asking: nil, jobs: [job])
        nextSource(hash, into: &out)
        return outputFetches[hash] != nil
    }

    private func needsOutputFetch(_ job: Hash) -> Bool {
        guard case let .verified(result)? = jobs.state(of: job), outputs[result.outputHash] == nil,
              let size = result.attestations.first?.body.outputSize else { return false }
        return size > 0 && size <= UInt64(Limits.maxFetchedBlobBytes) && result.attesters.contains { $0 != identity.publicKey }
    }

    private func awaitingOutput(_ job: Hash) -> Bool {
        outputFetches.values.contains { $0.jobs.contains(job) }
    }

    /// Moves the fetch to its next attester (starting over: each serves the whole output), or
    /// gives up and answers the waiting jobs without the output.
    private func nextSource(_ hash: Hash, into out: inout [ProtocolEffect]) {
        guard var f = outputFetches[hash] else { return }
        guard !f.sources.isEmpty else {
            outputFetches[hash] = nil
            counters.outputFetchesFailed += 1
            log?("blob \(hash.short): no peer served it")
            for job in f.jobs { wake(job) }
            inputArrived(f.inputFor, bytes: nil, into: &out)
            return
        }
        f.asking = f.sources.removeFirst()
        f.assembly = BlobAssembly(hash: hash, total: f.assembly.total)
        outputFetches[hash] = f
        ask(hash, into: &out)
    }

    /// Sends the next chunk request to the current attester (dialling it first if needed).
    private func ask(_ hash: Hash, into out: inout [ProtocolEffect]) {
        guard var f = outputFetches[hash], let peer = f.asking, let request = f.assembly.nextRequest else { return }
        f.requestSerial &+= 1
        outputFetches[hash] = f
        if connectedPeers.contains(peer) {
            out.append(.send(to: peer, type: MessageType(request.type), payload: request.payload))
        } else if let text = jobs.directory.announcements[peer]?.body.addresses.first, let address = try? SocketAddress(parsing: text) {
            out.append(.connect(address, expectedPeer: peer))
        }
        var w = ByteWriter(capacity: 40)
        w.hash(hash); w.u64(f.requestSerial)
        let payload = w.bytes
        _ = node.loop.schedule(after: Self.blobRequestTimeout) { [weak self] in
            self?.node.deliverLocally(NodeDelivery(tag: Self.fetchTimeoutTag, payload: payload))
        }
    }

    private func blobMessage(from peer: NodeID, type: UInt8, payload: [UInt8], into out: inout [ProtocolEffect]) {
        guard let message = try? BlobMessage(type: type, payload: payload) else {
            out.append(.log("jobs: undecodable message 0x\(String(type, radix: 16)) from \(peer.short)"))
            return
        }
        if case .request = message {
            let answer = BlobAssembly.answer(message, from: outputs[message.hash])
            if case .chunk = answer { counters.blobChunksServed += 1 }
            out.append(.send(to: peer, type: MessageType(answer.type), payload: answer.payload))
            return
        }
        guard var f = outputFetches[message.hash], f.asking == peer else { return }
        switch f.assembly.take(message) {
        case .more:
            outputFetches[message.hash] = f
            ask(message.hash, into: &out)
        case .complete:
            outputFetches[message.hash] = nil
            counters.outputsFetched += 1
            keepOutput(message.hash, f.assembly.bytes)
            for job in f.jobs { wake(job) }
            inputArrived(f.inputFor, bytes: f.assembly.bytes, into: &out)
        case let .bad(why):
            log?("output \(message.hash.short) from \(peer.short): \(why)")
            f.asking = nil
            outputFetches[message.hash] = f
            nextSource(message.hash, into: &out)
        }
    }

    /// Starts fetching a job's input from the job's author (the entry node, which offered it);
    /// nil while it is fetched (the inference is started when it arrives), or why it cannot be.
    private func fetchInput(_ job: Signed<Job>, into out: inout [ProtocolEffect]) -> String? {
        let hash = job.body.inputHash, size = job.body.inputSize
        guard size > 0, size <= UInt64(Limits.maxFetchedBlobBytes) else {
            return "input of \(size) bytes is over the fetch limit of \(Limits.maxFetchedBlobBytes) bytes"
        }
        guard job.author != identity.publicKey else { return "input \(hash.short) is not held here" }
        awaitingInput.insert(job.id)
        if outputFetches[hash] != nil {
            outputFetches[hash]?.inputFor.append(job)
            return nil
        }
        var f = OutputFetch(assembly: BlobAssembly(hash: hash, total: size), sources: [job.author], asking: nil, jobs: [])
        f.inputFor = [job]
        outputFetches[hash] = f
        nextSource(hash, into: &out)
        return nil
    }

    /// The input of these jobs arrived (or could not be had): run them, or tell the machine.
    private func inputArrived(_ jobsWaiting: [Signed<Job>], bytes: [UInt8]?, into out: inout [ProtocolEffect]) {
        let now = Self.wallNow(), loopNow = node.loop.now
        for job in jobsWaiting where awaitingInput.remove(job.id) != nil {
            let failure = bytes == nil ? "input \(job.body.inputHash.short) could not be fetched from the job's author"
                                       : startInference(job, into: &out)
            if let failure { run(.inferenceFailed(jobID: job.id, reason: failure), now: now, loopNow: loopNow, into: &out) }
        }
    }
}
