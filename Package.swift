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
        .library(name: "RecWire", targets: ["RecWire"]),
        .library(name: "RecTransport", targets: ["RecTransport"]),
        .library(name: "RecClient", targets: ["RecClient"]),
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
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
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
        /// The models' element-wise kernels that Swift leaves scalar (a header of static inline C functions).
        .systemLibrary(name: "CNumerics", path: "Sources/CNumerics"),

        /// hnswlib (Debian's header-only `libhnswlib-dev`) behind a C interface: the only file that includes it.
        .target(
            name: "CHNSW",
            path: "Sources/CHNSW",
            cxxSettings: [.unsafeFlags(["-O2"])]
        ),

        // MARK: Benchmarks
        /// `scripts/bench catalogue`: recommend latency and recall from 100 to 1,000,000 items.
        .executableTarget(
            name: "CatalogueBench",
            dependencies: [
                "RecData", "RecModel", "RecIndex", "RecPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench/catalogue"
        ),

        // MARK: Libraries
        /// Approximate maximum-inner-product search over item vectors (`ItemIndex`, HNSW through `CHNSW`).
        .target(
            name: "RecIndex",
            dependencies: ["CHNSW"],
            path: "Sources/Index"
        ),
        /// Numerics and models: Matrix, Dense, MLP, DQN, Adam, checkpoints, ONNX. No ZeroMQ.
        .target(
            name: "RecModel",
            dependencies: [
                "CBLAS", "CNumerics", "RecFiles",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            path: "Sources/Model",
            // Numerics: optimised in debug builds too, like RecPolicy below. The test suites, the documentation's
            // examples and debug pools train, evaluate and simulate with these modules; unoptimised they are several
            // times slower and most of the CI's time.
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        /// Data and evaluation: Open Bandit Dataset, FeatureSpec, simulator, metrics, off-policy evaluation, and the
        /// report code every HTML page uses (one SVG chart, one HTML escape).
        .target(
            name: "RecData",
            dependencies: ["RecModel", "RecIndex", "RecTOML", .product(name: "TOMLKit", package: "TOMLKit")],
            path: "Sources/Data",
            // Features, metrics, off-policy evaluation and the simulator: optimised in debug builds (see RecModel).
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        /// Whole-file reads and atomic, durable writes over swift-system's `FileDescriptor`.
        .target(
            name: "RecFiles",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/Files"
        ),
        /// The online policy over a catalogue: a Bayesian contextual bandit with exploration and exact propensities,
        /// the replica's learner, the SNIPW guard and statistics as parameter packs. Wire documents only: no ZeroMQ.
        .target(
            name: "RecPolicy",
            dependencies: [
                "RecModel", "RecData", "RecWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Policy",
            // The Bayesian layer's Cholesky and Schur kernels run on every replica's learning thread, also in the
            // debug pools of tests, the demo and `recpool simulate`; unoptimised they are 20× slower and a sync
            // times out waiting for a replica.
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        /// Durable state: SQLite through GRDB (jobs, rounds, datasets, models, promotions) and
        /// content-addressed blob files (datasets, checkpoints).
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
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Metrics"
        ),
        /// Options from the command line, `RECPOOL_*` environment variables and a TOML file, with
        /// the set of keys read from each command's ArgumentParser definition.
        /// The one TOML parser entry point: TOMLKit behind a check of the inputs toml++ asserts on.
        .target(
            name: "RecTOML",
            dependencies: [.product(name: "TOMLKit", package: "TOMLKit")],
            path: "Sources/TOML"
        ),
        .target(
            name: "RecConfig",
            dependencies: [
                "RecTOML", "RecFiles", "RecWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            path: "Sources/Config"
        ),
        /// The flags every long-running process shares: logging, metrics, parent supervision, configuration.
        .target(
            name: "DaemonOptions",
            dependencies: [
                "RecTransport", "RecMetrics", "RecConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        /// The online-learning flags, declared once for `recpool-broker` and `recpool local`.
        .target(
            name: "OnlineFlags",
            dependencies: ["RecWire", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/OnlineFlags"
        ),
        /// The wire protocol on bytes: header, status, tensors, JSON documents, message limits, and the
        /// saturating arithmetic both ends use. Foundation only: no ZeroMQ, no threads.
        .target(
            name: "RecWire",
            path: "Sources/Wire"
        ),
        /// The only libzmq user: sockets, poller, monitor and errors (`ZMQ/`), CURVE key files (`Security/`),
        /// and the threads that own sockets with their locks, clocks and logging (`Runtime/`).
        .target(
            name: "RecTransport",
            dependencies: [
                "CZMQ", "RecWire", "RecFiles",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Sources/Transport"
        ),
        /// The async client of a pool (`RecPoolClient`): one I/O thread owns the DEALER.
        .target(
            name: "RecClient",
            dependencies: [
                "RecWire", "RecTransport",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            path: "Sources/Client"
        ),
        /// The broker's routing core: a value with no I/O and an injected clock (events in, actions out), its
        /// state, counters and configuration, the messages it exchanges with the control plane, and the
        /// per-message access policy. The codec only: no ZeroMQ, no store, no threads.
        .target(
            name: "BrokerCore",
            dependencies: [
                "RecWire",
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        /// The broker: the reactor that runs the core on real sockets, the control plane and security.
        .target(
            name: "Broker",
            dependencies: [
                "BrokerCore", "RecWire", "RecTransport", "RecStore", "RecPolicy", "RecData", "RecModel",
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
                "RecWire", "RecTransport", "RecModel", "RecData", "RecPolicy",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        /// Load testing: arrival schedules, the open/closed-loop runner, the HdrHistogram recorder,
        /// perf_analyzer-style sweeps, summaries (text, JSON, CSV) and the HTML report.
        .target(
            name: "RecLoad",
            dependencies: [
                "RecWire", "RecTransport", "RecClient", "RecData", "RecModel",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/LoadTest"
        ),

        /// The simulation client of online learning: the loop that drives a pool with simulated users (behind a
        /// recommend-and-feedback protocol, so it runs in-process in tests), its report, and the impression
        /// log's export in the Open Bandit Dataset's shape.
        .target(
            name: "RecSimulation",
            dependencies: ["RecWire", "RecTransport", "RecClient", "RecData", "RecModel", "RecPolicy", "RecFiles"],
            path: "Sources/Simulation",
            // The textbook baselines run beside every simulated visitor: optimised in debug builds (see RecModel).
            swiftSettings: [.unsafeFlags(["-O"])]
        ),

        // MARK: Executables (thin: flags and wiring)
        .executableTarget(
            name: "BrokerCommand",
            dependencies: [
                "Broker", "BrokerCore", "RecWire", "RecTransport", "RecMetrics", "DaemonOptions", "RecConfig", "OnlineFlags",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "WorkerCommand",
            dependencies: [
                "Worker", "RecWire", "RecTransport", "RecModel", "RecMetrics", "DaemonOptions", "RecConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "RecPoolCommand",
            dependencies: [
                "RecWire", "RecTransport", "RecClient", "RecModel", "RecData", "RecPolicy", "RecLoad", "RecSimulation",
                "RecConfig", "OnlineFlags", "RecFiles",
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
                "RecWire", "RecTransport", "RecClient", "RecModel", "Broker", "Worker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/RecTestKit"
        ),
        .testTarget(name: "RecTestKitTests", dependencies: ["RecTestKit", "RecWire", "RecTransport"]),
        .testTarget(name: "OnlineFlagsTests", dependencies: ["OnlineFlags"]),
        .testTarget(
            name: "MetricsTests",
            dependencies: [
                "RecMetrics", "RecTestKit", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "RecFilesTests",
            dependencies: ["RecFiles", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "IndexTests", dependencies: ["RecIndex"]),
        .testTarget(name: "RecTOMLTests", dependencies: ["RecTOML"]),
        .testTarget(name: "ModelTests", dependencies: ["RecModel"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DataTests", dependencies: ["RecData", "RecModel", "RecIndex", "RecWire", "RecTestKit"]),
        .testTarget(name: "WireTests", dependencies: ["RecWire", "RecTestKit"]),
        .testTarget(name: "TransportTests", dependencies: ["RecTransport", "RecFiles"]),
        .testTarget(name: "ClientTests", dependencies: ["RecClient", "RecWire", "RecTestKit"]),
        .testTarget(
            name: "BrokerTests",
            dependencies: [
                "Broker", "BrokerCore", "RecWire", "RecTransport", "RecStore", "RecPolicy", "RecData", "RecModel",
                "RecTestKit", .product(name: "Logging", package: "swift-log"), .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "StoreTests", dependencies: ["RecStore", "RecTestKit", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "PolicyTests", dependencies: ["RecPolicy", "RecData", "RecModel", "RecWire"]),
        .testTarget(
            name: "ConfigTests",
            dependencies: ["RecConfig", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(
            name: "WorkerTests",
            dependencies: [
                "Worker", "RecWire", "RecTransport", "RecModel", "RecData", "RecPolicy",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "RecWire", "RecTransport", "RecClient", "RecData", "RecModel", "RecPolicy", "RecStore", "RecTestKit",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "LoadTestTests", dependencies: ["RecLoad", "RecWire", "RecTransport", "RecClient", "RecTestKit"]),
        .testTarget(
            name: "SimulationTests",
            dependencies: [
                "RecSimulation", "RecPolicy", "RecData", "RecModel", "RecWire", "RecTransport", "RecClient", "RecTestKit",
            ]),
    ],
    cxxLanguageStandard: .cxx17
)
