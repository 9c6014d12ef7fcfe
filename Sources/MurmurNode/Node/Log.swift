#if canImport(Glibc)
import Glibc
#endif

/// Log lines to stderr: warnings always, `-v` info, `-vv` debug.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case warning = 0, info = 1, debug = 2
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    public var level: Level
    public var prefix: String

    public init(level: Level, prefix: String = "") {
        self.level = level
        self.prefix = prefix
    }

    public func warning(_ message: @autoclosure () -> String) { emit(.warning, message()) }
    public func info(_ message: @autoclosure () -> String) { if level >= .info { emit(.info, message()) } }
    public func debug(_ message: @autoclosure () -> String) { if level >= .debug { emit(.debug, message()) } }

    private func emit(_ l: Level, _ message: String) {
        let tag = l == .warning ? "warn" : l == .info ? "info" : "debug"
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let seconds = Int(ts.tv_sec) % 86_400
        let time = String(format2(seconds / 3600)) + ":" + format2(seconds / 60 % 60) + ":" + format2(seconds % 60)
            + "." + String(Int(ts.tv_nsec) / 1_000_000 + 1000).dropFirst()
        var line = Array("\(time) \(tag) \(prefix)\(message)\n".utf8)
        var offset = 0
        while offset < line.count {
            let n = line.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
        line.removeAll()
    }

    private func format2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
