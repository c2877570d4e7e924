// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "CareSync",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SyncCore", targets: ["SyncCore"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
    ],
    targets: [
        // The rules of the diary, shared by server and client: records and their validation,
        // the hybrid logical clock, the canonical form of a change, signing and the merge.
        .target(
            name: "SyncCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "SyncCoreTests",
            dependencies: [
                "SyncCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
