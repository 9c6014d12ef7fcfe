import CLZ4
import CSodium
import MurmurCore

/// The sending half of a session: turns plaintexts into frames
/// (`u32 length ‖ secretstream ciphertext`, the length authenticated as additional data).
///
/// A class because its stream state must never be duplicated (a copy would reuse nonces).
/// Not thread-safe: one owner (the connection) seals in order. For throughput, seal into a
/// buffer you own with `seal(_:into:)`, which allocates nothing.
public final class FrameSealer {
    public let options: FramingOptions
    private let stream: SecretStreamState
    /// Compression output (`u32 rawLength ‖ lz4 block`), allocated on the first attempt
    /// (a link that never compresses never pays for it).
    private var scratchStorage: UnsafeMutableRawBufferPointer?
    private var scratch: UnsafeMutableRawBufferPointer {
        if let s = scratchStorage { return s }
        let s = UnsafeMutableRawBufferPointer.allocate(byteCount: options.maxPlaintext + 4, alignment: 16)
        scratchStorage = s
        return s
    }
    private var framesSinceRekey: UInt64 = 0
    private var bytesSinceRekey: UInt64 = 0
    private var compressionSkip = 0
    private var compressionBackoff = 8

    /// True once `close()` has produced the FINAL frame; sealing after that is a programmer error.
    public private(set) var isClosed = false
    public private(set) var framesSealed: UInt64 = 0
    public private(set) var plaintextBytesSealed: UInt64 = 0
    public private(set) var compressedFrames: UInt64 = 0
    public private(set) var rekeys: UInt64 = 0

    init(key: SecretBytes, header: [UInt8], options: FramingOptions) {
        self.options = options
        stream = SecretStreamState(key: key, header: header)
    }

    /// Bytes of `scratch` ever written (only those are zeroed on release).
    private var scratchHighWater = 0

    deinit {
        if let s = scratchStorage {
            sodium_memzero(s.baseAddress, scratchHighWater)
            s.deallocate()
        }
    }

    /// Largest frame this sealer produces (the size to reserve for `seal(_:into:)`).
    public var maxFrameBytes: Int { FrameFormat.maxFrameBytes(maxPlaintext: options.maxPlaintext) }

    /// Bytes `seal(_:into:)` needs at most for a plaintext of `count` bytes.
    public static func frameBytes(forPlaintext count: Int) -> Int {
        FrameFormat.lengthBytes + FrameFormat.cipherOverhead + count
    }

    /// Seals one plaintext (at most `options.maxPlaintext` bytes) into `out`, which must have
    /// room for `frameBytes(forPlaintext:)`. Returns the number of bytes written.
    public func seal(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        sealFrame(plaintext, into: out, final: false)
    }

    /// Seals one plaintext and appends the frame to `out`.
    public func seal(_ plaintext: [UInt8], appendingTo out: inout [UInt8]) {
        plaintext.withUnsafeBytes { p in append(p, to: &out, final: false) }
    }

    /// Seals one plaintext into a new array.
    public func seal(_ plaintext: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        seal(plaintext, appendingTo: &out)
        return out
    }

    /// The FINAL frame (empty plaintext): the peer's opener reports a clean close. The sealer
    /// cannot be used afterwards.
    public func close() -> [UInt8] {
        var out: [UInt8] = []
        append(UnsafeRawBufferPointer(start: nil, count: 0), to: &out, final: true)
        return out
    }

    /// `close()` into a caller-provided buffer (room for `frameBytes(forPlaintext: 0)`).
    public func close(into out: UnsafeMutableRawBufferPointer) -> Int {
        sealFrame(UnsafeRawBufferPointer(start: nil, count: 0), into: out, final: true)
    }

    private func append(_ p: UnsafeRawBufferPointer, to out: inout [UInt8], final: Bool) {
        let start = out.count
        let room = FrameSealer.frameBytes(forPlaintext: p.count)
        out.append(contentsOf: repeatElement(0, count: room))
        let written = out.withUnsafeMutableBytes { o in
            sealFrame(p, into: UnsafeMutableRawBufferPointer(rebasing: o[start...]), final: final)
        }
        out.removeLast(room - written)
    }

    private func sealFrame(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, final: Bool) -> Int {
        precondition(!isClosed, "FrameSealer used after close()")
        precondition(plaintext.count <= options.maxPlaintext, "plaintext larger than the frame maximum; split it")
        precondition(out.count >= FrameSealer.frameBytes(forPlaintext: plaintext.count), "output buffer too small")
        guard let outBase = out.baseAddress else { return 0 }

        var tag = SecretStreamState.tagMessage
        var body = UnsafeRawPointer(plaintext.baseAddress)
        var bodyCount = plaintext.count
        if let compressedCount = compressIfSmaller(plaintext) {
            tag |= FrameFormat.compressedFlag
            body = UnsafeRawPointer(scratch.baseAddress)
            bodyCount = compressedCount
            compressedFrames += 1
        }
        framesSinceRekey += 1
        bytesSinceRekey += UInt64(plaintext.count)
        if final {
            tag = (tag & FrameFormat.compressedFlag) | SecretStreamState.tagFinal
            isClosed = true
        } else if framesSinceRekey >= options.rekeyAfterFrames || bytesSinceRekey >= options.rekeyAfterBytes {
            // libsodium rekeys both ends right after a REKEY-tagged message.
            tag |= SecretStreamState.tagRekey
            framesSinceRekey = 0
            bytesSinceRekey = 0
            rekeys += 1
        }
        let cipherCount = bodyCount + FrameFormat.cipherOverhead
        let be = UInt32(cipherCount).bigEndian
        withUnsafeBytes(of: be) { outBase.copyMemory(from: $0.baseAddress!, byteCount: 4) }
        stream.push(c: outBase + FrameFormat.lengthBytes, m: body, mlen: bodyCount, ad: outBase, adlen: FrameFormat.lengthBytes, tag: tag)
        framesSealed += 1
        plaintextBytesSealed += UInt64(plaintext.count)
        return FrameFormat.lengthBytes + cipherCount
    }

    /// LZ4 into `scratch` as `u32 rawLength ‖ block`; returns its size only when it is smaller
    /// than the plaintext.
    private func compressIfSmaller(_ plaintext: UnsafeRawBufferPointer) -> Int? {
        switch options.compression {
        case .never: return nil
        case .always: break
        case .adaptive:
            if compressionSkip > 0 { compressionSkip -= 1; return nil }
        }
        // Must end up strictly smaller than the plaintext: u32 prefix + block < count.
        let capacity = plaintext.count - 5
        guard capacity > 0, let src = plaintext.baseAddress, let dst = scratch.baseAddress else { return nil }
        // LZ4 may write up to `capacity` bytes even when it gives up.
        scratchHighWater = max(scratchHighWater, 4 + capacity)
        let n = LZ4_compress_default(src.assumingMemoryBound(to: CChar.self),
                                     (dst + 4).assumingMemoryBound(to: CChar.self),
                                     Int32(plaintext.count), Int32(capacity))
        guard n > 0 else {
            if options.compression == .adaptive {
                compressionSkip = compressionBackoff
                compressionBackoff = min(compressionBackoff * 2, 64)
            }
            return nil
        }
        compressionBackoff = 8
        let be = UInt32(plaintext.count).bigEndian
        withUnsafeBytes(of: be) { dst.copyMemory(from: $0.baseAddress!, byteCount: 4) }
        return 4 + Int(n)
    }
}
