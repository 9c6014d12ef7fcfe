#if canImport(Glibc)
import Glibc
#endif
import CLinux
import MurmurCore
import MurmurCrypto

// A reference for the node's `channel` suite: two real processes on loopback, blocking
// sockets, our handshake then FrameSealer → TCP → FrameOpener with 64 KiB frames, against raw
// TCP between the same two processes. No epoll, no batching logic: it shows what the crypto
// layer allows, not what the node achieves.

/// One loopback run: wall-clock MB/s at the receiver, and MB per CPU-second of the receiver
/// and of the sender (CPU figures do not depend on how busy the shared machine is: on an idle
/// 2-core machine the channel can reach about min(receiver, sender) MB per CPU-second).
struct LoopbackResult {
    var wallMBps = 0.0
    var receiverMBperCPUs = 0.0
    var senderMBperCPUs = 0.0
}

/// Encrypted and raw loopback throughput, one child process each.
func benchLoopbackChannel(seconds: Double = 2.0) -> (channel: LoopbackResult, rawTCP: LoopbackResult) {
    (loopbackRun(mode: "sealed", seconds: seconds), loopbackRun(mode: "raw", seconds: seconds))
}

private func cpuSeconds(_ who: Int32) -> Double {
    var u = rusage()
    getrusage(who, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

private func loopbackRun(mode: String, seconds: Double) -> LoopbackResult {
    var result = LoopbackResult()
    let selfStart = cpuSeconds(RUSAGE_SELF.rawValue)
    let childrenStart = cpuSeconds(RUSAGE_CHILDREN.rawValue)
    var bytes = 0
    result.wallMBps = loopbackReceive(mode: mode, seconds: seconds, bytes: &bytes)
    result.receiverMBperCPUs = Double(bytes) / 1e6 / max(1e-9, cpuSeconds(RUSAGE_SELF.rawValue) - selfStart)
    result.senderMBperCPUs = Double(bytes) / 1e6 / max(1e-9, cpuSeconds(RUSAGE_CHILDREN.rawValue) - childrenStart)
    return result
}

private func loopbackReceive(mode: String, seconds: Double, bytes: inout Int) -> Double {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard listener >= 0 else { return 0 }
    defer { close(listener) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            bind(listener, sa, len) == 0 && listen(listener, 4) == 0 && getsockname(listener, sa, &len) == 0
        }
    }
    guard bound else { return 0 }
    let port = UInt16(bigEndian: addr.sin_port)
    guard let child = spawnSelf(["crypto", "--loopback-child", mode, String(port), String(seconds)]) else { return 0 }
    defer { var status: Int32 = 0; _ = waitpid(child, &status, 0) }
    let fd = accept(listener, nil, nil)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }

    var start = 0.0
    if mode == "raw" {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if bytes == 0 { start = cryptoBenchNow() }
            bytes += n
        }
        return Double(bytes) / (cryptoBenchNow() - start) / 1e6
    }
    var responder = Handshake(role: .responder, identity: SigningKey(), networkKey: .default, now: .zero)
    guard let m1 = readExactly(fd, Handshake.messageSizes[0]),
          let m2 = try? responder.receive(m1, now: .zero).message, writeAll(fd, m2),
          let m3 = readExactly(fd, Handshake.messageSizes[2]),
          let session = try? responder.receive(m3, now: .zero).session else { return 0 }
    var done = false
    while !done {
        let n = session.opener.readInto { space in read(fd, space.baseAddress, space.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        if start == 0 { start = cryptoBenchNow() }
        while true {
            guard let progress = try? session.opener.nextMessage({ bytes += $0.count }) else { return 0 }
            if progress == .closed { done = true }
            if progress != .message { break }
        }
    }
    return Double(bytes) / (cryptoBenchNow() - start) / 1e6
}

/// The child side: `murmur-bench crypto --loopback-child MODE PORT SECONDS`.
func loopbackChild(_ args: [String]) -> Int32 {
    guard args.count >= 3, let port = UInt16(args[1]), let seconds = Double(args[2]) else { return 2 }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = port.bigEndian
    let connected = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { return 1 }
    defer { close(fd) }
    var rng = SeededRNG(seed: 7)
    let frame = 64 * 1024
    let message = (0..<frame).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let start = cryptoBenchNow()
    if args[0] == "raw" {
        while cryptoBenchNow() - start < seconds {
            for _ in 0..<16 { guard writeAll(fd, message) else { return 1 } }
        }
        return 0
    }
    var initiator = Handshake(role: .initiator(expectedPeer: nil), identity: SigningKey(), networkKey: .default, now: .zero)
    guard writeAll(fd, initiator.start()), let m2 = readExactly(fd, Handshake.messageSizes[1]),
          let out = try? initiator.receive(m2, now: .zero), let m3 = out.message, let session = out.session,
          writeAll(fd, m3) else { return 1 }
    // Seal 4 frames into one buffer per write, as the node's write queue would.
    let batch = 4
    let out4 = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * FrameSealer.frameBytes(forPlaintext: frame), alignment: 16)
    defer { out4.deallocate() }
    let ok: Bool = message.withUnsafeBytes { m in
        while cryptoBenchNow() - start < seconds {
            var used = 0
            for _ in 0..<batch { used += session.sealer.seal(m, into: UnsafeMutableRawBufferPointer(rebasing: out4[used...])) }
            guard writeAll(fd, UnsafeRawBufferPointer(rebasing: out4[0..<used])) else { return false }
        }
        return true
    }
    guard ok, writeAll(fd, session.sealer.close()) else { return 1 }
    return 0
}

private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: count)
    var got = 0
    while got < count {
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, count - got) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return nil }
        got += n
    }
    return out
}

private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}

private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    var done = 0
    while done < bytes.count {
        let n = write(fd, base + done, bytes.count - done)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        done += n
    }
    return true
}

private func spawnSelf(_ args: [String]) -> pid_t? {
    let exe = "/proc/self/exe"
    var argv: [UnsafeMutablePointer<CChar>?] = ([exe] + args).map { strdup($0) }
    argv.append(nil)
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, exe, nil, nil, argv, environ)
    return rc == 0 ? pid : nil
}
