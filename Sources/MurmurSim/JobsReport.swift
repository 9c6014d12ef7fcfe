import MurmurCore
import MurmurJobs

/// What the job workload measured. A job's outcome is its entry node's view (the node the client
/// submitted to); if the entry node crashed before the job ended there, the job counts as verified
/// when any node verified it by its deadline.
public struct JobsReport: Sendable, Equatable {
    /// A job that failed (or was among the slowest to verify) in its outcome's view, with what a
    /// developer needs to start looking.
    public struct JobDetail: Sendable {
        /// Submission order, and the job id (hex) to pass to `murmur trace --job` on a `--trace` run.
        public var index = 0
        public var jobID = ""
        /// The entry node's failure (`JobFailure` text; "deadline passed" when the entry crashed);
        /// empty for a verified job.
        public var reason = ""
        /// Seconds from submission to verified in the outcome's view (nil: failed).
        public var verifiedAfterS: Double?
        /// Seconds from submission to the first dispute an honest node saw (nil: never disputed).
        public var disputedAfterS: Double?
        public var deadlineS = 0.0
        /// Seconds from submission to the first verified state in any node's view (nil: none).
        public var verifiedElsewhereAfterS: Double?
        /// Inferences started (first round, dispute round); distinct executors, how many of them
        /// are liars, and how many were down at the end of the run.
        public var firstRound = 0, disputeRound = 0
        public var executors = 0, executorLiars = 0, executorsDown = 0
        public var entryCrashed = false

        var json: String {
            func opt(_ v: Double?) -> String { v.map { jsonNumber($0) } ?? "null" }
            return "{\"index\":\(index),\"job_id\":\"\(jobID)\",\"reason\":\"\(reason)\",\"verified_after_s\":\(opt(verifiedAfterS)),\"disputed_after_s\":\(opt(disputedAfterS)),"
                + "\"deadline_s\":\(jsonNumber(deadlineS)),\"verified_elsewhere_after_s\":\(opt(verifiedElsewhereAfterS)),"
                + "\"first_round_executions\":\(firstRound),\"dispute_round_executions\":\(disputeRound),"
                + "\"executors\":\(executors),\"executor_liars\":\(executorLiars),\"executors_down_at_end\":\(executorsDown),"
                + "\"entry_crashed\":\(entryCrashed)}"
        }

        var text: String {
            (verifiedAfterS.map { "slow job #\(index) \(jobID.prefix(16)): verified after \(format1($0, 2)) s; " } ?? "failed job #\(index) \(jobID.prefix(16)): \(reason); ")
                + (disputedAfterS.map { "disputed \(format1($0, 2)) s after submission" } ?? "never disputed")
                + ", deadline \(format1(deadlineS, 0)) s"
                + (verifiedElsewhereAfterS.map { ", first verified by any node after \(format1($0, 2)) s" } ?? "")
                + "; executions \(firstRound) + \(disputeRound) (dispute) by \(executors) nodes (\(executorLiars) liars, \(executorsDown) down at the end)"
                + (entryCrashed ? "; entry node crashed" : "") + "\n"
        }
    }

