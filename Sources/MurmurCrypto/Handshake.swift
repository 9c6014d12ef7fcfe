import CSodium
import MurmurCore

/// Where a handshake's ephemeral X25519 secret comes from. The node uses `.system`; tests
/// and vectors use `.fixed` so that every message byte is reproducible. The source is only
/// drawn from when the key is needed (for a responder: after the first message's MAC checked).
public struct EphemeralKeySource: Sendable {
    let draw: @Sendable () -> SecretBytes

    /// `draw` must return 32 bytes each time it is called.
    public init(_ draw: @escaping @Sendable () -> [UInt8]) {
        self.draw = {
            var b = draw()
            precondition(b.count == 32, "an ephemeral secret is 32 bytes")
            defer { wipeBytes(&b) }
            return SecretBytes(b)
        }
    }

    /// The operating system's generator (libsodium `randombytes_buf`).
    public static let system = EphemeralKeySource(secret: { Primitives.randomBytes(32) })

    /// Always the same secret (test vectors; never in a node).
    public static func fixed(_ secret: [UInt8]) -> EphemeralKeySource { EphemeralKeySource { secret } }

    init(secret: @escaping @Sendable () -> SecretBytes) { draw = secret }
}

/// Why a handshake failed. After any error the handshake is dead; drop the connection.
public enum HandshakeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A message of the wrong size (messages have fixed sizes: `Handshake.messageSizes`).
    case wrongMessageSize(expected: Int, actual: Int)
    /// The peer speaks another protocol version.
    case unsupportedVersion(UInt16)
    /// The first message's MAC did not verify: the peer uses another network key (mesh), or the bytes were altered.
    case networkKeyMismatch
    /// A handshake message failed authentication (altered bytes, a replay, or another network key).
    case authenticationFailed
    /// The peer's key is invalid (low order point, or its X25519 static does not match its Ed25519 identity).
    case invalidPeerKey
    /// The dialer named the peer it expected, and another key answered.
    case peerMismatch(expected: NodeID, actual: NodeID)
    /// The deadline passed before the handshake completed.
    case expired
    /// A message arrived when none was expected (wrong role or state).
    case unexpectedMessage
    /// The handshake already failed or finished; it cannot be used again.
    case notActive

    public var description: String {
        switch self {
        case let .wrongMessageSize(e, a): return "handshake message of \(a) bytes, expected \(e)"
        case let .unsupportedVersion(v): return "peer speaks protocol version \(v), we speak \(Handshake.version)"
        case .networkKeyMismatch: return "peer is on a different network (network key mismatch) or the message was altered"
        case .authenticationFailed: return "handshake message failed authentication (altered, replayed, or different network key)"
        case .invalidPeerKey: return "peer presented an invalid or inconsistent identity key"
        case let .peerMismatch(e, a): return "expected peer \(e.short) but \(a.short) answered"
        case .expired: return "handshake deadline passed"
        case .unexpectedMessage: return "unexpected handshake message"
        case .notActive: return "handshake is no longer active"
        }
    }
}

/// An established channel: who the peer is and the two stream halves.
public struct Session {
    /// The peer's authenticated Ed25519 identity.
    public let peer: NodeID
    /// Noise's final handshake hash: identical on both ends, unique per session (channel binding).
    public let handshakeHash: [UInt8]
    /// Seals what we send.
    public let sealer: FrameSealer
    /// Opens what the peer sends.
    public let opener: FrameOpener
}

/// What the shell must do after `receive`: send `message` (if any), and if `session` is set,
/// the handshake is complete (send `message` first, then frames).
public struct HandshakeOutput {
    public var message: [UInt8]?
    public var session: Session?
}

/// The Murmur handshake, `Noise_XXpsk3_25519_ChaChaPoly_SHA256` with a keyed BLAKE2b check on
/// the first message (Specs/handshake.md). A pure state machine: bytes in, bytes out, a
/// session at the end. No sockets, clocks or randomness inside: time is passed in, the
/// ephemeral key comes from an `EphemeralKeySource`.
///
///     initiator                              responder
///     start()            ── message 1 (82) ──▶ receive()
///     receive()          ◀── message 2 (128) ──
///       → session        ── message 3 (96) ──▶ receive() → session
public struct Handshake {
    public enum Role: Sendable, Equatable {
        /// The dialer; with `expectedPeer`, any other answering key fails the handshake.
        case initiator(expectedPeer: NodeID?)
        case responder
    }

