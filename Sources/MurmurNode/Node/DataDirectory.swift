#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto

/// A node's data directory: `identity` (mode 0600) now; `state.sqlite`, `models/`, `trace/` later.
public struct DataDirectory: Sendable {
    public let path: String

    public enum Failure: Error, CustomStringConvertible {
        case create(path: String, error: SystemError)
        case notADirectory(String)
        case identity(KeyFileError)
        public var description: String {
            switch self {
            case let .create(path, error): return "cannot create data directory \(path): \(error)"
            case let .notADirectory(path): return "\(path) exists and is not a directory"
            case let .identity(e): return "\(e)"
            }
        }
    }

    /// `flag`, else `$MURMUR_DATA`, else `~/.murmur`.
    public static func resolve(_ flag: String?) -> DataDirectory {
        if let flag, !flag.isEmpty { return DataDirectory(path: flag) }
        if let env = getenv("MURMUR_DATA") {
            let s = String(cString: env)
            if !s.isEmpty { return DataDirectory(path: s) }
        }
        let home = getenv("HOME").map { String(cString: $0) } ?? "."
        return DataDirectory(path: home + "/.murmur")
    }

    public init(path: String) { self.path = path }

    public var identityPath: String { path + "/identity" }

    /// Creates the directory (mode 0700) and any missing parents.
    public func prepare() throws(Failure) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            if stat(current, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .notADirectory(current) }
                continue
            }
            do {
                _ = try Posix.retrying("mkdir") { mkdir(current, 0o700) }
            } catch {
                if error.errno != EEXIST { throw .create(path: current, error: error) }
            }
        }
    }

    /// The node's identity: loaded from `identity`, or created there on first start.
    public func loadOrCreateIdentity() throws(Failure) -> (key: SigningKey, created: Bool) {
        do {
            return (try SigningKey.load(from: identityPath), false)
        } catch {
            guard case .notFound = error else { throw .identity(error) }
        }
        let key = SigningKey()
        do {
            try key.save(to: identityPath)
        } catch {
            // Another process may have created it meanwhile: use that one.
            if case .alreadyExists = error, let existing = try? SigningKey.load(from: identityPath) { return (existing, false) }
            throw .identity(error)
        }
        return (key, true)
    }
}
