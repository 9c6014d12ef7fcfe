import MurmurCore
import MurmurCrypto

/// Handshakes with this node's identity under one network key (MurmurCrypto's Noise XXpsk3).
final class CryptoSessions: SessionFactory {
    let identity: SigningKey
    let networkKey: NetworkKey
    let timeout: TimeSpan
    var localID: NodeID { identity.publicKey }

    init(identity: SigningKey, networkKey: NetworkKey, timeout: TimeSpan) {
        self.identity = identity
        self.networkKey = networkKey
        self.timeout = timeout
    }

    func makeHandshake(initiator: Bool, expectedPeer: NodeID?) -> ConnectionHandshake {
        CryptoHandshake(sessions: self, role: initiator ? .initiator(expectedPeer: expectedPeer) : .responder)
    }
}

/// Drives MurmurCrypto's pure `Handshake` for one connection.
final class CryptoHandshake: ConnectionHandshake {
    private unowned let sessions: CryptoSessions
    private let role: Handshake.Role
    private var handshake: Handshake?

    init(sessions: CryptoSessions, role: Handshake.Role) {
        self.sessions = sessions
        self.role = role
    }

    var nextMessageSize: Int { handshake?.expectedMessageSize ?? 0 }

    func start(now: Instant) throws -> [UInt8] {
        var hs = Handshake(role: role, identity: sessions.identity, networkKey: sessions.networkKey,
                           now: now, timeout: sessions.timeout)
        var first: [UInt8] = []
        if case .initiator = role { first = hs.start() }
        handshake = hs
        return first
    }

    func receive(_ message: [UInt8], now: Instant) throws -> HandshakeProgress {
        guard var hs = handshake else { throw HandshakeError.notActive }
        let output: HandshakeOutput
        do {
            output = try hs.receive(message, now: now)
            handshake = hs
        } catch {
            handshake = nil
            throw error
        }
        if let session = output.session {
            handshake = nil
            return .established(send: output.message ?? [], peer: session.peer, cipher: CryptoCipher(session))
        }
        return .send(output.message ?? [])
    }
}

/// The established channel: MurmurCrypto's sealer and opener, used on connection-owned buffers.
final class CryptoCipher: FrameCipher {
    private let sealer: FrameSealer
    private let opener: FrameOpener

    init(_ session: Session) {
        sealer = session.sealer
        opener = session.opener
    }

    var maxSealedFrameSize: Int { sealer.maxFrameBytes }

    func seal(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) throws -> Int {
        sealer.seal(plaintext, into: UnsafeMutableRawBufferPointer(start: out, count: sealer.maxFrameBytes))
    }

    func sealClose(into out: UnsafeMutableRawPointer) throws -> Int {
        guard !sealer.isClosed else { return 0 }
        return sealer.close(into: UnsafeMutableRawBufferPointer(start: out, count: sealer.maxFrameBytes))
    }

    func readInto(_ body: (UnsafeMutableRawBufferPointer) -> Int) {
        opener.readInto(body)
    }

    func nextFrame(_ body: (UnsafeRawBufferPointer) -> Void) throws -> FrameReadProgress {
        switch try opener.nextMessage(body) {
        case .message: return .frame
        case .needMoreBytes: return .needMoreBytes
        case .closed: return .closed
        }
    }
}

extension Transport {
    /// A transport whose links are authenticated with `identity` and encrypted, and which only
    /// talks to nodes holding the same `networkKey`.
    public convenience init(loop: EventLoop, identity: SigningKey, networkKey: NetworkKey, config: TransportConfig = TransportConfig()) {
        self.init(loop: loop, sessions: CryptoSessions(identity: identity, networkKey: networkKey, timeout: config.handshakeTimeout),
                  config: config)
    }
}
