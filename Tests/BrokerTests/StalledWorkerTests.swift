import RecWire
import Testing

@testable import BrokerCore

/// A worker paused past its expiry (a long GC pause, a VM stall) resumes with its heartbeats and replies queued. The
/// broker answered each of them DISCONNECT, the worker answered each DISCONNECT with READY, and every READY after the
/// first was read as a new session that dropped what the worker held: requests re-dispatched onto it were lost again
/// and answered WORKER_LOST although every worker was alive.
@Suite("Broker core: a worker that stalls and resumes")
struct StalledWorkerTests {
    let worker: [UInt8] = [0xA1]

    func disconnects(_ h: CoreHarness) -> Int {
        h.sentToWorkers.filter { $0.identity == worker && $0.message.header.command == .disconnect }.count
    }

    @Test("its queued messages are answered with one DISCONNECT, so it registers again once")
    func oneDisconnectPerInterval() throws {
        var h = CoreHarness()
        h.registerWorker(worker)
        h.advance(ms: 10_000)
        h.feed(.tick)
        #expect(h.core.workers[worker] == nil, "expired")
        h.sentToWorkers.removeAll()
        let beat = WireMessage(header: Header(command: .heartbeat), payload: [WorkerLoad(slots: 4, queued: 0).encoded()])
        for _ in 0..<5 { h.feed(.worker(identity: worker, frames: beat.frames(), peerAddress: nil)) }
        #expect(disconnects(h) == 1)
        h.registerWorker(worker)
        #expect(h.core.counters[.workersReregistered] == 0)
        #expect(h.core.workers[worker] != nil)
        // A message from an identity it forgot later on is told again, once per heartbeat interval.
        h.advance(ms: 10_000)
        h.feed(.tick)
        h.sentToWorkers.removeAll()
        for _ in 0..<3 { h.feed(.worker(identity: worker, frames: beat.frames(), peerAddress: nil)) }
        h.advance(ms: 1_001)
        h.feed(.worker(identity: worker, frames: beat.frames(), peerAddress: nil))
        #expect(disconnects(h) == 2)
    }
}
