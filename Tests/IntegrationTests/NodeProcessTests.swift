import XCTest
import Foundation
import MurmurCore
import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

/// Real `murmur` processes on loopback. Every wait has a deadline; every child is killed and
/// reaped when its `Child` goes away, whatever the test's outcome.
final class NodeProcessTests: XCTestCase {
    func tempDir() throws -> String {
        var template = Array("/tmp/murmur-it-XXXXXX".utf8CString)
        let made = try XCTUnwrap(mkdtemp(&template))
        let path = String(cString: made)
        addTeardownBlock { _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", path]).reap(blocking: true) }
        return path
    }

    /// A child process with line-oriented stdout.
    final class Child {
        let process: ChildProcess
        var lines: [String] = []
        private var partial: [UInt8] = []

        init(_ exe: String, _ args: [String]) throws {
            process = try ChildProcess(executable: exe, arguments: args, discardStderr: true)
        }

        /// Reads stdout until a line satisfies `match` or `seconds` pass.
        func waitForLine(seconds: Double = 10, _ match: (String) -> Bool) -> String? {
            let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
            var checked = 0
            while true {
                while checked < lines.count {
                    if match(lines[checked]) { return lines[checked] }
                    checked += 1
                }
                if Posix.monotonicNanoseconds() > deadline { return nil }
                guard let chunk = process.readStdout() else { return nil }
                if chunk.isEmpty { usleep(5_000); continue }
                for b in chunk {
                    if b == 0x0A { lines.append(String(decoding: partial, as: UTF8.self)); partial.removeAll() } else { partial.append(b) }
                }
            }
        }

        /// Waits for exit (killing after `seconds`); returns the status.
        func waitExit(seconds: Double = 10) -> Int32 {
            let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
            while Posix.monotonicNanoseconds() < deadline {
                _ = process.readStdout().map { chunk in
                    for b in chunk {
                        if b == 0x0A { lines.append(String(decoding: partial, as: UTF8.self)); partial.removeAll() } else { partial.append(b) }
                    }
                }
                if let s = process.reap() {
                    while let chunk = process.readStdout(), !chunk.isEmpty {
                        for b in chunk {
                            if b == 0x0A { lines.append(String(decoding: partial, as: UTF8.self)); partial.removeAll() } else { partial.append(b) }
                        }
                    }
                    return s
                }
                usleep(5_000)
            }
            process.kill()
            return process.reap(blocking: true) ?? -1
        }
    }

    /// Starts a node and returns it with its id and bound address.
    func startNode(_ exe: String, data: String, joins: [String] = []) throws -> (Child, String, String) {
        var args = ["node", "--listen", "127.0.0.1:0", "--data", data, "--events", "--parent-pid", "\(getpid())"]
        for j in joins { args += ["--join", j] }
        let child = try Child(exe, args)
        let line = try XCTUnwrap(child.waitForLine { $0.hasPrefix("node ") }, "node did not print its listening line")
        let parts = line.split(separator: " ")
        XCTAssertEqual(parts.count, 5, line)
        return (child, String(parts[1]), String(parts[4]))
    }

    func testTwoNodesLinkUpAndAnswerPing() throws {
        let exe = try murmurPath()
        let root = try tempDir()
        let (a, idA, addrA) = try startNode(exe, data: root + "/a")
        let (b, idB, _) = try startNode(exe, data: root + "/b", joins: [addrA])
        XCTAssertNotEqual(idA, idB)
        XCTAssertNotNil(b.waitForLine { $0.hasPrefix("link-up peer=\(idA)") }, "b never linked to a")
        XCTAssertNotNil(a.waitForLine { $0.hasPrefix("link-up peer=\(idB)") }, "a never saw b")
        XCTAssertNotNil(b.waitForLine { $0.hasPrefix("rtt peer=\(idA)") }, "no round trip measured")

        let ping = try Child(exe, ["ping", addrA, "--count", "2", "--interval", "10", "--peer", idA, "--timeout", "10"])
        XCTAssertEqual(ping.waitExit(), 0)
        XCTAssertTrue(ping.lines.contains { $0.contains(idA) }, "\(ping.lines)")
        XCTAssertTrue(ping.lines.contains { $0.hasPrefix("pong 2:") }, "\(ping.lines)")

        // A dialer pinning another key must fail.
        let wrong = try Child(exe, ["ping", addrA, "--count", "1", "--peer", idB, "--timeout", "10"])
        XCTAssertEqual(wrong.waitExit(), 1)

        // Clean shutdown on SIGTERM; b sees the link go down (its membership layer keeps
        // re-dialling a lost active peer with back-off, and rejoins through its seeds).
        a.process.terminate()
        XCTAssertEqual(a.waitExit(), 0)
        XCTAssertNotNil(b.waitForLine { $0.hasPrefix("link-down peer=\(idA)") })

        // Same data dir, same identity; b's reconnect loop finds it again on the same port.
        let again = try Child(exe, ["node", "--listen", addrA, "--data", root + "/a", "--events", "--parent-pid", "\(getpid())"])
        let line = try XCTUnwrap(again.waitForLine { $0.hasPrefix("node ") })
        XCTAssertTrue(line.contains(idA), "identity changed across restarts: \(line)")
        XCTAssertNotNil(b.waitForLine(seconds: 15) { $0.hasPrefix("link-up peer=\(idA)") && b.lines.filter { $0.hasPrefix("link-up peer=\(idA)") }.count >= 2 },
                        "b did not reconnect")
        b.process.terminate()
        again.process.terminate()
        XCTAssertEqual(b.waitExit(), 0)
        XCTAssertEqual(again.waitExit(), 0)
    }

    func testDifferentNetworkKeysDoNotLink() throws {
        let exe = try murmurPath()
        let root = try tempDir()
        let keyPath = root + "/other.key"
        let fd = open(keyPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var text = Array((String(repeating: "ab", count: 32) + "\n").utf8)
        XCTAssertEqual(write(fd, &text, text.count), text.count)
        close(fd)
        let (a, _, addrA) = try startNode(exe, data: root + "/a")
        let ping = try Child(exe, ["ping", addrA, "--network-key", keyPath, "--count", "1", "--timeout", "5"])
        XCTAssertEqual(ping.waitExit(), 1)
        a.process.terminate()
        XCTAssertEqual(a.waitExit(), 0)
    }

    func testUsageErrorsExitTwo() throws {
        let exe = try murmurPath()
        for args in [["node", "--bogus"], ["node", "--listen", "nowhere"], ["ping"], ["ping", "127.0.0.1:1", "--count", "zero"],
                     ["demo", "--nodes", "99"]] {
            let c = try Child(exe, args)
            XCTAssertEqual(c.waitExit(), 2, "\(args)")
        }
        for command in ["node", "ping", "demo"] {
            let c = try Child(exe, [command, "--help"])
            XCTAssertEqual(c.waitExit(), 0)
            XCTAssertTrue(c.lines.first?.hasPrefix("usage: murmur \(command)") == true, "\(c.lines)")
        }
    }

    func testDemoRunsAndCleansUp() throws {
        let exe = try murmurPath()
        let demo = try Child(exe, ["demo", "--nodes", "4", "--timeout", "30"])
        XCTAssertEqual(demo.waitExit(seconds: 60), 0, demo.lines.joined(separator: "\n"))
        XCTAssertTrue(demo.lines.contains { $0.hasPrefix("demo OK") })
        XCTAssertTrue(demo.lines.contains { $0.hasPrefix("mesh formed after") })
        XCTAssertTrue(demo.lines.contains { $0.hasPrefix("all 4 nodes hold all 3 records") })
        // The traces are kept (data directories are not): one file per node.
        let traces = try XCTUnwrap(demoTraceDirectory(demo.lines), demo.lines.joined(separator: "\n"))
        defer { try? FileManager.default.removeItem(atPath: traces) }
        for i in 0..<4 { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(traces)/node-\(i).jsonl")) }
    }
}

/// The directory of the `traces: DIR/node-*.jsonl` line `murmur demo` prints.
func demoTraceDirectory(_ lines: [String]) -> String? {
    guard let line = lines.first(where: { $0.hasPrefix("traces: ") }),
          let path = line.dropFirst(8).split(separator: " ").first, path.hasSuffix("/node-*.jsonl") else { return nil }
    return String(path.dropLast(13))
}
