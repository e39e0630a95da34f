import Testing

@testable import BrokerCore
@testable import RecWire

/// After SIGHUP revoked a worker's key, the broker ignored its messages but kept dispatching new client requests to
/// it until it expired: client rows went to an untrusted key and waited for the liveness window.
@Suite("Workers whose key a reload revokes")
struct RevokedWorkerTests {
    static let client: [UInt8] = [0xC1]

    static func register(_ h: inout CoreHarness, _ identity: [UInt8], key: String) {
        let hello = WorkerHello(
            workerId: "w\(identity[0])", services: ["SCORE"], slots: 4, inputWidth: 2, modelVersion: 1, host: "h", pid: 1)
        h.feed(
            .worker(
                identity: identity,
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1", userId: PeerRole.worker.userId(key: key)))
    }

    static func score(_ h: inout CoreHarness, id: UInt64) {
        let message = WireMessage(
            header: Header(command: .score, requestId: id), payload: [Tensor(rows: 1, cols: 2, values: [1, 2]).encoded()])
        h.feed(.client(identity: client, frames: message.frames(), userId: PeerRole.client.userId(key: "KEY-C")))
    }

    @Test("a reload that drops a worker's key removes it at once, re-dispatches its request and sends it nothing new")
    func revokedWorkerRemoved() throws {
        var h = CoreHarness { $0.enforceRoles = true }
        Self.register(&h, [0xA1], key: "KEY-A")
        Self.score(&h, id: 7)
        let first = try #require(h.dispatches.last)
        #expect(first.identity == [0xA1])
        Self.register(&h, [0xA2], key: "KEY-B")
        h.feed(.workerKeysAllowed(["KEY-B"]))
        #expect(h.core.workers[[0xA1]] == nil && h.core.workers[[0xA2]] != nil)
        #expect(h.core.counters[.workersRevoked] == 1)
        #expect(h.sentToWorkers.contains { $0.identity == [0xA1] && $0.message.header.command == .disconnect })
        // The request it held went to the worker still allowed, and new work goes there only.
        let moved = try #require(h.dispatches.last)
        #expect(moved.identity == [0xA2] && moved.message.header.requestId != 0)
        Self.score(&h, id: 8)
        #expect(h.dispatches.last?.identity == [0xA2])
        // A reload that keeps every key removes nothing.
        h.feed(.workerKeysAllowed(["KEY-B"]))
        #expect(h.core.workers.count == 1 && h.core.counters[.workersRevoked] == 1)
    }
}
