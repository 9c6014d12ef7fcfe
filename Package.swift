// swift-tools-version:6.0
import PackageDescription

/// Kernels: one copy per ISA level, chosen at run time (Specs/kernels.md). The same sources
/// (Sources/MurmurKernels/Shared, symlinked into ISA/*) are compiled into each ISA module with its
/// -march; results do not depend on the level (fixed reduction order, one FMA per product).
/// MurmurKernelBodies holds only the shared types; MurmurKernels is the public API and dispatch.
#if arch(x86_64)
let kernelsV4: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v4", "-Ounchecked"])]
let kernelsV3: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3", "-Ounchecked"])]
#else
let kernelsV4: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
let kernelsV3: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
#endif
let kernelsBase: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]

let package = Package(
    name: "Murmur",
    products: [
        .executable(name: "murmur", targets: ["murmur"]),
        .executable(name: "murmur-bench", targets: ["murmur-bench"]),
    ],
    targets: [
        // System libraries from Debian (libsodium-dev, liblz4-dev, libsqlite3-dev).
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Header-only shim: epoll, eventfd, timerfd, accept4 (Glibc does not export them).
        .systemLibrary(name: "CLinux"),
        // Tiny C target: run-time CPU feature checks for kernel dispatch.
        .target(name: "CCPUFeatures"),

        .target(name: "MurmurCore", dependencies: ["CSodium"]),
        .target(name: "MurmurCrypto", dependencies: ["MurmurCore", "CSodium", "CLZ4"]),
        .target(name: "MurmurWire", dependencies: ["MurmurCore", "MurmurCrypto"]),
        .target(name: "MurmurGossip", dependencies: ["MurmurCore", "MurmurWire"]),
        .target(name: "MurmurKernelBodies", path: "Sources/MurmurKernels/Bodies", swiftSettings: kernelsBase),
        .target(name: "MurmurKernelsX86V4", dependencies: ["MurmurKernelBodies", "CCPUFeatures"], path: "Sources/MurmurKernels/ISA/X86V4", swiftSettings: kernelsV4),
        .target(name: "MurmurKernelsX86V3", dependencies: ["MurmurKernelBodies", "CCPUFeatures"], path: "Sources/MurmurKernels/ISA/X86V3", swiftSettings: kernelsV3),
        .target(name: "MurmurKernelsBaseline", dependencies: ["MurmurKernelBodies", "CCPUFeatures"], path: "Sources/MurmurKernels/ISA/Baseline", swiftSettings: kernelsBase),
        .target(name: "MurmurKernels", dependencies: [
            "CCPUFeatures", "MurmurKernelBodies", "MurmurKernelsX86V4", "MurmurKernelsX86V3", "MurmurKernelsBaseline",
        ], path: "Sources/MurmurKernels/Public", swiftSettings: kernelsBase),
        .target(name: "MurmurInference", dependencies: ["MurmurCore", "MurmurKernels"]),
        .target(name: "MurmurJobs", dependencies: ["MurmurCore", "MurmurWire"]),
        // The trace reader's hot loop mutates a few class-held tables per line; dynamic
        // exclusivity checks cost ~15 % there (measured with perf), so they are off for this target.
        .target(name: "MurmurTrace", dependencies: ["MurmurCore"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "MurmurTransfer", dependencies: ["MurmurCore", "MurmurWire"]),
        .target(name: "MurmurStore", dependencies: ["MurmurCore", "MurmurWire", "CSQLite"]),
        .target(name: "MurmurHTTP", dependencies: ["MurmurCore"]),
        .target(name: "MurmurAPI", dependencies: ["MurmurCore", "MurmurWire", "MurmurJobs", "MurmurHTTP", "MurmurStore"]),
        .target(name: "MurmurNode", dependencies: [
            "MurmurCore", "MurmurCrypto", "MurmurWire", "MurmurGossip", "MurmurJobs",
            "MurmurInference", "MurmurTrace", "CLinux", "CSQLite",
            "MurmurTransfer", "MurmurStore", "MurmurHTTP", "MurmurAPI",
        ]),
        .target(name: "MurmurSim", dependencies: ["MurmurCore", "MurmurWire", "MurmurGossip", "MurmurJobs", "MurmurTrace"]),
        .executableTarget(name: "murmur", dependencies: [
            "MurmurCore", "MurmurCrypto", "MurmurGossip", "MurmurNode", "MurmurSim", "MurmurTrace", "MurmurInference", "MurmurWire", "MurmurJobs",
            "MurmurHTTP",
        ]),
        .executableTarget(name: "murmur-bench", dependencies: [
            "MurmurCore", "MurmurCrypto", "MurmurNode", "MurmurInference", "MurmurKernels", "MurmurSim", "CSodium", "CLinux",
            "MurmurGossip", "MurmurTrace", "MurmurWire",
        ]),

        .testTarget(name: "MurmurCoreTests", dependencies: ["MurmurCore"]),
        .testTarget(name: "MurmurCryptoTests", dependencies: ["MurmurCrypto"]),
        .testTarget(name: "MurmurWireTests", dependencies: ["MurmurWire"]),
        .testTarget(name: "MurmurGossipTests", dependencies: ["MurmurGossip"]),
        .testTarget(name: "MurmurJobsTests", dependencies: ["MurmurJobs", "MurmurWire", "MurmurCrypto", "MurmurCore"]),
        .testTarget(name: "MurmurKernelsTests", dependencies: ["MurmurKernels", "MurmurKernelBodies"]),
        .testTarget(name: "MurmurInferenceTests", dependencies: ["MurmurInference", "MurmurKernels"]),
        .testTarget(name: "MurmurTraceTests", dependencies: ["MurmurTrace"], exclude: ["Fixtures"]),
        .testTarget(name: "MurmurTransferTests", dependencies: ["MurmurTransfer", "MurmurWire", "MurmurCore"]),
        .testTarget(name: "MurmurStoreTests", dependencies: ["MurmurStore", "MurmurWire", "MurmurCrypto", "MurmurCore"]),
        .testTarget(name: "MurmurHTTPTests", dependencies: ["MurmurHTTP", "MurmurCore"]),
        .testTarget(name: "MurmurAPITests", dependencies: ["MurmurAPI", "MurmurHTTP", "MurmurJobs", "MurmurStore", "MurmurWire", "MurmurCrypto", "MurmurCore"]),
        .testTarget(name: "MurmurNodeTests", dependencies: ["MurmurNode", "MurmurGossip", "MurmurWire", "MurmurCrypto", "MurmurInference", "MurmurStore", "MurmurJobs"]),
        .testTarget(name: "MurmurSimTests", dependencies: ["MurmurSim"]),
        .testTarget(name: "RealModelTests", dependencies: ["MurmurInference", "MurmurKernels", "MurmurCore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["MurmurCore", "MurmurCrypto", "MurmurNode", "MurmurWire", "MurmurJobs", "MurmurStore"]),
    ],
    swiftLanguageModes: [.v6]
)
