import CSodium
import MurmurCore

/// The 32-byte key shared by every node of one mesh. Nodes holding different network keys
/// cannot complete a handshake (the first message's MAC and the Noise PSK both use it), so
/// separate meshes never talk. The public mesh uses `NetworkKey.default`.
public struct NetworkKey: Sendable {
    public static let byteCount = 32
    /// The string whose BLAKE2b-256 is the public mesh's key (Specs/handshake.md).
    public static let defaultKeyString = "murmur public mesh network key v1"
    /// The public mesh: BLAKE2b-256 (unkeyed) of the UTF-8 bytes of `defaultKeyString`.
    public static let `default` = NetworkKey(secret: SecretBytes(Hash.of(Array(defaultKeyString.utf8)).bytes))

    let secret: SecretBytes

    private init(secret: SecretBytes) { self.secret = secret }

    /// nil unless exactly 32 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == NetworkKey.byteCount else { return nil }
        self.init(secret: SecretBytes(bytes))
    }

    /// A fresh random key for a private mesh.
    public static func random() -> NetworkKey { NetworkKey(secret: Primitives.randomBytes(byteCount)) }

    /// Reads a file holding 64 hex characters (surrounding whitespace allowed).
    public static func load(from path: String) throws(KeyFileError) -> NetworkKey {
        let bytes = try KeyFile.readHex32(path: path, requirePrivate: false)
        return NetworkKey(secret: bytes)
    }

    /// Writes the key as 64 hex characters and a newline, mode 0600, atomically.
    public func save(to path: String, replacing: Bool = false) throws(KeyFileError) {
        var bytes = secret.withUnsafeBytes { Array($0) }
        defer { wipeBytes(&bytes) }
        try KeyFile.writeHex(bytes, path: path, replacing: replacing)
    }

    /// A short public fingerprint (first 8 hex of BLAKE2b of the key) for logs: never the key itself.
    public var fingerprint: String {
        secret.withUnsafeBytes { String(Hash.of(parts: [Array("murmur/network-key-id".utf8), Array($0)]).hex.prefix(8)) }
    }

    func withBytes<R>(_ body: ([UInt8]) -> R) -> R {
        secret.withUnsafeBytes { raw in
            var copy = Array(raw)
            defer { sodium_memzero(&copy, copy.count) }
            return body(copy)
        }
    }
}

extension SigningKey {
    /// Reads an identity file (the 32-byte Ed25519 seed as 64 hex characters). Refuses a file
    /// that group or others may read, and anything that is not exactly one 64-hex-digit key.
    public static func load(from path: String) throws(KeyFileError) -> SigningKey {
        let seed = try KeyFile.readHex32(path: path, requirePrivate: true)
        return seed.withUnsafeBytes { SigningKey(seed: Array($0)) }
    }

    /// Writes the seed as 64 hex characters and a newline: temporary file created with mode
    /// 0600, fsynced, then moved into place. Without `replacing`, an existing file is an error.
    public func save(to path: String, replacing: Bool = false) throws(KeyFileError) {
        var s = seed
        defer { sodium_memzero(&s, s.count) }
        try KeyFile.writeHex(s, path: path, replacing: replacing)
    }
}
