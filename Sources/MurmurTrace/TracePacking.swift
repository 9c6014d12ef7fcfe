import MurmurCore

/// Compact trace records, for handing events from a hot thread (the node's event loop) to a trace
/// writer thread without copying ~200-byte `TraceEvent`s (with their two `String?` fields) through
/// memory that the other core then reads: `TracePacker` writes each event as a few 8-byte words
/// into a byte buffer, `TraceUnpacker` (on the writer thread) turns them back into the same
/// `TraceEvent`s, field for field, so the encoded trace lines are byte for byte the same.
///
/// Ids and strings are interned in the stream itself: the node id is sent when it changes, a
/// peer id the first time it lands in its slot of a 256-slot table (direct-mapped by its last
/// byte), a record kind or reason string the first time its representation (the two words of the
/// `String`: small strings are their bytes, literals a constant address) lands in its slot of a
/// 64-slot table. A definition precedes the first event that uses it, so the unpacker, reading in
/// order, mirrors the tables. A typical `send`/`recv` event of a control message (kind, record
/// kind, peer, bytes) is 24 bytes.
///
/// If the packed bytes are lost (a batch dropped because the writer fell behind), call
/// `TracePacker.forget()` so that later events define their ids and strings again.
///
/// Layout (native byte order, 8-byte words; the buffer must be 8-byte aligned):
/// - event: header word (byte 0 event kind code 0…20, byte 1 flags, byte 2 record kind slot,
///   byte 3 reason slot, bytes 4–5 peer slot), time, then if flagged `bytes`, `hops`, the record
///   id (4 words);
/// - define node: header (byte 0 = 0xF0), 4 words;
/// - define peer: header (byte 0 = 0xF1, bytes 4–5 slot), 4 words;
/// - define string: header (byte 0 = 0xF2, byte 1 table 0 record kind / 1 reason, byte 2 slot,
///   bytes 4–7 length), the UTF-8 bytes padded to 8.
public final class TracePacker {
    // Inlinable (with what it touches): `NodeTraceFile.append` packs in its caller's code.
    @usableFromInline static let peerSlots = 256
    @usableFromInline static let stringSlots = 64
    @usableFromInline static let tagNode: UInt64 = 0xF0, tagPeer: UInt64 = 0xF1, tagString: UInt64 = 0xF2
    @usableFromInline static let hasBytes: UInt64 = 1, hasHops: UInt64 = 2, hasID: UInt64 = 4, hasPeer: UInt64 = 8,
               hasKind: UInt64 = 16, hasReason: UInt64 = 32

    // Tables behind pointers: no dynamic exclusivity check per access, as a class's stored
    // properties get. Id slot 0 is the node, 1 + k peer slot k.
    @usableFromInline let ids: UnsafeMutablePointer<Bytes32>
    @usableFromInline let idKnown: UnsafeMutablePointer<Bool>
    /// Per table (record kind, reason): the strings (kept alive, so that their words stay theirs)
    /// and their two words.
    @usableFromInline let strings: UnsafeMutablePointer<String>
    @usableFromInline let stringWords: UnsafeMutablePointer<(UInt64, UInt64)>
    @usableFromInline let stringKnown: UnsafeMutablePointer<Bool>

    public init() {
        ids = .allocate(capacity: 1 + Self.peerSlots)
        ids.initialize(repeating: .zero, count: 1 + Self.peerSlots)
        idKnown = .allocate(capacity: 1 + Self.peerSlots)
        idKnown.initialize(repeating: false, count: 1 + Self.peerSlots)
        strings = .allocate(capacity: 2 * Self.stringSlots)
        strings.initialize(repeating: "", count: 2 * Self.stringSlots)
        stringWords = .allocate(capacity: 2 * Self.stringSlots)
        stringWords.initialize(repeating: (0, 0), count: 2 * Self.stringSlots)
        stringKnown = .allocate(capacity: 2 * Self.stringSlots)
        stringKnown.initialize(repeating: false, count: 2 * Self.stringSlots)
    }

    deinit {
        ids.deallocate(); idKnown.deallocate()
        strings.deinitialize(count: 2 * Self.stringSlots); strings.deallocate()
        stringWords.deallocate(); stringKnown.deallocate()
    }

