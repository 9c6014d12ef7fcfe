// swift-tools-version:6.0
import PackageDescription

/// Kernels are compiled for x86-64-v3 (AVX2 + FMA) so that `addingProduct` becomes one
/// fused instruction instead of an `fmaf` call. Results do not depend on these flags: every
/// kernel fixes its reduction order and uses one FMA per product (see Specs/inference.md).
#if arch(x86_64)
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3", "-Ounchecked"])]
#else
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
#endif

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
        .target(name: "MurmurKernels", dependencies: ["CCPUFeatures"], swiftSettings: kernelFlags),
        .target(name: "MurmurInference", dependencies: ["MurmurCore", "MurmurKernels"]),
        .target(name: "MurmurJobs", dependencies: ["MurmurCore", "MurmurWire"]),
        // The trace reader's hot loop mutates a few class-held tables per line; dynamic
        // exclusivity checks cost ~15 % there (measured with perf), so they are off for this target.
        .target(name: "MurmurTrace", dependencies: ["MurmurCore"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "MurmurStore", dependencies: ["MurmurCore", "MurmurWire", "CSQLite"]),
        .target(name: "MurmurHTTP", dependencies: ["MurmurCore"]),
        .target(name: "MurmurAPI", dependencies: ["MurmurCore", "MurmurWire", "MurmurJobs", "MurmurHTTP", "MurmurStore"]),
        .target(name: "MurmurNode", dependencies: [
            "MurmurCore", "MurmurCrypto", "MurmurWire", "MurmurGossip", "MurmurJobs",
            "MurmurInference", "MurmurTrace", "CLinux", "CSQLite",
            "MurmurStore", "MurmurHTTP", "MurmurAPI",
        ]),
        .target(name: "MurmurSim", dependencies: ["MurmurCore", "MurmurWire", "MurmurGossip", "MurmurJobs", "MurmurTrace"]),
        .executableTarget(name: "murmur", dependencies: [
            "MurmurCore", "MurmurCrypto", "MurmurNode", "MurmurSim", "MurmurTrace", "MurmurInference",
        ]),
        .executableTarget(name: "murmur-bench", dependencies: [
            "MurmurCore", "MurmurCrypto", "MurmurNode", "MurmurInference", "MurmurKernels", "MurmurSim", "CSodium", "CLinux",
        ]),

        .testTarget(name: "MurmurCoreTests", dependencies: ["MurmurCore"]),
        .testTarget(name: "MurmurCryptoTests", dependencies: ["MurmurCrypto"]),
        .testTarget(name: "MurmurWireTests", dependencies: ["MurmurWire"]),
        .testTarget(name: "MurmurGossipTests", dependencies: ["MurmurGossip"]),
        .testTarget(name: "MurmurJobsTests", dependencies: ["MurmurJobs", "MurmurWire", "MurmurCrypto", "MurmurCore"]),
        .testTarget(name: "MurmurInferenceTests", dependencies: ["MurmurInference", "MurmurKernels"]),
        .testTarget(name: "MurmurTraceTests", dependencies: ["MurmurTrace"], exclude: ["Fixtures"]),
        .testTarget(name: "MurmurStoreTests", dependencies: ["MurmurStore", "MurmurWire", "MurmurCrypto", "MurmurCore"]),
        .testTarget(name: "MurmurHTTPTests", dependencies: ["MurmurHTTP", "MurmurCore"]),
        .testTarget(name: "MurmurAPITests", dependencies: ["MurmurAPI", "MurmurHTTP", "MurmurJobs", "MurmurStore", "MurmurWire", "MurmurCrypto", "MurmurCore"]),
        .testTarget(name: "MurmurNodeTests", dependencies: ["MurmurNode"]),
        .testTarget(name: "MurmurSimTests", dependencies: ["MurmurSim"]),
        .testTarget(name: "IntegrationTests", dependencies: ["MurmurCore", "MurmurCrypto", "MurmurNode"]),
    ],
    swiftLanguageModes: [.v6]
)
