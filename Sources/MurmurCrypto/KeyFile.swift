#if canImport(Glibc)
import Glibc
#endif
import CSodium
import MurmurCore

/// Why a key file could not be read or written. Each message says what to do about it.
public enum KeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(path: String)
    /// Group or others may read the file: a secret key must be private to its owner.
    case insecurePermissions(path: String, mode: UInt32)
    case malformed(path: String, detail: String)
    case alreadyExists(path: String)
    case io(path: String, call: String, errno: Int32)

    public var description: String {
        switch self {
        case let .notFound(path):
            return "key file \(path) does not exist (create one with `murmur keygen --out \(path)`)"
        case let .insecurePermissions(path, mode):
            return "key file \(path) is readable by group or others (mode \(String(mode & 0o777, radix: 8))); run `chmod 600 \(path)`"
        case let .malformed(path, detail):
            return "key file \(path) is malformed: \(detail) (expected exactly 64 hex characters)"
        case let .alreadyExists(path):
            return "\(path) already exists; refusing to overwrite it (use --force to replace it)"
        case let .io(path, call, err):
            return "\(call)(\(path)) failed: \(String(cString: strerror(err)))"
        }
    }
}

/// Reading and writing the 64-hex-character key files (identity seed, network key).
enum KeyFile {
    static func readHex32(path: String, requirePrivate: Bool) throws(KeyFileError) -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            let e = errno
            if e == ENOENT { throw .notFound(path: path) }
            throw .io(path: path, call: "open", errno: e)
        }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, call: "fstat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .malformed(path: path, detail: "not a regular file") }
        if requirePrivate && (st.st_mode & 0o077) != 0 {
            throw .insecurePermissions(path: path, mode: UInt32(st.st_mode))
        }
        guard st.st_size <= Limits.maxKeyFileBytes else {
            throw .malformed(path: path, detail: "\(st.st_size) bytes is too large")
        }
        let buffer = SecretBytes(count: Limits.maxKeyFileBytes + 1)
        var total = 0
        while total <= Limits.maxKeyFileBytes {
            let n = buffer.withUnsafeMutableBytes { b in read(fd, b.baseAddress! + total, b.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, call: "read", errno: errno)
            }
            if n == 0 { break }
            total += n
        }
        guard total <= Limits.maxKeyFileBytes else { throw .malformed(path: path, detail: "file is too large") }
        let out = SecretBytes(count: 32)
        var digits = 0
        var bad: String?
        buffer.withUnsafeBytes { b in
            out.withUnsafeMutableBytes { o in
                for i in 0..<total {
                    let c = b[i]
                    if c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 {
                        // Whitespace is allowed only around the key, not inside it.
                        if digits != 0 && digits != 64 { bad = "whitespace inside the key"; return }
                        continue
                    }
                    guard let v = nibble(c) else { bad = "byte \(i) is not a hex digit"; return }
                    guard digits < 64 else { bad = "more than 64 hex characters"; return }
                    let index = digits / 2
                    o[index] = digits % 2 == 0 ? v << 4 : o[index] | v
                    digits += 1
                }
            }
        }
        if let bad { throw .malformed(path: path, detail: bad) }
        guard digits == 64 else { throw .malformed(path: path, detail: "found \(digits) hex characters") }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    /// Temp file (O_EXCL, 0600) → write → fsync → rename (or link, when not replacing) → fsync dir.
    static func writeHex(_ bytes: [UInt8], path: String, replacing: Bool) throws(KeyFileError) {
        var text = Array(Hex.encode(bytes).utf8) + [0x0a]
        defer { sodium_memzero(&text, text.count) }
        if !replacing && access(path, F_OK) == 0 { throw .alreadyExists(path: path) }
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .io(path: temp, call: "open", errno: errno) }
        var ok = false
        defer { if !ok { _ = unlink(temp) } }
        // The creation mode is filtered by the umask; make sure it is exactly 0600.
        guard fchmod(fd, 0o600) == 0 else { let e = errno; _ = close(fd); throw .io(path: temp, call: "fchmod", errno: e) }
        var offset = 0
        while offset < text.count {
            let n = text.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno; _ = close(fd); throw .io(path: temp, call: "write", errno: e)
            }
            offset += n
        }
        guard fsync(fd) == 0 else { let e = errno; _ = close(fd); throw .io(path: temp, call: "fsync", errno: e) }
        _ = close(fd)
        if replacing {
            guard rename(temp, path) == 0 else { throw .io(path: path, call: "rename", errno: errno) }
        } else {
            // link() fails atomically if the target appeared meanwhile.
            guard link(temp, path) == 0 else {
                let e = errno
                if e == EEXIST { throw .alreadyExists(path: path) }
                throw .io(path: path, call: "link", errno: e)
            }
            _ = unlink(temp)
        }
        ok = true
        syncDirectory(of: path)
    }

    private static func syncDirectory(of path: String) {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); _ = close(fd) }
    }
}
