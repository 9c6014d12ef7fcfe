#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file with a size limit, as `InferenceError` on failure.
public enum FileBytes {
    public static func read(_ path: String, limit: Int) throws(InferenceError) -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw .invalidInput("cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 {
                guard out.count + n <= limit else {
                    throw .limitExceeded(what: "file '\(path)'", limit: limit, actual: out.count + n)
                }
                out.append(contentsOf: buf[0..<n])
            }
            if n < buf.count {
                if ferror(f) != 0 { throw .invalidInput("cannot read '\(path)'") }
                break
            }
        }
        return out
    }
}
