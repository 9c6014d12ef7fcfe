import MurmurKernelBodies

/// Element-wise programs and row-wise softmax on the active ISA level (same bits on every level:
/// each lane runs the scalar IEEE operation of the unfused op).
public enum Elementwise {
    /// Runs `insts` over `count` elements: registers 0..<externals.count are the external inputs
    /// (each `count` floats), register externals.count + k is instruction k's result; the last
    /// instruction's result is written to `output` (which may be one of the externals, in place: each
    /// element is read before it is written).
    public static func run(_ insts: UnsafeBufferPointer<EltInst>, externals: UnsafeBufferPointer<UnsafePointer<Float>>,
                           output: UnsafeMutablePointer<Float>, count: Int) {
        guard let ip = insts.baseAddress, let ep = externals.baseAddress, count > 0 else { return }
        KernelISA.active.table.elementwise(ip, insts.count, ep, externals.count, output, count)
    }

    /// Softmax (or LogSoftmax) of `rows` contiguous rows of `len` floats each (Specs/inference.md
    /// §4): m = Reduce.max; e = DetMath.exp(x − m); s = Reduce.sum(e); y = e / s or (x − m) − log(s).
    public static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, len: Int, log: Bool) {
        guard rows > 0, len > 0 else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: len) { t in
            KernelISA.active.table.softmaxRows(x, y, rows, len, log, t.baseAddress!)
        }
    }
}
