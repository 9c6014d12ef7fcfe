import MurmurCore

extension Limits {
    /// Longest a handshake may take from the first byte to the session (default deadline).
    public static let handshakeTimeout = TimeSpan.seconds(Int64(5))
    /// Largest key file (identity or network key) that is read at all: a key file is 64 hex
    /// characters plus whitespace, so anything bigger is refused before it is read.
    public static let maxKeyFileBytes = 1024
    /// Frames after which a sealer rekeys its stream (libsodium's `REKEY` tag).
    public static let frameRekeyIntervalFrames: UInt64 = 1 << 16
    /// Plaintext bytes after which a sealer rekeys its stream.
    public static let frameRekeyIntervalBytes: UInt64 = 1 << 30
}
