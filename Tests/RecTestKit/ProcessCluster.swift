import Foundation
import RecClient
import RecTransport
import RecWire

/// Real `recpool-broker` and `recpool-worker` processes on loopback ports the OS picks, for
/// integration tests. ``stop()`` kills everything it started; tests call it in a `defer`, and each
/// child also runs with `--exit-with-parent`, so nothing outlives the test process.
public final class ProcessCluster: @unchecked Sendable {
    // @unchecked: used from one test at a time; the lock guards the process list.
    private let lock = NSLock()
    private var processes: [String: Process] = [:]
    /// The broker's bound endpoints, from its ready line.
    public private(set) var endpoints = BrokerEndpoints(frontend: "", backend: "")
    private var brokerArguments: [String] = []
    /// Network namespace per process name (`ip netns exec NS …`), for multi-host tests.
    public var namespaces: [String: String] = [:]
    /// When set, the broker's log (stderr) is appended to this file.
    public var brokerLog: URL?
    /// Per worker name, a file that receives the worker's log (stderr).
    public var workerLogs: [String: URL] = [:]
    /// A command that execs the process, per process name, such as
    /// `["/usr/bin/prlimit", "--nofile=64:64", "--"]` (it must exec, so the pid stays the program's).
    public var launchers: [String: [String]] = [:]

    /// The folder of the built executables: the same one as the test binary.
    public static let binaries = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    /// The built executable called `name` (`recpool`, `recpool-broker`, `recpool-worker`).
    public static func executable(_ name: String) -> URL { binaries.appendingPathComponent(name) }

    /// Creates a cluster with nothing started.
    public init() {}

    /// Starts a broker on `tcp://127.0.0.1:*` (or the given endpoints) and waits for its ready line.
    public func startBroker(
        frontend: String = "tcp://127.0.0.1:*", backend: String = "tcp://127.0.0.1:*", extra: [String] = []
    )
        throws
    {
        brokerArguments = extra
        try startBroker(
            arguments: ["--frontend", frontend, "--backend", backend, "--exit-with-parent", "--log-level", "warning"]
                + extra)
    }

