import MurmurCore

/// What to collect besides the summary.
public struct AnalysisOptions: Sendable {
    /// Record to explain (`--record`): full hex or a unique prefix.
    public var record: String? = nil
    /// Job to explain (`--job`): full hex or a unique prefix.
    public var job: String? = nil
    public var clock: ClockMode = .estimate
    /// Keep up to `Limits.traceMaxExportEvents` events for the swimlane / Chrome trace.
    public var keepEventsForExport = false
    public init(record: String? = nil, job: String? = nil, clock: ClockMode = .estimate, keepEventsForExport: Bool = false) {
        self.record = record; self.job = job; self.clock = clock; self.keepEventsForExport = keepEventsForExport
    }
}

/// An event in compact form, with indices into the analyzer's node, record and string tables.
public struct StoredEvent: Sendable {
    public var time: Int64
    public var node: Int32
    public var event: Int32
    public var recordKind: Int32
    public var record: Int32
    public var peer: Int32
    public var bytes: Int64
    public var hops: Int32
    public var reason: Int32
}

/// The first-delivery facts the propagation analysis needs (24 bytes each).
struct Delivery {
    var time: Int64
    var record: Int32
    var node: Int32
    var from: Int32
    var hops: Int32
}

struct KindCounters {
    var deliveries = 0, duplicates = 0, grafts = 0, prunes = 0, ihaves = 0, sends = 0, recvs = 0, drops = 0
    var sendBytes: Int64 = 0, recvBytes: Int64 = 0
}

struct LinkCounters {
    var frames = 0, bytes: Int64 = 0       // sent by `from` (its own trace)
    var recvFrames = 0, recvBytes: Int64 = 0 // received by `to` (its own trace)
}

struct PairKey: Hashable { var from: Int32, to: Int32, record: Int32 }

/// Prefix matcher for record ids given as hex.
struct HexPrefix {
    let nibbles: [UInt8]
    init?(_ s: String) {
        var n: [UInt8] = []
        for c in s.utf8 { guard let v = TraceHex.nibble(c), n.count < 64 else { return nil }; n.append(UInt8(v)) }
        guard !n.isEmpty else { return nil }
        nibbles = n
    }
    func matches(_ b: Bytes32) -> Bool {
        let words = [b.w0, b.w1, b.w2, b.w3]
        for (i, want) in nibbles.enumerated() {
            let w = words[i / 16]
            let shift = UInt64(60 - 4 * (i % 16))
            if UInt8((w >> shift) & 0xf) != want { return false }
        }
        return true
    }
}

/// Streams trace lines into compact tables: nodes, records, first deliveries, counters per
/// record kind, link and node, send/recv pairs for clock estimation. Memory grows with the
/// number of nodes, records and deliveries (24 bytes each), never with the text read.
public final class TraceAnalyzer {
    public let strings: TraceStrings
    public let options: AnalysisOptions
    let recordPrefix: HexPrefix?
    let jobPrefix: HexPrefix?

    var nodeIndex: [Bytes32: Int32] = [:]
    var nodes: [Bytes32] = []
    var nodeEvents: [Int] = []
    var nodeLast: [StoredEvent?] = []
    var wallDelta: [Int64?] = []
    var lastNodeKey: Bytes32? = nil
    var lastNodeIdx: Int32 = 0
    var lastRecordKey: Bytes32? = nil
    var lastRecordIdx: Int32 = 0

    var recordIndex: [Bytes32: Int32] = [:]
    var records: [Bytes32] = []
    var recordKinds: [Int32] = []
    var recordSelected: [UInt8] = []   // bit 0 record prefix, bit 1 job prefix
    var recordIsJob: [Bool] = []
    var recordDuplicates: [Int32] = []
    /// The author seen sending the record before any delivery of its own (for traces without a
    /// hops-0 `deliver`).
    var recordSender: [Int32] = []
    var recordSendTime: [Int64] = []
    var recordGrafts: [Int32] = []

    var deliveries: [Delivery] = []
    var firstDelivered: Set<UInt64> = []
    /// Indexed by interned record kind + 1 (0: none); arrays, not dictionaries: this is per line.
    var kindCounters = [KindCounters](repeating: KindCounters(), count: Limits.traceMaxDistinctStrings + 2)
    var kindSeen = [Bool](repeating: false, count: Limits.traceMaxDistinctStrings + 2)
    var links: [UInt64: LinkCounters] = [:]
    var drops: [UInt64: Int] = [:]
    var eventCounts = [Int](repeating: 0, count: Limits.traceMaxDistinctStrings + 2)

