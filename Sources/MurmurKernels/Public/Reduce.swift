import MurmurKernelBodies

/// Deterministic reductions over one contiguous vector, for ops that reduce along an axis
/// (Softmax, LayerNorm, ReduceSum …). The order is fixed (Specs/kernels.md §5: 16 interleaved
/// lanes, then a fixed fold), so results do not depend on the ISA level. Parallelise over
/// independent rows, never inside one reduction.
public enum Reduce {
    /// Σ x[i]; +0.0 for an empty vector.
    public static func sum(_ x: UnsafeBufferPointer<Float>) -> Float {
        guard let p = x.baseAddress, x.count > 0 else { return 0 }
        return KernelISA.active.table.reduce(.sum, p, nil, x.count)
    }

    /// Σ x[i]·y[i] with one fused multiply-add per product; +0.0 for empty vectors.
    public static func dot(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) -> Float {
        precondition(x.count == y.count, "Reduce.dot: lengths differ")
        guard let p = x.baseAddress, let q = y.baseAddress, x.count > 0 else { return 0 }
        return KernelISA.active.table.reduce(.dot, p, q, x.count)
    }

    /// Largest element (+0.0 beats −0.0); NaN if any element is NaN; −∞ for an empty vector.
    public static func max(_ x: UnsafeBufferPointer<Float>) -> Float {
        guard let p = x.baseAddress, x.count > 0 else { return -.infinity }
        return KernelISA.active.table.reduce(.max, p, nil, x.count)
    }
}
