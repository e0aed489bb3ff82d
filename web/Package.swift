// swift-tools-version: 6.1
// shaolin-web: the web console (issue "Web console"). A package of its own so that the engine's
// package (the repository root: shaolind, shaolinctl, the tests CI runs) does not build
// Hummingbird, SwiftNIO and BoringSSL. It talks to the engines only through their control
// socket; it uses the root package's core (configuration validator, HMAC, control protocol)
// and Linux layer (journald).
//
//   cd web && swift build -c release        # .build/release/shaolin-web
//   tools/web-test.sh                       # its Swift tests and the headless-Chromium test
import PackageDescription

let package = Package(
    name: "shaolin-web",
    products: [
        .executable(name: "shaolin-web", targets: ["shaolin-web"]),
    ],
    dependencies: [
        .package(name: "shaolin", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.14.0"),
    ],
    targets: [
        .target(
            name: "ShaolinWeb",
            dependencies: [
                .product(name: "ShaolinCore", package: "shaolin"),
                .product(name: "ShaolinLinux", package: "shaolin"),
                .product(name: "ShaolinControlClient", package: "shaolin"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "shaolin-web",
            dependencies: [
                "ShaolinWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .testTarget(
            name: "ShaolinWebTests",
            dependencies: [
                "ShaolinWeb",
                .product(name: "ShaolinCore", package: "shaolin"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
