import CSodium
import MurmurCore

/// An Ed25519 signature (64 bytes).
public struct Signature: Hashable, Sendable {
    public static let byteCount = 64
    public let bytes: [UInt8]
    /// nil unless exactly 64 bytes.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Signature.byteCount else { return nil }
        self.bytes = bytes
    }
    init(exactly64 bytes: [UInt8]) { self.bytes = bytes }
}

/// A node's (or client's, or publisher's) Ed25519 signing key. The secret half is kept in a
/// buffer that is zeroed when the key is released.
public final class SigningKey: Sendable {
    public let publicKey: NodeID
    private let secret: SecretBytes
    /// The identity's X25519 form, used as the Noise static key (computed once per key, since
    /// every handshake needs it).
    let staticX25519Secret: SecretBytes
    let staticX25519Public: [UInt8]

    /// A fresh random key.
    public convenience init() {
        precondition(sodiumReady)
        var seed = [UInt8](repeating: 0, count: Int(crypto_sign_SEEDBYTES))
        randombytes_buf(&seed, seed.count)
        self.init(seed: seed)
        sodium_memzero(&seed, seed.count)
    }

    /// The key derived from a 32-byte seed (deterministic: used by test vectors and the simulator).
    public init(seed: [UInt8]) {
        precondition(sodiumReady)
        precondition(seed.count == Int(crypto_sign_SEEDBYTES), "seed must be 32 bytes")
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        let sk = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES))
        sk.withUnsafeMutableBytes { skp in
            _ = crypto_sign_seed_keypair(&pk, skp.baseAddress!.assumingMemoryBound(to: UInt8.self), seed)
        }
        secret = sk
        publicKey = NodeID(bytes: pk) ?? NodeID(.zero)
        let xs = SecretBytes(count: Int(crypto_scalarmult_curve25519_BYTES))
        var xp = [UInt8](repeating: 0, count: Int(crypto_scalarmult_curve25519_BYTES))
        sk.withUnsafeBytes { skp in
            xs.withUnsafeMutableBytes { o in
                _ = crypto_sign_ed25519_sk_to_curve25519(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                         skp.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        // Same value as crypto_sign_ed25519_pk_to_curve25519(pk) (the vectors check it), but the
        // fixed-base multiplication is several times cheaper than that conversion's point checks.
        xs.withUnsafeBytes { s in
            _ = crypto_scalarmult_curve25519_base(&xp, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        staticX25519Secret = xs
        staticX25519Public = xp
    }

    /// The 32-byte seed this key was made from (what a key file stores).
    public var seed: [UInt8] {
        secret.withUnsafeBytes { Array($0.prefix(Int(crypto_sign_SEEDBYTES))) }
    }

    /// Detached Ed25519 signature of `message`.
    public func sign<C: Collection>(_ message: C) -> Signature where C.Element == UInt8 {
        let msg = Array(message)
        var sig = [UInt8](repeating: 0, count: Signature.byteCount)
        secret.withUnsafeBytes { skp in
            _ = crypto_sign_detached(&sig, nil, msg, UInt64(msg.count), skp.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return Signature(exactly64: sig)
    }

    /// X25519 secret scalar for this identity (for handshakes that bind the identity by DH).
    public func x25519Secret() -> SecretBytes {
        let out = SecretBytes(count: Int(crypto_scalarmult_curve25519_BYTES))
        secret.withUnsafeBytes { skp in
            out.withUnsafeMutableBytes { o in
                _ = crypto_sign_ed25519_sk_to_curve25519(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                         skp.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return out
    }
}

extension NodeID {
    /// True when `signature` is a valid Ed25519 signature of `message` by this key.
    public func verify<C: Collection>(_ signature: Signature, of message: C) -> Bool where C.Element == UInt8 {
        precondition(sodiumReady)
        let msg = Array(message)
        let pk = bytes
        return crypto_sign_verify_detached(signature.bytes, msg, UInt64(msg.count), pk) == 0
    }
}

/// Heap bytes holding a secret: not copied implicitly, zeroed on release.
public final class SecretBytes: @unchecked Sendable {
    // Written only during initialisation by the owning type; read-only afterwards.
    private let pointer: UnsafeMutableRawBufferPointer

    public init(count: Int) {
        pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 0)
        self.count = count
    }

    public convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count)
        withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
    }

    public let count: Int

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: pointer[0..<count]))
    }

    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(rebasing: pointer[0..<count]))
    }

    deinit {
        sodium_memzero(pointer.baseAddress, pointer.count)
        pointer.deallocate()
    }
}
