import ArgumentParser
import Logging
import RecTransport
import RecWire
import ServiceLifecycle

/// `recpool local`: a broker and N workers on loopback in one command.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Start a broker and N workers on loopback; Ctrl-C or SIGTERM stops them all.")

    @Option(help: "How many workers to start.")
    var workers = 2

    @Option(help: "Client-facing endpoint.")
    var frontend = "tcp://127.0.0.1:5555"

    @Option(help: "Worker-facing endpoint.")
    var backend = "tcp://127.0.0.1:5556"

    @Option(help: "Checkpoint for every worker to serve (default: a seeded random MLP).")
    var model: String?

    @Option(help: "Input width of the seeded random MLP when no --model is given.")
    var inputWidth = 106

    @Option(help: "The broker's state directory (jobs, datasets, model versions).")
    var stateDir = "state"

    @Option(help: "Log level of the broker and workers.")
    var logLevel = "info"

    @Flag(help: "Serve and learn an online policy (the simulator catalogue) from feedback; state in --state-dir.")
    var online = false

    @Option(help: "With --online: sync the replicas at least this often, ms.")
    var onlineSyncIntervalMs: UInt64?

    @Option(help: "With --online: sync once this many feedback events reached the learners.")
    var onlineSyncEvents: Int?

    @Option(help: "With --online: how far (clicks per shown item) a candidate may fall below the served version.")
    var onlineGuardMargin: Double?

    @Option(help: "With --online: epsilon_greedy or softmax.")
    var exploration: String?

    @Option(help: "With --online: ε of epsilon_greedy.")
    var epsilon: Double?

    @Option(help: "With --online: the temperature of softmax.")
    var temperature: Double?

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1…64") }
        if !online && !onlineArguments.isEmpty {
            throw ValidationError(
                "--online-sync-*, --online-guard-margin, --exploration, --epsilon and --temperature need --online")
        }
        if let exploration, ExplorationSpec.Kind(rawValue: exploration) == nil {
            throw ValidationError("--exploration must be epsilon_greedy or softmax, got \(exploration)")
        }
    }

    /// The online-learning flags to forward to `recpool-broker`.
    var onlineArguments: [String] {
        var out: [String] = []
        if let onlineSyncIntervalMs { out += ["--online-sync-interval-ms", "\(onlineSyncIntervalMs)"] }
        if let onlineSyncEvents { out += ["--online-sync-events", "\(onlineSyncEvents)"] }
        if let onlineGuardMargin { out += ["--online-guard-margin", "\(onlineGuardMargin)"] }
        if let exploration { out += ["--exploration", exploration] }
        if let epsilon { out += ["--epsilon", "\(epsilon)"] }
        if let temperature { out += ["--temperature", "\(temperature)"] }
        return out
    }

    func run() async throws {
        LogSetup.bootstrap(level: .info)
        let logger = Logger(label: "recpool.local")
        var workerArguments = ["--input-width", "\(inputWidth)"]
        if let model { workerArguments = ["--model", model] }
        let settings = LocalCluster.Settings(
            frontend: frontend, backend: backend, workers: workers, workerArguments: workerArguments,
            // `recpool local` is a development cluster: it may run without keys on any endpoint.
            brokerArguments: ["--state-dir", stateDir, "--insecure"] + (online ? ["--online"] + onlineArguments : []),
            logLevel: logLevel)
        let cluster = LocalCluster(settings: settings, logger: logger) { endpoints, pids in
            CommandOutput.printLine("frontend \(endpoints.frontend)")
            CommandOutput.printLine("backend  \(endpoints.backend)")
            CommandOutput.printLine("pids     \(pids.map(String.init).joined(separator: " "))")
            CommandOutput.printLine("ready: try `recpool status --broker \(endpoints.frontend)`; Ctrl-C stops the cluster")
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: cluster, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let failure as CommandFailure {
            CommandOutput.printError("recpool: \(failure.description)")
            throw failure.exitStatus.exitCode
        }
    }
}
