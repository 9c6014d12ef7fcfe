#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// What a connection reports to its owner (the `Transport`). All calls happen on the loop.
protocol ConnectionOwner: AnyObject {
    func connectionEstablished(_ c: Connection)
    func connection(_ c: Connection, received type: MessageType, payload: UnsafeRawBufferPointer)
    func connectionWritable(_ c: Connection)
    func connectionClosed(_ c: Connection, reason: CloseReason)
}

/// One TCP connection: connect → handshake → encrypted frames of batched messages.
///
/// Reads are bounded (exactly the handshake message size before authentication; at most
/// `maxReadBytesPerWakeup` per wake-up after). Writes are queued as plaintext messages up to
/// `maxWriteQueueBytes`, and sealed into frames only when the socket can take them, so many
/// small messages share one frame and one `write`.
final class Connection: EventSource {
    enum State: Equatable { case connecting, handshaking, established, closed }

    let id: ConnectionID
    let fd: Int32
    let direction: ConnectionDirection
    let remoteAddress: SocketAddress?
    let expectedPeer: NodeID?
    private(set) var state: State
    private(set) var peer: NodeID?
    /// Connect or handshake deadline; nil once established.
    private(set) var deadline: Instant?
    private(set) var lastReceived: Instant
    /// Last time a write made progress or the queue was empty (a peer that stops reading stalls).
    private(set) var lastWriteProgress: Instant
    let openedAt: Instant
    private(set) var establishedAt: Instant?

    // Counters for metrics and `status`.
    private(set) var bytesIn = 0
    private(set) var bytesOut = 0
    private(set) var framesIn = 0
    private(set) var framesOut = 0
    private(set) var messagesIn = 0
    private(set) var messagesOut = 0

    private unowned let loop: EventLoop
    private weak var owner: ConnectionOwner?
    private var token: LoopToken?
    private var handshake: ConnectionHandshake?
    private var cipher: FrameCipher?
    private let readBuffer: ByteBuffer
    /// Queued messages (header + payload), not yet sealed.
    private let plainOut: ByteBuffer
    /// Sealed bytes (handshake messages, then frames) not yet written.
    private let wireOut: ByteBuffer
    private var wantsWritable = false
    private var flushScheduled = false
    private var blocked = false
    /// Set while delivering messages, so a close from a callback is handled after the loop.
    private var closing: CloseReason?

    static let wireBufferSize = 320 * 1024

    init(id: ConnectionID, fd: Int32, direction: ConnectionDirection, remoteAddress: SocketAddress?,
         expectedPeer: NodeID?, handshake: ConnectionHandshake, loop: EventLoop, owner: ConnectionOwner,
         connectDeadline: Instant?, handshakeTimeout: TimeSpan) {
        self.id = id
        self.fd = fd
        self.direction = direction
        self.remoteAddress = remoteAddress
        self.expectedPeer = expectedPeer
        self.loop = loop
        self.owner = owner
        self.handshake = handshake
        let now = loop.now
        openedAt = now
        lastReceived = now
        lastWriteProgress = now
        readBuffer = ByteBuffer(capacity: 256)
        plainOut = ByteBuffer(capacity: 16 * 1024, maxCapacity: Limits.maxWriteQueueBytes)
        // Starts at one frame; grows (to four frames plus) only for links that carry bulk data.
        wireOut = ByteBuffer(capacity: 72 * 1024, maxCapacity: Connection.wireBufferSize)
        if let connectDeadline {
            state = .connecting
            deadline = connectDeadline
        } else {
            state = .handshaking
            deadline = now + handshakeTimeout
        }
        self.handshakeTimeout = handshakeTimeout
    }

    private let handshakeTimeout: TimeSpan

    /// Registers with the loop and starts (the connect, or the handshake for accepted sockets).
    func start() throws(SystemError) {
        let interest: IOEvents = state == .connecting ? [.writable] : [.readable]
        token = try loop.register(fd: fd, events: interest, source: self)
        wantsWritable = state == .connecting
        if state == .handshaking { beginHandshake() }
    }

    /// Bytes waiting to go out (queued messages + sealed bytes).
    var queuedBytes: Int { plainOut.readableBytes + wireOut.readableBytes }
    var isEstablished: Bool { state == .established }

    // MARK: events

