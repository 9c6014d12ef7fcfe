#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurJobs
import MurmurNode

let nodeCommand = Command(
    name: "node",
    summary: "run a node: join the mesh through --join seeds and gossip records",
    usage: """
    usage: murmur node [--listen HOST:PORT] [--join HOST:PORT]... [--data DIR] [--network-key FILE]
                       [--api HOST:PORT [--api-token FILE]] [--trace FILE] [--gossip-fast] [-v|-vv] [--events]

    Runs a Murmur node until SIGINT or SIGTERM: HyParView membership, Plumtree broadcast and
    anti-entropy over encrypted links (Specs/gossip.md), and a signed NodeAnnouncement refreshed
    before it expires, so every node has a directory of live peers.

      --listen HOST:PORT    address to listen on (default 127.0.0.1:7000; port 0 = any free port)
      --join HOST:PORT      a seed to join the mesh through (repeatable); after the first contact
                            the membership protocol keeps the links (and rejoins through the seeds
                            when it has no peers left)
      --advertise HOST:PORT the address others dial this node at (default: the bound --listen)
      --data DIR            data directory (default $MURMUR_DATA or ~/.murmur); the node's
                            identity is DIR/identity (created on first start, mode 0600);
                            records, jobs, peers and reputation in DIR/state.sqlite (replayed
                            on start: a node killed with kill -9 resumes its jobs); models in
                            DIR/models
      --network-key FILE    the mesh's 32-byte key (64 hex characters); default: the public mesh
      --api HOST:PORT       serve the HTTP/1.1 JSON API (Specs/api.md: jobs, models, peers, status,
                            reputation, /metrics, /v1/openapi.json, live traces at /v1/trace);
                            port 0 = any free port. --control is the same flag (older name)
      --api-token FILE      bearer token for clients off loopback (required when --api is not a
                            loopback address; created in DIR/api-token with 32 random bytes when
                            not given). Loopback clients need no token
      --trace FILE          append trace events (Specs/trace.md) to FILE: buffered, rotated at
                            --trace-max-mb (default 64) keeping 4 old files; `murmur trace FILE…`
      --trace-max-mb N      trace file size cap before rotation (1…4096)
      --gossip-fast         short gossip timers (≈ 5–10 × the defaults) for tests and demos on
                            loopback; never on a real network
      --publish-test-records N
                            developer tool: publish N signed test job records 1 s after start
      -v, -vv               more log lines on stderr (default: warnings only)
      --events              print one line per link event and record delivery on stdout
      --serve all|HASH      fetch and serve models: every manifest seen (all) or the listed model
                            hashes (repeatable); chunks come from announcing peers, are checked
                            against the manifest, resumed after a restart; progress on stderr
      --disk-cap-mb N       models this node keeps at most (held + being fetched; default 64 GiB)
      --job-time-s N        longest one inference may run before it is abandoned (default 60; a
                            job's own deadline applies when sooner)
      --memory-cap-mb N     refuse jobs whose model file plus input is larger (default: no cap)
      --slots N             inferences this node runs at once and announces (default: CPU count)
      --lie                 TEST ONLY: attest wrong outputs (the demo's and tests' liar)
      --inference-delay-ms N
                            TEST ONLY: wait N ms before each inference (the demo kills an
                            executor in the middle of a job)
      --parent-pid PID      exit as soon as process PID is no longer our parent (the demo and
                            tests pass their own pid, so a killed parent leaves no orphans)

    On start, one line goes to stdout: "node NODEID listening on HOST:PORT", then, with --api,
    "api HOST:PORT" and "control HOST:PORT" (the same address; older scripts read it). With --events:
      link-up peer=NODEID dir=inbound|outbound addr=HOST:PORT handshake_ms=MS
      link-down peer=NODEID reason="..."
      rtt peer=NODEID ms=MS
      deliver kind=KIND id=RECORDID hops=N path=broadcast|graft|antientropy
    """,
    run: runNode
)

/// Reads `--network-key FILE` (or the public mesh's key).
func loadNetworkKey(_ args: Arguments) throws -> NetworkKey {
    guard let path = args.value("--network-key") else { return .default }
    do { return try NetworkKey.load(from: path) } catch { throw CommandFailure("\(error)") }
}

func parseAddress(_ text: String, option: String, command: String) throws -> SocketAddress {
    do { return try SocketAddress(parsing: text) } catch {
        throw UsageError("\(command): \(option): \(error)")
    }
}

