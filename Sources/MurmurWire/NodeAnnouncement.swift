import MurmurCore

/// A node's signed self-description for the directory: where to reach it, which models it
/// holds (fully verified), how much work it can take. The node's key is the author. A newer
/// `sequence` from the same author replaces the older announcement; the envelope's
/// `expiresAt` is the announcement's expiry (refresh before it).
public struct NodeAnnouncement: RecordBody {
    public static let kind = RecordKind.nodeAnnouncement
    public static let bodyVersion: UInt8 = 1

    public var sequence: UInt64
    /// `host:port` strings, most preferred first.
    public var addresses: [String]
    /// Hashes of models held, strictly ascending (canonical: sorted, no duplicates).
    public var models: [Hash]
    public var freeSlots: UInt16
    public var totalSlots: UInt16
    public var engineVersion: String

    public init(sequence: UInt64, addresses: [String], models: [Hash], freeSlots: UInt16, totalSlots: UInt16, engineVersion: String) {
        self.sequence = sequence; self.addresses = addresses
        self.models = Array(Set(models)).sorted()
        self.freeSlots = freeSlots; self.totalSlots = totalSlots; self.engineVersion = engineVersion
    }

    public func holds(_ model: Hash) -> Bool {
        // Sorted: binary search.
        var lo = 0, hi = models.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if models[mid] < model { lo = mid + 1 } else { hi = mid }
        }
        return lo < models.count && models[lo] == model
    }

    /// True when `self` replaces `other` (same author): higher sequence wins.
    public func supersedes(_ other: NodeAnnouncement) -> Bool { sequence > other.sequence }

    public func encode(into w: inout ByteWriter) {
        w.u8(Self.bodyVersion); w.u64(sequence)
        w.u8(UInt8(addresses.count)); for a in addresses { w.string16(a) }
        w.u16(UInt16(models.count)); for m in models { w.hash(m) }
        w.u16(freeSlots); w.u16(totalSlots); w.string16(engineVersion)
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        try Self.readVersion(&r)
        sequence = try r.u64()
        let na = Int(try r.u8())
        if na > Limits.maxAnnouncedAddresses { throw .tooLarge(field: "addresses", limit: Limits.maxAnnouncedAddresses, actual: na) }
        var addresses: [String] = []
        for _ in 0..<na { addresses.append(try r.nonEmptyString(field: "address", max: Limits.maxAddressBytes)) }
        self.addresses = addresses
        let nm = try r.count16(field: "models", max: Limits.maxAnnouncedModels)
        var models: [Hash] = []
        models.reserveCapacity(nm)
        for _ in 0..<nm {
            let h = try r.hash()
            if let last = models.last, !(last < h) { throw .invalidValue(field: "models", detail: "not strictly ascending") }
            models.append(h)
        }
        self.models = models
        freeSlots = try r.u16()
        totalSlots = try r.u16()
        engineVersion = try r.string16(field: "engine version", max: Limits.maxVersionStringBytes)
    }

    public func check(issuedAt: Int64, expiresAt: Int64) throws(RecordError) {
        if addresses.count > Limits.maxAnnouncedAddresses { throw .invalid("more than \(Limits.maxAnnouncedAddresses) addresses") }
        if addresses.contains(where: { $0.isEmpty || $0.utf8.count > Limits.maxAddressBytes }) { throw .invalid("address length outside 1…\(Limits.maxAddressBytes)") }
        if models.count > Limits.maxAnnouncedModels { throw .invalid("more than \(Limits.maxAnnouncedModels) models") }
        for i in models.indices.dropFirst() where !(models[i - 1] < models[i]) { throw .invalid("models not strictly ascending") }
        if freeSlots > totalSlots { throw .invalid("free slots \(freeSlots) > total slots \(totalSlots)") }
        if engineVersion.utf8.count > Limits.maxVersionStringBytes { throw .invalid("engine version too long") }
    }
}
