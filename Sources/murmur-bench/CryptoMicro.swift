#if canImport(Glibc)
import Glibc
#endif
import CSodium
import MurmurCore
import MurmurCrypto

/// CPU microseconds per primitive used by the handshake (to see where a handshake's time goes).
func cryptoMicroCosts(iterations: Int = 3000) -> [(String, Double)] {
    precondition(sodiumReady)
    func time(_ name: String, _ body: () -> Void) -> (String, Double) {
        let t0 = cryptoBenchThreadCPU()
        for _ in 0..<iterations { body() }
        return (name, (cryptoBenchThreadCPU() - t0) / Double(iterations) * 1e6)
    }
    var scalar = [UInt8](repeating: 9, count: 32), point = [UInt8](repeating: 0, count: 32), out = [UInt8](repeating: 0, count: 32)
    _ = crypto_scalarmult_curve25519_base(&point, scalar)
    let key = SigningKey()
    let ed = key.publicKey.bytes
    var state = crypto_auth_hmacsha256_state()
    let data = [UInt8](repeating: 1, count: 64)
    var results: [(String, Double)] = []
    results.append(time("X25519 fixed-base") { _ = crypto_scalarmult_curve25519_base(&out, scalar); scalar[0] &+= 1 })
    results.append(time("X25519") { _ = crypto_scalarmult_curve25519(&out, scalar, point); scalar[0] &+= 1 })
    results.append(time("Ed25519→X25519 public (checked)") { _ = crypto_sign_ed25519_pk_to_curve25519(&out, ed) })
    results.append(time("HMAC-SHA256 (32-byte key, 33 bytes)") {
        _ = crypto_auth_hmacsha256_init(&state, data, 32)
        _ = crypto_auth_hmacsha256_update(&state, data, 33)
        _ = crypto_auth_hmacsha256_final(&state, &out)
    })
    results.append(time("SHA-256 (80 bytes)") { _ = crypto_hash_sha256(&out, data + data, 80) })
    results.append(time("initiator Handshake init + start() (one fixed-base X25519, 2 HMAC, 3 SHA-256)") {
        var i = Handshake(role: .initiator(expectedPeer: nil), identity: key, networkKey: .default, now: .zero)
        _ = i.start()
    })
    return results
}