@Sendable func runNode(_ argv: [String]) throws -> Int32 {
    Posix.ignoreBrokenPipes()
    let args = try Arguments(argv, command: "node", booleans: ["-v", "-vv", "--verbose", "--events", "--gossip-fast", "--lie"],
                             valued: ["--listen", "--join", "--data", "--network-key", "--parent-pid", "--control", "--api", "--api-token", "--trace",
                                      "--trace-max-mb", "--advertise", "--publish-test-records", "--slots", "--serve", "--inference-delay-ms", "--disk-cap-mb",
                                      "--job-time-s", "--memory-cap-mb"])
    if let extra = args.positionals.first { throw UsageError("node: unexpected argument '\(extra)'") }
    let listen = try parseAddress(args.value("--listen") ?? "127.0.0.1:7000", option: "--listen", command: "node")
    let joins = try args.values("--join").map { try parseAddress($0, option: "--join", command: "node") }
    guard joins.count <= Limits.maxJoinAddresses else { throw UsageError("node: at most \(Limits.maxJoinAddresses) --join addresses") }
    if args.value("--api") != nil && args.value("--control") != nil { throw UsageError("node: give --api or --control (the same flag), not both") }
    let apiFlag = args.value("--api") != nil ? "--api" : "--control"
    let apiAddress = try args.value(apiFlag).map { try parseAddress($0, option: apiFlag, command: "node") }
    if args.value("--api-token") != nil && apiAddress == nil { throw UsageError("node: --api-token needs --api") }
    let advertise = try args.value("--advertise").map { try parseAddress($0, option: "--advertise", command: "node") }
    let traceMaxMB = try args.int("--trace-max-mb", default: 64, range: 1...4096)
    let testRecords = try args.int("--publish-test-records", default: 0, range: 0...DebugRecords.maxCount)
    let level: Logger.Level = args.has("-vv") ? .debug : (args.has("-v") || args.has("--verbose")) ? .info : .warning
    let networkKey = try loadNetworkKey(args)
    let dataDir = DataDirectory.resolve(args.value("--data"))
    let identity: SigningKey
    do {
        try dataDir.prepare()
        let (key, created) = try dataDir.loadOrCreateIdentity()
        identity = key
        if created { Logger(level: level).info("created identity \(dataDir.identityPath)") }
    } catch {
        throw CommandFailure("\(error)")
    }

    let loop = try EventLoop()
    // Durable state (Specs/store.md): records, job states, peers, exclusions in DIR/state.sqlite.
    let persistence: NodePersistence
    let replay: NodePersistence.Replay
    do {
        (persistence, replay) = try NodePersistence.open(dataDirectory: dataDir.path, localNode: identity.publicKey, loop: loop, nowUnixMs: JobsService.wallNow().unixMs)
    } catch { throw CommandFailure("\(error)") }
    if let why = replay.movedAside { Logger(level: level).warning(why) }
    // Links come from the membership protocol (no static join links).
    let config = NodeConfig(listen: listen)
    let node = Node(loop: loop, identity: identity, networkKey: networkKey, config: config,
                    logger: Logger(level: level, prefix: "[\(identity.publicKey.short)] "))
    var gossipConfig = GossipServiceConfig()
    if args.has("--gossip-fast") { gossipConfig.gossip = GossipServiceConfig.fastGossip() }
    gossipConfig.seeds = joins.map { "\($0)" }
    // Peers known before a restart are extra ways back into the mesh.
    for address in replay.peerAddresses where !gossipConfig.seeds.contains(address) {
        gossipConfig.seeds.append(address)
    }
    gossipConfig.advertise = advertise.map { "\($0)" }

    var traceFile: NodeTraceFile?
    if let path = args.value("--trace") {
        do { traceFile = try NodeTraceFile(path: path, loop: loop, maxFileBytes: traceMaxMB << 20) } catch {
            throw CommandFailure("\(error)")
        }
        gossipConfig.gossip.traceEnabled = true
    }
    // With the API, gossip emits trace events too, for live streaming (GET /v1/trace); they are
    // encoded only while a subscriber listens.
    if apiAddress != nil { gossipConfig.gossip.traceEnabled = true }
    let gossip = GossipService(identity: identity, config: gossipConfig)
    do { try node.host(gossip) } catch { throw CommandFailure("\(error)") }

    // Models and jobs (issue 6): content-addressed models in DIR/models, JobsNode on the loop,
    // inference on a bounded worker queue.
    let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    let slots = try args.int("--slots", default: cpus, range: 1...256)
    let modelStore: ModelStore
    do { modelStore = try ModelStore(dataDirectory: dataDir.path) } catch { throw CommandFailure("\(error)") }
    let held = modelStore.scan()
    if !held.isEmpty { node.logger.info("holding \(held.count) model(s) from \(modelStore.directory)") }
    let workers = WorkQueue(threads: slots, capacity: slots * 16)
    var jobsConfig = JobsConfig()
    jobsConfig.followAllJobs = true
    let jobs = JobsService(identity: identity, node: node, store: modelStore, workers: workers, slots: slots, config: jobsConfig,
                           excluded: replay.excluded)
    jobs.persistence = persistence
    gossip.recordSink = persistence
    persistence.warn = { [unowned node] line in node.logger.warning(line) }
    jobs.lies = args.has("--lie")
    jobs.executionTimeLimit = .seconds(Int64(try args.int("--job-time-s", default: Int(jobs.executionTimeLimit.nanoseconds / 1_000_000_000), range: 1...86_400)))
    if args.value("--memory-cap-mb") != nil {
        jobs.memoryCapBytes = UInt64(try args.int("--memory-cap-mb", default: 0, range: 1...(1 << 30))) << 20
    }
    jobs.inferenceDelay = .milliseconds(Int64(try args.int("--inference-delay-ms", default: 0, range: 0...600_000)))
    jobs.log = { [unowned node] line in node.logger.info(line) }
    jobs.onModelsChanged = { [unowned node] in node.deliverLocally(NodeDelivery(tag: GossipService.reannounceTag, payload: [])) }
    gossip.announcementContent = { [unowned jobs, unowned modelStore] in
        (models: modelStore.heldHashes, freeSlots: UInt16(clamping: jobs.freeSlots), totalSlots: UInt16(clamping: slots))
    }
    var policy = TransferService.ServePolicy.none
    for value in args.values("--serve") {
        if value == "all" { policy = .all; continue }
        guard value.count == 64, let hash = Bytes32(hex: value.lowercased()).map(Hash.init) else {
            throw UsageError("node: --serve takes 'all' or a 64-hex-digit model hash, got '\(value)'")
        }
        if case let .models(set) = policy { policy = .models(set.union([hash])) } else if policy == .none { policy = .models([hash]) }
    }
    let diskCap = try args.value("--disk-cap-mb").map { _ in UInt64(try args.int("--disk-cap-mb", default: 0, range: 1...(1 << 30))) << 20 }
    let transfer = TransferService(node: node, store: modelStore, workers: workers, policy: policy, diskBudget: diskCap)
    transfer.progress = { line in printError(line) }
    transfer.onModelHeld = { [unowned jobs] _ in jobs.modelsChanged() }
    jobs.onModelPublished = { [unowned transfer] manifest in transfer.serve(manifest) }
    gossip.onDeliver = { [unowned jobs, unowned transfer, unowned gossip] record, _, _ in
        jobs.enqueue(record, validated: gossip.delivering)
        transfer.enqueue(record)
    }
    gossip.onLocalPublish = { [unowned jobs, unowned persistence] record in
        persistence.recordPublishedLocally(record)
        if !persistence.replaying { jobs.enqueueLocal(record) }
    }
    do {
        try node.host(jobs)
        try node.host(transfer)
    } catch { throw CommandFailure("\(error)") }

    let printEvents = args.has("--events")
    if printEvents {
        gossip.onDeliver = { [unowned jobs, unowned transfer, unowned gossip] record, hops, path in
            jobs.enqueue(record, validated: gossip.delivering)
            transfer.enqueue(record)
            writeLine("deliver kind=\(record.kind) id=\(record.id.hex) hops=\(hops) path=\(path.rawValue)")
        }
    }
    node.onEvent = { event in
        guard printEvents else { return }
        switch event {
        case .listening: break
        case .linkUp(let link):
            let handshake = link.handshakeTime.map { String(format3($0.milliseconds)) } ?? "?"
            writeLine("link-up peer=\(link.peer?.hex ?? "?") dir=\(link.direction) addr=\(link.remoteAddress.map { "\($0)" } ?? "?") handshake_ms=\(handshake)")
        case let .linkDown(link, reason):
            writeLine("link-down peer=\(link.peer?.hex ?? "?") reason=\"\(reason)\"")
        case let .roundTrip(peer, rtt):
            writeLine("rtt peer=\(peer.hex) ms=\(format3(rtt.milliseconds))")
        case let .joinRetry(address, after, reason):
            writeLine("join-retry addr=\(address) after_ms=\(Int(after.milliseconds)) reason=\"\(reason)\"")
        }
    }
    var api: NodeAPI?
    if let apiAddress {
        var token: String?
        if let path = args.value("--api-token") {
            do { token = try APIToken.load(path: path) } catch { throw CommandFailure("node: \(error)") }
        } else if !APIServer.isLoopback(apiAddress) {
            let path = dataDir.path + "/" + APIToken.defaultFileName
            do {
                let (t, created) = try APIToken.loadOrCreate(path: path)
                token = t
                printError("node: API on \(apiAddress) (not loopback): clients off loopback need Authorization: Bearer <token in \(path)>\(created ? " (created)" : "")")
            } catch { throw CommandFailure("node: \(error)") }
        }
        api = NodeAPI(node: node, gossip: gossip, jobs: jobs, identity: identity, token: token)
    }
    if traceFile != nil || api != nil {
        node.traceSink = { [traceFile, hub = api?.traceHub] event in
            traceFile?.append(event)
            hub?.publish(event)
        }
        if let traceFile {
            // The shell packs its own events straight into the file; the sink only feeds the API.
            gossip.traceFile = traceFile
            if let hub = api?.traceHub { gossip.traceSink = { hub.publish($0) } }
        } else {
            gossip.traceSink = node.traceSink
        }
    }
    // Without a trace file, gossip builds its events only while a live subscriber listens.
    if traceFile == nil, let hub = api?.traceHub { gossip.traceWanted = { [weak hub] in hub?.hasSubscribers ?? false } }
    var stopping = false
    let stop = {
        guard !stopping else { return }
        stopping = true
        workers.stop()
        api?.shutdown()
        node.shutdown()
        persistence.close()
        traceFile?.close()
        loop.stop()
    }
    let signals = try SignalWatcher(loop: loop) { signal in
        node.logger.info("signal \(signal): shutting down")
        stop()
    }
    if let text = args.value("--parent-pid") {
        // An explicit pid, not getppid() at start: the parent may already be gone by then.
        guard let parent = pid_t(text), parent > 0 else { throw UsageError("node: --parent-pid must be a process id, got '\(text)'") }
        if getppid() != parent { return 0 }
        func watch() {
            loop.schedule(after: .milliseconds(200)) {
                if getppid() != parent { stop() } else { watch() }
            }
        }
        watch()
    }
    let bound: SocketAddress
    do { bound = try node.start() } catch { throw CommandFailure("cannot listen on \(listen): \(error)") }
    let replayStarted = Posix.monotonicNanoseconds()
    persistence.replay(replay, node: node, gossip: gossip, jobs: jobs, transfer: transfer)
    if !replay.records.isEmpty || !replay.excluded.isEmpty {
        let ms = Double(Posix.monotonicNanoseconds() - replayStarted) / 1e6
        node.logger.info("replayed \(replay.records.count) stored record(s), \(replay.finalStates.count) final job state(s), \(replay.excluded.count) exclusion(s) from \(persistence.path) in \(format3(ms)) ms")
    }
    writeLine("node \(identity.publicKey.hex) listening on \(bound)")
    if let apiAddress, let api {
        do {
            let at = try api.listen(on: apiAddress)
            writeLine("api \(at)")
            writeLine("control \(at)")
        } catch {
            stop()
            throw CommandFailure("cannot serve the API on \(apiAddress): \(error)")
        }
    }
    if testRecords > 0 {
        loop.schedule(after: .seconds(Int64(1))) {
            for i in 0..<testRecords {
                guard let record = try? DebugRecords.testJob(by: identity, index: i + 1, nowUnixMs: gossip.unixNowMs) else { continue }
                node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: record.encoded))
            }
        }
    }
    try loop.run()
    withExtendedLifetime(signals) {}
    withExtendedLifetime(traceFile) {}
    if let failure = traceFile?.failed { node.logger.warning("trace stopped: \(failure)") }
    node.logger.info("stopped")
    return 0
}

/// Milliseconds with three decimals.
func format3(_ v: Double) -> String {
    let scaled = Int((v * 1000).rounded())
    let frac = String(abs(scaled) % 1000 + 1000).dropFirst()
    return "\(scaled / 1000).\(frac)"
}