    /// Where the handshake is. `expectedMessageSize` tells the shell how many bytes to read next.
    public enum State: Sendable, Equatable {
        case initial, awaitingMessage1, awaitingMessage2, awaitingMessage3, done, failed
    }

    public static let protocolName = "Noise_XXpsk3_25519_ChaChaPoly_SHA256"
    public static let version: UInt16 = MurmurVersion.protocolVersion
    /// Sizes of messages 1, 2 and 3 (fixed; nothing larger is ever read).
    public static let messageSizes: [Int] = [82, 128, 96]

    public let role: Role
    public let deadline: Instant
    public private(set) var state: State

    private let identity: SigningKey
    private let networkKey: NetworkKey
    private let ephemeralSource: EphemeralKeySource
    private let framing: FramingOptions
    private var symmetricStorage: NoiseSymmetricState
    private var ephemeralSecret: SecretBytes?
    private var remoteEphemeral: [UInt8] = []

    public init(role: Role, identity: SigningKey, networkKey: NetworkKey, ephemeral: EphemeralKeySource = .system,
                now: Instant, timeout: TimeSpan = Limits.handshakeTimeout, framing: FramingOptions = .default) {
        self.role = role
        self.identity = identity
        self.networkKey = networkKey
        self.ephemeralSource = ephemeral
        self.framing = framing
        self.deadline = now + timeout
        self.symmetricStorage = NoiseSymmetricState(protocolName: Handshake.protocolName,
                                             prologue: Handshake.prologue(networkKey: networkKey))
        switch role {
        case .initiator: state = .initial
        case .responder: state = .awaitingMessage1
        }
    }

    /// The Noise state, copied first if another copy of this handshake shares it, so that
    /// copies of a `Handshake` evolve independently like any value.
    private var symmetric: NoiseSymmetricState {
        mutating get {
            if !isKnownUniquelyReferenced(&symmetricStorage) { symmetricStorage = symmetricStorage.copy() }
            return symmetricStorage
        }
    }

    /// How many bytes the shell should read for the next message (nil when none is expected).
    public var expectedMessageSize: Int? {
        switch state {
        case .awaitingMessage1: return Handshake.messageSizes[0]
        case .awaitingMessage2: return Handshake.messageSizes[1]
        case .awaitingMessage3: return Handshake.messageSizes[2]
        default: return nil
        }
    }

    /// True once `now` is past the deadline (the shell should then drop the connection).
    public func isExpired(now: Instant) -> Bool { now > deadline }

    /// The initiator's first message. Programmer error for a responder or when called twice.
    public mutating func start() -> [UInt8] {
        guard case .initiator = role, state == .initial else {
            preconditionFailure("Handshake.start() is for an initiator, once")
        }
        let e = ephemeralSource.draw()
        ephemeralSecret = e
        let ePublic = Primitives.x25519Public(secret: e)
        // Noise message 1: e (with the psk modifier, e is also mixed into the key), empty payload.
        symmetric.mixHash(ePublic)
        symmetric.mixKey(ePublic)
        let tag = symmetric.encryptAndHash([])
        var w = ByteWriter(capacity: Handshake.messageSizes[0])
        w.u16(Handshake.version)
        w.raw(ePublic)
        w.raw(tag)
        w.raw(Handshake.message1MAC(networkKey: networkKey, body: w.bytes))
        state = .awaitingMessage2
        return w.bytes
    }