    public var jobs = 0
    public var redundancy = 0, quorum = 0
    public var liars = 0
    public var collude = false
    /// Ended `verified` (at any time) / by the deadline / `failed` / neither by the end of the run.
    public var verified = 0, verifiedByDeadline = 0, failed = 0, undecided = 0
    /// Failures at the entry node by reason, e.g. "dispute_unresolved:2" (sorted, comma-separated).
    public var failureReasons = ""
    /// Jobs some node (any node's view) accepted with a wrong output, at any moment.
    public var wrongResultsAccepted = 0
    /// Jobs that some honest node saw disputed.
    public var disputed = 0
    /// Jobs whose r top-ranked places (over all nodes) were all held by liars, and the
    /// expectation J · f^r.
    public var topRAllLiars = 0
    public var topRAllLiarsExpected = 0.0
    /// Inferences started per job (all nodes, cancelled ones included).
    public var executionsPerJob = 0.0
    /// The same counting honest nodes' inferences only.
    public var honestExecutionsPerJob = 0.0
    public var executionsMax = 0
    /// Where the executions went, per job: first round (and the part beyond r: takeovers and
    /// view differences), dispute round, by liars, by liars the entry node had already excluded.
    public var firstRoundPerJob = 0.0, firstRoundBeyondRPerJob = 0.0, disputeRoundPerJob = 0.0
    public var byLiarsPerJob = 0.0, byExcludedLiarsPerJob = 0.0
    /// The same over the second half of the jobs by submission order: once most liars are
    /// caught, disputes (r + 2 fresh executions each, more with liars among them) become rare.
    public var executionsPerJobSecondHalf = 0.0
    /// The same over jobs no node saw disputed (r plus takeovers) and over disputed ones.
    public var executionsPerUndisputedJob = 0.0, executionsPerDisputedJob = 0.0
    /// Submission to the verified state in the outcome's view.
    public var latencyMsP50 = 0.0, latencyMsP99 = 0.0, latencyMsMax = 0.0
    /// Liars excluded by at least one node / by every node alive at the end; honest nodes
    /// excluded by any node (must be 0).
    public var liarsExcluded = 0, liarsExcludedByAllLive = 0, honestExcluded = 0
    /// Entry nodes that crashed before their job ended.
    public var entryCrashed = 0
    /// One line per failed job: where its time and its executions went (`failed_jobs` in JSON);
    /// the same for the three slowest verified jobs (`slowest_jobs`).
    public var failedJobs: [JobDetail] = []
    public var slowestJobs: [JobDetail] = []
    public static func == (a: JobsReport, b: JobsReport) -> Bool { a.jsonFields.elementsEqual(b.jsonFields) { $0 == $1 } }

    public init() {}

    var verifiedShare: Double { jobs == 0 ? 1 : Double(verifiedByDeadline) / Double(jobs) }

    var jsonFields: [(String, String)] {
        [("jobs", "\(jobs)"), ("redundancy", "\(redundancy)"), ("quorum", "\(quorum)"), ("liars", "\(liars)"),
         ("collude", collude ? "true" : "false"),
         ("jobs_verified", "\(verified)"), ("jobs_verified_by_deadline", "\(verifiedByDeadline)"),
         ("jobs_verified_share", jsonNumber(verifiedShare)),
         ("jobs_failed", "\(failed)"), ("jobs_failed_reasons", "\"\(failureReasons)\""), ("jobs_undecided", "\(undecided)"),
         ("wrong_results_accepted", "\(wrongResultsAccepted)"), ("jobs_disputed", "\(disputed)"),
         ("jobs_top_r_all_liars", "\(topRAllLiars)"), ("jobs_top_r_all_liars_expected", jsonNumber(topRAllLiarsExpected)),
         ("executions_per_job", jsonNumber(executionsPerJob)),
         ("executions_per_job_honest", jsonNumber(honestExecutionsPerJob)), ("executions_max", "\(executionsMax)"),
         ("executions_first_round_per_job", jsonNumber(firstRoundPerJob)),
         ("executions_first_round_beyond_r_per_job", jsonNumber(firstRoundBeyondRPerJob)),
         ("executions_dispute_round_per_job", jsonNumber(disputeRoundPerJob)),
         ("executions_by_liars_per_job", jsonNumber(byLiarsPerJob)),
         ("executions_by_excluded_liars_per_job", jsonNumber(byExcludedLiarsPerJob)),
         ("executions_per_job_second_half", jsonNumber(executionsPerJobSecondHalf)),
         ("executions_per_undisputed_job", jsonNumber(executionsPerUndisputedJob)),
         ("executions_per_disputed_job", jsonNumber(executionsPerDisputedJob)),
         ("job_latency_ms_p50", jsonNumber(latencyMsP50)), ("job_latency_ms_p99", jsonNumber(latencyMsP99)),
         ("job_latency_ms_max", jsonNumber(latencyMsMax)),
         ("liars_excluded", "\(liarsExcluded)"), ("liars_excluded_by_all_live", "\(liarsExcludedByAllLive)"),
         ("honest_excluded", "\(honestExcluded)"), ("entry_nodes_crashed", "\(entryCrashed)"),
         ("failed_jobs", "[" + failedJobs.map(\.json).joined(separator: ",") + "]"),
         ("slowest_jobs", "[" + slowestJobs.map(\.json).joined(separator: ",") + "]")]
    }

