#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurSim

let simCommand = Command(
    name: "sim",
    summary: "simulate a gossip mesh (membership, broadcast, anti-entropy) on simulated time",
    usage: """
    usage: murmur sim [--nodes N] [--broadcasts B] [--loss P] [--crash F] [--restart F] [--seed S]
                      [--partition] [--partition-seconds S] [--latency MIN-MAX] [--jitter MS]
                      [--payload BYTES] [--settle S] [--warmup S] [--announce] [--json] [--trace FILE]
                      [--jobs J [--redundancy R] [--quorum Q] [--liars F] [--collude] [--deadline S]
                       [--job-interval MS] [--inference MIN-MAX] [--slots N] [--dispute-factor K] [--dispute-margin M]]

    Runs N copies of the gossip state machine (the same code as `murmur node`) on simulated
    time over a simulated network, then prints what it measured. The same seed gives the same
    run, byte for byte.

      --nodes N             nodes (default 1000)
      --broadcasts B        records broadcast from random live nodes (default 100)
      --loss P              probability that a message is lost (default 0)
      --crash F             share of nodes that crash silently while broadcasts run (default 0)
      --restart F           share of the crashed nodes that restart 10 s later (default 0)
      --seed S              random seed (default 1)
      --partition           split the mesh in two halves while the broadcasts run, then heal
      --partition-seconds S length of the partition (default 60)
      --latency MIN-MAX     one-way link latency range in ms (default 5-50)
      --jitter MS           extra random delay per message in ms (default 5)
      --payload BYTES       record body size (default 1024)
      --interval MS         gap between broadcasts without --partition (default 100)
      --warmup S            quiet seconds after the last join (default 10)
      --settle S            seconds simulated after the last broadcast or the heal (default 15)
      --announce            every node signs and gossips a NodeAnnouncement (N² deliveries)
      --graft-timeout MS    Plumtree: wait this long after an IHave before grafting (default 250)
      --optimize-hops N     Plumtree tree optimisation threshold in hops, 0 = off (default 0)
      --prune-quiet MS      Plumtree: a link that delivered something first this recently is not pruned (default 300)
      --sources K           broadcasts come from K fixed publishing nodes in turn (default 0: a random node each)
      --per-author-trees    one Plumtree tree per record author instead of one shared tree
      --author-trees K      an author gets its own tree, grown from the shared tree, from its K-th record
                            on; it shortens itself towards shortest-hop paths (default 2; 0 off)
      --graft-attempts N    grafts per missing record before leaving it to anti-entropy (default 8)
      --recap-min-age MS    IHave recap with each anti-entropy round of records delivered MS..5000 ms ago (default 1000; 0 off)
      --author-tree-hops H  hops a grown author tree's new parent must save (default 1)
      --new-links-lazy      experiment: new active links start lazy
      --one-sided-prune     experiment: a prune only stops the sender's pushes
      --active N            active view size (default 5)
      --link-up-window MS   IHave of records delivered this recently to each new active peer (default 5000; 0 off)
      --escalate N          declined neighbour requests before a short view asks with high priority (default 3; 0 off)
      --ihave-delay MS      IHave batching delay (default 25)
      --flood-hops H        push on every link for a record's first H hops (default 0)
      --passive N           passive view size (default 30)
      --json                print one JSON object instead of text
      --trace FILE          write the JSON Lines trace (every send, receive, delivery, ...)

    Job workload (every node also runs the MurmurJobs state machine; inference is a stand-in:
    output = hash(model, input) after a simulated time; liars return another output):
      --jobs J              submit J jobs at random live nodes (turns --announce on; --broadcasts
                            defaults to 0 then); crashes happen while jobs are submitted
      --redundancy R        executors per job (default 3)
      --quorum Q            agreeing attestations needed at least (default 2)
      --liars F             share of nodes returning wrong outputs (default 0)
      --collude             liars all return the same wrong output for a job
      --deadline S          job deadline after submission (default 60)
      --job-interval MS     gap between submissions (default 50)
      --inference MIN-MAX   simulated inference time in ms (default 50-500)
      --slots N             execution slots per node (default 4)
      --dispute-factor K    dispute set size K·r + 1 (default 4)
      --dispute-margin M    a dispute is decided by a lead of r + M fresh attestations (default 2)
    """,
    run: { args in
        let a = try Arguments(args, command: "sim", booleans: ["--partition", "--json", "--announce", "--collude", "--new-links-lazy", "--one-sided-prune", "--per-author-trees"],
                              valued: ["--nodes", "--broadcasts", "--loss", "--crash", "--restart", "--seed",
                                       "--partition-seconds", "--latency", "--jitter", "--payload", "--settle",
                                       "--warmup", "--trace", "--graft-timeout", "--optimize-hops", "--active", "--passive", "--interval", "--prune-quiet", "--sources",
                                       "--jobs", "--redundancy", "--quorum", "--liars", "--deadline", "--job-interval",
                                       "--inference", "--slots", "--dispute-factor", "--dispute-margin", "--link-up-window", "--escalate", "--ihave-delay", "--flood-hops",
                                       "--author-trees", "--author-tree-hops", "--graft-attempts", "--recap-min-age", "--flood-extra", "--graft-timeout-max", "--graft-wait-factor"])
        var c = SimConfig()
        c.nodes = try a.int("--nodes", default: 1000, range: 2...1_000_000)
        c.broadcasts = try a.int("--broadcasts", default: 100, range: 0...100_000)
        c.loss = try a.double("--loss", default: 0, range: 0...0.9)
        c.crashFraction = try a.double("--crash", default: 0, range: 0...0.9)
        c.restartFraction = try a.double("--restart", default: 0, range: 0...1)
        c.seed = try a.uint64("--seed", default: 1)
        c.partition = a.has("--partition")
        c.partitionDuration = .seconds(Int64(try a.int("--partition-seconds", default: 60, range: 1...3600)))
        if let (lo, hi) = try millisecondRange(a, "--latency", max: 10_000, example: "5-50") {
            c.latencyMinMs = lo; c.latencyMaxMs = hi
        }
        c.jitterMs = try a.double("--jitter", default: 5, range: 0...10_000)
        c.payloadBytes = try a.int("--payload", default: 1024, range: 8...65_536)
        c.settle = .seconds(Int64(try a.int("--settle", default: 15, range: 0...3600)))
        c.warmup = .seconds(Int64(try a.int("--warmup", default: 10, range: 0...3600)))
        c.announcements = a.has("--announce")
        c.gossip.graftTimeout = .milliseconds(Int64(try a.int("--graft-timeout", default: Int(c.gossip.graftTimeout.milliseconds), range: 1...60_000)))
        c.gossip.graftTimeoutMax = .milliseconds(Int64(try a.int("--graft-timeout-max", default: Int(c.gossip.graftTimeoutMax.milliseconds), range: 0...60_000)))
        c.gossip.graftWaitFactor = try a.double("--graft-wait-factor", default: c.gossip.graftWaitFactor, range: 0...100)
        c.gossip.optimizationThreshold = UInt16(try a.int("--optimize-hops", default: Int(c.gossip.optimizationThreshold), range: 0...100))
        c.broadcastInterval = .milliseconds(Int64(try a.int("--interval", default: 100, range: 1...3_600_000)))
        c.gossip.pruneQuietPeriod = .milliseconds(Int64(try a.int("--prune-quiet", default: Int(c.gossip.pruneQuietPeriod.milliseconds), range: 0...600_000)))
        if a.has("--new-links-lazy") { c.gossip.newLinksLazy = true }
        if a.has("--one-sided-prune") { c.gossip.oneSidedPrune = true }
        if a.has("--per-author-trees") { c.gossip.perAuthorTrees = true }
        c.gossip.graftAttempts = try a.int("--graft-attempts", default: c.gossip.graftAttempts, range: 1...100)
        c.gossip.recapMinAge = .milliseconds(Int64(try a.int("--recap-min-age", default: Int(c.gossip.recapMinAge.milliseconds), range: 0...600_000)))
        c.gossip.authorTreeAfter = try a.int("--author-trees", default: c.gossip.authorTreeAfter, range: 0...1_000_000)
        c.gossip.authorTreeThreshold = UInt16(try a.int("--author-tree-hops", default: Int(c.gossip.authorTreeThreshold), range: 1...100))
        c.gossip.linkUpAnnounceWindow = .milliseconds(Int64(try a.int("--link-up-window", default: Int(c.gossip.linkUpAnnounceWindow.milliseconds), range: 0...600_000)))
        c.gossip.shortViewEscalation = try a.int("--escalate", default: c.gossip.shortViewEscalation, range: 0...1000)
        c.gossip.ihaveDelay = .milliseconds(Int64(try a.int("--ihave-delay", default: Int(c.gossip.ihaveDelay.milliseconds), range: 0...60_000)))
        c.gossip.eagerFloodHops = UInt16(try a.int("--flood-hops", default: Int(c.gossip.eagerFloodHops), range: 0...16))
        c.gossip.eagerFloodExtra = try a.double("--flood-extra", default: c.gossip.eagerFloodExtra, range: 0...1)
        c.sources = try a.int("--sources", default: 0, range: 0...1_000_000)
        c.gossip.activeViewSize = try a.int("--active", default: c.gossip.activeViewSize, range: 1...32)
        c.gossip.passiveViewSize = try a.int("--passive", default: c.gossip.passiveViewSize, range: 1...256)
        if a.value("--jobs") != nil {
            var w = JobWorkloadConfig()
            w.jobs = try a.int("--jobs", default: 100, range: 1...1_000_000)
            w.redundancy = try a.int("--redundancy", default: 3, range: 1...16)
            w.quorum = try a.int("--quorum", default: min(2, w.redundancy), range: 1...w.redundancy)
            w.liarFraction = try a.double("--liars", default: 0, range: 0...0.9)
            w.collude = a.has("--collude")
            w.deadline = .seconds(Int64(try a.int("--deadline", default: 60, range: 1...3600)))
            w.interval = .milliseconds(Int64(try a.int("--job-interval", default: 50, range: 1...3_600_000)))
            if let (lo, hi) = try millisecondRange(a, "--inference", max: 3_600_000, example: "50-500") {
                w.inferenceMinMs = lo; w.inferenceMaxMs = hi
            }
            w.slots = try a.int("--slots", default: 4, range: 1...1000)
            w.disputeFactor = try a.int("--dispute-factor", default: 4, range: 1...16)
            w.disputeMarginOverR = try a.int("--dispute-margin", default: 2, range: 0...8)
            c.jobs = w
            c.announcements = true
            if a.value("--broadcasts") == nil { c.broadcasts = 0 }
        } else if a.has("--collude") || a.value("--liars") != nil || a.value("--redundancy") != nil || a.value("--quorum") != nil {
            throw UsageError("sim: --redundancy, --quorum, --liars and --collude need --jobs J")
        }
        var sink: FileTraceSink?
        if let path = a.value("--trace") {
            guard let s = FileTraceSink(path: path) else { throw CommandFailure("cannot create trace file \(path)") }
            sink = s
            c.trace = true
        }
        let before = residentBytes()
        let started = wallClockSeconds()
        let sim = Simulator(config: c, trace: sink)
        let json = a.has("--json")
        let total = Double(sim.endTime) / 1e9
        sim.progress = { t, events in
            let jobs = sim.jobsProgress.map { "; \($0)" } ?? ""
            printError("sim: \(Int(t)) / \(Int(total)) s simulated, \(events) events, \(Int(wallClockSeconds() - started)) s wall\(jobs)")
        }
        var report = sim.run()
        let after = max(residentBytes(), peakResidentBytes())
        report.wallSeconds = wallClockSeconds() - started
        if after > before { report.memoryBytesPerNode = Double(after - before) / Double(c.nodes) }
        print(json ? report.json : report.text, terminator: json ? "\n" : "")
        return 0
    }
)

/// Current resident set size in bytes (Linux /proc), 0 if unknown.
func residentBytes() -> Int { procStatus("VmRSS:") }
/// Peak resident set size in bytes.
func peakResidentBytes() -> Int { procStatus("VmHWM:") }

private func procStatus(_ key: String) -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix(key) {
            let digits = s.dropFirst(key.count).filter { $0.isNumber }
            return (Int(digits) ?? 0) * 1024
        }
    }
    return 0
}

func wallClockSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A `MIN-MAX` milliseconds option (`--latency 5-50`): nil when absent, a usage error when malformed.
private func millisecondRange(_ a: Arguments, _ flag: String, max: Double, example: String) throws -> (Double, Double)? {
    guard let text = a.value(flag) else { return nil }
    let parts = text.split(separator: "-").compactMap { Double($0) }
    guard parts.count == 2, parts[0] >= 0, parts[1] >= parts[0], parts[1] <= max else {
        throw UsageError("sim: \(flag) must be MIN-MAX in milliseconds, e.g. \(example), got '\(text)'")
    }
    return (parts[0], parts[1])
}
