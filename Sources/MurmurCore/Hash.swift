import CSodium

/// Calls `sodium_init` exactly once per process (thread-safe lazy global).
public let sodiumReady: Bool = { sodium_init() >= 0 }()

/// A BLAKE2b-256 digest: the id of every record, model and chunk.
public struct Hash: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: Bytes32
    public init(_ value: Bytes32) { self.value = value }

    public static let zero = Hash(.zero)
    public var bytes: [UInt8] { value.bytes }
    public var hex: String { value.hex }
    /// First 12 hex digits: enough to tell records apart in logs.
    public var short: String { String(hex.prefix(12)) }
    public var description: String { short }

    public init?(hex: String) {
        guard let v = Bytes32(hex: hex) else { return nil }
        self.init(v)
    }

    public static func < (a: Hash, b: Hash) -> Bool { a.value < b.value }

    /// BLAKE2b-256 of `data`.
    public static func of<C: Collection>(_ data: C) -> Hash where C.Element == UInt8 {
        let h = Blake2b()
        h.update(data)
        return h.finalize()
    }

    /// BLAKE2b-256 of the concatenation of the parts (no separators: callers fix the layout).
    public static func of(parts: [[UInt8]]) -> Hash {
        let h = Blake2b()
        for p in parts { h.update(p) }
        return h.finalize()
    }
}

/// Streaming BLAKE2b with a 32-byte output (optionally keyed: a MAC). libsodium's state is a
/// 64-byte-aligned opaque struct that Swift cannot import, so it lives in an aligned allocation.
public final class Blake2b {
    private let state: UnsafeMutableRawPointer
    private var finished = false

    public init(key: [UInt8]? = nil) {
        precondition(sodiumReady, "libsodium failed to initialise")
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        let st = OpaquePointer(state)
        if let key {
            precondition(key.count >= Int(crypto_generichash_KEYBYTES_MIN) && key.count <= Int(crypto_generichash_KEYBYTES_MAX))
            key.withUnsafeBufferPointer { k in
                _ = crypto_generichash_init(st, k.baseAddress, k.count, 32)
            }
        } else {
            _ = crypto_generichash_init(st, nil, 0, 32)
        }
    }

    deinit {
        sodium_memzero(state, crypto_generichash_statebytes())
        state.deallocate()
    }

    public func update<C: Collection>(_ data: C) where C.Element == UInt8 {
        let done: Void? = data.withContiguousStorageIfAvailable { buf in
            update(UnsafeRawBufferPointer(buf))
        }
        if done == nil {
            Array(data).withUnsafeBytes { update($0) }
        }
    }

    public func update(_ buffer: UnsafeRawBufferPointer) {
        precondition(!finished, "Blake2b used after finalize")
        _ = crypto_generichash_update(OpaquePointer(state), buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(buffer.count))
    }

    public func finalize() -> Hash {
        precondition(!finished, "Blake2b finalized twice")
        finished = true
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { o in
            guard let base = o.baseAddress else { return }
            _ = crypto_generichash_final(OpaquePointer(state), base, 32)
        }
        // 32 bytes by construction.
        return Hash(Bytes32(out) ?? .zero)
    }
}

extension ByteWriter {
    public mutating func hash(_ h: Hash) { bytes32(h.value) }
}

extension ByteReader {
    public mutating func hash() throws(DecodeError) -> Hash { Hash(try bytes32()) }
}
