#if canImport(Glibc)
import Glibc
#endif

/// A byte buffer with read and write cursors over memory allocated once (grown only up to
/// `maxCapacity`). Used for socket read buffers and outgoing queues, so the hot path never
/// allocates per frame.
final class ByteBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    let maxCapacity: Int
    private(set) var readIndex = 0
    private(set) var writeIndex = 0

    init(capacity: Int, maxCapacity: Int? = nil) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.maxCapacity = max(capacity, maxCapacity ?? capacity)
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var readableBytes: Int { writeIndex - readIndex }
    var isEmpty: Bool { readIndex == writeIndex }
    var readPointer: UnsafeMutableRawPointer { base + readIndex }
    var writePointer: UnsafeMutableRawPointer { base + writeIndex }
    /// Room after the write cursor without moving or growing.
    var tailRoom: Int { capacity - writeIndex }

    func moveReader(by n: Int) {
        precondition(n >= 0 && n <= readableBytes)
        readIndex += n
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    func moveWriter(by n: Int) {
        precondition(n >= 0 && n <= tailRoom)
        writeIndex += n
    }

    /// Makes `n` contiguous bytes available after the write cursor: compacts, then grows up
    /// to `maxCapacity`. False when that is impossible (the caller's limit was reached).
    func ensureTailRoom(_ n: Int) -> Bool {
        if tailRoom >= n { return true }
        if readIndex > 0 && capacity - readableBytes >= n {
            compact()
            return true
        }
        let needed = readableBytes + n
        guard needed <= maxCapacity else { return false }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        newCapacity = min(newCapacity, maxCapacity)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        fresh.copyMemory(from: base + readIndex, byteCount: readableBytes)
        base.deallocate()
        base = fresh
        writeIndex = readableBytes
        readIndex = 0
        capacity = newCapacity
        return true
    }

    /// Moves unread bytes to the start.
    func compact() {
        guard readIndex > 0 else { return }
        let n = readableBytes
        if n > 0 { memmove(base, base + readIndex, n) }
        readIndex = 0
        writeIndex = n
    }

    /// Appends bytes; false (nothing written) when they do not fit under `maxCapacity`.
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard ensureTailRoom(bytes.count) else { return false }
        if let src = bytes.baseAddress, bytes.count > 0 {
            writePointer.copyMemory(from: src, byteCount: bytes.count)
        }
        writeIndex += bytes.count
        return true
    }

    func clear() { readIndex = 0; writeIndex = 0 }

    var readableView: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: readPointer, count: readableBytes) }
}
