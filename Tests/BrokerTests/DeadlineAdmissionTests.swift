import RecWire
import Testing

@testable import BrokerCore

/// A request whose deadline falls before it would be answered is shed BUSY on arrival (docs/PROTOCOL.md, "Limits").
/// The estimate counted the broker's queue alone: with `--slots 64` a worker holds the backlog itself, the broker's
/// queue stays empty, and at three times the pool's capacity nearly every request was admitted and then answered
/// EXPIRED by the worker ("the deadline passed before compute"): goodput fell to a tenth.
@Suite("Broker core: admission by deadline")
struct DeadlineAdmissionTests {
    let client: [UInt8] = [0xC1]
    let worker: [UInt8] = [0xA1]

    /// A pool whose one worker (64 slots) answered its last eight requests 600 ms after each was dispatched.
    func slowPool() -> CoreHarness {
        var h = CoreHarness()
        h.registerWorker(worker, slots: 64)
        for id in UInt64(1)...8 { h.score(from: client, id: id) }
        let held = h.dispatches
        h.advance(ms: 600)
        for dispatch in held { h.answer(dispatch) }
        h.sentToWorkers.removeAll()
        return h
    }

    @Test("with an empty queue and free slots, a deadline shorter than the workers' reply time is BUSY on arrival")
    func replyTimeCounts() throws {
        var h = slowPool()
        h.score(from: client, id: 20, deadlineMs: h.now.epochMillis + 400)
        let reply = try #require(h.replies(to: client, id: 20).first)
        #expect(reply.header.status == .busy)
        #expect(reply.errorText?.contains("about 600 ms in all") == true, "\(reply.errorText ?? "")")
        #expect(h.dispatches.isEmpty)
    }

    @Test("a deadline past the workers' reply time, or none, is admitted and dispatched")
    func admittedWhenItCanBeAnswered() throws {
        var h = slowPool()
        h.score(from: client, id: 21, deadlineMs: h.now.epochMillis + 2_000)
        h.score(from: client, id: 22)
        #expect(h.dispatches.count == 2)
        #expect(h.replies(to: client, id: 21).isEmpty && h.replies(to: client, id: 22).isEmpty)
    }
}
