#if canImport(Glibc)
import Glibc
#endif
import CSodium
import MurmurCore
import MurmurCrypto

// Crypto measurements. Helpers, not a suite of their own: the `channel` suite (node) calls
// them so that its table shows raw secretstream, our sealer, and the handshake rate side by
// side. `cryptoSuite` below prints them alone (register it in main.swift to use it).

/// Monotonic seconds (benchmarks only: state machines never read a clock).
func cryptoBenchNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Raw libsodium `crypto_secretstream_xchacha20poly1305_push` of `frameBytes` messages on one
/// core, no IO: the reference for what the framing can reach.
func benchSecretstreamMBps(frameBytes: Int = 64 * 1024, seconds: Double = 1.0) -> Double {
    precondition(sodiumReady)
    var key = [UInt8](repeating: 0, count: Int(crypto_secretstream_xchacha20poly1305_KEYBYTES))
    crypto_secretstream_xchacha20poly1305_keygen(&key)
    var header = [UInt8](repeating: 0, count: Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES))
    var state = crypto_secretstream_xchacha20poly1305_state()
    _ = crypto_secretstream_xchacha20poly1305_init_push(&state, &header, key)
    let message = [UInt8](repeating: 0x5a, count: frameBytes)
    var out = [UInt8](repeating: 0, count: frameBytes + Int(crypto_secretstream_xchacha20poly1305_ABYTES) + 4)
    var ad: [UInt8] = [0, 1, 0, 0]
    var bytes = 0
    let start = cryptoBenchNow()
    var elapsed = 0.0
    repeat {
        for _ in 0..<16 {
            _ = crypto_secretstream_xchacha20poly1305_push(&state, &out[4], nil, message, UInt64(frameBytes), &ad, 4, 0)
            bytes += frameBytes
        }
        elapsed = cryptoBenchNow() - start
    } while elapsed < seconds
    return Double(bytes) / elapsed / 1e6
}

/// A session between two in-process identities (for the sealer/opener measurements).
private func benchSessions(compression: FrameCompression) -> (Session, Session)? {
    let framing = FramingOptions(compression: compression)
    var initiator = Handshake(role: .initiator(expectedPeer: nil), identity: SigningKey(), networkKey: .default,
                              now: .zero, framing: framing)
    var responder = Handshake(role: .responder, identity: SigningKey(), networkKey: .default, now: .zero, framing: framing)
    let m1 = initiator.start()
    guard let m2 = try? responder.receive(m1, now: .zero).message,
          let out3 = try? initiator.receive(m2, now: .zero), let m3 = out3.message, let a = out3.session,
          let b = try? responder.receive(m3, now: .zero).session else { return nil }
    return (a, b)
}

/// `FrameSealer.seal(_:into:)` of incompressible `frameBytes` plaintexts on one core, no IO.
/// Compared with `benchSecretstreamMBps` this is the framing's own overhead.
func benchSealerMBps(frameBytes: Int = 64 * 1024, seconds: Double = 1.0,
                     compression: FrameCompression = .adaptive) -> Double {
    guard let (session, _) = benchSessions(compression: compression) else { return 0 }
    var rng = SeededRNG(seed: 42)
    let message = (0..<frameBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: FrameSealer.frameBytes(forPlaintext: frameBytes), alignment: 16)
    defer { out.deallocate() }
    var bytes = 0
    let start = cryptoBenchNow()
    var elapsed = 0.0
    message.withUnsafeBytes { m in
        repeat {
            for _ in 0..<16 {
                _ = session.sealer.seal(m, into: out)
                bytes += frameBytes
            }
            elapsed = cryptoBenchNow() - start
        } while elapsed < seconds
    }
    return Double(bytes) / elapsed / 1e6
}

