#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurTransfer
import MurmurWire

/// `MurmurTransfer.ModelTransfer` hosted on the node (Specs/transfer.md, "Mapping onto the
/// node"): chunk requests and pieces on message types 0x60–0x6F; manifests and announcements
/// from gossip; every disk read, write and whole-file hash on the `WorkQueue` (never on the
/// loop), answered through `Node.inbox`. A fetched model is written to `models/<hash>.partial`,
/// verified whole, renamed to `models/<hash>` and only then held and announced.
public final class TransferService: NodeProtocol {
    public let messageTypes: ClosedRange<UInt8> = MessageType.modelTransferRange

    /// Which models this node fetches: every manifest it sees, or the listed hashes.
    public enum ServePolicy: Sendable, Equatable {
        case none
        case all
        case models(Set<Hash>)
        func wants(_ hash: Hash) -> Bool {
            switch self {
            case .none: return false
            case .all: return true
            case let .models(set): return set.contains(hash)
            }
        }
    }

    static let drainTag: UInt64 = 0x7866_6572_6472_6E31      // "xferdrn1"
    static let readTag: UInt64 = 0x7866_6572_7264_2031       // "xferrd 1"
    static let writeTag: UInt64 = 0x7866_6572_7772_2031      // "xferwr 1"
    static let verifyTag: UInt64 = 0x7866_6572_7666_2031     // "xfervf 1"
    static let resumeTag: UInt64 = 0x7866_6572_7273_2031     // "xferrs 1"
    static let timerID: UInt64 = 1

    public private(set) var transfer: ModelTransfer
    public let store: ModelStore
    public let workers: WorkQueue
    public unowned let node: Node
    public let policy: ServePolicy
    /// Called on the loop, outside any protocol's handling, when a fetched model is complete and
    /// held (announce it).
    public var onModelHeld: ((Signed<ModelManifest>) -> Void)?
    /// Progress and outcome lines (the CLI prints them on stderr).
    public var progress: ((String) -> Void)?

    private var pendingRecords: [Record] = []
    private var drainScheduled = false
    private var addresses: [NodeID: String] = [:]
    private var fetching: [Hash: Signed<ModelManifest>] = [:]
    private var starting: Set<Hash> = []
    private var started = false

    /// `diskBudget`: bytes of models (held and being fetched) this node keeps at most.
    public init(node: Node, store: ModelStore, workers: WorkQueue, policy: ServePolicy, diskBudget: UInt64? = nil,
                seed: UInt64 = .random(in: .min ... .max)) {
        self.node = node
        self.store = store
        self.workers = workers
        self.policy = policy
        var config = FetcherConfig()
        config.stallTimeout = .seconds(Int64(3))
        if let diskBudget { config.diskBudgetBytes = diskBudget }
        transfer = ModelTransfer(fetcher: config, rng: SeededRNG(seed: seed),
                                 storedBytes: store.held.values.reduce(0) { $0 + $1.body.size })
    }

    /// Takes a delivered record (gossip's delivery callback); handled at the end of this loop
    /// iteration.
    public func enqueue(_ envelope: SignedRecord) {
        guard envelope.kind == .modelManifest || envelope.kind == .nodeAnnouncement, let record = try? Record(envelope) else { return }
        pendingRecords.append(record)
        guard !drainScheduled else { return }
        drainScheduled = true
        node.loop.atEndOfIteration { [weak self] in
            self?.node.deliverLocally(NodeDelivery(tag: Self.drainTag, payload: []))
        }
    }

    /// A model this node published or found on disk: serve it.
    public func serve(_ manifest: Signed<ModelManifest>) {
        node.deliverLocally(NodeDelivery(tag: Self.drainTag, payload: manifest.envelope.encoded))
    }

    public func handle(_ event: ProtocolEvent, now: Instant) -> [ProtocolEffect] {
        var out: [ProtocolEffect] = []
        switch event {
        case .started:
            started = true
            for m in store.held.values { run(.serve(.serve(m.body)), now: now, into: &out) }
        case let .peerConnected(link):
            run(.linkUp(link.peer), now: now, into: &out)
        case let .peerDisconnected(peer, _):
            run(.linkDown(peer), now: now, into: &out)
        case let .message(from, type, payload):
            run(.message(from: from, type: type.rawValue, payload: payload), now: now, into: &out)
        case .timer:
            run(.fetch(.timer), now: now, into: &out)
        case let .delivered(tag, payload):
            delivered(tag, payload, now: now, into: &out)
        default:
            break
        }
        return out
    }