    /// Starts a broker with exactly `arguments` (and `environment` added to ours) and waits for its
    /// ready line.
    public func startBroker(arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        Self.configure(
            process, "recpool-broker", arguments, namespace: namespaces["broker"], launcher: launchers["broker"])
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        if let brokerLog {
            FileManager.default.createFile(atPath: brokerLog.path, contents: nil)
            let handle = try FileHandle(forWritingTo: brokerLog)
            handle.seekToEndOfFile()
            process.standardError = handle
        }
        try process.run()
        lock.withLock { processes["broker"] = process }
        var buffer = Data()
        while !buffer.contains(0x0A) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { throw ClusterError.brokerDidNotStart }
            buffer.append(chunk)
        }
        let line = Array(buffer.prefix { $0 != 0x0A })
        endpoints = try WireJSON.decode(BrokerEndpoints.self, from: line)
    }

    /// Restarts the broker on the same endpoints after stopping it with `signal` (SIGKILL by default).
    public func restartBroker(signal: Int32 = SIGKILL) throws {
        // SIGTERM drains first (new requests answered BUSY until it exits); `kill` waits for the exit either way.
        kill("broker", signal: signal)
        let old = endpoints
        try startBroker(frontend: old.frontend, backend: old.backend, extra: brokerArguments)
    }

    /// Starts a worker named `name`.
    public func startWorker(_ name: String, extra: [String] = []) throws {
        try startWorker(
            name,
            arguments: ["--broker", endpoints.backend, "--id", name, "--exit-with-parent", "--log-level", "warning"]
                + extra)
    }

    /// Starts a worker process named `name` with exactly `arguments` (and `environment` added to ours).
    public func startWorker(_ name: String, arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        Self.configure(process, "recpool-worker", arguments, namespace: namespaces[name], launcher: launchers[name])
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let log = workerLogs[name] {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        }
        try process.run()
        lock.withLock { processes[name] = process }
    }

    /// Runs `tool` directly, through `ip netns exec` or through a launcher (each execs it, so it
    /// stays our child).
    private static func configure(
        _ process: Process, _ tool: String, _ arguments: [String], namespace: String?, launcher: [String]? = nil
    ) {
        if let launcher, let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [executable(tool).path] + arguments
        } else if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, executable(tool).path] + arguments
        } else {
            process.executableURL = executable(tool)
            process.arguments = arguments
        }
    }

    /// Sends `signal` to a process and waits for it to exit.
    /// - Returns: its exit status (or the signal that ended it), `nil` if no such process.
    @discardableResult
    public func kill(_ name: String, signal: Int32 = SIGTERM) -> Int32? {
        guard let process = lock.withLock({ processes.removeValue(forKey: name) }) else { return nil }
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits until a started process exits on its own (or `timeoutMs` passes, then kills it).
    /// - Returns: its exit status, or `nil` if it had to be killed.
    public func waitForExit(_ name: String, timeoutMs: UInt64) -> Int32? {
        guard let process = lock.withLock({ processes[name] }) else { return nil }
        if !eventuallyBlocking(timeoutMs: timeoutMs, { !process.isRunning }) {
            kill(name, signal: SIGKILL)
            return nil
        }
        lock.withLock { _ = processes.removeValue(forKey: name) }
        return process.terminationStatus
    }

    /// The pid of a started process.
    public func pid(_ name: String) -> Int32? { lock.withLock { processes[name]?.processIdentifier } }

    /// Kills everything still running.
    public func stop() {
        let all = lock.withLock { () -> [Process] in
            defer { processes.removeAll() }
            return Array(processes.values)
        }
        for process in all where process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        for process in all { process.waitUntilExit() }
    }

    deinit { stop() }

    /// Starts a broker and the named workers, connects a client and waits until every worker has
    /// registered. The caller closes the client and stops the cluster.
    public func startPool(brokerArguments: [String] = [], workers: [String], workerArguments: [String] = []) async throws
        -> RecPoolClient
    {
        try startBroker(extra: brokerArguments)
        for name in workers { try startWorker(name, extra: workerArguments) }
        let connected = try await self.client()
        _ = try await waitForStatus(connected) { $0.workers.count == workers.count }
        return connected
    }

    /// Connects a client to the frontend.
    public func client(timeoutMs: UInt64 = 5000) async throws -> RecPoolClient {
        var options = RecPoolClient.Options()
        options.timeoutMs = timeoutMs
        return try await RecPoolClient(endpoint: endpoints.frontend, options: options)
    }

    /// Polls the broker's status until `condition` holds or `timeoutMs` passes.
    public func waitForStatus(
        _ client: RecPoolClient, timeoutMs: UInt64 = 30_000, _ condition: (StatusDocument) -> Bool
    ) async throws -> StatusDocument {
        do {
            return try await eventuallyValue(timeoutMs: timeoutMs, pollMs: 50, "the broker's status condition") {
                guard let status = try? await client.status(timeoutMs: 1000), condition(status) else { return nil }
                return status
            }
        } catch is EventuallyTimeout {
            throw ClusterError.conditionNotMet
        }
    }
}

/// Why a cluster could not be brought to the state a test asked for.
public enum ClusterError: Error {
    /// The broker exited (or closed its stdout) before printing its ready line.
    case brokerDidNotStart
    /// A polled condition did not hold before its deadline.
    case conditionNotMet
}

/// Runs a command-line program to completion and returns its exit code and output: one of this package's binaries
/// by name, or a system program by its absolute path (`/usr/bin/setpriv`).
public func runTool(_ name: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> (
    code: Int32, stdout: String, stderr: String
) {
    let process = Process()
    process.executableURL = name.hasPrefix("/") ? URL(fileURLWithPath: name) : ProcessCluster.executable(name)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        input.fileHandleForWriting.write(Data(stdin.utf8))
        input.fileHandleForWriting.closeFile()
    }
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}
