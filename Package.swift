// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "CareSync",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SyncCore", targets: ["SyncCore"]),
        .library(name: "SQLiteSupport", targets: ["SQLiteSupport"]),
        .library(name: "CareSyncServer", targets: ["CareSyncServer"]),
        .executable(name: "caresync-server", targets: ["caresync-server"]),
        .library(name: "CareSyncClient", targets: ["CareSyncClient"]),
        .executable(name: "syncctl", targets: ["syncctl"]),
        .executable(name: "caresync-bench", targets: ["caresync-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // No traits: CareSync needs neither swift-configuration nor the URL-encoded form coders, and
        // an empty trait list spares the rebuilds that SwiftPM 6.3.1's random trait order causes.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The rules of the diary, shared by server and client: records and their validation,
        // the hybrid logical clock, the canonical form of a change, signing and the merge.
        .target(
            name: "SyncCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // What the server's store and the replicas alike need of SQLite beyond GRDB: the write-ahead log
        // copied back into the database on a thread of its own, and statements bound through SQLite's
        // C interface where a value is bound per change.
        .target(
            name: "SQLiteSupport",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The server as a library: the application is built by one function that tests call too. Its
        // HTTP side talks to the store protocol (Store/ServerStore.swift); each engine has a folder,
        // Store/SQLite (GRDB) and Store/PostgreSQL (postgres-nio).
        .target(
            name: "CareSyncServer",
            dependencies: [
                "SyncCore",
                "SQLiteSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Server/Sources/CareSyncServer"
        ),
        .executableTarget(
            name: "caresync-server",
            dependencies: [
                "CareSyncServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Server/Sources/caresync-server"
        ),
        // The client library: a device's replica of one diary, its outbox and the sync engine.
        .target(
            name: "CareSyncClient",
            dependencies: [
                "SyncCore",
                "SQLiteSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Client/Sources/CareSyncClient"
        ),
        .executableTarget(
            name: "syncctl",
            dependencies: [
                "CareSyncClient",
                "SyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Client/Sources/syncctl"
        ),
        // `swift run -c release caresync-bench`: push, pull and no-op sync against this machine's floor.
        .executableTarget(
            name: "caresync-bench",
            dependencies: [
                "CareSyncClient",
                "CareSyncServer",
                "SyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/caresync-bench"
        ),
        .testTarget(
            name: "SyncCoreTests",
            dependencies: [
                "SyncCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "SQLiteSupportTests",
            dependencies: [
                "SQLiteSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "CareSyncServerTests",
            dependencies: [
                "CareSyncServer",
                "SQLiteSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // Runs the real caresync-server and syncctl binaries against each other (both are built by
        // `swift test`, which builds every product of the package before testing).
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "CareSyncClient",
                "CareSyncServer",
                "SyncCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
