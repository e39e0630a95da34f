import Foundation
import Logging
import RecTransport
import RecWire
import ServiceLifecycle

/// A broker and N workers started as child processes on loopback, from the executables that sit
/// beside `recpool`. Children are started with `--exit-with-parent`, so none outlives this process
/// even if it is killed with SIGKILL. On graceful shutdown the workers drain first (SIGTERM: each tells the broker to
/// send it nothing more, answers what it holds and deregisters, which needs the broker still running), then the
/// broker drains (SIGTERM: it answers what is still queued); a child still running after its grace period gets
/// SIGKILL.
final class LocalCluster: Service, @unchecked Sendable {
    // @unchecked: `processes` is written only in `run()` before the children start and read after.
    struct Settings: Sendable {
        var frontend: String
        var backend: String
        var workers: Int
        var workerArguments: [String]
        var brokerArguments: [String]
        var logLevel: String
    }

    private let settings: Settings
    private let logger: Logger
    private let onReady: @Sendable (BrokerEndpoints, [Int32]) -> Void
    private var processes: [Process] = []

    init(settings: Settings, logger: Logger, onReady: @escaping @Sendable (BrokerEndpoints, [Int32]) -> Void) {
        self.settings = settings
        self.logger = logger
        self.onReady = onReady
    }

    /// The directory holding `recpool`, `recpool-broker` and `recpool-worker`.
    static var binaryDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// How long the workers get to drain, and then the broker, before SIGKILL: more than a worker's default
    /// liveness window (the longest a drain waits for the broker's acknowledgement) and the broker's default drain
    /// timeout (5 s).
    static let gracePeriod: TimeInterval = 10

    func run() async throws {
        let outcome: Result<Void, any Error>
        do {
            try await startAndServe()
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        let processes = self.processes
        await DedicatedThread.run(name: "local-stop") { Self.stop(processes) }
        try outcome.get()
    }

    private func startAndServe() async throws {
        let directory = Self.binaryDirectory
        let broker = Process()
        broker.executableURL = directory.appendingPathComponent("recpool-broker")
        broker.arguments =
            [
                "--frontend", settings.frontend, "--backend", settings.backend, "--exit-with-parent",
                "--log-level", settings.logLevel,
            ] + settings.brokerArguments
        let output = Pipe()
        broker.standardOutput = output
        try broker.run()
        processes.append(broker)

        let line = await DedicatedThread.run(name: "local-broker-ready") { () -> String? in
            var buffer = Data()
            while !buffer.contains(0x0A) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                buffer.append(chunk)
            }
            return String(decoding: buffer.prefix { $0 != 0x0A }, as: UTF8.self)
        }
        guard let line, let endpoints = try? WireJSON.decode(BrokerEndpoints.self, from: Array(line.utf8)) else {
            throw CommandFailure("the broker did not start (see its log above)", exitCode: .failed)
        }
        let backend = endpoints.backend.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
        let (exits, exited) = AsyncStream<(name: String, status: Int32)>.makeStream()
        for index in 0..<settings.workers {
            let worker = Process()
            let name = "worker-\(index + 1)"
            worker.terminationHandler = { exited.yield((name, $0.terminationStatus)) }
            worker.executableURL = directory.appendingPathComponent("recpool-worker")
            worker.arguments =
                [
                    "--broker", backend, "--id", "worker-\(index + 1)", "--exit-with-parent", "--log-level",
                    settings.logLevel,
                ] + settings.workerArguments
            try worker.run()
            processes.append(worker)
        }
        onReady(endpoints, processes.map(\.processIdentifier))
        // Wait for shutdown. A worker that dies is reported and left dead (the broker notices); when every worker
        // has exited (a checkpoint they cannot load, a flag they refuse) a broker with no worker is no cluster, and
        // the command stops with the first one's exit status.
        let workers = settings.workers
        let logger = logger
        let failure: (name: String, status: Int32)? = await withTaskGroup(of: (name: String, status: Int32)?.self) {
            group in
            group.addTask {
                try? await gracefulShutdown()
                return nil
            }
            group.addTask {
                var first: (name: String, status: Int32)?
                var count = 0
                for await exit in exits {
                    logger.error("a worker exited", metadata: ["worker": "\(exit.name)", "status": "\(exit.status)"])
                    first = first ?? exit
                    count += 1
                    if count == workers { return first }
                }
                return nil
            }
            let outcome = await group.next() ?? nil
            group.cancelAll()
            return outcome
        }
        logger.info("stopping the local cluster")
        if let failure {
            throw CommandFailure(
                "every worker exited (\(failure.name) first, with status \(failure.status); its error is above), "
                    + "so the broker has no worker to serve with",
                // A worker's 66 (a file it cannot open) is this command's bad input.
                exitCode: ExitStatus(rawValue: failure.status) ?? (failure.status == 66 ? .badInput : .failed))
        }
    }

    /// Stops the workers (every process after the first) and waits for them, then the broker (the first): a
    /// worker's drain is a conversation with the broker, so the broker must outlive it. Blocks; run it on a
    /// dedicated thread.
    private static func stop(_ processes: [Process]) {
        guard let broker = processes.first else { return }
        terminate(Array(processes.dropFirst()))
        terminate([broker])
    }

    /// Sends SIGTERM to each running process, waits up to ``gracePeriod`` for all of them, then SIGKILLs the rest.
    private static func terminate(_ group: [Process]) {
        for process in group where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(gracePeriod)
        for process in group {
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        for process in group { process.waitUntilExit() }
    }
}