/// `FrameOpener` (readInto + nextMessage) of pre-sealed incompressible `frameBytes` frames on one core.
func benchOpenerMBps(frameBytes: Int = 64 * 1024, seconds: Double = 1.0) -> Double {
    guard let (a, b) = benchSessions(compression: .adaptive) else { return 0 }
    var rng = SeededRNG(seed: 43)
    let message = (0..<frameBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    // Seal a batch up front, then open it; repeat (sealing time excluded).
    let batch = 64
    var stream: [UInt8] = []
    stream.reserveCapacity(batch * FrameSealer.frameBytes(forPlaintext: frameBytes))
    var bytes = 0
    var opened = 0.0
    let start = cryptoBenchNow()
    while cryptoBenchNow() - start < seconds * 2 && opened < seconds {
        stream.removeAll(keepingCapacity: true)
        for _ in 0..<batch { a.sealer.seal(message, appendingTo: &stream) }
        let t0 = cryptoBenchNow()
        var offset = 0
        stream.withUnsafeBytes { s in
            while offset < s.count {
                let n = b.opener.readInto { space in
                    let n = min(space.count, s.count - offset)
                    space.baseAddress!.copyMemory(from: s.baseAddress! + offset, byteCount: n)
                    return n
                }
                offset += n
                while (try? b.opener.nextMessage({ bytes += $0.count })) == .message {}
            }
        }
        opened += cryptoBenchNow() - t0
    }
    return Double(bytes) / opened / 1e6
}

/// Handshakes one core completes as the responder. The initiators' messages are made
/// beforehand (not timed): the responder's ephemeral is fixed so that pre-made message 3s
/// match, but the responder still does all its work each time (ephemeral public key, three
/// X25519, identity check, key schedule, session set-up).
func benchHandshakesPerSecondAsResponder(seconds: Double = 1.0) -> Double {
    benchHandshakesAsResponder(seconds: seconds).perWallSecond
}

/// Thread CPU seconds (unaffected by time spent descheduled on a busy machine).
func cryptoBenchThreadCPU() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Handshakes as responder per wall-clock second and per CPU second of this thread.
func benchHandshakesAsResponder(seconds: Double = 1.0) -> (perWallSecond: Double, perCPUSecond: Double) {
    let responderKey = SigningKey()
    let responderEphemeral = EphemeralKeySource.fixed((0..<32).map { UInt8($0) &* 7 &+ 1 })
    var pool: [([UInt8], [UInt8])] = []
    for _ in 0..<128 {
        var initiator = Handshake(role: .initiator(expectedPeer: responderKey.publicKey), identity: SigningKey(),
                                  networkKey: .default, now: .zero)
        var helper = Handshake(role: .responder, identity: responderKey, networkKey: .default,
                               ephemeral: responderEphemeral, now: .zero)
        let m1 = initiator.start()
        guard let m2 = try? helper.receive(m1, now: .zero).message,
              let m3 = try? initiator.receive(m2, now: .zero).message else { return (0, 0) }
        pool.append((m1, m3))
    }
    var done = 0
    let start = cryptoBenchNow()
    let cpuStart = cryptoBenchThreadCPU()
    var elapsed = 0.0
    repeat {
        for (m1, m3) in pool {
            var responder = Handshake(role: .responder, identity: responderKey, networkKey: .default,
                                      ephemeral: responderEphemeral, now: .zero)
            guard (try? responder.receive(m1, now: .zero)) != nil,
                  (try? responder.receive(m3, now: .zero))?.session != nil else { return (0, 0) }
            done += 1
        }
        elapsed = cryptoBenchNow() - start
    } while elapsed < seconds
    return (Double(done) / elapsed, Double(done) / max(1e-9, cryptoBenchThreadCPU() - cpuStart))
}

/// Microseconds per identity binding, for the two designs considered (Specs/handshake.md):
/// converting the peer's Ed25519 key to X25519 and comparing it with its Noise static key,
/// versus signing the handshake hash and verifying the peer's signature.
func benchIdentityBindingMicros(iterations: Int = 2000) -> (conversion: Double, signAndVerify: Double, x25519: Double) {
    precondition(sodiumReady)
    let key = SigningKey()
    let pk = key.publicKey.bytes
    var x = [UInt8](repeating: 0, count: 32)
    var t0 = cryptoBenchNow()
    for _ in 0..<iterations { _ = crypto_sign_ed25519_pk_to_curve25519(&x, pk) }
    let conversion = (cryptoBenchNow() - t0) / Double(iterations) * 1e6
    let transcript = [UInt8](repeating: 3, count: 32)
    t0 = cryptoBenchNow()
    for _ in 0..<iterations {
        let sig = key.sign(transcript)
        _ = key.publicKey.verify(sig, of: transcript)
    }
    let signAndVerify = (cryptoBenchNow() - t0) / Double(iterations) * 1e6
    var scalar = [UInt8](repeating: 9, count: 32), point = [UInt8](repeating: 0, count: 32), shared = [UInt8](repeating: 0, count: 32)
    _ = crypto_scalarmult_curve25519_base(&point, scalar)
    t0 = cryptoBenchNow()
    for _ in 0..<iterations { _ = crypto_scalarmult_curve25519(&shared, scalar, point); scalar[0] &+= 1 }
    let x25519 = (cryptoBenchNow() - t0) / Double(iterations) * 1e6
    return (conversion, signAndVerify, x25519)
}

/// `murmur-bench crypto [--json] [--seconds S]` (S per measurement, default 4, in 8 interleaved slices): the crypto numbers alone.
let cryptoSuite = BenchSuite(name: "crypto", summary: "secretstream vs FrameSealer/FrameOpener, handshakes/s as responder") { args in
    let json = args.contains("--json")
    if let i = args.firstIndex(of: "--loopback-child") {
        return loopbackChild(Array(args[(i + 1)...]))
    }
    if args.contains("--loopback") {
        let r = benchLoopbackChannel(seconds: 3)
        for (name, x) in [("sealed", r.channel), ("raw TCP", r.rawTCP)] {
            print("loopback \(name): \(Int(x.wallMBps)) MB/s wall; receiver \(Int(x.receiverMBperCPUs)) MB/CPU-s, sender \(Int(x.senderMBperCPUs)) MB/CPU-s")
        }
        return 0
    }
    if args.contains("--micro") {
        for (name, us) in cryptoMicroCosts() { print(name + ": " + cryptoFixed(2, us) + " µs CPU") }
        return 0
    }
    if args.contains("--handshakes-only") {
        let r = benchHandshakesAsResponder(seconds: 3)
        print("handshakes as responder: \(Int(r.perWallSecond)) per wall second, \(Int(r.perCPUSecond)) per CPU second")
        return 0
    }
    var seconds = 4.0
    if let i = args.firstIndex(of: "--seconds"), i + 1 < args.count, let s = Double(args[i + 1]), s > 0 { seconds = s }
    // Interleaved in short slices so that load from other processes hits every measurement
    // alike (the machine is shared): compare ratios, not absolute numbers.
    let rounds = 8
    let slice = seconds / Double(rounds)
    var raw = 0.0, sealer = 0.0, sealerAlways = 0.0, opener = 0.0, handshakes = 0.0, handshakesCPU = 0.0
    var binding = (conversion: 0.0, signAndVerify: 0.0, x25519: 0.0)
    for _ in 0..<rounds {
        raw += benchSecretstreamMBps(frameBytes: 64 * 1024, seconds: slice) / Double(rounds)
        sealer += benchSealerMBps(frameBytes: 64 * 1024, seconds: slice) / Double(rounds)
        sealerAlways += benchSealerMBps(frameBytes: 64 * 1024, seconds: slice, compression: .always) / Double(rounds)
        opener += benchOpenerMBps(frameBytes: 64 * 1024, seconds: slice) / Double(rounds)
        let hs = benchHandshakesAsResponder(seconds: slice)
        handshakes += hs.perWallSecond / Double(rounds)
        handshakesCPU += hs.perCPUSecond / Double(rounds)
        let b = benchIdentityBindingMicros(iterations: 300)
        binding.conversion += b.conversion / Double(rounds)
        binding.signAndVerify += b.signAndVerify / Double(rounds)
        binding.x25519 += b.x25519 / Double(rounds)
    }
    if json {
        print("{\"secretstream_MBps\": \(Int(raw)), \"sealer_MBps\": \(Int(sealer)), \"sealer_lz4_always_MBps\": \(Int(sealerAlways)), "
              + "\"opener_MBps\": \(Int(opener)), \"handshakes_per_s\": \(Int(handshakes)), \"handshakes_per_cpu_s\": \(Int(handshakesCPU)), "
              + "\"binding_conversion_us\": \(binding.conversion), \"binding_sign_verify_us\": \(binding.signAndVerify), \"x25519_us\": \(binding.x25519)}")
    } else {
        func row(_ name: String, _ value: String, _ ratio: String) {
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(1, n - s.count)) }
            print(pad(name, 44) + pad(value, 16) + ratio)
        }
        row("measurement (64 KiB frames, one core)", "value", "ratio")
        row("raw secretstream push", "\(Int(raw)) MB/s", "1.00")
        row("FrameSealer (adaptive LZ4, random data)", "\(Int(sealer)) MB/s", cryptoFixed(2, sealer / raw))
        row("FrameSealer (LZ4 tried every frame)", "\(Int(sealerAlways)) MB/s", cryptoFixed(2, sealerAlways / raw))
        row("FrameOpener", "\(Int(opener)) MB/s", cryptoFixed(2, opener / raw))
        row("handshakes as responder", "\(Int(handshakes)) /s", cryptoFixed(0, 1e6 / handshakes) + " µs each")
        row("handshakes as responder per CPU-second", "\(Int(handshakesCPU)) /s", cryptoFixed(0, 1e6 / handshakesCPU) + " µs CPU each")
        row("identity binding: Ed→X25519 conversion", cryptoFixed(1, binding.conversion) + " µs", "")
        row("identity binding: sign + verify", cryptoFixed(1, binding.signAndVerify) + " µs", "")
        row("one X25519 (reference)", cryptoFixed(1, binding.x25519) + " µs",
            cryptoFixed(1, 1e6 / handshakes / binding.x25519) + " X25519s per handshake")
    }
    return 0
}

/// `x` with `digits` decimals (no Foundation in the bench).
func cryptoFixed(_ digits: Int, _ x: Double) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (x * scale).rounded() / scale
    guard digits > 0 else { return String(Int(r)) }
    let whole = Int(r)
    var frac = String(Int(((abs(r) - Double(abs(whole))) * scale).rounded()))
    while frac.count < digits { frac = "0" + frac }
    return "\(whole).\(frac)"
}
