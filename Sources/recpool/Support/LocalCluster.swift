import Foundation
import Logging
import RecTransport
import RecWire
import ServiceLifecycle

/// A broker and N workers started as child processes on loopback, from the executables that sit
/// beside `recpool`. Children are started with `--exit-with-parent`, so none outlives this process
/// even if it is killed with SIGKILL; on graceful shutdown they get SIGTERM, then SIGKILL.
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

    func run() async throws {
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
        defer { stopAll() }

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
        for index in 0..<settings.workers {
            let worker = Process()
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
        // Wait for shutdown; a child that dies is reported and left dead (the broker notices).
        try? await gracefulShutdown()
        logger.info("stopping the local cluster")
    }

    private func stopAll() {
        for process in processes.reversed() where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        for process in processes {
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        for process in processes { process.waitUntilExit() }
    }
}