    /// Feeds the next handshake message (exactly `expectedMessageSize` bytes).
    public mutating func receive(_ message: [UInt8], now: Instant) throws(HandshakeError) -> HandshakeOutput {
        switch state {
        case .done, .failed: throw .notActive
        case .initial: throw fail(.unexpectedMessage)
        default: break
        }
        if isExpired(now: now) { throw fail(.expired) }
        if let size = expectedMessageSize, message.count != size {
            throw fail(.wrongMessageSize(expected: size, actual: message.count))
        }
        do throws(HandshakeError) {
            switch state {
            case .awaitingMessage1: return try readMessage1(message)
            case .awaitingMessage2: return try readMessage2(message)
            case .awaitingMessage3: return try readMessage3(message)
            default: throw .unexpectedMessage
            }
        } catch {
            throw fail(error)
        }
    }

    private mutating func fail(_ e: HandshakeError) -> HandshakeError {
        state = .failed
        symmetric.wipe()
        ephemeralSecret = nil
        return e
    }

    // MARK: - Messages

    /// Responder: message 1 → message 2.
    private mutating func readMessage1(_ m: [UInt8]) throws(HandshakeError) -> HandshakeOutput {
        let version = UInt16(m[0]) << 8 | UInt16(m[1])
        guard version == Handshake.version else { throw .unsupportedVersion(version) }
        // The cheap keyed check before any X25519 work.
        let body = Array(m[0..<50])
        let mac = Handshake.message1MAC(networkKey: networkKey, body: body)
        guard Primitives.constantTimeEqual(mac, Array(m[50..<82])) else { throw .networkKeyMismatch }
        let re = Array(m[2..<34])
        symmetric.mixHash(re)
        symmetric.mixKey(re)
        guard let empty = symmetric.decryptAndHash(Array(m[34..<50])), empty.isEmpty else { throw .authenticationFailed }
        remoteEphemeral = re

        // Message 2: e, ee, s, es, payload.
        let e = ephemeralSource.draw()
        ephemeralSecret = e
        let ePublic = Primitives.x25519Public(secret: e)
        symmetric.mixHash(ePublic)
        symmetric.mixKey(ePublic)
        guard let ee = Primitives.x25519(secret: e, public: re) else { throw .invalidPeerKey }
        symmetric.mixKey(ee)
        let encryptedStatic = symmetric.encryptAndHash(identity.staticX25519Public)
        guard let es = Primitives.x25519(secret: identity.staticX25519Secret, public: re) else { throw .invalidPeerKey }
        symmetric.mixKey(es)
        let encryptedPayload = symmetric.encryptAndHash(identity.publicKey.bytes)
        state = .awaitingMessage3
        return HandshakeOutput(message: ePublic + encryptedStatic + encryptedPayload, session: nil)
    }

    /// Initiator: message 2 → message 3 and the session.
    private mutating func readMessage2(_ m: [UInt8]) throws(HandshakeError) -> HandshakeOutput {
        guard let e = ephemeralSecret else { throw .unexpectedMessage }
        let re = Array(m[0..<32])
        symmetric.mixHash(re)
        symmetric.mixKey(re)
        guard let ee = Primitives.x25519(secret: e, public: re) else { throw .invalidPeerKey }
        symmetric.mixKey(ee)
        guard let rs = symmetric.decryptAndHash(Array(m[32..<80])) else { throw .authenticationFailed }
        guard let es = Primitives.x25519(secret: e, public: rs) else { throw .invalidPeerKey }
        symmetric.mixKey(es)
        guard let payload = symmetric.decryptAndHash(Array(m[80..<128])) else { throw .authenticationFailed }
        let peer = try Handshake.identity(payload: payload, staticKey: rs)
        if case let .initiator(expected?) = role, expected != peer {
            // Stop before message 3: our identity is never revealed to the wrong peer.
            throw .peerMismatch(expected: expected, actual: peer)
        }

        // Message 3: s, se, psk, payload.
        let encryptedStatic = symmetric.encryptAndHash(identity.staticX25519Public)
        guard let se = Primitives.x25519(secret: identity.staticX25519Secret, public: re) else { throw .invalidPeerKey }
        symmetric.mixKey(se)
        networkKey.secret.withUnsafeBytes { symmetric.mixKeyAndHash($0) }
        let encryptedPayload = symmetric.encryptAndHash(identity.publicKey.bytes)
        let session = makeSession(peer: peer)
        return HandshakeOutput(message: encryptedStatic + encryptedPayload, session: session)
    }

