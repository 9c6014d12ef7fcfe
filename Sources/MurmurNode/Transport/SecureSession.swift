import MurmurCore

/// The encrypted framing as a connection uses it once the handshake is done. Implemented over
/// MurmurCrypto's `FrameSealer`/`FrameOpener` (see `CryptoSession.swift`); works on caller-owned
/// buffers so the hot path neither allocates nor copies per frame.
protocol FrameCipher: AnyObject {
    /// Most bytes `seal` writes for a plaintext of the largest size (length prefix included).
    var maxSealedFrameSize: Int { get }
    /// Seals one frame (length prefix + ciphertext) of `plaintext` at `out`, which has at least
    /// `maxSealedFrameSize` bytes. Returns the bytes written.
    func seal(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) throws -> Int
    /// A final frame telling the peer the stream ends here (clean close).
    func sealClose(into out: UnsafeMutableRawPointer) throws -> Int
    /// Lets the connection read socket bytes straight into the receive buffer. `body` gets
    /// the free space (empty only while a complete frame waits) and returns bytes written.
    func readInto(_ body: (UnsafeMutableRawBufferPointer) -> Int)
    /// Opens the next complete frame, passing its plaintext to `body` (valid only during the
    /// call). Throws on anything not authentic or over the limits.
    func nextFrame(_ body: (UnsafeRawBufferPointer) -> Void) throws -> FrameReadProgress
}

enum FrameReadProgress {
    case frame
    case needMoreBytes
    /// The peer's final frame: a clean close.
    case closed
}

/// What one handshake step produced.
enum HandshakeProgress {
    /// Send these bytes (maybe none) and wait for the next message.
    case send([UInt8])
    /// Send these bytes (maybe none); the channel is up with `peer`.
    case established(send: [UInt8], peer: NodeID, cipher: FrameCipher)
}

/// The handshake as a connection drives it: fixed-size messages, nothing larger read before
/// authentication. Implemented over MurmurCrypto's pure `Handshake` state machine.
protocol ConnectionHandshake: AnyObject {
    /// Bytes the connection must read before calling `receive` (0 when nothing is expected).
    var nextMessageSize: Int { get }
    /// The initiator's first message (empty for a responder).
    func start(now: Instant) throws -> [UInt8]
    func receive(_ message: [UInt8], now: Instant) throws -> HandshakeProgress
}

/// Makes handshakes for new connections (holds the identity and network key).
protocol SessionFactory: AnyObject {
    var localID: NodeID { get }
    func makeHandshake(initiator: Bool, expectedPeer: NodeID?) -> ConnectionHandshake
}
