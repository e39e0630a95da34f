import Foundation
import RecTransport
import RecWire
import Testing

/// Drives SCORE requests with unique ids through one raw DEALER and counts replies per id, so a
/// lost or duplicated reply cannot hide behind a client library.
final class CountingDealer: Sendable {
    private let stopFlag = LockedBox(false)
    /// Replies per request id, and the status of each reply.
    let replies = LockedBox([UInt64: [Status]]())
    let sent = LockedBox(0)

    /// Runs until ``stop()``, keeping at most `window` requests unanswered, then waits up to
    /// `settleMs` for the stragglers. Call on a dedicated thread.
    func run(endpoint: String, window: Int, settleMs: UInt64) throws {
        let context = ZMQContext()
        let socket = try ZMQSocket(context, type: .dealer)
        defer { socket.close() }
        try socket.connect(endpoint)
        let row = Tensor(rows: 1, cols: 106, values: [Float](repeating: 0.25, count: 106)).encoded()
        var poller = ZMQPoller([PollItem(socket: socket)])
        var nextId: UInt64 = 1
        var answered = 0
        func drain() throws {
            while let message = try socket.receive(dontWait: true) {
                guard let reply = try? WireMessage(decoding: message.frames) else { continue }
                answered += 1
                replies.withLock { $0[reply.header.requestId, default: []].append(reply.header.status) }
            }
        }
        while !stopFlag.withLock({ $0 }) {
            while Int(nextId - 1) - answered < window {
                let header = Header(command: .score, requestId: nextId, deadlineMs: Clocks.epochMillis() + 10_000)
                try socket.send([header.encoded(), row])
                nextId += 1
                sent.withLock { $0 += 1 }
            }
            try poller.poll(timeoutMilliseconds: 10)
            try drain()
        }
        let start = Clocks.monotonicMicros()
        while Int(nextId - 1) > answered && Clocks.monotonicMicros() - start < settleMs * 1000 {
            try poller.poll(timeoutMilliseconds: 20)
            try drain()
        }
    }

    func stop() { stopFlag.withLock { $0 = true } }
}

@Suite("Chaos", .serialized)
struct ChaosTests {
    @Test("SIGKILL one of two workers under load: every request gets exactly one reply, all OK")
    func killWorkerExactlyOnce() async throws {
        try await ProcessCluster.withPool(workers: ["w1", "w2"]) { cluster, client in
            let dealer = CountingDealer()
            let endpoint = cluster.endpoints.frontend
            let run = Task { await DedicatedThread.run(name: "chaos-dealer") { Result { try dealer.run(endpoint: endpoint, window: 64, settleMs: 15_000) } } }
            try await eventually(timeoutMs: 120_000, pollMs: 5, "2,000 requests sent") { dealer.sent.withLock { $0 } >= 2000 }
            cluster.kill("w1", signal: SIGKILL)
            _ = try await cluster.waitForStatus(client) { $0.workers.count == 1 }
            let sentAtKill = dealer.sent.withLock { $0 }
            try await eventually(timeoutMs: 120_000, pollMs: 5, "2,000 more requests sent") {
                dealer.sent.withLock { $0 } >= sentAtKill + 2000
            }
            dealer.stop()
            try await run.value.get()

            let sent = dealer.sent.withLock { $0 }
            let replies = dealer.replies.withLock { $0 }
            #expect(replies.count == sent, "requests without a reply: \(sent - replies.count)")
            #expect(replies.values.filter { $0.count > 1 }.isEmpty, "duplicate replies")
            #expect(replies.values.allSatisfy { $0 == [.ok] }, "\(Set(replies.values.flatMap { $0 }))")
        }
    }

    @Test("restarting the broker under load: calls fail with typed errors, never hang; workers re-register within 3 s")
    func restartBrokerUnderLoad() async throws {
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let watcher = try await cluster.client()
        _ = try await cluster.waitForStatus(watcher) { $0.workers.count == 2 }
        watcher.close()
        let client = try await cluster.client()
        defer { client.close() }
        let load = SteadyLoad(client: client, lanes: 4, timeoutMs: 1000)
        try await load.waitForCompleted(300)
        try cluster.restartBroker()
        let restartedAt = Clocks.monotonicMicros()
        let fresh = try await cluster.client()
        defer { fresh.close() }
        _ = try await cluster.waitForStatus(fresh, timeoutMs: 3000) { $0.workers.count == 2 }
        #expect(Clocks.monotonicMicros() - restartedAt < 3_000_000)
        let okBefore = load.snapshot()["OK", default: 0]
        // Up to 20 s after the restart; the expectation below reports a shortfall.
        let remainingMs = 20_000 - min(20_000, (Clocks.monotonicMicros() - restartedAt) / 1000)
        try? await eventually(timeoutMs: remainingMs, pollMs: 10) { load.snapshot()["OK", default: 0] >= okBefore + 200 }
        let outcomes = await load.stop()
        #expect(outcomes["OK", default: 0] >= okBefore + 200, "\(outcomes)")
        #expect(Set(outcomes.keys).isSubset(of: ["OK", "TIMEOUT", "EXPIRED", "BUSY"]), "\(outcomes)")
    }
}
