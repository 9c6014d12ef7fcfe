import CSodium
import MurmurCore

/// Noise's SymmetricState + CipherState (Noise spec rev. 34, §5.1–5.2) for
/// `Noise_XXpsk3_25519_ChaChaPoly_SHA256`. A class so that the chaining key and cipher key
/// live in one place and are zeroed when the handshake ends or is dropped.
final class NoiseSymmetricState {
    private(set) var h: [UInt8]
    private var ck: [UInt8]
    private var k: [UInt8]?
    private var n: UInt64 = 0

    init(protocolName: String, prologue: [UInt8]) {
        let name = Array(protocolName.utf8)
        if name.count <= Primitives.hashLength {
            h = name + [UInt8](repeating: 0, count: Primitives.hashLength - name.count)
        } else {
            h = Primitives.sha256(name)
        }
        ck = h
        mixHash(prologue)
    }

    private init(copying other: NoiseSymmetricState) {
        h = other.h
        ck = other.ck
        k = other.k
        n = other.n
    }

    /// An independent copy (the handshake's copy-on-write keeps `Handshake` a value type).
    func copy() -> NoiseSymmetricState { NoiseSymmetricState(copying: self) }

    deinit { wipe() }

    func wipe() {
        wipeBytes(&ck)
        k?.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        k = nil
    }

    var hasKey: Bool { k != nil }

    func mixHash(_ data: [UInt8]) {
        h = Primitives.sha256(h + data)
    }

    func mixKey(_ ikm: UnsafeRawBufferPointer) {
        var out = Primitives.hkdf(chainingKey: ck, inputKeyMaterial: ikm, count: 2)
        setChainingKey(out[0])
        setKey(out[1])
        for i in out.indices { wipeBytes(&out[i]) }
    }

    func mixKey(_ ikm: [UInt8]) { ikm.withUnsafeBytes { mixKey($0) } }
    func mixKey(_ ikm: SecretBytes) { ikm.withUnsafeBytes { mixKey($0) } }

    func mixKeyAndHash(_ ikm: UnsafeRawBufferPointer) {
        var out = Primitives.hkdf(chainingKey: ck, inputKeyMaterial: ikm, count: 3)
        setChainingKey(out[0])
        mixHash(out[1])
        setKey(out[2])
        for i in out.indices { wipeBytes(&out[i]) }
    }

    func encryptAndHash(_ plaintext: [UInt8]) -> [UInt8] {
        guard let key = k else {
            mixHash(plaintext)
            return plaintext
        }
        let c = Primitives.aeadEncrypt(key: key, nonce: n, ad: h, plaintext: plaintext)
        n += 1
        mixHash(c)
        return c
    }

    /// nil when authentication fails.
    func decryptAndHash(_ ciphertext: [UInt8]) -> [UInt8]? {
        guard let key = k else {
            mixHash(ciphertext)
            return ciphertext
        }
        guard let p = Primitives.aeadDecrypt(key: key, nonce: n, ad: h, ciphertext: ciphertext) else { return nil }
        n += 1
        mixHash(ciphertext)
        return p
    }

    /// The two transport keys: (initiator → responder, responder → initiator).
    func split() -> (SecretBytes, SecretBytes) {
        var out = Primitives.hkdf(chainingKey: ck, inputKeyMaterial: [], count: 2)
        let a = SecretBytes(out[0]), b = SecretBytes(out[1])
        for i in out.indices { wipeBytes(&out[i]) }
        wipe()
        return (a, b)
    }

    private func setChainingKey(_ new: [UInt8]) {
        wipeBytes(&ck)
        ck = new
    }

    private func setKey(_ new: [UInt8]) {
        k?.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        k = new
        n = 0
    }
}

/// Zeroes an array's storage in place (libsodium's memzero cannot be optimised away).
func wipeBytes(_ a: inout [UInt8]) {
    a.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
}