    var pendingSends: [PairKey: Int64] = [:]
    var pendingRecvs: [PairKey: Int64] = [:]
    var minDelay: [UInt64: Int64] = [:]
    var pairsMatched = 0
    var pairsNotKept = 0

    var selectedEvents: [StoredEvent] = []
    var jobEvents: [StoredEvent] = []
    var exportEvents: [StoredEvent] = []
    var exportCutoff: Int64 = .max
    var exportDropped = 0
    var minTime: Int64 = .max, maxTime: Int64 = .min

    public private(set) var reader: TraceReader
    private let isJobEvent: [Bool] = TraceEvent.Kind.allCases.map { $0.isJob }

    public init(options: AnalysisOptions = AnalysisOptions(), strings: TraceStrings = TraceStrings()) throws(TraceUsageError) {
        self.strings = strings
        self.options = options
        self.reader = TraceReader(strings: strings)
        if let r = options.record {
            guard let p = HexPrefix(r) else { throw .badID(r) }
            recordPrefix = p
        } else { recordPrefix = nil }
        if let j = options.job {
            guard let p = HexPrefix(j) else { throw .badID(j) }
            jobPrefix = p
        } else { jobPrefix = nil }
    }

    /// Reads and analyses one file (call for each file, then `report()`).
    public func add(path: String) throws(TraceReadError) {
        try reader.read(path: path) { line in self.add(line) }
    }

    @inline(__always) func nodeIdx(_ k: Bytes32) -> Int32 {
        if let i = nodeIndex[k] { return i }
        let i = Int32(nodes.count)
        nodeIndex[k] = i
        nodes.append(k); nodeEvents.append(0); nodeLast.append(nil); wallDelta.append(nil)
        return i
    }

    @inline(__always) func recordIdx(_ k: Bytes32, kind: Int32, isJob: Bool) -> Int32 {
        if let i = recordIndex[k] {
            if recordKinds[Int(i)] < 0 && kind >= 0 { recordKinds[Int(i)] = kind }
            if isJob { recordIsJob[Int(i)] = true }
            return i
        }
        let i = Int32(records.count)
        recordIndex[k] = i
        records.append(k); recordKinds.append(kind); recordIsJob.append(isJob)
        recordDuplicates.append(0); recordGrafts.append(0); recordSender.append(-1); recordSendTime.append(0)
        var sel: UInt8 = 0
        if let p = recordPrefix, p.matches(k) { sel |= 1 }
        if let p = jobPrefix, p.matches(k) { sel |= 2 }
        recordSelected.append(sel)
        return i
    }

