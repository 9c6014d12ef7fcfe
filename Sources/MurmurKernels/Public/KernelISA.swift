import CCPUFeatures
import MurmurKernelBodies
import MurmurKernelsBaseline
import MurmurKernelsX86V3
import MurmurKernelsX86V4
import Synchronization

/// An instruction-set level with its own compiled copy of every kernel. All levels give
/// bit-identical results; they differ only in speed (Specs/kernels.md).
public enum KernelISA: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// The target's default: arm64 NEON, or x86-64 SSE2 with `fmaf` calls (slow, the reference).
    case baseline = 0
    /// x86-64-v3: AVX2 + FMA, 6×16 GEMM tile.
    case x86v3 = 1
    /// x86-64-v4: AVX-512, 8×32 GEMM tile.
    case x86v4 = 2

    public var description: String { table.isaName }

    /// Whether this CPU can run the level.
    public var isSupported: Bool {
        switch self {
        case .baseline: return true
        case .x86v3: return murmur_cpu_has_x86_64_v3() != 0
        case .x86v4: return murmur_cpu_has_avx512() != 0 && murmur_cpu_has_x86_64_v3() != 0
        }
    }

    /// Every level this CPU runs, slowest first.
    public static var supported: [KernelISA] { allCases.filter(\.isSupported) }

    /// The fastest level this CPU runs.
    public static let best: KernelISA = supported.last ?? .baseline

    var table: KernelTable {
        switch self {
        case .baseline: return MurmurKernelsBaseline.ISAKernels.table
        case .x86v3: return MurmurKernelsX86V3.ISAKernels.table
        case .x86v4: return MurmurKernelsX86V4.ISAKernels.table
        }
    }

    private static let forced = Atomic<Int>(-1)

    /// The level kernels use now: `best`, unless a test or benchmark forced another one.
    public static var active: KernelISA {
        let f = forced.load(ordering: .relaxed)
        return f < 0 ? best : KernelISA(rawValue: f) ?? best
    }

    /// Forces every kernel onto `isa` (nil: back to `best`). For tests and benchmarks that compare
    /// levels; an unsupported level is refused (returns false). Not for concurrent use with kernels.
    @discardableResult
    public static func force(_ isa: KernelISA?) -> Bool {
        guard let isa else { forced.store(-1, ordering: .relaxed); return true }
        guard isa.isSupported else { return false }
        forced.store(isa.rawValue, ordering: .relaxed)
        return true
    }
}
