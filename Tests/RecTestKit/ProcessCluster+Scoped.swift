import RecWire
import RecTransport
import RecClient

extension ProcessCluster {
    /// Runs `body` with a fresh cluster and stops every process it started afterwards, even when
    /// `body` throws.
    /// - Parameter body: the test; starts what it needs on the cluster.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws.
    public static func with<T>(_ body: (ProcessCluster) async throws -> T) async throws -> T {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        return try await body(cluster)
    }

    /// Runs `body` against a pool: a broker and the named workers, with a client connected once
    /// every worker has registered (``startPool(brokerArguments:workers:workerArguments:)``). The
    /// client is closed and every process stopped afterwards, even when `body` throws.
    /// - Parameters:
    ///   - brokerArguments: flags added to the broker's.
    ///   - workers: the workers' names (`--id`).
    ///   - workerArguments: flags added to every worker's.
    ///   - body: the test; gets the cluster and the client.
    /// - Returns: what `body` returns.
    /// - Throws: ``ClusterError`` when the pool does not come up, or what `body` throws.
    public static func withPool<T>(
        brokerArguments: [String] = [], workers: [String], workerArguments: [String] = [],
        _ body: (ProcessCluster, RecPoolClient) async throws -> T
    ) async throws -> T {
        try await with { cluster in
            let client = try await cluster.startPool(
                brokerArguments: brokerArguments, workers: workers, workerArguments: workerArguments)
            defer { client.close() }
            return try await body(cluster, client)
        }
    }
}
