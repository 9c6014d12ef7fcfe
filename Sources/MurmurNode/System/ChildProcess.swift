#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A child process started with `posix_spawn`, its stdout on a non-blocking pipe. Used by
/// `murmur demo` and the integration tests; the owner must `terminate()`/`kill()` and `reap()`.
public final class ChildProcess {
    public let pid: pid_t
    /// Read end of the child's stdout (non-blocking); -1 once closed.
    public private(set) var stdoutFD: Int32
    public private(set) var exitStatus: Int32?

    /// Starts `executable` with `arguments` (argv[1...]). stderr is inherited unless
    /// `discardStderr`; stdin is /dev/null.
    public init(executable: String, arguments: [String], discardStderr: Bool = false) throws(SystemError) {
        let (readEnd, writeEnd) = try Posix.pipe()
        let pipeFDs = [readEnd, writeEnd]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        if discardStderr { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child must not inherit a blocked SIGINT/SIGTERM mask from a signalfd user.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, clinux_environ())
        Posix.close(pipeFDs[1])
        guard rc == 0 else {
            Posix.close(pipeFDs[0])
            throw SystemError(call: "posix_spawn", errno: rc)
        }
        pid = child
        stdoutFD = pipeFDs[0]
        try? Posix.setNonBlocking(stdoutFD)
    }

    deinit {
        if stdoutFD >= 0 { Posix.close(stdoutFD) }
        if exitStatus == nil {
            _ = Glibc.kill(pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }

    public func terminate() { if exitStatus == nil { _ = Glibc.kill(pid, SIGTERM) } }
    public func kill() { if exitStatus == nil { _ = Glibc.kill(pid, SIGKILL) } }

    /// Collects the exit status; returns it when the child has exited.
    @discardableResult
    public func reap(blocking: Bool = false) -> Int32? {
        if let exitStatus { return exitStatus }
        switch try? Posix.waitChild(pid, blocking: blocking) {
        case .wouldBlock?: return nil
        case .done(let status)?: exitStatus = status
        case nil: exitStatus = -1 // ECHILD: already reaped elsewhere
        }
        return exitStatus
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL; always reaps.
    public func stop(grace: Double = 2.0) -> Int32 {
        terminate()
        let deadline = Posix.monotonicNanoseconds() + Int64(grace * 1e9)
        while Posix.monotonicNanoseconds() < deadline {
            if let s = reap() { return s }
            usleep(10_000)
        }
        kill()
        return reap(blocking: true) ?? -1
    }

    /// Reads what is available from stdout (non-blocking); nil at end of stream.
    public func readStdout(max: Int = 64 * 1024) -> [UInt8]? {
        guard stdoutFD >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: max)
        let result = buffer.withUnsafeMutableBytes { b in try? Posix.read(stdoutFD, into: b.baseAddress!, count: b.count) }
        switch result {
        case .done(let n)? where n > 0:
            return Array(buffer[0..<n])
        case .wouldBlock?:
            return []
        default:
            Posix.close(stdoutFD)
            stdoutFD = -1
            return nil
        }
    }
}

/// This executable's path (`/proc/self/exe`), for starting copies of ourselves.
public func currentExecutablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
