#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A failed system call: which call, and the errno it returned (with the C library's text).
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The result of a call on a non-blocking descriptor.
public enum IOResult<T: Sendable>: Sendable {
    case done(T)
    /// EAGAIN / EWOULDBLOCK: try again when epoll says the descriptor is ready.
    case wouldBlock
}

extension IOResult: Equatable where T: Equatable {}

/// The one place Murmur calls into the kernel. Each syscall is wrapped once; `EINTR` is retried
/// here and nowhere else; `EAGAIN` becomes `.wouldBlock`; any other errno a `SystemError` that
/// names the call. Nothing outside this file reads `errno`.
public enum Posix {
    @inline(__always)
    static func retrying(_ call: StaticString, _ body: () -> Int32) throws(SystemError) -> Int32 {
        while true {
            let r = body()
            if r >= 0 { return r }
            let e = clinux_errno()
            if e == EINTR { continue }
            throw SystemError(call: "\(call)", errno: e)
        }
    }

    @inline(__always)
    static func retryingNonBlocking(_ call: StaticString, _ body: () -> Int) throws(SystemError) -> IOResult<Int> {
        while true {
            let r = body()
            if r >= 0 { return .done(r) }
            let e = clinux_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError(call: "\(call)", errno: e)
        }
    }

    // MARK: sockets

    /// A non-blocking, close-on-exec TCP socket for `family` (AF_INET or AF_INET6).
    public static func tcpSocket(family: Int32) throws(SystemError) -> Int32 {
        try retrying("socket") { socket(family, clinux_sock_stream() | clinux_sock_nonblock_cloexec(), 0) }
    }

