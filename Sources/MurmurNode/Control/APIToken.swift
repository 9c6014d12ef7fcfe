#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto

/// The API's bearer token file (`murmur node --api-token FILE`, Specs/api.md "Authentication"):
/// one line of text, readable by its owner only. When an API bound to a non-loopback address
/// has no token file, the node creates `DATA/api-token` with 32 random bytes from libsodium as
/// 64 hex digits (mode 0600, written atomically by `NetworkKey.save`, the same key-file writer
/// the identity uses).
public enum APIToken {
    public static let maxFileBytes = 4096
    public static let defaultFileName = "api-token"

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        case notPrivate(String, mode: UInt32)
        case bad(String, String)
        public var description: String {
            switch self {
            case let .unreadable(p, why): return "cannot read the API token file \(p): \(why)"
            case let .notPrivate(p, mode):
                return "the API token file \(p) is readable by others (mode \(String(mode & 0o777, radix: 8))): chmod 600 \(p)"
            case let .bad(p, why): return "the API token file \(p) \(why)"
            }
        }
    }

    /// Reads a token: the file's text without surrounding whitespace; 16…4096 printable ASCII
    /// characters, no spaces.
    public static func load(path: String) throws(Failure) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .bad(path, "is not a regular file") }
        guard st.st_mode & 0o077 == 0 else { throw .notPrivate(path, mode: UInt32(st.st_mode)) }
        guard st.st_size <= maxFileBytes else { throw .bad(path, "is larger than \(maxFileBytes) bytes") }
        var bytes = [UInt8](repeating: 0, count: maxFileBytes + 1)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        var text = bytes[0..<n]
        while let f = text.first, f == 0x20 || f == 0x09 || f == 0x0A || f == 0x0D { text = text.dropFirst() }
        while let l = text.last, l == 0x20 || l == 0x09 || l == 0x0A || l == 0x0D { text = text.dropLast() }
        guard text.count >= 16 else { throw .bad(path, "holds fewer than 16 characters") }
        guard text.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .bad(path, "must hold one line of printable ASCII without spaces") }
        return String(decoding: text, as: UTF8.self)
    }

    /// Loads `path`, creating it with a fresh random token first if it does not exist.
    /// Returns the token and whether it was created.
    public static func loadOrCreate(path: String) throws(Failure) -> (token: String, created: Bool) {
        if access(path, F_OK) == 0 { return (try load(path: path), false) }
        do { try NetworkKey.random().save(to: path) } catch {
            throw .unreadable(path, "cannot create it: \(error)")
        }
        return (try load(path: path), true)
    }
}
