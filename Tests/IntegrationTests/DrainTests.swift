import Foundation
import RecClient
import RecTransport
import Testing

/// Closed-loop load on a client: `lanes` tasks score one row at a time until stopped, and every
/// outcome is tallied by status name (`OK`, `BUSY`, `TIMEOUT`, …).
final class SteadyLoad: Sendable {
    private final class State: Sendable {
        let stopFlag = LockedBox(false)
        let outcomes = LockedBox([String: Int]())
    }
    private let state = State()
    private let task: Task<Void, Never>

    init(client: RecPoolClient, lanes: Int, timeoutMs: UInt64 = 5000, width: Int = 106) {
        let state = self.state
        task = Task {
            await withTaskGroup(of: Void.self) { group in
                for lane in 0..<lanes {
                    group.addTask {
                        var i = 0
                        while !state.stopFlag.withLock({ $0 }) {
                            i += 1
                            let row = (0..<width).map { Float(($0 * 7 + lane * 31 + i) % 11) / 11 }
                            let name: String
                            do {
                                _ = try await client.score(rows: [row], timeoutMs: timeoutMs)
                                name = "OK"
                            } catch {
                                name = (error as? ClientError)?.statusName ?? "\(error)"
                            }
                            state.outcomes.withLock { $0[name, default: 0] += 1 }
                        }
                    }
                }
            }
        }
    }

    /// The outcomes so far.
    func snapshot() -> [String: Int] { state.outcomes.withLock { $0 } }

    /// Requests completed so far, whatever their outcome.
    var completed: Int { snapshot().values.reduce(0, +) }

    /// Waits until at least `count` requests have completed.
    func waitForCompleted(_ count: Int) async throws {
        try await eventually(timeoutMs: 120_000, pollMs: 10, "\(count) requests completed") { completed >= count }
    }

    /// Stops the lanes and returns the tally once every lane has finished its last request.
    func stop() async -> [String: Int] {
        state.stopFlag.withLock { $0 = true }
        await task.value
        return snapshot()
    }
}

@Suite("Graceful drain", .serialized)
struct DrainTests {
    @Test("SIGTERM on a worker under load: it drains and exits 0, with no request failed or re-dispatched")
    func workerSigterm() async throws {
        try await ProcessCluster.withPool(workers: ["w1", "w2"]) { cluster, client in
            let load = SteadyLoad(client: client, lanes: 8)
            try await load.waitForCompleted(400)
            let exit = cluster.kill("w1", signal: SIGTERM)
            let before = load.completed
            try await load.waitForCompleted(before + 400)
            let outcomes = await load.stop()
            #expect(exit == 0)
            #expect(outcomes.keys.sorted() == ["OK"], "\(outcomes)")
            let status = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
            #expect(status.workers.map(\.id) == ["w2"])
            #expect(status.counters["workers_draining"] == 1)
            #expect(status.counters["redispatched"] == nil)
            #expect(status.counters["dropped_worker_lost"] == nil)
            #expect(status.inflight == 0)
        }
    }

    @Test("`recpool drain WORKER_ID` drains that worker remotely; an unknown id is NOT_FOUND")
    func remoteDrain() async throws {
        try await ProcessCluster.withPool(workers: ["w1", "w2"]) { cluster, client in
            let load = SteadyLoad(client: client, lanes: 4)
            try await load.waitForCompleted(200)
            let drained = try runTool("recpool", ["drain", "w1", "--broker", cluster.endpoints.frontend])
            #expect(drained.code == 0, "\(drained.stderr)")
            #expect(drained.stdout.contains("draining w1"))
            #expect(cluster.waitForExit("w1", timeoutMs: 10_000) == 0)
            let before = load.completed
            try await load.waitForCompleted(before + 200)
            let outcomes = await load.stop()
            #expect(outcomes.keys.sorted() == ["OK"], "\(outcomes)")
            let unknown = try runTool("recpool", ["drain", "nobody", "--broker", cluster.endpoints.frontend])
            #expect(unknown.code != 0)
            #expect(unknown.stderr.contains("NOT_FOUND") || unknown.stderr.contains("no live worker"))
        }
    }

    @Test("SIGTERM on the broker under load: every request gets OK or BUSY, none hangs, and it exits 0")
    func brokerSigterm() async throws {
        try await ProcessCluster.withPool(workers: ["w1"]) { cluster, client in
            // Replies come back while the broker drains; once it is gone, requests fail with a typed
            // timeout. Nothing waits past its timeout.
            let load = SteadyLoad(client: client, lanes: 8, timeoutMs: 1500)
            try await load.waitForCompleted(300)
            let exit = cluster.kill("broker", signal: SIGTERM)
            let outcomes = await load.stop()
            #expect(exit == 0)
            #expect(Set(outcomes.keys).isSubset(of: ["OK", "BUSY", "TIMEOUT"]), "\(outcomes)")
            #expect(outcomes["OK", default: 0] >= 300)
        }
    }
}
