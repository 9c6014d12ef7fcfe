import CSodium
import MurmurCore

/// Thin Swift faces over the libsodium primitives the handshake and framing are built from.
/// Internal: nothing outside MurmurCrypto sees a libsodium name.
enum Primitives {
    static let hashLength = 32
    static let aeadTagLength = Int(crypto_aead_chacha20poly1305_IETF_ABYTES)  // 16

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        precondition(sodiumReady)
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_hash_sha256(&out, data, UInt64(data.count))
        return out
    }

    /// HMAC-SHA256 of the concatenation of `parts` under `key` (any key length).
    static func hmacSHA256(key: UnsafeRawBufferPointer, _ parts: [UnsafeRawBufferPointer]) -> [UInt8] {
        var state = crypto_auth_hmacsha256_state()
        let zero: [UInt8] = [0]
        zero.withUnsafeBufferPointer { z in
            _ = crypto_auth_hmacsha256_init(&state, key.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? z.baseAddress!, key.count)
        }
        for p in parts {
            _ = crypto_auth_hmacsha256_update(&state, p.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(p.count))
        }
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_auth_hmacsha256_final(&state, &out)
        sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
        return out
    }

    /// Noise's HKDF (RFC 5869 with an empty info, HMAC-SHA256): `count` (2 or 3) outputs of 32 bytes.
    static func hkdf(chainingKey: [UInt8], inputKeyMaterial: UnsafeRawBufferPointer, count: Int) -> [[UInt8]] {
        precondition(count == 2 || count == 3)
        var tempKey = chainingKey.withUnsafeBytes { ck in hmacSHA256(key: ck, [inputKeyMaterial]) }
        defer { sodium_memzero(&tempKey, tempKey.count) }
        var outputs: [[UInt8]] = []
        var previous: [UInt8] = []
        for i in 1...count {
            var counter = UInt8(i)
            let next = tempKey.withUnsafeBytes { tk in
                previous.withUnsafeBytes { prev in
                    withUnsafeBytes(of: &counter) { ctr in hmacSHA256(key: tk, [prev, ctr]) }
                }
            }
            outputs.append(next)
            previous = next
        }
        return outputs
    }

    static func hkdf(chainingKey: [UInt8], inputKeyMaterial: [UInt8], count: Int) -> [[UInt8]] {
        inputKeyMaterial.withUnsafeBytes { hkdf(chainingKey: chainingKey, inputKeyMaterial: $0, count: count) }
    }

    /// ChaCha20-Poly1305 (IETF) with Noise's nonce layout: 4 zero bytes then the counter little-endian.
    static func aeadEncrypt(key: [UInt8], nonce: UInt64, ad: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + aeadTagLength)
        var clen: UInt64 = 0
        let n = noiseNonce(nonce)
        _ = crypto_aead_chacha20poly1305_ietf_encrypt(&out, &clen, plaintext, UInt64(plaintext.count),
                                                       ad, UInt64(ad.count), nil, n, key)
        return out
    }

    /// nil when the tag does not verify.
    static func aeadDecrypt(key: [UInt8], nonce: UInt64, ad: [UInt8], ciphertext: [UInt8]) -> [UInt8]? {
        guard ciphertext.count >= aeadTagLength else { return nil }
        var out = [UInt8](repeating: 0, count: ciphertext.count - aeadTagLength)
        var mlen: UInt64 = 0
        let n = noiseNonce(nonce)
        let rc = crypto_aead_chacha20poly1305_ietf_decrypt(&out, &mlen, nil, ciphertext, UInt64(ciphertext.count),
                                                            ad, UInt64(ad.count), n, key)
        return rc == 0 ? out : nil
    }

    private static func noiseNonce(_ n: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { out[4 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
        return out
    }

    /// X25519 public key for a 32-byte secret scalar.
    static func x25519Public(secret: SecretBytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        secret.withUnsafeBytes { s in
            _ = crypto_scalarmult_curve25519_base(&out, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return out
    }

    /// X25519(secret, public); nil when the result is the all-zero point (a low-order public key).
    static func x25519(secret: SecretBytes, public: [UInt8]) -> SecretBytes? {
        guard `public`.count == 32 else { return nil }
        let out = SecretBytes(count: 32)
        let rc = secret.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                crypto_scalarmult_curve25519(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             s.baseAddress!.assumingMemoryBound(to: UInt8.self), `public`)
            }
        }
        return rc == 0 ? out : nil
    }

    /// The X25519 form of an Ed25519 public key; nil for keys that are not valid points or have small order.
    static func ed25519PublicToX25519(_ ed: [UInt8]) -> [UInt8]? {
        guard ed.count == 32 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        return crypto_sign_ed25519_pk_to_curve25519(&out, ed) == 0 ? out : nil
    }

    /// Constant-time equality of two byte arrays of the same length.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return sodium_memcmp(a, b, a.count) == 0
    }

    static func randomBytes(_ count: Int) -> SecretBytes {
        precondition(sodiumReady)
        let out = SecretBytes(count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return out
    }
}
