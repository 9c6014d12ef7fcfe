import MurmurCore
import MurmurWire

/// Ids already delivered, so that a record is delivered and relayed at most once. Bounded: the
/// oldest ids are forgotten first (a forgotten id whose record has expired is refused on expiry,
/// and one still held is recognised by the record store).
public struct SeenCache: Sendable {
    private var members: Set<Hash> = []
    private var ring: [Hash] = []
    private var next = 0
    public let capacity: Int
    public private(set) var evictions: Int = 0

    public init(capacity: Int = Limits.gossipSeenCacheEntries) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { members.count }
    public func contains(_ id: Hash) -> Bool { members.contains(id) }

    /// Returns false if the id was already there.
    @discardableResult
    public mutating func insert(_ id: Hash) -> Bool {
        guard members.insert(id).inserted else { return false }
        if ring.count < capacity {
            ring.append(id)
        } else {
            members.remove(ring[next])
            ring[next] = id
            next = (next + 1) % capacity
            evictions += 1
        }
        return true
    }
}

/// A record held by the node, with the hop count at which it was delivered here.
public struct StoredRecord: Sendable {
    public var record: SignedRecord
    public var hops: UInt16
}

/// The records a node holds (for grafts, anti-entropy and the application), with per-kind sorted
/// id lists for range fingerprints. Bounded by `Limits.gossipMaxStoredRecords`.
public struct RecordStore: Sendable {
    public private(set) var records: [Hash: StoredRecord] = [:]
    private var sortedByKind: [[Hash]?] = Array(repeating: nil, count: 8)
    private var rootCache: [(count: UInt32, hash: Hash)?] = Array(repeating: nil, count: 8)
    public let capacity: Int

    public init(capacity: Int = Limits.gossipMaxStoredRecords) { self.capacity = capacity }

    public var count: Int { records.count }
    public subscript(id: Hash) -> StoredRecord? { records[id] }
    public func contains(_ id: Hash) -> Bool { records[id] != nil }

    public func count(of kind: RecordKind) -> Int {
        if let s = sortedByKind[Int(kind.rawValue)] { return s.count }
        var n = 0
        for (_, r) in records where r.record.kind == kind { n += 1 }
        return n
    }

    /// Inserts; returns the id evicted to make room, if any (the soonest to expire).
    public mutating func insert(_ record: SignedRecord, hops: UInt16) -> Hash? {
        var evicted: Hash?
        if records[record.id] == nil && records.count >= capacity {
            var victim: (Int64, Hash)?
            for (id, r) in records {
                let key = (r.record.expiresAt, id)
                if victim == nil || key < victim! { victim = key }
            }
            if let v = victim { remove(v.1); evicted = v.1 }
        }
        records[record.id] = StoredRecord(record: record, hops: hops)
        invalidate(record.kind)
        return evicted
    }

    @discardableResult
    public mutating func remove(_ id: Hash) -> SignedRecord? {
        guard let r = records.removeValue(forKey: id) else { return nil }
        invalidate(r.record.kind)
        return r.record
    }

    /// Removes every record with `expiresAt ≤ nowUnixMs`; returns their ids in ascending order.
    public mutating func removeExpired(nowUnixMs: Int64) -> [Hash] {
        var gone: [Hash] = []
        for (id, r) in records where r.record.expiresAt <= nowUnixMs { gone.append(id) }
        gone.sort()
        for id in gone { remove(id) }
        return gone
    }

    private mutating func invalidate(_ kind: RecordKind) {
        sortedByKind[Int(kind.rawValue)] = nil
        rootCache[Int(kind.rawValue)] = nil
    }

    /// Sorted ids of one kind (cached until the next change of that kind).
    public mutating func sortedIDs(_ kind: RecordKind) -> [Hash] {
        if let s = sortedByKind[Int(kind.rawValue)] { return s }
        var ids: [Hash] = []
        for (id, r) in records where r.record.kind == kind { ids.append(id) }
        ids.sort()
        sortedByKind[Int(kind.rawValue)] = ids
        return ids
    }

    /// The ids inside `range`, ascending.
    public mutating func ids(in range: IDRange) -> ArraySlice<Hash> {
        let all = sortedIDs(range.kind)
        if range.depth == 0 { return all[...] }
        let shift = 32 - 4 * UInt32(range.depth)
        let lo = UInt64(range.prefix) << shift
        let hi = lo + (UInt64(1) << shift)
        func top(_ h: Hash) -> UInt64 { h.value.w0 >> 32 }
        func lowerBound(_ key: UInt64) -> Int {
            var a = 0, b = all.count
            while a < b {
                let m = (a + b) / 2
                if top(all[m]) < key { a = m + 1 } else { b = m }
            }
            return a
        }
        return all[lowerBound(lo)..<lowerBound(hi)]
    }

    /// Count and fingerprint (BLAKE2b of the concatenated sorted ids) of a range.
    public mutating func fingerprint(_ range: IDRange) -> (count: UInt32, hash: Hash) {
        if range.depth == 0, let c = rootCache[Int(range.kind.rawValue)] { return c }
        let ids = self.ids(in: range)
        let fp = Self.fingerprint(of: ids)
        if range.depth == 0 { rootCache[Int(range.kind.rawValue)] = fp }
        return fp
    }

    public static func fingerprint<C: Collection>(of ids: C) -> (count: UInt32, hash: Hash) where C.Element == Hash {
        if ids.isEmpty { return (0, .zero) }
        var buf: [UInt8] = []
        buf.reserveCapacity(ids.count * 32)
        for id in ids {
            for w in [id.value.w0, id.value.w1, id.value.w2, id.value.w3] {
                var be = w.bigEndian
                withUnsafeBytes(of: &be) { buf.append(contentsOf: $0) }
            }
        }
        return (UInt32(ids.count), Hash.of(buf))
    }
}

/// What the directory knows about one node: its newest unexpired announcement.
public struct DirectoryEntry: Sendable, Equatable {
    public var recordID: Hash
    public var issuedAt: Int64
    public var expiresAt: Int64
}
