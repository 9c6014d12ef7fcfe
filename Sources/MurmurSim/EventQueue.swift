/// A min-priority queue of simulated events ordered by (time, insertion sequence): equal times
/// run in the order they were scheduled, so a run is a pure function of its seed.
/// The heap holds small fixed-size keys; payloads live in a slab reused through a free list, so
/// sifting never copies payloads and steady-state scheduling does not allocate.
struct EventQueue<Payload> {
    private struct Key {
        var time: Int64
        var seq: UInt64
        var slot: Int32
        @inline(__always) static func < (a: Key, b: Key) -> Bool {
            a.time < b.time || (a.time == b.time && a.seq < b.seq)
        }
    }
    private var heap: [Key] = []
    private var slab: [Payload?] = []
    private var free: [Int32] = []
    private var seq: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Int64? { heap.first?.time }

    init(capacity: Int = 1024) {
        heap.reserveCapacity(capacity)
        slab.reserveCapacity(capacity)
    }

    mutating func push(_ payload: Payload, at time: Int64) {
        let slot: Int32
        if let s = free.popLast() {
            slot = s
            slab[Int(s)] = payload
        } else {
            slot = Int32(slab.count)
            slab.append(payload)
        }
        seq &+= 1
        heap.append(Key(time: time, seq: seq, slot: slot))
        var i = heap.count - 1
        let item = heap[i]
        while i > 0 {
            let parent = (i - 1) >> 1
            if item < heap[parent] { heap[i] = heap[parent]; i = parent } else { break }
        }
        heap[i] = item
    }

    mutating func pop() -> (time: Int64, payload: Payload)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var c = l
                if l + 1 < n && heap[l + 1] < heap[l] { c = l + 1 }
                if heap[c] < last { heap[i] = heap[c]; i = c } else { break }
            }
            heap[i] = last
        }
        let payload = slab[Int(top.slot)]
        slab[Int(top.slot)] = nil
        free.append(top.slot)
        // Every slot in the heap holds a payload by construction.
        guard let p = payload else { return nil }
        return (top.time, p)
    }
}