    /// Forgets every definition: the next events define their ids and strings again (after
    /// packed bytes were thrown away unread).
    public func forget() {
        idKnown.update(repeating: false, count: 1 + Self.peerSlots)
        stringKnown.update(repeating: false, count: 2 * Self.stringSlots)
    }

    /// An upper bound of the bytes `pack` writes for `e` (definitions included).
    @inlinable @inline(__always) public static func maxPackedBytes(_ e: TraceEvent) -> Int {
        maxPackedBytes(recordKind: e.recordKind, reason: e.reason)
    }

    /// The same, from the event's two strings.
    @inlinable @inline(__always) public static func maxPackedBytes(recordKind: String?, reason: String?) -> Int {
        // event 8 + 8 + 8 + 8 + 32, node 40, peer 40, two strings 16 + padded bytes each.
        200 + (recordKind?.utf8.count ?? 0) + (reason?.utf8.count ?? 0)
    }

    /// Packs `e` at `p` (8-byte aligned, room for `maxPackedBytes(e)`); returns the bytes written
    /// (a multiple of 8).
    @inlinable @inline(__always)
    public func pack(_ e: TraceEvent, into p: UnsafeMutableRawPointer) -> Int {
        pack(time: e.time, node: e.node, kind: e.kind, recordKind: e.recordKind, recordID: e.recordID, peer: e.peer,
             bytes: e.bytes, hops: e.hops, reason: e.reason, into: p)
    }

    /// Packs the event with these fields (no `TraceEvent` built: for callers on hot paths).
    @inlinable @inline(__always)
    public func pack(time: Instant, node: NodeID, kind: TraceEvent.Kind, recordKind: String?, recordID: Hash?,
                     peer: NodeID?, bytes: Int?, hops: Int?, reason: String?, into p: UnsafeMutableRawPointer) -> Int {
        var w = p
        if !idKnown[0] || ids[0] != node.key {
            ids[0] = node.key
            idKnown[0] = true
            w.storeBytes(of: Self.tagNode, as: UInt64.self)
            Self.store(node.key, at: w + 8)
            w += 40
        }
        var header = Self.code(kind)
        var flags: UInt64 = 0
        if let peer {
            let slot = Int(truncatingIfNeeded: peer.key.w3 & UInt64(Self.peerSlots - 1))
            if !idKnown[1 + slot] || ids[1 + slot] != peer.key {
                ids[1 + slot] = peer.key
                idKnown[1 + slot] = true
                w.storeBytes(of: Self.tagPeer | UInt64(slot) << 32, as: UInt64.self)
                Self.store(peer.key, at: w + 8)
                w += 40
            }
            flags |= Self.hasPeer
            header |= UInt64(slot) << 32
        }
        if let recordKind {
            flags |= Self.hasKind
            header |= UInt64(intern(recordKind, table: 0, &w)) << 16
        }
        if let reason {
            flags |= Self.hasReason
            header |= UInt64(intern(reason, table: 1, &w)) << 24
        }
        if bytes != nil { flags |= Self.hasBytes }
        if hops != nil { flags |= Self.hasHops }
        if recordID != nil { flags |= Self.hasID }
        w.storeBytes(of: header | flags << 8, as: UInt64.self)
        w.storeBytes(of: time.nanoseconds, toByteOffset: 8, as: Int64.self)
        w += 16
        if let bytes { w.storeBytes(of: Int64(bytes), as: Int64.self); w += 8 }
        if let hops { w.storeBytes(of: Int64(hops), as: Int64.self); w += 8 }
        if let recordID { Self.store(recordID.value, at: w); w += 32 }
        return w - p
    }