    var text: String {
        var s = "jobs \(jobs) (r \(redundancy), q \(quorum)), \(liars) \(collude ? "colluding" : "independent") liars\n"
        s += "verified \(verified) (\(verifiedByDeadline) by the deadline, \(format1(verifiedShare * 100, 3)) %), failed \(failed)\(failureReasons.isEmpty ? "" : " (\(failureReasons))"), undecided \(undecided), disputed \(disputed)\n"
        s += "wrong results accepted: \(wrongResultsAccepted); jobs whose top \(redundancy) were all liars: \(topRAllLiars) (expected \(format1(topRAllLiarsExpected, 2)))\n"
        s += "executions per job: \(format1(executionsPerJob, 3)), by honest nodes \(format1(honestExecutionsPerJob, 3)) (max \(executionsMax); second half of the jobs: \(format1(executionsPerJobSecondHalf, 3)); undisputed jobs: \(format1(executionsPerUndisputedJob, 3)), disputed: \(format1(executionsPerDisputedJob, 3)))\n"
        s += "executions by reason, per job: first round \(format1(firstRoundPerJob, 3)) (beyond r \(format1(firstRoundBeyondRPerJob, 3))), dispute round \(format1(disputeRoundPerJob, 3)); by liars \(format1(byLiarsPerJob, 3)) (already excluded by the entry node \(format1(byExcludedLiarsPerJob, 3)))\n"
        s += "job latency: p50 \(format1(latencyMsP50, 1)) ms, p99 \(format1(latencyMsP99, 1)) ms, max \(format1(latencyMsMax, 1)) ms\n"
        s += "liars excluded: \(liarsExcluded) of \(liars) (by every live node: \(liarsExcludedByAllLive)); honest nodes excluded: \(honestExcluded); entry nodes crashed mid-job: \(entryCrashed)\n"
        for f in failedJobs + slowestJobs { s += f.text }
        return s
    }
}

func jsonNumber(_ v: Double) -> String {
    if v.isNaN || v.isInfinite { return "null" }
    let r = (v * 10_000).rounded() / 10_000
    return r == r.rounded() && abs(r) < 1e15 ? String(Int64(r)) : String(r)
}

extension Simulator {
    func jobDetail(_ k: Int, _ w: JobWorld, verifiedAt: Int64? = nil) -> JobsReport.JobDetail {
        var f = JobsReport.JobDetail()
        let since = { (t: Int64) -> Double? in t < 0 ? nil : Double(t - w.submittedAt[k]) / 1e9 }
        f.index = k
        f.jobID = w.jobIDs[k].hex
        f.verifiedAfterS = verifiedAt.map { Double($0 - w.submittedAt[k]) / 1e9 }
        f.reason = verifiedAt != nil ? "" : w.failureOf[k].map { "\($0)" } ?? "deadline passed (entry node down)"
        f.disputedAfterS = since(w.disputedAt[k])
        f.deadlineS = Double(w.deadlineAt[k] - w.submittedAt[k]) / 1e9
        f.verifiedElsewhereAfterS = since(w.anyVerifiedAt[k])
        f.firstRound = w.firstRoundExecutions[k]
        f.disputeRound = w.disputeExecutions[k]
        let nodes = Set(w.executorsOf[k].map(Int.init))
        f.executors = nodes.count
        f.executorLiars = nodes.filter { w.liar[$0] }.count
        f.executorsDown = nodes.filter { !alive[$0] }.count
        f.entryCrashed = w.entryCrashed[k]
        return f
    }

