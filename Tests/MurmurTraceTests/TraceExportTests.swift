import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import MurmurCore
@testable import MurmurTrace

/// The HTML page and the Chrome trace: well-formed, self-contained, carrying the expected data.
final class TraceExportTests: XCTestCase {
    typealias S = TraceTestSupport

    struct Fixture {
        var sim: SyntheticTrace
        var events: [TraceEvent]
        var report: TraceReport
        var export: TraceExport
    }

    func fixture() throws -> Fixture {
        var c = SyntheticTrace.Config(nodes: 16, topology: .randomMesh(degree: 3))
        c.records = 4; c.jobs = 2; c.maxSkewNs = 3_000_000; c.droppingNodes = [7]
        let sim = SyntheticTrace(c)
        let events = S.events(sim)
        var text = S.lines(events)
        text += #"{"v":1,"t":5,"node":"ab"# // a truncated last line shows up in the page
        let path = S.write(text)
        let a = try TraceAnalyzer(options: AnalysisOptions(record: sim.recordIDs[2].hex, keepEventsForExport: true))
        try a.add(path: path)
        let report = try a.report()
        return Fixture(sim: sim, events: events, report: report, export: a.exportData(report: report))
    }

    /// Extracts the embedded data object from a page.
    func embeddedData(_ page: String) throws -> [String: Any] {
        let start = try XCTUnwrap(page.range(of: "/*DATA*/")), end = try XCTUnwrap(page.range(of: "/*END*/"))
        let json = page[start.upperBound..<end.lowerBound]
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    func testHTMLPageIsWellFormedAndCarriesTheTrace() throws {
        let f = try fixture()
        let page = TraceHTML.render(report: f.report, export: f.export)
        // Well-formed XML (the page is written XHTML-compatible, script/style in CDATA).
        let parser = XMLParser(data: Data(page.replacingOccurrences(of: "<!DOCTYPE html>", with: "").utf8))
        XCTAssertTrue(parser.parse(), "page is not well-formed: \(String(describing: parser.parserError))")
        // Self-contained: nothing fetched from the network.
        for bad in ["http://", "https://"] {
            let uses = page.components(separatedBy: bad).count - 1
            let namespaces = page.components(separatedBy: "\(bad)www.w3.org/").count - 1
            XCTAssertEqual(uses, namespaces, "only XML namespace URIs may appear")
        }
        XCTAssertFalse(page.contains("<script src"))
        XCTAssertFalse(page.contains("<link "))
        let data = try embeddedData(page)
        XCTAssertEqual((data["nodes"] as? [Any])?.count, 16)
        XCTAssertEqual((data["events"] as? [Any])?.count, f.events.count)
        let records = try XCTUnwrap(data["records"] as? [[String: Any]])
        XCTAssertEqual(records.count, 4)
        XCTAssertEqual(records.first?["id"] as? String, f.sim.recordIDs[2].hex, "the --record record comes first")
        XCTAssertEqual((data["jobs"] as? [Any])?.count, 2)
        XCTAssertTrue(page.contains("1 bad lines"), "bad lines are reported in the page")
        XCTAssertTrue(page.contains("invalid-signature"), "drops by reason are in the summary")
    }

    func testChromeTraceOpensAsTraceEventJSON() throws {
        let f = try fixture()
        let text = ChromeTrace.render(report: f.report, export: f.export)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let evs = try XCTUnwrap(obj["traceEvents"] as? [[String: Any]])
        XCTAssertEqual(evs.filter { $0["ph"] as? String == "i" }.count, f.events.count)
        XCTAssertEqual(evs.filter { $0["name"] as? String == "thread_name" }.count, 16)
        let starts = evs.filter { $0["ph"] as? String == "s" }.count, ends = evs.filter { $0["ph"] as? String == "f" }.count
        XCTAssertGreaterThan(ends, 0)
        XCTAssertLessThanOrEqual(ends, starts)
        XCTAssertEqual(evs.filter { $0["ph"] as? String == "X" }.count, 2, "one span per job")
        for e in evs where e["ph"] as? String != "M" { XCTAssertNotNil(e["ts"]) }
    }

    /// Loads the page in headless Chromium when it is installed: the script runs to the end
    /// without console errors and draws the tree and the swimlane.
    func testPageLoadsInHeadlessChromium() throws {
        let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        guard let chrome = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("Chromium is not installed; Scripts/trace-screenshot.sh installs Debian's chromium and runs the same check")
        }
        let f = try fixture()
        let dir = S.tempDir()
        let page = dir.appendingPathComponent("page.html")
        try TraceHTML.render(report: f.report, export: f.export).write(to: page, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chrome)
        p.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                       "--user-data-dir=\(dir.appendingPathComponent("profile").path)", "--enable-logging=stderr", "--v=0",
                       "--virtual-time-budget=5000", "--dump-dom", page.absoluteString]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        // A hang fails fast instead of blocking the suite.
        let deadline = Date().addingTimeInterval(60)
        let outData = LockedData(), errData = LockedData()
        let g = DispatchGroup()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            g.enter()
            DispatchQueue.global().async { sink.set(pipe.fileHandleForReading.readDataToEndOfFile()); g.leave() }
        }
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate(); XCTFail("chromium did not finish in 60 s"); return }
        g.wait()
        let dom = String(decoding: outData.get(), as: UTF8.self)
        let console = String(decoding: errData.get(), as: UTF8.self)
        XCTAssertTrue(dom.contains("data-ready=\"yes\""), "the page's script did not finish; console:\n\(console.suffix(2000))")
        XCTAssertTrue(dom.contains("id=\"tree-svg\""))
        XCTAssertTrue(dom.contains("id=\"swimlane-svg\""))
        XCTAssertTrue(dom.contains("id=\"coverage-svg\""))
        let errors = console.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
        XCTAssertTrue(errors.isEmpty, "console errors:\n\(errors.joined(separator: "\n"))")
        // One tree circle per delivering node of the selected record.
        XCTAssertEqual(dom.components(separatedBy: "<circle").count - 1 >= f.report.record!.delivered, true)
    }
}

/// Data handed from a reader thread to the test.
final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
