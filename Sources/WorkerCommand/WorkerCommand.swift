import ArgumentParser
import DaemonOptions
import Foundation
import Logging
import RecConfig
import RecMetrics
import RecModel
import RecTransport
import RecWire
import ServiceLifecycle
import Worker

/// `recpool-worker`: holds a model replica and answers the broker's scoring requests.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recpool-worker",
        abstract: "Serve a RecPool model replica to a broker over ZeroMQ.",
        discussion: """
            Every option can also be set as RECPOOL_<OPTION> in the environment or under [worker] in \
            the --config file (precedence: command line, environment, file, default).
            """)

    /// Reads the environment and the configuration file before ArgumentParser parses.
    static func main() async {
        // On the main thread, before the concurrency pool's threads allocate: they would each get an arena.
        _ = arenaLimit
        HangupService.ignoreUntilTrapped()
        EarlyStop.recordUntilTrapped()
        _ = FreeMemory.daemonHeapThresholds
        await runConfigured(table: "worker")
    }

    /// The malloc arena cap, set once at start-up: a replica's threads each grew an arena of catalogue-sized free
    /// blocks (docs/OPERATIONS.md, "Memory").
    static let arenaLimit = FreeMemory.limitArenas(to: 2, environment: ProcessInfo.processInfo.environment)

    @Option(help: "The broker's worker-facing endpoint.")
    var broker = "tcp://127.0.0.1:5556"

    @Option(help: "Display id (default: HOST-PID).")
    var id: String?

    @Option(
        help: """
            A checkpoint written by `recpool fit`, served as unregistered version 0 (known by its SHA-256) \
            until the broker rolls out a registered one; without it, a seeded random MLP (version 0).
            """)
    var model: String?

    @Option(help: "Input width of the seeded random MLP served without --model (default 106; a checkpoint sets its own).")
    var inputWidth: Int?

    @Option(help: "Seed of the random MLP served without --model (default 42).")
    var seed: UInt64?

    /// The seeded random MLP's width and seed when neither is given.
    static let defaultInputWidth = 106
    static let defaultSeed: UInt64 = 42

    @Option(help: "Requests accepted at once (credit with the broker).")
    var slots = 64

    @Option(help: "Heartbeat interval in ms until registered: the broker's interval replaces it (logged when it differs).")
    var heartbeatMs: UInt64 = 1000

    @Option(help: "Most rows scored in one micro-batch.")
    var batchMaxRows = 512

    @Option(help: "Score a request of at least this many rows alone, on arrival (never merged into a micro-batch).")
    var batchAloneRows = 128

    @Option(help: "How long to wait to fill a micro-batch, µs (0 = only what is queued; at most 60000000; never more than half the time a waiting request's deadline leaves).")
    var batchWaitUs: UInt64 = 0

    /// The longest `--batch-wait-us` (60 s): a wait this long only serves tests that hold a request at a worker; a
    /// pool waits a few hundred µs at most (docs/BENCHMARKS.md, "Micro-batching").
    static let maximumBatchWaitMicros: UInt64 = 60_000_000

    @Option(help: "Seed of the online policy's exploration (default: from the id, pid and time).")
    var explorationSeed: UInt64?

    @Option(help: "OpenBLAS threads for this worker (default 1: parallelism comes from workers, not BLAS threads).")
    var blasThreads = 1
    @Option(help: "The broker's CURVE public key (a .pub file); with --curve-key, talk CurveZMQ.")
    var curveServerKey: String?

    @Option(help: "This worker's CURVE key pair (a .key file from `recpool keygen`).")
    var curveKey: String?

    @Flag(help: "Use a --curve-key file that its group or others may access (refused otherwise, as ssh does).")
    var allowOpenKeyFile = false

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        try EndpointSyntax.validate(broker, flag: "--broker", connecting: true)
        // An empty path was read as a file named "" ("cannot load model: cannot open : No such file", exit 66).
        try PathName.validate(
            [(model, "--model"), (curveServerKey, "--curve-server-key"), (curveKey, "--curve-key")], what: "a file")
        // As a start would: --print-config exits 0 only for what a start accepts.
        if let metrics = daemon.metrics, let problem = MetricsEndpoint.addressProblem(metrics) {
            throw ValidationError(problem)
        }
        guard (1...65_536).contains(slots) else { throw ValidationError("--slots must be 1…65536, got \(slots)") }
        // The broker refuses a READY naming such a worker (WorkerHello.problem).
        if let id, let problem = WireText.labelProblem(id, field: "--id", maxBytes: WorkerHello.maximumNameBytes) { throw ValidationError(problem) }
        if let inputWidth {
            // A seeded model has no feature specification: it is reached only by SCORE, whose rows hold at most the
            // column limit (the registry refuses such a checkpoint at import for the same reason).
            let maxWidth = WireLimits.standard.maxColumns
            guard (1...maxWidth).contains(inputWidth) else {
                throw ValidationError(
                    "--input-width must be 1…\(maxWidth) (a SCORE row holds at most \(maxWidth) features), got \(inputWidth)")
            }
            if let problem = MLP.sizeProblem(inputWidth: inputWidth, hiddenSizes: nil) {
                throw ValidationError("--input-width \(inputWidth): \(problem)")
            }
        }
        // The broker's range too: a longer interval than the broker takes (up to an hour) registers, then expires
        // after the broker's liveness window and stays silent until its next heartbeat.
        guard (10...3_600_000).contains(heartbeatMs) else {
            throw ValidationError("--heartbeat-ms must be 10…3600000 (an hour, as the broker's), got \(heartbeatMs)")
        }
        guard batchMaxRows >= 1 else { throw ValidationError("--batch-max-rows must be at least 1, got \(batchMaxRows)") }
        guard batchAloneRows >= 1 else { throw ValidationError("--batch-alone-rows must be at least 1, got \(batchAloneRows)") }
        // A wait to fill a micro-batch longer than any request's deadline holds every request past it.
        guard batchWaitUs <= Self.maximumBatchWaitMicros else {
            throw ValidationError(
                "--batch-wait-us must be 0…\(Self.maximumBatchWaitMicros) (60 s: a longer wait outlasts any request's "
                    + "deadline), got \(batchWaitUs)")
        }
        guard (1...256).contains(blasThreads) else { throw ValidationError("--blas-threads must be 1…256, got \(blasThreads)") }
        guard (curveServerKey == nil) == (curveKey == nil) else {
            throw ValidationError("--curve-server-key and --curve-key go together")
        }
    }

    func run() async throws {
        let metricsService = try daemon.start(commandName: "recpool-worker")
        BLASThreads.set(blasThreads)
        let workerId = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let logger = Logger(label: "recpool.worker")
        let replica: ModelReplica
        if let model {
            do {
                replica = try ModelReplica.load(checkpointPath: model)
            } catch {
                daemon.reportFailure("cannot load model: \(error)", commandName: "recpool-worker")
                throw DaemonExit.noInput
            }
            // The random MLP's width beside a checkpoint (a fleet's config file may set it for every worker): it must be
            // the checkpoint's, or the worker would serve rows of another width than the operator said (it was ignored).
            if let inputWidth, inputWidth != replica.inputWidth {
                daemon.reportFailure(
                    "--input-width \(inputWidth), but --model \(model) takes rows of \(replica.inputWidth) "
                        + "features: drop --input-width or set it to \(replica.inputWidth)", commandName: "recpool-worker")
                throw DaemonExit.usage
            }
            if seed != nil {
                logger.notice(
                    "--seed seeds the random MLP served without --model; the checkpoint's weights are served",
                    metadata: ["model": "\(model)"])
            }
        } else {
            replica = ModelReplica.seeded(
                inputWidth: inputWidth ?? Self.defaultInputWidth, seed: seed ?? Self.defaultSeed)
        }
        var configuration = WorkerConfiguration(broker: broker, workerId: workerId)
        configuration.slots = slots
        configuration.explorationSeed = explorationSeed
        configuration.heartbeatIntervalMs = heartbeatMs
        configuration.batchMaxRows = batchMaxRows
        configuration.batchAloneRows = batchAloneRows
        configuration.batchWaitMicros = batchWaitUs
        configuration.exitWithParent = daemon.exitWithParent
        if let curveServerKey, let curveKey {
            do {
                configuration.socketOptions = try CurveKeyFile.clientOptions(
                    serverKeyPath: curveServerKey, keyPath: curveKey, allowOpenPermissions: allowOpenKeyFile)
                if allowOpenKeyFile, let mode = CurveKeyFile.openPermissions(curveKey) {
                    logger.warning(
                        "using a secret key file its group or others may access (--allow-open-key-file)",
                        metadata: ["path": "\(curveKey)", "mode": "\(String(mode, radix: 8))"])
                }
            } catch {
                daemon.reportFailure("\(error)", commandName: "recpool-worker")
                throw DaemonExit.noInput
            }
        }
        // Once the key files are read: a worker that exits 66 over its key never said it was serving.
        logger.info(
            "serving",
            metadata: [
                "model_version": "\(replica.version)", "input_width": "\(replica.inputWidth)", "id": "\(workerId)",
                // A file's model is unregistered (version 0) and known by its hash until WEIGHTS replace it.
                "model_sha256": "\(replica.checkpointSHA256 ?? "seeded")",
                "malloc_arenas": "\(Self.arenaLimit)", "malloc_thresholds": "\(FreeMemory.daemonHeapThresholds)",
            ])
        let session = WorkerSession(configuration: configuration, replica: replica, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: WorkerService(session: session), successTerminationBehavior: .gracefullyShutdownGroup)
        ]
        if let metricsService { services.append(.init(service: metricsService)) }
        // A worker has nothing to reload: SIGHUP is logged and ignored rather than ending the process.
        let hangup = await HangupService.trap {
            logger.notice("SIGHUP ignored: a worker has nothing to reload (restart it to change its flags)")
        }
        services.append(.init(service: hangup, successTerminationBehavior: .ignore))
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as WorkerSession.SessionError {
            logger.critical("stopped", metadata: ["error": "\(error)"])
            // A worker endpoint that is no broker's backend is configuration: restarting cannot help (64).
            if case .notABackend = error { throw DaemonExit.usage }
            throw DaemonExit.software
        } catch {
            logger.critical("stopped", metadata: ["error": "\(error)"])
            throw DaemonExit.code(for: error)
        }
    }
}