    /// Adds one parsed line.
    public func add(_ line: TraceLine) {
        guard let kind = line.kind else { return }
        let n: Int32
        if let k = lastNodeKey, k == line.node { n = lastNodeIdx } else {
            n = nodeIdx(line.node); lastNodeKey = line.node; lastNodeIdx = n
        }
        let t = line.time
        if t < minTime { minTime = t }
        if t > maxTime { maxTime = t }
        let isJob = isJobEvent[Int(line.event)]
        let p: Int32 = line.peer.map { nodeIdx($0) } ?? -1
        var r: Int32 = -1
        if let id = line.id {
            // Consecutive lines are often about the same record (simulator output, floods).
            if let k = lastRecordKey, k == id, !isJob, line.recordKind < 0 || recordKinds[Int(lastRecordIdx)] >= 0 {
                r = lastRecordIdx
            } else {
                r = recordIdx(id, kind: line.recordKind, isJob: isJob)
                lastRecordKey = id; lastRecordIdx = r
            }
        }
        let ev = StoredEvent(time: t, node: n, event: line.event, recordKind: line.recordKind, record: r, peer: p,
                             bytes: line.bytes ?? -1, hops: Int32(clamping: line.hops ?? -1), reason: line.reason)
        nodeEvents[Int(n)] += 1
        nodeLast[Int(n)] = ev
        eventCounts[Int(line.event)] += 1
        if let w = line.wall, wallDelta[Int(n)] == nil { wallDelta[Int(n)] = w &- t }
        let rk = r >= 0 ? recordKinds[Int(r)] : line.recordKind

        let ki = Int(rk) + 1
        switch kind {
        case .deliver, .dup, .graft, .prune, .ihave, .drop, .send, .recv: kindSeen[ki] = true
        default: break
        }
        switch kind {
        case .deliver:
            if r >= 0 {
                let key = UInt64(UInt32(r)) << 32 | UInt64(UInt32(n))
                if firstDelivered.insert(key).inserted {
                    deliveries.append(Delivery(time: t, record: r, node: n, from: p, hops: ev.hops))
                    kindCounters[ki].deliveries += 1
                } else {
                    kindCounters[ki].duplicates += 1
                    recordDuplicates[Int(r)] += 1
                }
            }
        case .dup:
            kindCounters[ki].duplicates += 1
            if r >= 0 { recordDuplicates[Int(r)] += 1 }
        case .graft:
            kindCounters[ki].grafts += 1
            if r >= 0 { recordGrafts[Int(r)] += 1 }
        case .prune: kindCounters[ki].prunes += 1
        case .ihave: kindCounters[ki].ihaves += 1
        case .drop:
            kindCounters[ki].drops += 1
            drops[UInt64(UInt32(n)) << 32 | UInt64(UInt32(bitPattern: line.reason)), default: 0] += 1
        case .send:
            if p >= 0 {
                let key = UInt64(UInt32(n)) << 32 | UInt64(UInt32(p))
                links[key, default: LinkCounters()].frames += 1
                links[key, default: LinkCounters()].bytes += line.bytes ?? 0
                if r >= 0 { pair(send: true, from: n, to: p, record: r, time: t) }
            }
            // The author: sends the record (carrying hop count ≤ 1) without having delivered it.
            if r >= 0 && (line.hops ?? 0) <= 1 && (recordSender[Int(r)] < 0 || (recordSender[Int(r)] == n && t < recordSendTime[Int(r)]))
                && !firstDelivered.contains(UInt64(UInt32(r)) << 32 | UInt64(UInt32(n))) {
                recordSender[Int(r)] = n; recordSendTime[Int(r)] = t
            }
            kindCounters[ki].sends += 1
            kindCounters[ki].sendBytes += line.bytes ?? 0
        case .recv:
            if p >= 0 {
                let key = UInt64(UInt32(p)) << 32 | UInt64(UInt32(n))
                links[key, default: LinkCounters()].recvFrames += 1
                links[key, default: LinkCounters()].recvBytes += line.bytes ?? 0
                if r >= 0 { pair(send: false, from: p, to: n, record: r, time: t) }
            }
            kindCounters[ki].recvs += 1
            kindCounters[ki].recvBytes += line.bytes ?? 0
        default: break
        }

        if r >= 0 {
            let sel = recordSelected[Int(r)]
            if sel & 1 != 0 && selectedEvents.count < Limits.traceMaxRecordEvents { selectedEvents.append(ev) }
            if isJob && jobEvents.count < Limits.traceMaxRecordEvents { jobEvents.append(ev) }
        }
        if options.keepEventsForExport { keepForExport(ev) }
    }

    private func pair(send: Bool, from: Int32, to: Int32, record: Int32, time: Int64) {
        let key = PairKey(from: from, to: to, record: record)
        let other: Int64?
        if send { other = pendingRecvs.removeValue(forKey: key) } else { other = pendingSends.removeValue(forKey: key) }
        if let other {
            let delay = send ? other &- time : time &- other
            let lk = UInt64(UInt32(from)) << 32 | UInt64(UInt32(to))
            if delay < minDelay[lk] ?? .max { minDelay[lk] = delay }
            pairsMatched += 1
            return
        }
        if pendingSends.count + pendingRecvs.count >= Limits.tracePendingPairs { pairsNotKept += 1; return }
        if send {
            if pendingSends[key] == nil { pendingSends[key] = time }
        } else {
            if pendingRecvs[key] == nil { pendingRecvs[key] = time }
        }
    }

    /// Keeps the earliest events (by node time) up to the export cap.
    private func keepForExport(_ ev: StoredEvent) {
        guard ev.time < exportCutoff else { exportDropped += 1; return }
        exportEvents.append(ev)
        if exportEvents.count >= Limits.traceMaxExportEvents {
            exportEvents.sort { $0.time < $1.time }
            let keep = Limits.traceMaxExportEvents / 2
            exportDropped += exportEvents.count - keep
            exportCutoff = exportEvents[keep].time
            exportEvents.removeLast(exportEvents.count - keep)
        }
    }
}

/// A bad command-line value for the analysis.
public enum TraceUsageError: Error, CustomStringConvertible, Sendable {
    case badID(String)
    case noSuchRecord(String)
    case ambiguous(String, candidates: [String])
    public var description: String {
        switch self {
        case .badID(let s): return "'\(s)' is not a hex record id or prefix"
        case .noSuchRecord(let s): return "no record or job with id starting '\(s)' in these traces"
        case .ambiguous(let s, let c):
            return "id prefix '\(s)' matches \(c.count) records (\(c.prefix(5).map { String($0.prefix(16)) }.joined(separator: ", "))\(c.count > 5 ? ", …" : "")); give more digits"
        }
    }
}

extension TraceEvent.Kind {
    var isJob: Bool { rawValue.hasPrefix("job.") || self == .verdict }
}
