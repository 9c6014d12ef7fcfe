import CSodium
import MurmurCore

/// One direction of `crypto_secretstream_xchacha20poly1305`, keyed from the handshake. The
/// state lives in its own allocation (it must never be copied: a copy would reuse nonces)
/// and is zeroed on release.
final class SecretStreamState {
    static let headerBytes = Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES)   // 24
    static let keyBytes = Int(crypto_secretstream_xchacha20poly1305_KEYBYTES)         // 32
    static let overheadBytes = Int(crypto_secretstream_xchacha20poly1305_ABYTES)      // 17
    static let tagMessage = UInt8(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)  // 0
    static let tagRekey = UInt8(crypto_secretstream_xchacha20poly1305_TAG_REKEY)      // 2
    static let tagFinal = UInt8(crypto_secretstream_xchacha20poly1305_TAG_FINAL)      // 3

    let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

    /// Both directions start from (key, header) derived from the handshake, so no header is
    /// sent. `init_pull` builds exactly the state `init_push` would build for that header,
    /// which lets the sender use a derived header instead of a random one.
    init(key: SecretBytes, header: [UInt8]) {
        precondition(sodiumReady)
        precondition(key.count == SecretStreamState.keyBytes && header.count == SecretStreamState.headerBytes)
        state = .allocate(capacity: 1)
        state.initialize(to: crypto_secretstream_xchacha20poly1305_state())
        key.withUnsafeBytes { k in
            _ = crypto_secretstream_xchacha20poly1305_init_pull(state, header, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    deinit {
        sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
        state.deallocate()
    }

    /// Encrypts `m` into `c` (which has room for `m.count + 17`).
    @inline(__always)
    func push(c: UnsafeMutableRawPointer, m: UnsafeRawPointer?, mlen: Int, ad: UnsafeRawPointer, adlen: Int, tag: UInt8) {
        _ = crypto_secretstream_xchacha20poly1305_push(state, c.assumingMemoryBound(to: UInt8.self), nil,
                                                        m?.assumingMemoryBound(to: UInt8.self), UInt64(mlen),
                                                        ad.assumingMemoryBound(to: UInt8.self), UInt64(adlen), tag)
    }

    /// Decrypts into `m` (room for `clen - 17`); returns (plaintext length, tag) or nil on failure.
    @inline(__always)
    func pull(m: UnsafeMutableRawPointer, c: UnsafeRawPointer, clen: Int, ad: UnsafeRawPointer, adlen: Int) -> (Int, UInt8)? {
        var mlen: UInt64 = 0
        var tag: UInt8 = 0
        let rc = crypto_secretstream_xchacha20poly1305_pull(state, m.assumingMemoryBound(to: UInt8.self), &mlen, &tag,
                                                             c.assumingMemoryBound(to: UInt8.self), UInt64(clen),
                                                             ad.assumingMemoryBound(to: UInt8.self), UInt64(adlen))
        guard rc == 0 else { return nil }
        return (Int(mlen), tag)
    }
}