    private func delivered(_ tag: UInt64, _ payload: [UInt8], now: Instant, into out: inout [ProtocolEffect]) {
        var r = ByteReader(payload)
        switch tag {
        case Self.drainTag:
            if !payload.isEmpty, let record = try? SignedRecord(decoding: payload), let m = try? Signed<ModelManifest>(record) {
                run(.serve(.serve(m.body)), now: now, into: &out)
            }
            drainScheduled = false
            let records = pendingRecords
            pendingRecords.removeAll()
            for record in records { take(record, now: now, into: &out) }
        case Self.readTag:
            guard let ticket = try? r.u64(), let ok = try? r.u8() else { return }
            let rest = Array(payload[9...])
            run(.serve(ok == 0 ? .readCompleted(ticket: ticket, bytes: rest) : .readFailed(ticket: ticket, reason: String(decoding: rest, as: UTF8.self))),
                now: now, into: &out)
        case Self.writeTag:
            guard let model = try? r.raw(32), let value = Bytes32(model), let index = try? r.u64(), let ok = try? r.u8() else { return }
            let rest = Array(payload[41...])
            run(.fetch(ok == 0 ? .chunkWritten(model: Hash(value), index: Int(index))
                                : .writeFailed(model: Hash(value), index: Int(index), reason: String(decoding: rest, as: UTF8.self))),
                now: now, into: &out)
        case Self.verifyTag:
            guard let model = try? r.raw(32), let value = Bytes32(model), let ok = try? r.u8() else { return }
            run(.fetch(.fileVerified(model: Hash(value), matches: ok == 0)), now: now, into: &out)
        case Self.resumeTag:
            guard let model = try? r.raw(32), let value = Bytes32(model), let count = try? r.u32() else { return }
            let hash = Hash(value)
            starting.remove(hash)
            var chunks = Set<Int>()
            for _ in 0..<count { if let c = try? r.u32() { chunks.insert(Int(c)) } }
            guard let manifest = fetching[hash], store.held[hash] == nil else { return }
            if !chunks.isEmpty { progress?("fetch \(hash.short): resuming with \(chunks.count) of \(manifest.body.chunkHashes.count) chunks on disk") }
            run(.fetch(.start(manifest.body, verifiedChunks: chunks)), now: now, into: &out)
        default:
            break
        }
    }

    private func take(_ record: Record, now: Instant, into out: inout [ProtocolEffect]) {
        switch record {
        case let .nodeAnnouncement(a):
            if a.author == node.localID { return }
            if let address = a.body.addresses.first { addresses[a.author] = address }
            run(.fetch(.holdings(peer: a.author, models: a.body.models)), now: now, into: &out)
        case let .modelManifest(m):
            let hash = m.body.modelHash
            guard policy.wants(hash), store.held[hash] == nil, fetching[hash] == nil, !starting.contains(hash) else { return }
            fetching[hash] = m
            starting.insert(hash)
            resumeScan(m.body)
        default:
            break
        }
    }

    private func run(_ event: ModelTransfer.Event, now: Instant, into out: inout [ProtocolEffect]) {
        for effect in transfer.handle(event, now: now) { perform(effect, now: now, into: &out) }
    }

