import CLZ4
import CSodium
import MurmurCore

/// Why a frame stream from a peer was rejected. Every error is final for the connection:
/// after one, the opener refuses all further input.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The declared ciphertext length exceeds what `maxPlaintext` allows; refused before reading it.
    case frameTooLarge(declared: Int, limit: Int)
    /// The declared length is smaller than the secretstream overhead.
    case frameTooSmall(declared: Int)
    /// The MAC did not verify: the frame was tampered with, reordered, replayed, or is not from this stream.
    case authenticationFailed
    /// An authenticated frame carries a tag this version does not know.
    case unknownTag(UInt8)
    /// A compressed frame declares an original length above `maxPlaintext`.
    case declaredLengthTooLarge(declared: Int, limit: Int)
    /// A compressed frame's LZ4 block is corrupt or does not decompress to its declared length.
    case decompressionFailed(declared: Int)
    /// Bytes arrived after the FINAL frame.
    case dataAfterFinal
    /// The input ended without a FINAL frame (`bufferedBytes` of an incomplete frame were pending).
    case truncated(bufferedBytes: Int)

    public var description: String {
        switch self {
        case let .frameTooLarge(d, l): return "frame declares \(d) bytes, more than the limit \(l)"
        case let .frameTooSmall(d): return "frame declares \(d) bytes, less than the encryption overhead"
        case .authenticationFailed: return "frame failed authentication (tampered, reordered, replayed or from another stream)"
        case let .unknownTag(t): return "frame has unknown tag \(t)"
        case let .declaredLengthTooLarge(d, l): return "compressed frame declares \(d) bytes, more than the limit \(l)"
        case let .decompressionFailed(d): return "compressed frame does not decompress to its declared \(d) bytes"
        case .dataAfterFinal: return "data after the final frame"
        case let .truncated(n): return "stream ended without a final frame (\(n) bytes of an incomplete frame pending)"
        }
    }
}

/// What the opener produced.
public enum OpenedFrame: Equatable, Sendable {
    case message([UInt8])
    /// The peer's FINAL frame: a clean close. Nothing may follow.
    case closed
}

/// Progress of `FrameOpener.nextMessage(_:)`.
public enum FrameProgress: Equatable, Sendable {
    /// One plaintext was passed to the closure.
    case message
    /// No complete frame is buffered; feed more bytes.
    case needMoreBytes
    /// The FINAL frame arrived (its plaintext, if any, was passed to the closure first).
    case closed
}

/// The receiving half of a session: feed it bytes as they arrive from the socket, take out
/// complete plaintexts. Every buffer is allocated once, at creation; a frame's declared length
/// is checked against the maximum as soon as its 4 length bytes arrive.
///
/// Zero-copy use: `readInto { space in read(fd, space.baseAddress, space.count) }`, then call
/// `nextMessage { plaintext in … }` until it returns `.needMoreBytes`.
public final class FrameOpener {
    public let options: FramingOptions
    private let stream: SecretStreamState
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private let plain: UnsafeMutableRawBufferPointer
    /// Allocated when the first compressed frame arrives.
    private var decompressedStorage: UnsafeMutableRawBufferPointer?
    private var decompressed: UnsafeMutableRawBufferPointer {
        if let d = decompressedStorage { return d }
        let d = UnsafeMutableRawBufferPointer.allocate(byteCount: options.maxPlaintext, alignment: 16)
        decompressedStorage = d
        return d
    }
    private let maxCipher: Int
    private var failure: FrameError?
    public private(set) var isClosed = false
    public private(set) var framesOpened: UInt64 = 0

    init(key: SecretBytes, header: [UInt8], options: FramingOptions) {
        self.options = options
        stream = SecretStreamState(key: key, header: header)
        maxCipher = options.maxPlaintext + FrameFormat.cipherOverhead
        let capacity = max(options.readBufferBytes, FrameFormat.maxFrameBytes(maxPlaintext: options.maxPlaintext))
        buffer = .allocate(byteCount: capacity, alignment: 16)
        plain = .allocate(byteCount: options.maxPlaintext + 4, alignment: 16)
    }

    /// How much of each buffer was ever written: only that is zeroed on release, so an idle
    /// connection's untouched pages are never faulted in just to be wiped.
    private var bufferHighWater = 0
    private var plainHighWater = 0
    private var decompressedHighWater = 0

    deinit {
        sodium_memzero(buffer.baseAddress, bufferHighWater)
        sodium_memzero(plain.baseAddress, plainHighWater)
        buffer.deallocate()
        plain.deallocate()
        if let d = decompressedStorage {
            sodium_memzero(d.baseAddress, decompressedHighWater)
            d.deallocate()
        }
    }

    /// Bytes received but not yet consumed as complete frames.
    public var bufferedBytes: Int { end - start }

    /// Lets the caller write received bytes straight into the opener's buffer. `body` gets the
    /// free space and returns how many bytes it wrote (≤ 0 writes nothing, so a failed
    /// `read` may return its result unchanged). The space is empty only when a complete frame
    /// is waiting to be taken out with `nextMessage`.
    @discardableResult
    public func readInto(_ body: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        compactIfNeeded()
        let space = UnsafeMutableRawBufferPointer(rebasing: buffer[end...])
        let n = body(space)
        guard n > 0 else { return n }
        precondition(n <= space.count, "readInto body claimed more bytes than it was given")
        end += n
        bufferHighWater = max(bufferHighWater, end)
        return n
    }

