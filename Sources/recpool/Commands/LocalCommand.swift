import Foundation
import ArgumentParser
import Logging
import OnlineFlags
import RecConfig
import RecModel
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

    @Option(help: "Worker-facing endpoint (default: a Unix socket in the state directory, ipc://STATE/workers.ipc).")
    var backend: String?

    @Option(help: "Checkpoint for every worker to serve (default: a seeded random MLP).")
    var model: String?

    @Option(help: "Input width of the seeded random MLP served without --model (default 106; a checkpoint sets its own).")
    var inputWidth: Int?

    @Option(help: "The broker's state directory (jobs, datasets, model versions).")
    var stateDir = "state"

    @Option(help: "Log level of the broker and workers.")
    var logLevel = "info"

    @OptionGroup(title: "Online learning (forwarded to the broker)") var online: OnlineOptions

    /// `--config` and `--print-config`, as every pool command takes them.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        try PathName.validate([(stateDir, "--state-dir")], what: "a folder")
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1…64, got \(workers)") }
        // Checked here as the broker and the workers check them, so a value they would refuse stops this command
        // with their usage error instead of leaving a broker with no worker.
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
        // Any case, as the broker and the workers take it (`--log-level INFO` was refused here only).
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError(
                "--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(logLevel)'")
        }
        let tunables = online.changedTunables
        if !online.online && !tunables.isEmpty {
            throw ValidationError(
                "\(tunables.map(\.flag).joined(separator: ", ")) \(tunables.count == 1 ? "needs" : "need") --online")
        }
    }

    /// The workers of `recpool local` share the broker's host, where ipc:// costs less CPU per request
    /// than tcp:// loopback at batch 32 and 256 and the same at batch 1 (docs/BENCHMARKS.md,
    /// "Backend transport for local workers").
    static func defaultBackend(stateDirectory: String) -> String { "ipc://\(stateDirectory)/workers.ipc" }

    func run() async throws {
        LogSetup.bootstrap(level: .info)
        let logger = Logger(label: "recpool.local")
        // A development cluster runs without keys (`--insecure`): on an endpoint other hosts reach, anyone on the
        // network may score, train, promote and read its logs. Said, not refused (a container publishes its port so).
        for (flag, endpoint) in [("--frontend", frontend), ("--backend", backend ?? "")]
        where !endpoint.isEmpty && !EndpointScope.isLoopback(endpoint) {
            CommandOutput.printError(
                "recpool local: warning: \(flag) \(endpoint) is reachable from other hosts and recpool local runs without "
                    + "CURVE keys: anyone who can reach it may use the pool (docs/SECURITY.md); use 127.0.0.1 unless that is meant")
        }
        if let model, access(model, R_OK) != 0 {
            // The cause named, as recpool-worker names it (a missing file read only "cannot read the checkpoint").
            let code = errno
            CommandOutput.printError(
                "recpool: --model \(model): cannot read the checkpoint: \(String(cString: strerror(code))) (errno \(code))")
            throw ExitStatus.badInput.exitCode
        }
        // Decoded and judged as the workers will, before the broker creates its state directory: an empty, damaged or
        // unservable file made every worker exit 2 and left the state directory behind.
        if let model {
            let problem: String?
            do {
                let (_, checkpoint) = try Checkpoint.decodeFile(model)
                problem = checkpoint.servingProblem(maxScoreColumns: WireLimits.standard.maxColumns).map { "\(model): \($0)" }
            } catch {
                problem = error.description  // names the file
            }
            if let problem {
                CommandOutput.printError("recpool: --model \(problem)")
                throw ExitStatus.badInput.exitCode
            }
        }
        var workerArguments = ["--input-width", "\(inputWidth ?? 106)"]
        // Beside a checkpoint, a width is the workers' to check against it (they refuse another, exit 64).
        if let model { workerArguments = ["--model", model] + (inputWidth.map { ["--input-width", "\($0)"] } ?? []) }
        let settings = LocalCluster.Settings(
            frontend: frontend, backend: backend ?? Self.defaultBackend(stateDirectory: stateDir), workers: workers,
            workerArguments: workerArguments,
            // `recpool local` is a development cluster: it may run without keys on any endpoint.
            brokerArguments: ["--state-dir", stateDir, "--insecure"] + online.brokerArguments,
            logLevel: logLevel.lowercased())
        let cluster = LocalCluster(settings: settings, logger: logger) { endpoints, pids in
            CommandOutput.printLine("frontend \(endpoints.frontend)")
            CommandOutput.printLine("backend  \(endpoints.backend)")
            CommandOutput.printLine("pids     \(pids.map(String.init).joined(separator: " "))")
            CommandOutput.printLine("ready: try `recpool status --broker \(endpoints.frontend)`; Ctrl-C stops the cluster")
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: cluster, successTerminationBehavior: .gracefullyShutdownGroup)],
                // SIGHUP (the terminal closed, an ssh session dropped) stops the cluster as SIGTERM does, in order:
                // the workers, then the broker. Its default action ended this process alone, and the broker left first.
                gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger))
        do {
            try await group.run()
        } catch let failure as CommandFailure {
            CommandOutput.printError("recpool: \(failure.description)")
            throw failure.exitStatus.exitCode
        }
    }
}
