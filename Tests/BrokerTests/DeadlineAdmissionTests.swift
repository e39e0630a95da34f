import RecWire
import Testing

@testable import BrokerCore

/// A request whose deadline falls before a worker would reach it is shed BUSY on arrival (docs/PROTOCOL.md,
/// "Limits"). The estimate counted the broker's queue alone: with `--slots 64` a worker holds the backlog itself, the
/// broker's queue stays empty, and at three times the pool's capacity nearly every request was admitted and then
/// answered EXPIRED by the worker ("the deadline passed before compute"): goodput fell to a tenth.
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

    @Test("with the broker's queue empty but the worker's 64 slots full, a deadline before they drain is BUSY on arrival")
    func heldRequestsCount() throws {
        var h = slowPool()
        for id in UInt64(100)..<164 { h.score(from: client, id: id) }
        #expect(h.dispatches.count == 64)
        h.score(from: client, id: 20, deadlineMs: h.now.epochMillis + 400)
        let reply = try #require(h.replies(to: client, id: 20).first)
        #expect(reply.header.status == .busy)
        #expect(reply.errorText?.contains("held by the workers ahead would take about 600 ms") == true, "\(reply.errorText ?? "")")
        // A deadline past that wait is admitted (it waits in the queue for a slot).
        h.score(from: client, id: 21, deadlineMs: h.now.epochMillis + 2_000)
        #expect(h.replies(to: client, id: 21).isEmpty)
    }

    /// The mean reply time moves only with replies: counted for an idle pool, one slow reply (a 15 MiB RECOMMEND)
    /// would shed every later request with a shorter deadline, none would be dispatched, and the mean would stay.
    @Test("with nothing queued or held, a request is admitted whatever the mean reply time, so one slow reply never locks out")
    func idleSlotsAdmit() throws {
        var h = slowPool()
        h.score(from: client, id: 30, deadlineMs: h.now.epochMillis + 50)
        h.score(from: client, id: 31)
        #expect(h.dispatches.count == 2)
        #expect(h.replies(to: client, id: 30).isEmpty && h.replies(to: client, id: 31).isEmpty)
    }
}