    /// The slot of `s` in `table`, defining it first (at `w`) when the slot holds something else.
    @inlinable @inline(__always) func intern(_ s: String, table: Int, _ w: inout UnsafeMutableRawPointer) -> Int {
        // The two words of the String value: equal words are the same string (a small string's
        // bytes, or the same storage, which the table keeps alive). Equal strings with other
        // words only cost a new definition.
        let words = unsafeBitCast(s, to: (UInt64, UInt64).self)
        let h = (words.0 ^ words.1 &* 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
        let slot = Int(truncatingIfNeeded: h >> 58)
        let i = table * Self.stringSlots + slot
        if stringKnown[i] && stringWords[i] == words { return slot }
        return define(s, words: words, table: table, slot: slot, &w)
    }

    /// Puts `s` in its slot and writes its definition at `w` (not inlined: rare).
    @usableFromInline func define(_ s: String, words: (UInt64, UInt64), table: Int, slot: Int,
                                  _ w: inout UnsafeMutableRawPointer) -> Int {
        let i = table * Self.stringSlots + slot
        strings[i] = s
        stringWords[i] = words
        stringKnown[i] = true
        let n = s.utf8.count
        w.storeBytes(of: Self.tagString | UInt64(table) << 8 | UInt64(slot) << 16 | UInt64(n) << 32, as: UInt64.self)
        w += 8
        var copy = s
        copy.withUTF8 { b in
            if let base = b.baseAddress { w.copyMemory(from: base, byteCount: n) }
        }
        w += (n + 7) & ~7
        return slot
    }

    @inlinable @inline(__always) static func store(_ v: Bytes32, at p: UnsafeMutableRawPointer) {
        p.storeBytes(of: v.w0, as: UInt64.self)
        p.storeBytes(of: v.w1, toByteOffset: 8, as: UInt64.self)
        p.storeBytes(of: v.w2, toByteOffset: 16, as: UInt64.self)
        p.storeBytes(of: v.w3, toByteOffset: 24, as: UInt64.self)
    }

    /// The event kind's code: its index in `TraceEvent.Kind.allCases`.
    @inlinable @inline(__always) static func code(_ k: TraceEvent.Kind) -> UInt64 {
        switch k {
        case .connect: return 0
        case .disconnect: return 1
        case .handshakeFail: return 2
        case .send: return 3
        case .recv: return 4
        case .deliver: return 5
        case .dup: return 6
        case .drop: return 7
        case .graft: return 8
        case .prune: return 9
        case .ihave: return 10
        case .antientropy: return 11
        case .jobSubmit: return 12
        case .jobAssign: return 13
        case .jobClaim: return 14
        case .jobExecute: return 15
        case .jobAttest: return 16
        case .jobVerified: return 17
        case .jobDisputed: return 18
        case .jobFailed: return 19
        case .verdict: return 20
        }
    }
}

/// Reads what a `TracePacker` wrote, in order, back into `TraceEvent`s (the writer thread's side),
/// or, through `TraceWriter.append(packed:count:unpacker:)`, straight into trace lines: it keeps
/// the hex digits of the node and of each peer slot and the JSON of each string slot, computed
/// once per definition.
public final class TraceUnpacker {
    private static let kinds = TraceEvent.Kind.allCases.map { $0 }
    // Tables behind pointers (no dynamic exclusivity check per access, as a class's stored
    // properties get). Slot 0 of `ids` is the node, 1 + k peer slot k.
    private let ids: UnsafeMutablePointer<Bytes32>
    private let strings: UnsafeMutablePointer<String>
    /// 64 hex digits per id slot.
    let hex: UnsafeMutablePointer<UInt8>
    /// Per string slot: the string as a JSON string literal (what `TraceEncoder` writes for it)
    /// and its UTF-8 length.
    let json: UnsafeMutablePointer<[UInt8]>
    let utf8Count: UnsafeMutablePointer<Int>
    private static let idSlots = 1 + TracePacker.peerSlots, stringSlots = 2 * TracePacker.stringSlots

    public init() {
        ids = .allocate(capacity: Self.idSlots)
        ids.initialize(repeating: .zero, count: Self.idSlots)
        hex = .allocate(capacity: 64 * Self.idSlots)
        hex.initialize(repeating: UInt8(ascii: "0"), count: 64 * Self.idSlots)
        strings = .allocate(capacity: Self.stringSlots)
        strings.initialize(repeating: "", count: Self.stringSlots)
        json = .allocate(capacity: Self.stringSlots)
        json.initialize(repeating: [], count: Self.stringSlots)
        utf8Count = .allocate(capacity: Self.stringSlots)
        utf8Count.initialize(repeating: 0, count: Self.stringSlots)
    }
    deinit {
        ids.deallocate(); hex.deallocate(); utf8Count.deallocate()
        strings.deinitialize(count: Self.stringSlots); strings.deallocate()
        json.deinitialize(count: Self.stringSlots); json.deallocate()
    }

