import Foundation
import Logging
import RecClient
import Synchronization
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

    /// Why the broker gave no endpoints: when it exited, its status, which `recpool local` exits with too
    /// (``ExitStatus/ofBrokerStart(_:)``: a flag the broker refused, such as `--epsilon 2` forwarded to it, is 64; a
    /// damaged state directory 65; one another broker holds 73), as `recpool-broker` exits.
    private static func startFailure(of broker: Process) async -> CommandFailure {
        let status = await DedicatedThread.run(name: "local-broker-exit") { () -> Int32? in
            // The broker closed its standard output: it is exiting, or wrote something other than its endpoints.
            let deadline = Date().addingTimeInterval(5)
            while broker.isRunning && Date() < deadline { usleep(20_000) }
            return broker.isRunning || broker.terminationReason != .exit ? nil : broker.terminationStatus
        }
        guard let status else { return CommandFailure("the broker did not start (see its log above)", exitCode: .failed) }
        return CommandFailure(
            "the broker did not start: it exited with status \(status) (see its log above)",
            exitCode: ExitStatus.ofBrokerStart(status))
    }

    private func startAndServe() async throws {
        let directory = SiblingPrograms.directory
        let broker = Process()
        broker.executableURL = directory.appendingPathComponent("recpool-broker")
        broker.arguments =
            [
                "--frontend", settings.frontend, "--backend", settings.backend, "--exit-with-parent",
                "--log-level", settings.logLevel,
            ] + settings.brokerArguments
        broker.environment = Self.childEnvironment
        let output = Pipe()
        broker.standardOutput = output
        // The broker's own exit (a crash, a kill) ends the cluster: workers with no broker serve nobody.
        let (brokerExits, brokerExited) = AsyncStream<WorkerExit>.makeStream()
        broker.terminationHandler = {
            brokerExited.yield(
                WorkerExit(name: "broker", status: $0.terminationStatus, signalled: $0.terminationReason == .uncaughtSignal))
            brokerExited.finish()
        }
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
            throw await Self.startFailure(of: broker)
        }
        let backend = endpoints.backend.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
        let (exits, exited) = AsyncStream<WorkerExit>.makeStream()
        for index in 0..<settings.workers {
            let worker = Process()
            let name = "worker-\(index + 1)"
            worker.terminationHandler = {
                exited.yield(WorkerExit(name: name, status: $0.terminationStatus, signalled: $0.terminationReason == .uncaughtSignal))
            }
            worker.environment = Self.childEnvironment
            worker.executableURL = directory.appendingPathComponent("recpool-worker")
            worker.arguments =
                [
                    "--broker", backend, "--id", "worker-\(index + 1)", "--exit-with-parent", "--log-level",
                    settings.logLevel,
                ] + settings.workerArguments
            try worker.run()
            processes.append(worker)
        }
        // Wait for shutdown. A worker that dies is reported and left dead (the broker notices); when every worker
        // has exited (a checkpoint they cannot load, a flag they refuse) a broker with no worker is no cluster, and
        // the command stops with the first one's exit status. "Ready" is said once every worker still running has
        // registered with the broker, so a cluster whose workers cannot start never says it.
        let workers = settings.workers
        let logger = logger
        let exitedWorkers = ExitCount()
        let onReady = onReady
        let pids = processes.map(\.processIdentifier)
        let frontend = endpoints.frontend.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
            .replacingOccurrences(of: "tcp://*:", with: "tcp://127.0.0.1:")
        let failure: WorkerExit? = await withTaskGroup(of: WorkerExit?.self) { group in
            group.addTask {
                try? await gracefulShutdown()
                return nil
            }
            group.addTask {
                // Never the first task to end: the cluster stops on shutdown or on the exits task's failure, never
                // because the wait gave up (every worker exited: the exits task says why).
                if await Self.waitForRegistration(frontend: frontend, running: { workers - exitedWorkers.value }) {
                    onReady(endpoints, pids)
                }
                try? await gracefulShutdown()
                return nil
            }
            group.addTask {
                // Cancelled (the cluster stops for another reason) before the broker exits: nothing to report.
                for await exit in brokerExits {
                    logger.error("the broker exited", metadata: ["exit": "\(exit)"])
                    return exit
                }
                return nil
            }
            group.addTask {
                var firstFailure: WorkerExit?
                var count = 0
                for await exit in exits {
                    exitedWorkers.increment()
                    // A drained worker (`recpool drain`) exits 0: it left on purpose, and the broker stays up for
                    // others. Only when every worker is gone and one of them failed does the cluster stop.
                    if exit.failed {
                        logger.error("a worker exited", metadata: ["worker": "\(exit.name)", "exit": "\(exit)"])
                        firstFailure = firstFailure ?? exit
                    } else {
                        logger.info("a worker left", metadata: ["worker": "\(exit.name)"])
                    }
                    count += 1
                    if count == workers, let firstFailure { return firstFailure }
                }
                return nil
            }
            let outcome = await group.next() ?? nil
            group.cancelAll()
            return outcome
        }
        logger.info("stopping the local cluster")
        if let failure, failure.name == "broker" {
            throw CommandFailure(
                "the broker exited (\(failure); its log is above), so the local cluster stopped", exitCode: .failed)
        }
        if let failure {
            throw CommandFailure(
                "every worker exited (\(failure.name) first, \(failure); its error is above), so the broker has no "
                    + "worker to serve with", exitCode: failure.exitStatus)
        }
    }

    /// Polls the broker's STATUS at `frontend` until as many workers are live as `running()` says still run (at least
    /// one); false when none is left to wait for, or the task is cancelled (shutdown, or every worker exited).
    private static func waitForRegistration(frontend: String, running: @Sendable () -> Int) async -> Bool {
        var options = RecPoolClient.Options()
        options.timeoutMs = 1_000
        guard let client = try? await RecPoolClient(endpoint: frontend, options: options) else { return false }
        defer { client.close() }
        while !Task.isCancelled {
            let expected = running()
            guard expected > 0 else { return false }
            if let status = try? await client.status(), status.workers.count >= expected { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// How many workers have exited, shared by the task that counts exits and the one that waits for registration.
    final class ExitCount: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func increment() { count.withLock { $0 += 1 } }
    }

    /// The environment the broker and workers start with: this process's, without its `RECPOOL_*` variables. Those
    /// configured `recpool local` itself (which passes on what it takes as flags); read again by its children they
    /// configured them behind its back: a `RECPOOL_CURVE_KEY` exported for a trainer made the broker a CURVE server
    /// with that key and no allow-list, and a `RECPOOL_METRICS` made every worker fail to bind the same port.
    static var childEnvironment: [String: String] {
        // RECPOOL_DATA_DIR is no option of theirs but where data is: a worker training an `obd:` job reads it as the
        // client does, so it is passed on (stripped, the workers found no data the client had found).
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RECPOOL_") || $0.key == "RECPOOL_DATA_DIR" }
    }

    /// How a worker process ended.
    struct WorkerExit: Sendable, CustomStringConvertible {
        var name: String
        /// The exit status, or the signal's number when `signalled`.
        var status: Int32
        /// Killed by a signal (a trap is SIGILL or SIGTRAP), not an exit.
        var signalled: Bool

        var failed: Bool { signalled || status != 0 }

        var description: String { signalled ? "killed by signal \(status)" : "with exit status \(status)" }

        /// This command's exit status for it: a usage error (64) stays one, a file the worker could not open (66)
        /// is bad input, anything else (a signal included) a failure.
        var exitStatus: ExitStatus {
            guard !signalled else { return .failed }
            switch status {
            case 64: return .usage
            case 66: return .badInput
            default: return .failed
            }
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
