// swift-tools-version: 6.0
// RecPool: a ZeroMQ worker pool that serves and trains cold-start recommendation models.
import PackageDescription

let package = Package(
    name: "RecPool",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "recpool-broker", targets: ["BrokerCommand"]),
        .executable(name: "recpool-worker", targets: ["WorkerCommand"]),
        .executable(name: "recpool", targets: ["RecPoolCommand"]),
        .library(name: "Shared", targets: ["Shared"]),
        .library(name: "RecModel", targets: ["RecModel"]),
        .library(name: "RecData", targets: ["RecData"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // MARK: C modules (module maps only)
        .systemLibrary(
            name: "CZMQ",
            path: "Sources/CZMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // MARK: Libraries
        /// Numerics and models: Matrix, Dense, MLP, DQN, Adam, checkpoints, ONNX. No ZeroMQ.
        .target(
            name: "RecModel",
            dependencies: [
                "CBLAS", "RecFiles",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            path: "Sources/Model"
        ),
        /// Data and evaluation: Open Bandit Dataset, FeatureSpec, simulator, metrics, off-policy evaluation.
        .target(
            name: "RecData",
            dependencies: ["RecModel"],
            path: "Sources/Data"
        ),
        /// Whole-file reads and atomic, durable writes over swift-system's `FileDescriptor`.
        .target(
            name: "RecFiles",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/Files"
        ),
        /// Durable state: SQLite through GRDB (jobs, rounds, datasets, models, promotions) and
        /// content-addressed blob files (datasets, checkpoints).
        .target(
            name: "RecPolicy",
            dependencies: [
                "RecModel", "RecData", "Shared",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Policy"
        ),
        .target(
            name: "RecStore",
            dependencies: [
                "RecFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/Store"
        ),
        /// Prometheus metrics: swift-metrics bootstrapped with swift-prometheus, served over HTTP.
        .target(
            name: "RecMetrics",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Metrics"
        ),
        /// Options from the command line, `RECPOOL_*` environment variables and a TOML file, with
        /// the set of keys read from each command's ArgumentParser definition.
        .target(
            name: "RecConfig",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            path: "Sources/Config"
        ),
        /// The flags every long-running process shares: logging, metrics, parent supervision, configuration.
        .target(
            name: "DaemonOptions",
            dependencies: [
                "Shared", "RecMetrics", "RecConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        /// The online-learning flags, declared once for `recpool-broker` and `recpool local`.
        .target(
            name: "OnlineFlags",
            dependencies: ["Shared", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/OnlineFlags"
        ),
        /// What the executables share: the ZeroMQ layer, the wire protocol and the async client.
        .target(
            name: "Shared",
            dependencies: [
                "CZMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        /// The broker: a pure routing core and the reactor that runs it on real sockets.
        .target(
            name: "Broker",
            dependencies: [
                "Shared", "RecStore", "RecPolicy", "RecData",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// The worker: model replicas, micro-batched scoring and the broker session.
        .target(
            name: "Worker",
            dependencies: [
                "Shared", "RecModel", "RecData", "RecPolicy",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        /// Load testing: arrival schedules, the open/closed-loop runner, the HdrHistogram recorder,
        /// perf_analyzer-style sweeps, summaries (text, JSON, CSV) and the HTML report.
        .target(
            name: "RecLoad",
            dependencies: [
                "Shared", "RecData",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/LoadTest"
        ),

        /// The client side of online learning: the simulation loop that drives a pool with simulated users
        /// (behind a recommend-and-feedback protocol, so it runs in-process in tests), its report, and the
        /// impression log's export in the Open Bandit Dataset's shape.
        .target(
            name: "RecOnline",
            dependencies: ["Shared", "RecData", "RecModel", "RecPolicy", "RecLoad"],
            path: "Sources/Online"
        ),

        // MARK: Executables (thin: flags and wiring)
        .executableTarget(
            name: "BrokerCommand",
            dependencies: [
                "Broker", "Shared", "RecMetrics", "DaemonOptions", "RecData", "RecConfig", "OnlineFlags",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "WorkerCommand",
            dependencies: [
                "Worker", "Shared", "RecModel", "RecMetrics", "DaemonOptions", "RecConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "RecPoolCommand",
            dependencies: [
                "Shared", "RecModel", "RecData", "RecLoad", "RecPolicy", "RecOnline", "RecConfig", "OnlineFlags",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/recpool"
        ),

        // MARK: Tests
        /// The test kit: the process-cluster fixture, a fake ROUTER peer, temporary folders,
        /// `eventually { }` polling and seeded fuzzing. Test support only; no product ships it.
        .target(
            name: "RecTestKit",
            dependencies: [
                "Shared", "RecModel", "Broker", "Worker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/RecTestKit"
        ),
        .testTarget(name: "RecTestKitTests", dependencies: ["RecTestKit", "Shared"]),
        .testTarget(name: "OnlineFlagsTests", dependencies: ["OnlineFlags"]),
        .testTarget(
            name: "RecFilesTests",
            dependencies: ["RecFiles", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "ModelTests", dependencies: ["RecModel"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DataTests", dependencies: ["RecData", "RecModel"]),
        .testTarget(name: "SharedTests", dependencies: ["Shared"]),
        .testTarget(
            name: "BrokerTests",
            dependencies: [
                "Broker", "Shared", "RecStore", "RecPolicy", "RecData", "RecTestKit",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "StoreTests", dependencies: ["RecStore"]),
        .testTarget(name: "PolicyTests", dependencies: ["RecPolicy", "RecData", "RecModel", "Shared"]),
        .testTarget(
            name: "ConfigTests",
            dependencies: ["RecConfig", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Shared", "RecModel", "RecData", "RecPolicy"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Shared", "RecData", "RecPolicy", "RecTestKit"]),
        .testTarget(name: "LoadTestTests", dependencies: ["RecLoad", "Shared", "RecTestKit"]),
        .testTarget(name: "OnlineTests", dependencies: ["RecOnline", "RecPolicy", "RecData", "RecModel", "Shared", "RecTestKit"]),
    ]
)
