import RecWire
import Testing

@testable import BrokerCore

/// A SCORE accepted while a worker of its width was live was later answered BAD_REQUEST ("rows have 5 features; no
/// live worker takes them") when that worker left and another width was still served: re-queued from the worker, or
/// queued behind it. PROTOCOL.md answers it CONFLICT after the no-worker timeout instead; BAD_REQUEST is only for a
/// width no worker takes when the request arrives.
@Suite("Broker core: a SCORE's width is judged once, on arrival")
struct WidthJudgedTests {
    let client: [UInt8] = [0xC1]
    let narrow: [UInt8] = [0xA]
    let wide: [UInt8] = [0xB]

    func register(_ h: inout CoreHarness, _ id: [UInt8], width: Int, slots: Int = 4) {
        let hello = WorkerHello(
            workerId: "w\(id[0])", services: ["SCORE"], slots: slots, inputWidth: width, modelVersion: 0, host: "h",
            pid: 1)
        h.feed(
            .worker(
                identity: id, frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
    }

    func send(_ h: inout CoreHarness, columns: Int, id: UInt64) {
        let tensor = Tensor(rows: 1, cols: columns, values: [Float](repeating: 0.5, count: columns))
        let message = WireMessage(header: Header(command: .score, requestId: id), payload: [tensor.encoded()])
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
    }

    /// Both workers live; the wide one holds one request and two more wait behind it (one slot).
    func pool() -> CoreHarness {
        var h = CoreHarness()
        register(&h, narrow, width: 2)
        register(&h, wide, width: 5, slots: 1)
        for id in 1...3 { send(&h, columns: 5, id: UInt64(id)) }
        return h
    }

    func statuses(_ h: CoreHarness) -> [UInt64: [Status]] {
        var answered: [UInt64: [Status]] = [:]
        for id in 1...3 as ClosedRange<UInt64> { answered[id] = h.replies(to: client, id: id).map(\.header.status) }
        return answered
    }

    @Test("the only worker of a width disconnects: what it held and what waited for it get CONFLICT at the timeout")
    func disconnect() {
        var h = pool()
        #expect(h.dispatches.count == 1 && h.dispatches.first?.identity == wide)
        h.feed(.worker(identity: wide, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        #expect(statuses(h).values.allSatisfy { $0.isEmpty })
        #expect(h.core.counters[.invalidRequests] == 0)
        h.advance(ms: 1_100)
        h.feed(.tick)
        #expect(statuses(h) == [1: [.conflict], 2: [.conflict], 3: [.conflict]])
        #expect(h.core.counters[.invalidRequests] == 0)
    }

    @Test("the only worker of a width expires: the same")
    func expiry() {
        var h = pool()
        // Only the narrow worker keeps beating.
        for _ in 0..<8 {
            h.advance(ms: 1_000)
            h.feed(.worker(identity: narrow, frames: [Header(command: .heartbeat).encoded()], peerAddress: nil))
            h.feed(.tick)
        }
        #expect(h.core.liveWorkerCount == 1)
        #expect(statuses(h) == [1: [.conflict], 2: [.conflict], 3: [.conflict]])
        #expect(h.core.counters[.invalidRequests] == 0)
    }

    @Test("a worker that registers again gets back what it held, and what waited for it")
    func reregistration() {
        var h = pool()
        register(&h, wide, width: 5, slots: 1)
        #expect(statuses(h).values.allSatisfy { $0.isEmpty })
        // Request 1 went out again, to the new registration.
        #expect(h.dispatches.count == 2 && h.dispatches.allSatisfy { $0.identity == wide })
    }

    /// Requests queued before any worker: a pump stops at the first it cannot place, so the one behind it was left
    /// unjudged, and answered BAD_REQUEST once its width's worker had come and gone, where the one before it got
    /// CONFLICT.
    @Test("requests queued before any worker are all judged when one registers, wherever they are in the queue")
    func queuedBeforeWorkers() {
        var h = CoreHarness()
        for id in 1...3 { send(&h, columns: 5, id: UInt64(id)) }
        register(&h, wide, width: 5, slots: 1)
        #expect(h.dispatches.count == 1)
        h.feed(.worker(identity: wide, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        register(&h, narrow, width: 2)
        #expect(statuses(h).values.allSatisfy { $0.isEmpty })
        h.advance(ms: 1_100)
        h.feed(.tick)
        #expect(statuses(h) == [1: [.conflict], 2: [.conflict], 3: [.conflict]])
        #expect(h.core.counters[.invalidRequests] == 0)
    }

    @Test("a width no live worker takes on arrival is still BAD_REQUEST at once, also when it arrived before any worker")
    func arrival() {
        var h = CoreHarness()
        send(&h, columns: 7, id: 1)
        #expect(h.replies(to: client, id: 1).isEmpty)
        register(&h, narrow, width: 2)
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.badRequest])
        send(&h, columns: 7, id: 2)
        let refused = h.replies(to: client, id: 2)
        #expect(refused.map(\.header.status) == [.badRequest])
        #expect(refused.first?.errorText == "rows have 7 features; no live worker takes them (model version 0 expects 2)")
        #expect(h.core.counters[.invalidRequests] == 2)
    }
}
