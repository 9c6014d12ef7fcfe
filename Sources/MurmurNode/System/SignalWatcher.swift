#if canImport(Glibc)
import Glibc
#endif

/// Delivers SIGINT and SIGTERM to a loop callback through a signalfd (no async-signal-unsafe
/// work in a handler). Create it before starting other threads: it blocks the two signals for
/// this thread and the threads it starts.
public final class SignalWatcher: EventSource {
    private let fd: Int32
    private var token: LoopToken?
    private weak var loop: EventLoop?
    private let onSignal: (Int32) -> Void

    public init(loop: EventLoop, onSignal: @escaping (Int32) -> Void) throws(SystemError) {
        fd = try Posix.signalFDForInterrupt()
        self.loop = loop
        self.onSignal = onSignal
        token = try loop.register(fd: fd, events: .readable, source: self)
    }

    deinit {
        if let token { loop?.deregister(fd: fd, token: token) }
        Posix.close(fd)
    }

    public func handle(_ events: IOEvents) {
        while let signal = try? Posix.readSignal(fd) { onSignal(signal) }
    }
}

/// Writes a line to stdout at once (unbuffered), so a parent reading our pipe sees it now.
public func writeLine(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let result = bytes.withUnsafeMutableBytes { b in try? Posix.write(1, from: b.baseAddress! + offset, count: b.count - offset) }
        guard case .done(let n)? = result, n > 0 else { return }
        offset += n
    }
    bytes.removeAll()
}
