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
    private var sortedByKind: [[SortedID]?] = Array(repeating: nil, count: 8)
    private var rootCache: [(cutoff: Int64, count: UInt32, hash: Hash)?] = Array(repeating: nil, count: 8)
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
        let isNew = records[record.id] == nil
        if isNew && records.count >= capacity {
            var victim: (Int64, Hash)?
            for (id, r) in records {
                let key = (r.record.expiresAt, id)
                if victim == nil || key < victim! { victim = key }
            }
            if let v = victim { remove(v.1); evicted = v.1 }
        }
        records[record.id] = StoredRecord(record: record, hops: hops)
        if isNew { added(SortedID(id: record.id, issuedAt: record.issuedAt), kind: record.kind) }
        return evicted
    }

    @discardableResult
    public mutating func remove(_ id: Hash) -> SignedRecord? {
        guard let r = records.removeValue(forKey: id) else { return nil }
        removed(SortedID(id: id, issuedAt: r.record.issuedAt), kind: r.record.kind)
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

    /// Keeps a materialised sorted list in order (binary search and one move, not a re-sort
    /// per record), and drops the cached root fingerprint only if the record counts under its
    /// cutoff: a fresh record (issued after the cutoff, the usual case) leaves it valid.
    private mutating func added(_ entry: SortedID, kind: RecordKind) {
        let k = Int(kind.rawValue)
        // The position is found on a temporary so the in-place insert does not copy the list.
        if let at = sortedByKind[k].map({ Self.lowerBound($0, entry.id) }) {
            sortedByKind[k]?.insert(entry, at: at)
        }
        if let c = rootCache[k], entry.issuedAt <= c.cutoff { rootCache[k] = nil }
    }

    private mutating func removed(_ entry: SortedID, kind: RecordKind) {
        let k = Int(kind.rawValue)
        // nil: no materialised list; -1: the id is not in it (cannot happen; rebuild on next use).
        let position: Int? = sortedByKind[k].map { list in
            let at = Self.lowerBound(list, entry.id)
            return at < list.count && list[at].id == entry.id ? at : -1
        }
        if let at = position {
            if at >= 0 { sortedByKind[k]?.remove(at: at) } else { sortedByKind[k] = nil }
        }
        if let c = rootCache[k], entry.issuedAt <= c.cutoff { rootCache[k] = nil }
    }

    private static func lowerBound(_ all: [SortedID], _ id: Hash) -> Int {
        var a = 0, b = all.count
        while a < b {
            let m = (a + b) / 2
            if all[m].id < id { a = m + 1 } else { b = m }
        }
        return a
    }

    /// Ids of one kind with their issue times, sorted by id (built once, then kept in order).
    mutating func sorted(_ kind: RecordKind) -> [SortedID] {
        if let s = sortedByKind[Int(kind.rawValue)] { return s }
        var ids: [SortedID] = []
        for (id, r) in records where r.record.kind == kind { ids.append(SortedID(id: id, issuedAt: r.record.issuedAt)) }
        ids.sort { $0.id < $1.id }
        sortedByKind[Int(kind.rawValue)] = ids
        return ids
    }

    /// Sorted ids of one kind.
    public mutating func sortedIDs(_ kind: RecordKind) -> [Hash] { sorted(kind).map(\.id) }

    /// The ids inside `range` issued at or before `issuedBefore` (Unix ms), ascending.
    public mutating func ids(in range: IDRange, issuedBefore cutoff: Int64 = .max) -> [Hash] {
        let all = sorted(range.kind)
        var lo = 0, hi = all.count
        if range.depth > 0 {
            let shift = 32 - 4 * UInt32(range.depth)
            let first = UInt64(range.prefix) << shift
            let last = first + (UInt64(1) << shift)
            func lowerBound(_ key: UInt64) -> Int {
                var a = 0, b = all.count
                while a < b {
                    let m = (a + b) / 2
                    if all[m].id.value.w0 >> 32 < key { a = m + 1 } else { b = m }
                }
                return a
            }
            lo = lowerBound(first)
            hi = lowerBound(last)
        }
        var out: [Hash] = []
        out.reserveCapacity(hi - lo)
        for k in lo..<hi where all[k].issuedAt <= cutoff { out.append(all[k].id) }
        return out
    }

    /// Count and fingerprint (BLAKE2b of the concatenated sorted ids) of a range, counting only
    /// records issued at or before `issuedBefore`.
    public mutating func fingerprint(_ range: IDRange, issuedBefore cutoff: Int64 = .max) -> (count: UInt32, hash: Hash) {
        if range.depth == 0, let c = rootCache[Int(range.kind.rawValue)], c.cutoff == cutoff { return (c.count, c.hash) }
        let fp = Self.fingerprint(of: ids(in: range, issuedBefore: cutoff))
        if range.depth == 0 { rootCache[Int(range.kind.rawValue)] = (cutoff, fp.count, fp.hash) }
        return fp
    }

    public static func fingerprint<C: Collection>(of ids: C) -> (count: UInt32, hash: Hash) where C.Element == Hash {
        if ids.isEmpty { return (0, .zero) }
        var buf = [UInt8](repeating: 0, count: ids.count * 32)
        buf.withUnsafeMutableBytes { out in
            var at = 0
            for id in ids {
                out.storeBytes(of: id.value.w0.bigEndian, toByteOffset: at, as: UInt64.self)
                out.storeBytes(of: id.value.w1.bigEndian, toByteOffset: at + 8, as: UInt64.self)
                out.storeBytes(of: id.value.w2.bigEndian, toByteOffset: at + 16, as: UInt64.self)
                out.storeBytes(of: id.value.w3.bigEndian, toByteOffset: at + 24, as: UInt64.self)
                at += 32
            }
        }
        return (UInt32(ids.count), Hash.of(buf))
    }
}

/// An id with its record's issue time (anti-entropy leaves the youngest records to the broadcast).
struct SortedID: Sendable {
    var id: Hash
    var issuedAt: Int64
}

/// What the directory knows about one node: its newest unexpired announcement.
public struct DirectoryEntry: Sendable, Equatable {
    public var recordID: Hash
    public var issuedAt: Int64
    public var expiresAt: Int64
}