    /// Responder: message 3 → the session.
    private mutating func readMessage3(_ m: [UInt8]) throws(HandshakeError) -> HandshakeOutput {
        guard let e = ephemeralSecret else { throw .unexpectedMessage }
        guard let rs = symmetric.decryptAndHash(Array(m[0..<48])) else { throw .authenticationFailed }
        guard let se = Primitives.x25519(secret: e, public: rs) else { throw .invalidPeerKey }
        symmetric.mixKey(se)
        networkKey.secret.withUnsafeBytes { symmetric.mixKeyAndHash($0) }
        guard let payload = symmetric.decryptAndHash(Array(m[48..<96])) else { throw .authenticationFailed }
        let peer = try Handshake.identity(payload: payload, staticKey: rs)
        return HandshakeOutput(message: nil, session: makeSession(peer: peer))
    }

    private mutating func makeSession(peer: NodeID) -> Session {
        let hash = symmetric.h
        let (i2r, r2i) = symmetric.split()
        let initiatorToResponder = Handshake.streamParameters(transportKey: i2r)
        let responderToInitiator = Handshake.streamParameters(transportKey: r2i)
        let sending, receiving: (key: SecretBytes, header: [UInt8])
        if case .initiator = role {
            sending = initiatorToResponder; receiving = responderToInitiator
        } else {
            sending = responderToInitiator; receiving = initiatorToResponder
        }
        state = .done
        ephemeralSecret = nil
        return Session(peer: peer, handshakeHash: hash,
                       sealer: FrameSealer(key: sending.key, header: sending.header, options: framing),
                       opener: FrameOpener(key: receiving.key, header: receiving.header, options: framing))
    }

    // MARK: - Derivations (Specs/handshake.md, "Key schedule")

    static let prologueLabel = Array("murmur/handshake".utf8)
    static let message1MACLabel = Array("murmur/handshake/message1".utf8)
    static let networkIDLabel = Array("murmur/handshake/network-id".utf8)
    static let streamKeyLabel = Array("murmur/secretstream/key".utf8)
    static let streamHeaderLabel = Array("murmur/secretstream/header".utf8)

    /// "murmur/handshake" ‖ u16 version ‖ BLAKE2b-256 keyed by the network key of "murmur/handshake/network-id".
    static func prologue(networkKey: NetworkKey) -> [UInt8] {
        var w = ByteWriter(capacity: 50)
        w.raw(prologueLabel)
        w.u16(version)
        w.raw(networkKey.withBytes { key in
            let h = Blake2b(key: key)
            h.update(networkIDLabel)
            return h.finalize().bytes
        })
        return w.bytes
    }

    /// BLAKE2b-256 keyed by the network key, over the label then message 1's first 50 bytes.
    static func message1MAC(networkKey: NetworkKey, body: [UInt8]) -> [UInt8] {
        networkKey.withBytes { key in
            let h = Blake2b(key: key)
            h.update(message1MACLabel)
            h.update(body)
            return h.finalize().bytes
        }
    }

    /// Binds the Noise static key to the Ed25519 identity: the payload's Ed25519 key, converted
    /// to X25519, must equal the static key the peer proved possession of.
    static func identity(payload: [UInt8], staticKey: [UInt8]) throws(HandshakeError) -> NodeID {
        guard payload.count == 32, let converted = Primitives.ed25519PublicToX25519(payload),
              Primitives.constantTimeEqual(converted, staticKey), let id = NodeID(bytes: payload) else {
            throw .invalidPeerKey
        }
        return id
    }

    /// Per-direction secretstream key and header from a Noise transport key.
    static func streamParameters(transportKey: SecretBytes) -> (key: SecretBytes, header: [UInt8]) {
        transportKey.withUnsafeBytes { tk in
            var key = streamKeyLabel.withUnsafeBytes { Primitives.hmacSHA256(key: tk, [$0]) }
            defer { wipeBytes(&key) }
            let header = streamHeaderLabel.withUnsafeBytes { Primitives.hmacSHA256(key: tk, [$0]) }
            return (SecretBytes(key), Array(header.prefix(SecretStreamState.headerBytes)))
        }
    }
}