    func jobsReport() -> JobsReport? {
        guard let w = jobWorld else { return nil }
        var r = JobsReport()
        let c = w.config
        r.jobs = w.jobIDs.count
        r.redundancy = c.redundancy; r.quorum = c.quorum
        r.liars = w.liar.filter { $0 }.count
        r.collude = c.collude
        r.failureReasons = w.failureReasons.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        var latencies: [Double] = []
        var slowest: [(Int64, Int, Int64)] = [] // (latency ns, job, verified at), the three slowest
        for k in 0..<r.jobs {
            var outcome: (at: Int64, verified: Bool)? = w.entryFinal[k]
            if outcome == nil && w.entryCrashed[k] {
                r.entryCrashed += 1
                if w.anyVerifiedAt[k] >= 0 { outcome = (w.anyVerifiedAt[k], true) }
                else if now >= w.deadlineAt[k] { outcome = (w.deadlineAt[k], false) }
            } else if w.entryCrashed[k] {
                r.entryCrashed += 1
            }
            switch outcome {
            case let (at, true)?:
                r.verified += 1
                if at <= w.deadlineAt[k] { r.verifiedByDeadline += 1 }
                latencies.append(Double(at - w.submittedAt[k]) / 1e6)
                slowest.append((at - w.submittedAt[k], k, at))
                slowest.sort { ($0.0, $1.1) > ($1.0, $0.1) }
                if slowest.count > 3 { slowest.removeLast() }
            case (_, false)?:
                r.failed += 1
                r.failedJobs.append(jobDetail(k, w))
            case nil: r.undecided += 1
            }
            if w.wrongAccepted[k] { r.wrongResultsAccepted += 1 }
            if w.disputed[k] { r.disputed += 1 }
            if w.topRAllLiars[k] { r.topRAllLiars += 1 }
            r.executionsMax = max(r.executionsMax, w.executions[k])
        }
        let f = Double(r.liars) / Double(max(n, 1))
        var fr = 1.0
        for _ in 0..<c.redundancy { fr *= f }
        r.topRAllLiarsExpected = Double(r.jobs) * fr
        r.executionsPerJob = r.jobs == 0 ? 0 : Double(w.executions.reduce(0, +)) / Double(r.jobs)
        r.honestExecutionsPerJob = r.jobs == 0 ? 0 : Double(w.honestExecutions.reduce(0, +)) / Double(r.jobs)
        if r.jobs > 0 {
            let j = Double(r.jobs)
            r.firstRoundPerJob = Double(w.firstRoundExecutions.reduce(0, +)) / j
            r.firstRoundBeyondRPerJob = Double(w.firstRoundExecutions.reduce(0) { $0 + max(0, $1 - c.redundancy) }) / j
            r.disputeRoundPerJob = Double(w.disputeExecutions.reduce(0, +)) / j
            r.byLiarsPerJob = Double(w.liarExecutions) / j
            r.byExcludedLiarsPerJob = Double(w.excludedLiarExecutions) / j
        }
        let secondHalf = w.executions.suffix(r.jobs - r.jobs / 2)
        r.executionsPerJobSecondHalf = secondHalf.isEmpty ? 0 : Double(secondHalf.reduce(0, +)) / Double(secondHalf.count)
        var undisputed = (0, 0), disputedRuns = (0, 0)
        for k in 0..<r.jobs {
            if w.disputed[k] { disputedRuns.0 += w.executions[k]; disputedRuns.1 += 1 } else { undisputed.0 += w.executions[k]; undisputed.1 += 1 }
        }
        r.executionsPerUndisputedJob = undisputed.1 == 0 ? 0 : Double(undisputed.0) / Double(undisputed.1)
        r.executionsPerDisputedJob = disputedRuns.1 == 0 ? 0 : Double(disputedRuns.0) / Double(disputedRuns.1)
        latencies.sort()
        r.slowestJobs = slowest.map { jobDetail($0.1, w, verifiedAt: $0.2) }
        r.latencyMsP50 = percentile(latencies, 0.5)
        r.latencyMsP99 = percentile(latencies, 0.99)
        r.latencyMsMax = latencies.last ?? 0
        var excludedBy = [Int](repeating: 0, count: n)
        var liveCount = 0
        var everExcluded = Set<NodeID>()
        for i in 0..<n {
            let ex = w.machines[i]?.excluded ?? w.persistedExclusions[i]
            everExcluded.formUnion(ex)
            everExcluded.formUnion(w.persistedExclusions[i])
            guard alive[i], let m = w.machines[i] else { continue }
            liveCount += 1
            for x in m.excluded { if let j = idIndex[x] { excludedBy[Int(j)] += 1 } }
        }
        for x in everExcluded.sorted() {
            guard let j = idIndex[x] else { continue }
            if w.liar[Int(j)] { r.liarsExcluded += 1 } else { r.honestExcluded += 1 }
        }
        for j in 0..<n where w.liar[j] && liveCount > 0 {
            // A node does not exclude itself: "every live node" means every other one.
            let others = liveCount - (alive[j] ? 1 : 0)
            if others > 0 && excludedBy[j] >= others { r.liarsExcludedByAllLive += 1 }
        }
        return r
    }
}
