import Broker
import Logging
import ServiceLifecycle
import RecWire
import RecTransport
import RecClient
import Worker

/// Where a scenario's broker and workers run: in this process (``inProcess``: `BrokerService` and
/// `WorkerService`s on dedicated threads, sharing one ZeroMQ context, over `inproc://` endpoints) or as
/// real `recpool-broker` and `recpool-worker` processes over `tcp://127.0.0.1:*` (``processes``).
///
/// A scenario written against ``PoolMode/withPool(workers:inputWidth:_:)`` runs both ways, as
/// Hummingbird's test client runs one test against `.router` and `.live`: the in-process run is
/// quick to debug and sees the library code; the process run checks the executables' flags and wiring.
/// The in-process broker, workers and client share one context, because `inproc://` connects only the
/// sockets of one context; the endpoint handed to the body is then an `inproc://` name, which a child
/// process cannot reach.
public enum PoolMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `BrokerService` and `WorkerService`s in this process.
    case inProcess
    /// `recpool-broker` and `recpool-worker` child processes (``ProcessCluster``).
    case processes

    /// The mode's name, for test output.
    public var description: String { rawValue }

    /// Runs `body` against a broker and the named workers, each serving the seeded random MLP of
    /// `inputWidth` inputs (seed 42, `recpool-worker`'s default), with a client connected once every
    /// worker has registered. Everything is stopped afterwards, even when `body` throws.
    /// - Parameters:
    ///   - workers: the workers' ids.
    ///   - inputWidth: the seeded model's input width.
    ///   - body: the scenario; gets the client and the frontend endpoint.
    /// - Returns: what `body` returns.
    /// - Throws: ``ClusterError`` or ``EventuallyTimeout`` when the pool does not come up, or what `body` throws.
    public func withPool<T: Sendable>(
        workers: [String], inputWidth: Int = 106, _ body: (RecPoolClient, String) async throws -> T
    ) async throws -> T {
        switch self {
        case .processes:
            return try await ProcessCluster.withPool(
                workers: workers, workerArguments: ["--input-width", "\(inputWidth)"]
            ) { cluster, client in
                try await body(client, cluster.endpoints.frontend)
            }
        case .inProcess:
            return try await Self.withInProcessPool(workers: workers, inputWidth: inputWidth, body)
        }
    }

    private static func withInProcessPool<T: Sendable>(
        workers: [String], inputWidth: Int, _ body: (RecPoolClient, String) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "recpool.test.in-process")
        logger.logLevel = .warning
        let bound = LockedBox<Result<BrokerEndpoints, BrokerError>?>(nil)
        let context = ZMQContext()
        let name = "recpool-test-\(UInt64.random(in: 0...UInt64.max))"
        let broker = BrokerService(
            settings: BrokerReactor.Settings(frontend: "inproc://\(name)-frontend", backend: "inproc://\(name)-backend"),
            logger: logger, context: context
        ) { result in bound.withLock { $0 = result } }
        let brokerTask = Task { try await broker.run() }
        defer { brokerTask.cancel() }
        let endpoints = try await eventuallyValue(timeoutMs: 10_000, pollMs: 5, "the in-process broker bound") {
            bound.withLock { $0 }
        }.get()
        var workerTasks: [Task<Void, any Error>] = []
        defer { for task in workerTasks { task.cancel() } }
        for id in workers {
            let session = WorkerSession(
                configuration: WorkerConfiguration(broker: endpoints.backend, workerId: id),
                replica: ModelReplica.seeded(inputWidth: inputWidth, seed: 42), logger: logger, context: context)
            let service = WorkerService(session: session)
            workerTasks.append(Task { try await service.run() })
        }
        var options = RecPoolClient.Options()
        options.timeoutMs = 5000
        options.context = context
        let client = try await RecPoolClient(endpoint: endpoints.frontend, options: options)
        defer { client.close() }
        try await eventually("\(workers.count) in-process workers registered") {
            (try? await client.status(timeoutMs: 1000))?.workers.count == workers.count
        }
        let result = try await body(client, endpoints.frontend)
        // Stop the workers before the broker, and wait for them, so no thread outlives the test.
        for task in workerTasks { task.cancel() }
        for task in workerTasks { _ = await task.result }
        brokerTask.cancel()
        _ = await brokerTask.result
        return result
    }
}