    private func perform(_ effect: ModelTransfer.Effect, now: Instant, into out: inout [ProtocolEffect]) {
        switch effect {
        case let .serve(.send(peer, message)), let .fetch(.send(peer, message)):
            out.append(.send(to: peer, type: MessageType(message.type), payload: message.payload))
        case let .serve(.read(ticket, model, offset, length)):
            let path = store.path(of: model)
            submit(Self.readTag) { w in
                w.u64(ticket)
                switch Self.pread(path, offset: offset, length: length) {
                case let .success(bytes): w.u8(0); w.raw(bytes)
                case let .failure(e): w.u8(1); w.raw(Array(e.why.utf8))
                }
            }
        case let .serve(.unservable(model, reason)):
            progress?("cannot serve \(model.short): \(reason)")
        case let .fetch(.writeChunk(model, index, offset, bytes)):
            let path = store.partialPath(of: model)
            submit(Self.writeTag) { w in
                w.raw(model.bytes); w.u64(UInt64(index))
                if let why = Self.pwrite(path, offset: offset, bytes: bytes) { w.u8(1); w.raw(Array(why.utf8)) } else { w.u8(0) }
            }
        case let .fetch(.verifyFile(model, size, expected)):
            let path = store.partialPath(of: model)
            submit(Self.verifyTag) { w in
                w.raw(model.bytes)
                let bytes = try? ModelStore.readFile(path, limit: Int(clamping: size))
                let ok = bytes.map { UInt64($0.count) == size && Hash.of($0) == expected } ?? false
                if ok {
                    let fd = open(path, O_RDONLY | O_CLOEXEC)
                    if fd >= 0 { _ = fsync(fd); close(fd) }
                }
                w.u8(ok ? 0 : 1)
            }
        case let .fetch(.completed(model)):
            // The server reads the final path at once: rename first (a metadata operation).
            guard let manifest = fetching.removeValue(forKey: model) else { return }
            let final = store.path(of: model)
            if rename(store.partialPath(of: model), final) != 0 {
                progress?("fetch \(model.short): cannot rename the verified file: \(String(cString: strerror(errno)))")
                return
            }
            do { try ModelStore.writeFile(final + ".manifest", manifest.envelope.encoded) } catch {
                progress?("fetch \(model.short): \(error)")
            }
            store.markHeld(manifest)
            progress?("fetch \(model.short) (\(manifest.body.name)): complete and verified, \(manifest.body.size) bytes")
            // Announcing re-enters the node's protocols: after this event.
            node.loop.atEndOfIteration { [weak self] in self?.onModelHeld?(manifest) }
        case let .fetch(.refused(model, reason)):
            if reason != .alreadyFetching { fetching[model] = nil }
            progress?("fetch \(model.short) refused: \(reason)")
        case let .fetch(.failed(model, failure)):
            fetching[model] = nil
            if failure.discardsPartial { unlink(store.partialPath(of: model)) }
            progress?("fetch \(model.short) failed: \(failure)")
        case let .fetch(.progress(p)):
            progress?(p.description)
        case let .fetch(.peerPenalised(peer, reason, strikes)):
            progress?("fetch: peer \(peer.short) penalised (\(strikes) strikes): \(reason)")
        case let .fetch(.peerDropped(peer, reason)):
            progress?("fetch: peer \(peer.short) dropped: \(reason)")
        case let .fetch(.wantLink(peer)):
            if let text = addresses[peer], let address = try? SocketAddress(parsing: text) {
                out.append(.connect(address, expectedPeer: peer))
            }
        case let .fetch(.setTimer(at)):
            out.append(.setTimer(id: Self.timerID, at: at))
        }
    }

    private func resumeScan(_ manifest: ModelManifest) {
        let path = store.partialPath(of: manifest.modelHash)
        submit(Self.resumeTag) { w in
            w.raw(manifest.modelHash.bytes)
            var st = stat()
            var chunks = Set<Int>()
            if stat(path, &st) == 0 {
                chunks = ResumeScan.verifiedChunks(manifest, fileSize: UInt64(st.st_size)) { offset, length in
                    try? Self.pread(path, offset: offset, length: length).get()
                }
            }
            w.u32(UInt32(chunks.count))
            for c in chunks.sorted() { w.u32(UInt32(c)) }
        }
    }

    /// Runs `body` on a worker and delivers what it wrote under `tag`.
    private func submit(_ tag: UInt64, _ body: @escaping @Sendable (inout ByteWriter) -> Void) {
        let inbox = node.inbox
        let accepted = workers.submit {
            var w = ByteWriter()
            body(&w)
            let delivery = NodeDelivery(tag: tag, payload: w.bytes)
            for _ in 0..<1000 {
                if inbox.send(delivery) { return }
                usleep(1000)
            }
        }
        if !accepted { progress?("transfer: the work queue is full; a disk operation was dropped (the fetcher will retry)") }
    }

    struct IOFailure: Error { let why: String }

    static func pread(_ path: String, offset: UInt64, length: Int) -> Result<[UInt8], IOFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(IOFailure(why: "open \(path): \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = bytes.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, length - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return .failure(IOFailure(why: "read \(path): short read")) }
            done += n
        }
        return .success(bytes)
    }

    static func pwrite(_ path: String, offset: UInt64, bytes: [UInt8]) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "open \(path): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return "write \(path): \(String(cString: strerror(errno)))" }
            done += n
        }
        return nil
    }
}
