import MurmurCore

/// Data for the HTML page and the Chrome trace: node list, the earliest events (capped) on the
/// corrected time line, per-record propagation for the busiest records, job timelines.
public struct TraceExport: Codable, Sendable {
    public var startNs: Int64
    public var nodes: [String]
    public var eventNames: [String]
    public var recordIDs: [String]
    /// One row per event: [ns since start, node index, event-name index, record index or -1,
    /// peer index or -1, bytes or -1, hops or -1, reason-name index or -1].
    public var events: [[Int64]]
    /// Events not embedded because of `Limits.traceMaxExportEvents`.
    public var eventsOmitted: Int
    public var records: [TraceReport.RecordReport]
    /// Tree entries cut from the embedded records (pages stay small); see `--json` for all.
    public var treeEntriesOmitted: Int
    public var jobs: [TraceReport.JobReport]
}

extension TraceAnalyzer {
    static let maxTreeInPage = 1500
    static let maxCurvePoints = 400

    public func exportData(report: TraceReport) -> TraceExport {
        let off = report.clock.nodes.map(\.offsetNs)
        let start = report.startNs
        var events = exportEvents
        // The --record record's events are always embedded, also beyond the cap's time window.
        events += selectedEvents.filter { $0.time >= exportCutoff }
        events.sort { ($0.time &- off[Int($0.node)]) < ($1.time &- off[Int($1.node)]) }
        // Records referenced by events get a compact index.
        var recordMap: [Int32: Int64] = [:]
        var recordIDs: [String] = []
        var rows: [[Int64]] = []
        rows.reserveCapacity(events.count)
        for e in events {
            var ri: Int64 = -1
            if e.record >= 0 {
                if let i = recordMap[e.record] { ri = i } else {
                    ri = Int64(recordIDs.count); recordMap[e.record] = ri; recordIDs.append(TraceHex.string(records[Int(e.record)]))
                }
            }
            rows.append([e.time &- off[Int(e.node)] &- start, Int64(e.node), Int64(e.event), ri, Int64(e.peer),
                         e.bytes, Int64(e.hops), Int64(e.reason)])
        }
        // Records for the selector: the one asked for, then the most delivered.
        let grouped = groupDeliveries()
        var order = records.indices.filter { grouped.starts[$0 + 1] > grouped.starts[$0] }
        order.sort { (grouped.starts[$0 + 1] - grouped.starts[$0], -$0) > (grouped.starts[$1 + 1] - grouped.starts[$1], -$1) }
        if let want = report.record?.id, let i = records.indices.first(where: { TraceHex.string(records[$0]) == want }) {
            order.removeAll { $0 == i }
            order.insert(i, at: 0)
        }
        var omitted = 0
        var recs: [TraceReport.RecordReport] = []
        for r in order.prefix(Limits.traceMaxHTMLRecords) {
            var rep = recordReport(r, grouped: grouped, off: off, startNs: start,
                                   withEvents: recordSelected[r] & 1 != 0 ? nil : [])
            if rep.tree.count > Self.maxTreeInPage {
                omitted += rep.tree.count - Self.maxTreeInPage
                rep.tree.removeLast(rep.tree.count - Self.maxTreeInPage)
            }
            if rep.curve.count > Self.maxCurvePoints {
                let step = Double(rep.curve.count) / Double(Self.maxCurvePoints)
                var c: [[Int64]] = []
                var x = 0.0
                while Int(x) < rep.curve.count { c.append(rep.curve[Int(x)]); x += step }
                if let last = rep.curve.last { c.append(last) }
                rep.curve = c
            }
            recs.append(rep)
        }
        var jobs: [TraceReport.JobReport] = []
        for j in report.jobs.prefix(200) {
            if let i = recordIndex[Bytes32(hex: j.id) ?? .zero] { jobs.append(jobReport(Int(i), off: off, startNs: start)) }
        }
        return TraceExport(startNs: start, nodes: nodes.map { TraceHex.string($0) }, eventNames: strings.names,
                           recordIDs: recordIDs, events: rows, eventsOmitted: exportDropped, records: recs,
                           treeEntriesOmitted: omitted, jobs: jobs)
    }
}

