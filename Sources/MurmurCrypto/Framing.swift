import CLZ4
import CSodium
import MurmurCore

/// How a sealer decides whether to LZ4-compress a frame. A frame is only ever sent compressed
/// when that makes it smaller.
public enum FrameCompression: Sendable, Equatable {
    /// Never try.
    case never
    /// Try every frame.
    case always
    /// Try; after a frame that did not shrink, skip the next few attempts (8, doubling up to
    /// 64 frames), so incompressible traffic costs almost nothing extra.
    case adaptive
}

/// Parameters of the encrypted framing (Specs/framing.md). Both ends must agree on
/// `maxPlaintext`; the others are local choices of the sender.
public struct FramingOptions: Sendable, Equatable {
    /// Largest plaintext in one frame (64 KiB by default).
    public var maxPlaintext: Int
    public var compression: FrameCompression
    /// The sealer marks a frame `REKEY` after this many frames since the last rekey…
    public var rekeyAfterFrames: UInt64
    /// …or this many plaintext bytes, whichever comes first.
    public var rekeyAfterBytes: UInt64
    /// The opener's receive buffer: how much one `readInto` may take from the socket (raised
    /// to at least one maximum frame). Local choice; bigger means fewer reads on bulk links.
    public var readBufferBytes: Int

    public init(maxPlaintext: Int = Limits.maxFramePlaintext, compression: FrameCompression = .adaptive,
                rekeyAfterFrames: UInt64 = Limits.frameRekeyIntervalFrames,
                rekeyAfterBytes: UInt64 = Limits.frameRekeyIntervalBytes,
                readBufferBytes: Int = 256 * 1024) {
        precondition(maxPlaintext > 0 && maxPlaintext <= 1 << 24, "maxPlaintext must be in 1...16 MiB")
        self.maxPlaintext = maxPlaintext
        self.compression = compression
        self.rekeyAfterFrames = max(1, rekeyAfterFrames)
        self.rekeyAfterBytes = max(1, rekeyAfterBytes)
        self.readBufferBytes = readBufferBytes
    }

    public static let `default` = FramingOptions()
}

/// Frame layout constants (Specs/framing.md).
public enum FrameFormat {
    /// The big-endian u32 length of the ciphertext that follows; authenticated as additional data.
    public static let lengthBytes = 4
    /// secretstream overhead per frame: 1 encrypted tag byte + 16-byte Poly1305 MAC.
    public static let cipherOverhead = SecretStreamState.overheadBytes
    /// Bit in the (encrypted) secretstream tag byte meaning "payload is LZ4, prefixed by its
    /// u32 original length". libsodium only interprets the REKEY bit (0x02) of the tag.
    public static let compressedFlag: UInt8 = 0x80
    /// Largest frame on the wire for a given plaintext maximum.
    public static func maxFrameBytes(maxPlaintext: Int) -> Int { lengthBytes + cipherOverhead + maxPlaintext }
}

/// LZ4 block compression (internal: tests use it to craft hostile frames).
enum LZ4Shim {
    /// Compresses `src` into `dst`; 0 when it does not fit.
    static func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> Int {
        guard let s = src.baseAddress, let d = dst.baseAddress else { return 0 }
        return Int(LZ4_compress_default(s.assumingMemoryBound(to: CChar.self), d.assumingMemoryBound(to: CChar.self),
                                        Int32(src.count), Int32(dst.count)))
    }
}