    /// Calls `body` with each event packed in `count` bytes at `p`.
    public func unpack(_ p: UnsafeRawPointer, count: Int, _ body: (TraceEvent) throws -> Void) rethrows {
        var r = UnsafeRawPointer(p)
        let end = p + count
        while r < end {
            if define(&r) { continue }
            try body(event(&r))
        }
    }

    /// If the entry at `r` is a definition: applies it, moves `r` past it and returns true.
    @inline(__always) func define(_ r: inout UnsafeRawPointer) -> Bool {
        let header = r.load(as: UInt64.self)
        switch header & 0xFF {
        case TracePacker.tagNode, TracePacker.tagPeer:
            let slot = header & 0xFF == TracePacker.tagNode ? 0 : 1 + Int(truncatingIfNeeded: (header >> 32) & 0xFFFF)
            ids[slot] = Self.load(r + 8)
            var c = TraceEncoder.Cursor(p: hex + 64 * slot)
            c.hex(ids[slot])
            r += 40
        case TracePacker.tagString:
            let table = Int(truncatingIfNeeded: (header >> 8) & 0xFF)
            let slot = Int(truncatingIfNeeded: (header >> 16) & 0xFF)
            let n = Int(truncatingIfNeeded: header >> 32)
            let i = table * TracePacker.stringSlots + slot
            let s = String(decoding: UnsafeRawBufferPointer(start: r + 8, count: n), as: UTF8.self)
            strings[i] = s
            utf8Count[i] = s.utf8.count
            var literal: [UInt8] = []
            TraceEncoder.appendString(s, to: &literal)
            json[i] = literal
            r += 8 + ((n + 7) & ~7)
        default:
            return false
        }
        return true
    }

    /// The event at `r` (not a definition); moves `r` past it.
    @inline(__always) func event(_ r: inout UnsafeRawPointer) -> TraceEvent {
        let header = r.load(as: UInt64.self)
        let flags = (header >> 8) & 0xFF
        let time = r.load(fromByteOffset: 8, as: Int64.self)
        r += 16
        var bytes: Int?, hops: Int?, id: Hash?
        if flags & TracePacker.hasBytes != 0 { bytes = Int(r.load(as: Int64.self)); r += 8 }
        if flags & TracePacker.hasHops != 0 { hops = Int(r.load(as: Int64.self)); r += 8 }
        if flags & TracePacker.hasID != 0 { id = Hash(Self.load(r)); r += 32 }
        let peer = flags & TracePacker.hasPeer != 0
            ? NodeID(ids[1 + Int(truncatingIfNeeded: (header >> 32) & 0xFFFF)]) : nil
        let kind = flags & TracePacker.hasKind != 0
            ? strings[Int(truncatingIfNeeded: (header >> 16) & 0xFF)] : nil
        let reason = flags & TracePacker.hasReason != 0
            ? strings[TracePacker.stringSlots + Int(truncatingIfNeeded: (header >> 24) & 0xFF)] : nil
        return TraceEvent(at: Instant(nanoseconds: time), node: node, kind: Self.kinds[Int(truncatingIfNeeded: header & 0xFF)],
                          recordKind: kind, recordID: id, peer: peer, bytes: bytes, hops: hops, reason: reason)
    }

    private var node: NodeID { NodeID(ids[0]) }

    @inline(__always) static func kind(_ header: UInt64) -> TraceEvent.Kind { kinds[Int(truncatingIfNeeded: header & 0xFF)] }

    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Bytes32 {
        Bytes32(w0: p.load(as: UInt64.self), w1: p.load(fromByteOffset: 8, as: UInt64.self),
                w2: p.load(fromByteOffset: 16, as: UInt64.self), w3: p.load(fromByteOffset: 24, as: UInt64.self))
    }
}