    /// A connected pair of non-blocking AF_UNIX stream sockets (tests, local hand-offs).
    public static func socketPair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try retrying("socketpair") { socketpair(AF_UNIX, clinux_sock_stream() | clinux_sock_nonblock_cloexec(), 0, &fds) }
        return (fds[0], fds[1])
    }

    public static func bind(_ fd: Int32, _ address: SocketAddress) throws(SystemError) {
        _ = try retrying("bind") { address.withSockAddr { Glibc.bind(fd, $0, $1) } }
    }

    public static func listen(_ fd: Int32, backlog: Int32) throws(SystemError) {
        _ = try retrying("listen") { Glibc.listen(fd, backlog) }
    }

    /// Accepts one pending connection as a non-blocking socket, with the peer's address.
    public static func accept(_ fd: Int32) throws(SystemError) -> IOResult<(Int32, SocketAddress?)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = try retryingNonBlocking("accept4") {
            withUnsafeMutablePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    Int(accept4(fd, sa, &length, clinux_sock_nonblock_cloexec()))
                }
            }
        }
        switch r {
        case .wouldBlock: return .wouldBlock
        case .done(let client): return .done((Int32(client), SocketAddress(storage: storage)))
        }
    }

    /// Starts a non-blocking connect. `.done` = connected at once; `.wouldBlock` = in progress
    /// (wait for writability, then check `socketError`).
    public static func connect(_ fd: Int32, _ address: SocketAddress) throws(SystemError) -> IOResult<Void> {
        while true {
            let r = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if r == 0 { return .done(()) }
            let e = clinux_errno()
            if e == EINTR { continue }
            if e == EINPROGRESS || e == EAGAIN { return .wouldBlock }
            throw SystemError(call: "connect", errno: e)
        }
    }

    /// The pending error of a socket (SO_ERROR): 0 once a non-blocking connect has succeeded.
    public static func socketError(_ fd: Int32) throws(SystemError) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try retrying("getsockopt") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) }
        return value
    }

    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(SystemError) {
        var v = value
        _ = try retrying("setsockopt") { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    public static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try retrying("getsockname") {
            withUnsafeMutablePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        return SocketAddress(storage: storage)
    }

    public static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = try retrying("fcntl") { fcntl(fd, F_GETFL) }
        _ = try retrying("fcntl") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    // MARK: reading and writing

    /// Reads up to `count` bytes. `.done(0)` means end of stream.
    @inline(__always)
    public static func read(_ fd: Int32, into pointer: UnsafeMutableRawPointer, count: Int) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("read") { Glibc.read(fd, pointer, count) }
    }

    @inline(__always)
    public static func write(_ fd: Int32, from pointer: UnsafeRawPointer, count: Int) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("write") { Glibc.write(fd, pointer, count) }
    }

    /// Writes to a socket without raising SIGPIPE when the peer has gone (EPIPE instead).
    @inline(__always)
    public static func send(_ fd: Int32, from pointer: UnsafeRawPointer, count: Int) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("send") { Glibc.send(fd, pointer, count, Int32(MSG_NOSIGNAL)) }
    }

    /// Makes writes to closed pipes and sockets fail with EPIPE instead of killing the process.
    public static func ignoreBrokenPipes() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    @inline(__always)
    public static func readv(_ fd: Int32, _ vectors: UnsafePointer<iovec>, count: Int32) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("readv") { Glibc.readv(fd, vectors, count) }
    }

    @inline(__always)
    public static func writev(_ fd: Int32, _ vectors: UnsafePointer<iovec>, count: Int32) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("writev") { Glibc.writev(fd, vectors, count) }
    }

    /// Closes `fd`. EINTR is not retried (on Linux the descriptor is gone either way).
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    // MARK: processes

    /// A close-on-exec pipe: (read end, write end).
    public static func pipe() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try retrying("pipe2") { pipe2(&fds, O_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// Collects a child's exit: `.done(status)` (exit code, or 128 + signal), `.wouldBlock`
    /// while it runs (only when not `blocking`).
    public static func waitChild(_ pid: pid_t, blocking: Bool) throws(SystemError) -> IOResult<Int32> {
        var status: Int32 = 0
        let r = try retrying("waitpid") { waitpid(pid, &status, blocking ? 0 : WNOHANG) }
        if r == 0 { return .wouldBlock }
        // WIFEXITED / WEXITSTATUS by hand (the macros are not imported).
        return .done((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
    }

    // MARK: epoll, eventfd, signalfd

    public static func epollCreate() throws(SystemError) -> Int32 {
        try retrying("epoll_create1") { epoll_create1(clinux_epoll_cloexec()) }
    }

    public static func epollControl(_ epfd: Int32, op: Int32, fd: Int32, events: UInt32, data: UInt64) throws(SystemError) {
        _ = try retrying("epoll_ctl") { clinux_epoll_ctl(epfd, op, fd, events, data) }
    }

    /// Waits for events; an interrupted wait returns 0 events rather than retrying (the caller
    /// recomputes its timeout).
    public static func epollWait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, max: Int32, timeoutMilliseconds: Int32) throws(SystemError) -> Int {
        let r = clinux_epoll_wait(epfd, events, max, timeoutMilliseconds)
        if r >= 0 { return Int(r) }
        let e = clinux_errno()
        if e == EINTR { return 0 }
        throw SystemError(call: "epoll_wait", errno: e)
    }

    public static func eventFD() throws(SystemError) -> Int32 {
        try retrying("eventfd") { eventfd(0, clinux_efd_flags()) }
    }

    /// Adds `value` to an eventfd counter (wakes its reader).
    public static func eventFDSignal(_ fd: Int32) throws(SystemError) {
        var one: UInt64 = 1
        _ = try retryingNonBlocking("write") { Glibc.write(fd, &one, 8) }
    }

    /// Resets an eventfd counter; returns false when it was already zero.
    @discardableResult
    public static func eventFDDrain(_ fd: Int32) throws(SystemError) -> Bool {
        var value: UInt64 = 0
        if case .done = try retryingNonBlocking("read", { Glibc.read(fd, &value, 8) }) { return true }
        return false
    }

    /// Blocks SIGINT/SIGTERM on this thread (inherited by threads it starts afterwards) and
    /// returns a non-blocking signalfd that becomes readable when one arrives.
    public static func signalFDForInterrupt() throws(SystemError) -> Int32 {
        try retrying("signalfd") { clinux_signalfd_int_term() }
    }

    /// Reads one pending signal number from a signalfd, if any.
    public static func readSignal(_ fd: Int32) throws(SystemError) -> Int32? {
        let size = Int(clinux_sizeof_signalfd_siginfo())
        return try withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { (buffer) throws(SystemError) -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            switch try retryingNonBlocking("read", { Glibc.read(fd, base, size) }) {
            case .wouldBlock: return nil
            case .done(let n): return n == size ? Int32(clinux_signalfd_signo(base)) : nil
            }
        }
    }

    /// Monotonic clock, for the shell only (state machines are given `now`).
    public static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
