/// Version strings reported by `murmur --version`, announcements and attestations.
public enum MurmurVersion {
    public static let software = "0.1.0"
    /// Wire protocol version carried in the handshake; bumped on incompatible changes.
    public static let protocolVersion: UInt16 = 1
}
