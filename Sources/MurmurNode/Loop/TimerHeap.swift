/// A binary min-heap of (deadline, id). Cancelled timers are dropped lazily when they reach the
/// top, so cancel is O(1); the loop keeps the number of live timers small (connections sweep
/// idleness from one periodic timer rather than re-arming per read).
struct TimerHeap {
    struct Entry {
        var deadline: Int64
        var id: UInt64
    }

    private(set) var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var top: Entry? { entries.first }

    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if less(entries[i], entries[parent]) {
                entries.swapAt(i, parent)
                i = parent
            } else { break }
        }
    }

    /// Drops entries whose id fails `isLive` (re-heapifies in O(n)).
    mutating func removeAll(keepingOnly isLive: (UInt64) -> Bool) {
        let kept = entries.filter { isLive($0.id) }
        entries = []
        entries.reserveCapacity(kept.count)
        for e in kept { push(e) }
    }

    mutating func pop() -> Entry? {
        guard let first = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < entries.count && less(entries[l], entries[m]) { m = l }
                if r < entries.count && less(entries[r], entries[m]) { m = r }
                if m == i { break }
                entries.swapAt(i, m)
                i = m
            }
        }
        return first
    }

    /// Earlier deadline first; ties in creation order (ids grow), so timers are deterministic.
    private func less(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.id < b.id)
    }
}