    func handle(_ events: IOEvents) {
        guard state != .closed else { return }
        if state == .connecting {
            finishConnect()
            return
        }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) {
            readAvailable()
            if state == .closed { return }
        }
        if events.contains(.writable) {
            flush()
        }
    }

    private func finishConnect() {
        let error: Int32
        do { error = try Posix.socketError(fd) } catch { close(.ioError(error)); return }
        guard error == 0 else {
            close(.connectFailed(SystemError(call: "connect", errno: error)))
            return
        }
        state = .handshaking
        deadline = loop.now + handshakeTimeout
        setInterest(readable: true, writable: false)
        beginHandshake()
    }

    private func beginHandshake() {
        guard let handshake else { return }
        do {
            let first = try handshake.start(now: loop.now)
            if !first.isEmpty { queueRaw(first) }
        } catch {
            close(.handshakeFailed("\(error)"))
        }
    }

    // MARK: reading

    private func readAvailable() {
        if state == .handshaking {
            readHandshake()
            if state != .established { return }
        }
        guard let cipher else { return }
        var budget = Limits.maxReadBytesPerWakeup
        while budget > 0 && state == .established {
            var result: IOResult<Int> = .wouldBlock
            var failure: SystemError?
            let fd = self.fd
            cipher.readInto { space in
                guard let base = space.baseAddress, space.count > 0 else { result = .done(-1); return 0 }
                do throws(SystemError) {
                    result = try Posix.read(fd, into: base, count: min(space.count, budget))
                } catch {
                    failure = error
                    return 0
                }
                if case .done(let n) = result { return n }
                return 0
            }
            if let failure { close(.ioError(failure)); return }
            switch result {
            case .wouldBlock:
                return
            case .done(0):
                close(.peerClosed)
                return
            case .done(let n):
                if n > 0 {
                    bytesIn += n
                    budget -= n
                }
                processFrames(cipher)
                if let reason = closing { finishClose(reason); return }
            }
        }
    }

    /// Reads exactly the bytes of the next handshake message, never more.
    private func readHandshake() {
        while state == .handshaking {
            guard let hs = handshake, hs.nextMessageSize > 0 else { return }
            let want = hs.nextMessageSize - readBuffer.readableBytes
            guard want > 0, readBuffer.ensureTailRoom(want) else { close(.protocolError("handshake buffer")); return }
            let result: IOResult<Int>
            do { result = try Posix.read(fd, into: readBuffer.writePointer, count: want) } catch {
                close(.ioError(error))
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .done(0):
                close(.handshakeFailed("peer closed the connection during the handshake (different network key, or not a Murmur node?)"))
                return
            case .done(let n):
                readBuffer.moveWriter(by: n)
                bytesIn += n
                lastReceived = loop.now
                continueHandshake()
            }
        }
    }

    private func continueHandshake() {
        guard let hs = handshake, readBuffer.readableBytes >= hs.nextMessageSize, hs.nextMessageSize > 0 else { return }
        let message = Array(UnsafeRawBufferPointer(start: readBuffer.readPointer, count: hs.nextMessageSize))
        readBuffer.moveReader(by: message.count)
        let progress: HandshakeProgress
        do { progress = try hs.receive(message, now: loop.now) } catch {
            close(.handshakeFailed("\(error)"))
            return
        }
        switch progress {
        case .send(let reply):
            if !reply.isEmpty { queueRaw(reply) }
        case let .established(reply, peer, cipher):
            if !reply.isEmpty { queueRaw(reply) }
            if let expectedPeer, expectedPeer != peer {
                close(.handshakeFailed("expected peer \(expectedPeer.short), got \(peer.short)"))
                return
            }
            self.peer = peer
            self.cipher = cipher
            handshake = nil
            state = .established
            deadline = nil
            establishedAt = loop.now
            owner?.connectionEstablished(self)
            if state == .established, !plainOut.isEmpty { scheduleFlush() }
            readBuffer.clear()
        }
    }

    private func processFrames(_ cipher: FrameCipher) {
        while state == .established && closing == nil {
            let progress: FrameReadProgress
            do {
                progress = try cipher.nextFrame { plaintext in
                    framesIn += 1
                    // Only whole frames count as life: a peer trickling bytes still goes idle.
                    lastReceived = loop.now
                    guard plaintext.count > 0 else { return } // rekey frames carry no messages
                    do {
                        try forEachMessage(in: plaintext) { type, payload in
                            guard closing == nil, state == .established else { return }
                            messagesIn += 1
                            owner?.connection(self, received: type, payload: payload)
                        }
                    } catch {
                        if closing == nil { closing = .protocolError("bad message framing: \(error)") }
                    }
                }
            } catch {
                if closing == nil { closing = .protocolError("\(error)") }
                return
            }
            switch progress {
            case .frame: continue
            case .needMoreBytes: return
            case .closed:
                if closing == nil { closing = .peerClosed }
                return
            }
        }
    }

    // MARK: writing

    /// Queues one message. Never blocks; see `SendResult`.
    func send(_ type: MessageType, _ payload: UnsafeRawBufferPointer) -> SendResult {
        guard state == .established else { return .notEstablished }
        if queuedBytes == 0 { lastWriteProgress = loop.now }
        guard payload.count <= Limits.maxMessagePayload else { return .tooLarge }
        let total = MessageHeader.size + payload.count
        guard queuedBytes + total <= Limits.maxWriteQueueBytes, plainOut.ensureTailRoom(total) else {
            blocked = true
            return .queueFull
        }
        let p = plainOut.writePointer
        writeMessageHeader(p, type: type, length: payload.count)
        if let src = payload.baseAddress, payload.count > 0 {
            (p + MessageHeader.size).copyMemory(from: src, byteCount: payload.count)
        }
        plainOut.moveWriter(by: total)
        messagesOut += 1
        scheduleFlush()
        return .queued
    }

    func send(_ type: MessageType, _ payload: [UInt8]) -> SendResult {
        payload.withUnsafeBytes { send(type, $0) }
    }

    /// Handshake bytes go straight to the wire queue (they are fixed-size and few).
    private func queueRaw(_ bytes: [UInt8]) {
        let ok = bytes.withUnsafeBytes { wireOut.append($0) }
        if !ok { close(.protocolError("handshake output")); return }
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !flushScheduled, !wantsWritable else { return }
        flushScheduled = true
        loop.atEndOfIteration { [weak self] in
            guard let self else { return }
            self.flushScheduled = false
            self.flush()
        }
    }

    /// Seals queued messages into frames and writes until the socket would block.
    func flush() {
        guard state == .handshaking || state == .established else { return }
        while true {
            if state == .established { sealFrames() }
            if wireOut.isEmpty { break }
            let result: IOResult<Int>
            do { result = try Posix.send(fd, from: wireOut.readPointer, count: wireOut.readableBytes) } catch {
                close(.ioError(error))
                return
            }
            switch result {
            case .wouldBlock:
                if !wantsWritable { setInterest(readable: true, writable: true) }
                return
            case .done(let n):
                wireOut.moveReader(by: n)
                bytesOut += n
                lastWriteProgress = loop.now
            }
        }
        if wantsWritable { setInterest(readable: true, writable: false) }
        if blocked && queuedBytes <= Limits.writeQueueLowWater {
            blocked = false
            owner?.connectionWritable(self)
        }
    }

    /// Cuts whole messages from `plainOut` into frames of at most `maxFramePlaintext` and
    /// seals them into `wireOut` while it has room for a full frame.
    private func sealFrames() {
        guard let cipher else { return }
        while !plainOut.isEmpty {
            guard wireOut.ensureTailRoom(cipher.maxSealedFrameSize) else { return }
            let start = UnsafeRawPointer(plainOut.readPointer)
            let available = plainOut.readableBytes
            var frameLength = 0
            while frameLength < available {
                let messageLength = MessageHeader.size + readMessageLength(start + frameLength)
                if frameLength + messageLength > Limits.maxFramePlaintext { break }
                frameLength += messageLength
            }
            precondition(frameLength > 0, "queued message larger than a frame")
            let written: Int
            do { written = try cipher.seal(UnsafeRawBufferPointer(start: start, count: frameLength), into: wireOut.writePointer) } catch {
                close(.protocolError("seal: \(error)"))
                return
            }
            wireOut.moveWriter(by: written)
            plainOut.moveReader(by: frameLength)
            framesOut += 1
        }
    }

    private func setInterest(readable: Bool, writable: Bool) {
        guard let token else { return }
        var events: IOEvents = []
        if readable { events.insert(.readable) }
        if writable { events.insert(.writable) }
        do { try loop.modify(fd: fd, token: token, events: events) } catch { close(.ioError(error)); return }
        wantsWritable = writable
    }

    // MARK: closing

    /// Closes now (queued output is dropped). Safe to call from inside a callback.
    func close(_ reason: CloseReason) {
        guard state != .closed else { return }
        if closing == nil { closing = reason }
        finishClose(closing ?? reason)
    }

    /// Seals a final frame and writes what it can without blocking, then closes.
    func closeGracefully(_ reason: CloseReason) {
        if state == .established, let cipher {
            sealFrames()
            if wireOut.ensureTailRoom(cipher.maxSealedFrameSize), let n = try? cipher.sealClose(into: wireOut.writePointer) {
                wireOut.moveWriter(by: n)
            }
            while !wireOut.isEmpty {
                guard case .done(let n)? = try? Posix.send(fd, from: wireOut.readPointer, count: wireOut.readableBytes), n > 0 else { break }
                wireOut.moveReader(by: n)
            }
        }
        close(reason)
    }

    /// Closes without telling the owner (the owner is going away).
    func abandon() {
        owner = nil
        finishClose(.shutdown)
    }

    private func finishClose(_ reason: CloseReason) {
        guard state != .closed else { return }
        state = .closed
        if let token { loop.deregister(fd: fd, token: token) }
        token = nil
        Posix.close(fd)
        plainOut.clear()
        wireOut.clear()
        readBuffer.clear()
        handshake = nil
        owner?.connectionClosed(self, reason: reason)
    }
}
