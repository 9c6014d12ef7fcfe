import MurmurCore
@testable import MurmurNode

/// A stand-in for the crypto session in transport tests: the handshake exchanges the two
/// 32-byte node ids, frames are a 4-byte length + plaintext. Exists only in tests.
final class PlainSessions: SessionFactory {
    let localID: NodeID
    init(_ seed: UInt8) { localID = NodeID(bytes: [UInt8](repeating: seed, count: 32))! }
    func makeHandshake(initiator: Bool, expectedPeer: NodeID?) -> ConnectionHandshake {
        PlainHandshake(local: localID, initiator: initiator)
    }
}

struct PlainError: Error {}

final class PlainHandshake: ConnectionHandshake {
    let local: NodeID
    let initiator: Bool
    var done = false
    init(local: NodeID, initiator: Bool) { self.local = local; self.initiator = initiator }
    var nextMessageSize: Int { done ? 0 : 32 }
    func start(now: Instant) throws -> [UInt8] { initiator ? local.bytes : [] }
    func receive(_ message: [UInt8], now: Instant) throws -> HandshakeProgress {
        guard let peer = NodeID(bytes: message) else { throw PlainError() }
        done = true
        return .established(send: initiator ? [] : local.bytes, peer: peer, cipher: PlainCipher())
    }
}

final class PlainCipher: FrameCipher {
    let buffer = ByteBuffer(capacity: 256 * 1024)
    var maxSealedFrameSize: Int { 4 + Limits.maxFramePlaintext }
    func seal(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) throws -> Int {
        out.storeBytes(of: UInt32(plaintext.count).bigEndian, as: UInt32.self)
        (out + 4).copyMemory(from: plaintext.baseAddress!, byteCount: plaintext.count)
        return 4 + plaintext.count
    }
    func sealClose(into out: UnsafeMutableRawPointer) throws -> Int { 0 }
    func readInto(_ body: (UnsafeMutableRawBufferPointer) -> Int) {
        _ = buffer.ensureTailRoom(buffer.capacity - buffer.readableBytes)
        let n = body(UnsafeMutableRawBufferPointer(start: buffer.writePointer, count: buffer.tailRoom))
        if n > 0 { buffer.moveWriter(by: n) }
    }
    func nextFrame(_ body: (UnsafeRawBufferPointer) -> Void) throws -> FrameReadProgress {
        guard buffer.readableBytes >= 4 else { return .needMoreBytes }
        let n = Int(UInt32(bigEndian: buffer.readPointer.loadUnaligned(as: UInt32.self)))
        guard n <= Limits.maxFramePlaintext else { throw PlainError() }
        guard buffer.readableBytes >= 4 + n else { return .needMoreBytes }
        body(UnsafeRawBufferPointer(start: buffer.readPointer + 4, count: n))
        buffer.moveReader(by: 4 + n)
        return .frame
    }
}