    /// Copies `bytes` in and returns every frame they complete (allocating each plaintext);
    /// `.closed` is the last element when the FINAL frame is among them.
    public func feed<C: Collection>(_ bytes: C) throws(FrameError) -> [OpenedFrame] where C.Element == UInt8 {
        let input = Array(bytes)
        var offset = 0
        var out: [OpenedFrame] = []
        repeat {
            if let failure { throw failure }
            readInto { space in
                let n = min(space.count, input.count - offset)
                guard n > 0, let dst = space.baseAddress else { return 0 }
                input.withUnsafeBytes { src in
                    guard let base = src.baseAddress else { return }
                    dst.copyMemory(from: base + offset, byteCount: n)
                }
                offset += n
                return n
            }
            while let frame = try next() {
                out.append(frame)
                if frame == .closed {
                    if offset < input.count { throw fail(.dataAfterFinal) }
                    return out
                }
            }
        } while offset < input.count
        return out
    }

    /// The next complete frame as an array, or nil when more bytes are needed. After the FINAL
    /// frame, every call returns `.closed`.
    public func next() throws(FrameError) -> OpenedFrame? {
        var message: [UInt8] = []
        switch try nextMessage({ message = Array($0) }) {
        case .message: return .message(message)
        case .needMoreBytes: return nil
        case .closed: return .closed
        }
    }

    /// Opens the next complete frame, passing its plaintext to `body` (valid only during the
    /// call). Throws on anything not authentic; the opener is unusable afterwards.
    public func nextMessage(_ body: (UnsafeRawBufferPointer) -> Void) throws(FrameError) -> FrameProgress {
        if let failure { throw failure }
        if isClosed {
            if end > start { throw fail(.dataAfterFinal) }
            return .closed
        }
        let available = end - start
        guard available >= FrameFormat.lengthBytes, let base = buffer.baseAddress else { return .needMoreBytes }
        let frame = base + start
        let declared = Int(frame.loadUnaligned(as: UInt32.self).bigEndian)
        guard declared <= maxCipher else { throw fail(.frameTooLarge(declared: declared, limit: maxCipher)) }
        guard declared >= FrameFormat.cipherOverhead else { throw fail(.frameTooSmall(declared: declared)) }
        guard available >= FrameFormat.lengthBytes + declared else { return .needMoreBytes }
        guard let plainBase = plain.baseAddress,
              let (count, tag) = stream.pull(m: plainBase, c: frame + FrameFormat.lengthBytes, clen: declared,
                                             ad: frame, adlen: FrameFormat.lengthBytes) else {
            throw fail(.authenticationFailed)
        }
        plainHighWater = max(plainHighWater, count)
        start += FrameFormat.lengthBytes + declared
        if start == end { start = 0; end = 0 }
        framesOpened += 1

        let kind = tag & ~FrameFormat.compressedFlag
        guard kind == SecretStreamState.tagMessage || kind == SecretStreamState.tagRekey || kind == SecretStreamState.tagFinal else {
            throw fail(.unknownTag(tag))
        }
        var payload = UnsafeRawBufferPointer(start: plainBase, count: count)
        if tag & FrameFormat.compressedFlag != 0 {
            guard count >= 4 else { throw fail(.decompressionFailed(declared: 0)) }
            let rawCount = Int(plainBase.loadUnaligned(as: UInt32.self).bigEndian)
            guard rawCount <= options.maxPlaintext else {
                throw fail(.declaredLengthTooLarge(declared: rawCount, limit: options.maxPlaintext))
            }
            guard let dst = decompressed.baseAddress else { throw fail(.decompressionFailed(declared: rawCount)) }
            let n = LZ4_decompress_safe((plainBase + 4).assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
                                        Int32(count - 4), Int32(options.maxPlaintext))
            // On failure LZ4 may have written anywhere in the buffer.
            decompressedHighWater = Int(n) == rawCount ? max(decompressedHighWater, rawCount) : options.maxPlaintext
            guard n >= 0, Int(n) == rawCount else { throw fail(.decompressionFailed(declared: rawCount)) }
            payload = UnsafeRawBufferPointer(start: dst, count: rawCount)
        }
        if kind == SecretStreamState.tagFinal {
            isClosed = true
            if payload.count > 0 { body(payload) }
            if end > start { throw fail(.dataAfterFinal) }
            return .closed
        }
        body(payload)
        return .message
    }

    /// Call when the connection reached end of input: throws `.truncated` unless the FINAL frame arrived.
    public func finish() throws(FrameError) {
        if let failure { throw failure }
        if !isClosed { throw fail(.truncated(bufferedBytes: end - start)) }
    }

    private func fail(_ e: FrameError) -> FrameError {
        failure = e
        return e
    }

    /// Moves a partial frame to the front when the free tail is too small for the rest of it.
    private func compactIfNeeded() {
        guard start > 0 else { return }
        let free = buffer.count - end
        if free >= FrameFormat.maxFrameBytes(maxPlaintext: options.maxPlaintext) && start < buffer.count / 2 { return }
        if let base = buffer.baseAddress, end > start {
            (base).copyMemory(from: base + start, byteCount: end - start)
        }
        end -= start
        start = 0
    }
}
