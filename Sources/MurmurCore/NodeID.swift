/// A node's identity: its Ed25519 public key (32 bytes).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var key: Bytes32
    public init(_ key: Bytes32) { self.key = key }

    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard let k = Bytes32(bytes) else { return nil }
        self.init(k)
    }

    /// Accepts the full 64-hex-digit form.
    public init?(hex: String) {
        guard let k = Bytes32(hex: hex) else { return nil }
        self.init(k)
    }

    public var bytes: [UInt8] { key.bytes }
    public var hex: String { key.hex }
    /// Short printable form for logs and tables: the first 8 hex digits.
    public var short: String { String(hex.prefix(8)) }
    public var description: String { short }

    public static func < (a: NodeID, b: NodeID) -> Bool { a.key < b.key }
}

extension ByteWriter {
    public mutating func nodeID(_ id: NodeID) { bytes32(id.key) }
}

extension ByteReader {
    public mutating func nodeID() throws(DecodeError) -> NodeID { NodeID(try bytes32()) }
}