/// Chrome trace-event JSON (the "JSON Array/Object format"), which Perfetto and chrome://tracing
/// open: one process "mesh", one thread per node; events are instant events, sends are joined to
/// their receives by flow arrows, jobs are spans from first to last event.
public enum ChromeTrace {
    public static func render(report: TraceReport, export e: TraceExport) -> String {
        var out = "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"source\":\"murmur trace\",\"clock\":\"\(report.clock.mode.rawValue)\"},\"traceEvents\":[\n"
        var first = true
        func emit(_ s: String) { if !first { out += ",\n" }; first = false; out += s }
        emit("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"mesh\"}}")
        for (i, n) in e.nodes.enumerated() {
            emit("{\"ph\":\"M\",\"pid\":1,\"tid\":\(i + 1),\"name\":\"thread_name\",\"args\":{\"name\":\"\(n.prefix(8))\"}}")
        }
        // Flow ids for send→recv on (from, to, record).
        var flows: [String: Int] = [:]
        var nextFlow = 1
        for row in e.events where row.count >= 8 {
            let ts = us(row[0]), tid = row[1] + 1
            let name = e.eventNames.indices.contains(Int(row[2])) ? e.eventNames[Int(row[2])] : "?"
            var args: [String] = []
            if row[3] >= 0 { args.append("\"id\":\"\(e.recordIDs[Int(row[3])])\"") }
            if row[4] >= 0 { args.append("\"peer\":\"\(e.nodes[Int(row[4])].prefix(8))\"") }
            if row[5] >= 0 { args.append("\"bytes\":\(row[5])") }
            if row[6] >= 0 { args.append("\"hops\":\(row[6])") }
            if row[7] >= 0, e.eventNames.indices.contains(Int(row[7])) { args.append("\"reason\":\(jsonString(e.eventNames[Int(row[7])]))") }
            let label = row[3] >= 0 ? "\(name) \(e.recordIDs[Int(row[3])].prefix(8))" : name
            emit("{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":\(tid),\"ts\":\(ts),\"name\":\(jsonString(label)),\"cat\":\(jsonString(name)),\"args\":{\(args.joined(separator: ","))}}")
            if (name == "send" || name == "recv") && row[3] >= 0 && row[4] >= 0 {
                let key = name == "send" ? "\(row[1])>\(row[4])#\(row[3])" : "\(row[4])>\(row[1])#\(row[3])"
                if name == "send" {
                    if flows[key] == nil {
                        let id = nextFlow
                        flows[key] = id
                        nextFlow += 1
                        emit("{\"ph\":\"s\",\"pid\":1,\"tid\":\(tid),\"ts\":\(ts),\"id\":\(id),\"name\":\"msg\",\"cat\":\"flow\"}")
                    }
                } else if let id = flows.removeValue(forKey: key) {
                    emit("{\"ph\":\"f\",\"bp\":\"e\",\"pid\":1,\"tid\":\(tid),\"ts\":\(ts),\"id\":\(id),\"name\":\"msg\",\"cat\":\"flow\"}")
                }
            }
        }
        for j in e.jobs {
            guard let firstEv = j.timeline.first, let idx = e.nodes.firstIndex(of: firstEv.node) else { continue }
            emit("{\"ph\":\"X\",\"pid\":1,\"tid\":\(idx + 1),\"ts\":\(us(j.startNs &- e.startNs)),\"dur\":\(us(j.durationNs)),\"name\":\"job \(j.id.prefix(8)) (\(j.outcome))\",\"cat\":\"job\"}")
        }
        out += "\n]}\n"
        return out
    }

    /// Microseconds with three decimals, as Chrome expects.
    static func us(_ ns: Int64) -> String {
        let neg = ns < 0
        let m = ns.magnitude
        var frac = String(m % 1000)
        while frac.count < 3 { frac = "0" + frac }
        return (neg ? "-" : "") + "\(m / 1000).\(frac)"
    }

    static func jsonString(_ s: String) -> String {
        var b: [UInt8] = []
        TraceEncoder.appendString(s, to: &b)
        return String(decoding: b, as: UTF8.self)
    }
}
