// swift-tools-version: 6.1
// shaolin — a two-node high-availability cluster engine for Linux.
//
// Module map (see docs/architecture.md):
//   ShaolinCore        pure Swift, no Glibc/Foundation: protocol, HMAC, state machine, config
//   ShaolinSimulation  deterministic two-node simulator driving the real core
//   CShaolin           C shim for kernel headers Swift cannot import
//   CLibcap            system library libcap (journald and sd_notify are spoken without libsystemd)
//   ShaolinLinux       thin typed syscall wrappers, one file per kernel facility
//   ShaolinEngine      real-time loop, links, non-real-time side (fencing, logging)
//   ShaolinControlClient  the control protocol's client (shaolinctl, the web console)
//   shaolind           the engine executable (no Foundation: it goes into the initramfs)
//   ShaolinBench       `shaolinctl bench`: heartbeat latency probes, timing advice, reports
//   shaolinctl         the operator's client, simulator runner and benchmarks
import PackageDescription

let package = Package(
    name: "shaolin",
    products: [
        .executable(name: "shaolind", targets: ["shaolind"]),
        .executable(name: "shaolinctl", targets: ["shaolinctl"]),
        .library(name: "ShaolinCore", targets: ["ShaolinCore"]),
        // For the web console's own package (web/), which builds on the core and the Linux layer.
        .library(name: "ShaolinLinux", targets: ["ShaolinLinux"]),
        // The control protocol's client, shared by shaolinctl and the web console.
        .library(name: "ShaolinControlClient", targets: ["ShaolinControlClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        // Test-only: the reference HMAC-SHA256 the core's own implementation is checked against.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        .target(name: "ShaolinCore"),
        .target(name: "ShaolinSimulation", dependencies: ["ShaolinCore"]),
        .target(name: "CShaolin"),
        // libcap, linked dynamically. libsystemd is not used: ShaolinLinux speaks journald's
        // native protocol and sd_notify's itself (Journal.swift, SystemdNotify.swift), as systemd
        // documents them for clients without libsystemd; linked, its dependencies would add
        // ≈ 3.4 MB of memory locked by mlockall to every engine (docs/logging.md).
        .systemLibrary(name: "CLibcap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .target(
            name: "ShaolinLinux",
            dependencies: [
                "CShaolin", "CLibcap",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .target(
            name: "ShaolinEngine",
            dependencies: [
                "ShaolinCore", "ShaolinLinux",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
        .target(name: "ShaolinControlClient", dependencies: ["ShaolinCore", "ShaolinLinux"]),
        .target(
            name: "ShaolinBench",
            dependencies: [
                "ShaolinCore", "ShaolinLinux", "ShaolinEngine",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
        // shaolind runs under mlockall(MCL_CURRENT|MCL_FUTURE): every mapped page of the binary and
        // of each library it loads is locked, so its link is tuned for size (docs/benchmarks.md,
        // "Footprint"): lld with packed relative relocations (DT_RELR, glibc ≥ 2.36) instead of
        // 550 KB of RELA entries, no dynamic symbol table for its own symbols (another 550 KB;
        // swiftc's --static-swift-stdlib asks for --export-dynamic), and libstdc++/libgcc_eh
        // linked statically (tools/link/static-cxx: only the parts the Swift runtime uses).
        .executableTarget(
            name: "shaolind", dependencies: ["ShaolinEngine"],
            linkerSettings: [
                .unsafeFlags([
                    "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                    "-Xlinker", "--no-export-dynamic",
                    "-L", Context.packageDirectory + "/tools/link/static-cxx",
                ])
            ]),
        .executableTarget(
            name: "shaolinctl",
            dependencies: [
                "ShaolinCore", "ShaolinSimulation", "ShaolinLinux", "ShaolinBench", "ShaolinControlClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "ShaolinCoreTests", dependencies: ["ShaolinCore"]),
        .testTarget(
            name: "ShaolinCryptoOracleTests",
            dependencies: ["ShaolinCore", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ShaolinSimulationTests", dependencies: ["ShaolinSimulation", "ShaolinCore"]),
        // ShaolinEngine: the allocation test also drives the engine's watchdog keeper.
        .testTarget(name: "ShaolinLinuxTests", dependencies: ["ShaolinLinux", "ShaolinCore", "ShaolinEngine"]),
        .testTarget(name: "ShaolinEngineTests", dependencies: ["ShaolinEngine", "ShaolinCore", "ShaolinLinux", "ShaolinBench"]),
    ],
    swiftLanguageModes: [.v6]
)
