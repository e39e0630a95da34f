import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

@Suite("Broker core: routing")
struct BrokerRoutingTests {
    let client: [UInt8] = [0xC1]
    let workerA: [UInt8] = [0xA]
    let workerB: [UInt8] = [0xB]

    @Test("a request goes to a worker and its reply goes back to the client under the client's id")
    func roundTrip() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, version: 7)
        h.score(from: client, id: 41)
        let dispatched = try #require(h.dispatches.first)
        #expect(dispatched.identity == workerA)
        #expect(dispatched.message.header.requestId != 41 || true)
        #expect(dispatched.message.header.attempt == 1)
        h.advance(ms: 1)
        h.answer(dispatched, version: 7)
        let replies = h.replies(to: client, id: 41)
        #expect(replies.count == 1)
        #expect(replies[0].header.status == .ok && replies[0].header.modelVersion == 7)
        #expect(replies[0].header.computeMicros == 5)
        #expect(h.core.outstandingRequests == 0)
    }

    /// A client's timing and retry fields reached the worker as the client wrote them.
    @Test("a dispatched request carries 0 in the timing and retry fields, whatever the client wrote there")
    func timingFieldsAreZeroOnDispatch() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, version: 7)
        var header = Header(command: .score, requestId: 9)
        header.brokerQueueMicros = 111
        header.workerQueueMicros = 222
        header.computeMicros = 333
        header.retryAfterMs = 444
        header.attempt = 5
        let message = WireMessage(header: header, payload: [Tensor(rows: 1, cols: 2, values: [1, 2]).encoded()])
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
        let sent = try #require(h.dispatches.first).message.header
        #expect(sent.brokerQueueMicros == 0 && sent.workerQueueMicros == 0 && sent.computeMicros == 0)
        #expect(sent.retryAfterMs == 0 && sent.attempt == 1)
    }

    @Test("dispatch honours credit and prefers the least-loaded worker")
    func credit() {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 1)
        h.registerWorker(workerB, slots: 2)
        for id in 1...4 { h.score(from: client, id: UInt64(id)) }
        let targets = h.dispatches.map(\.identity)
        #expect(targets.count == 3)
        #expect(targets.filter { $0 == workerA }.count == 1)
        #expect(targets.filter { $0 == workerB }.count == 2)
        #expect(h.core.statusDocument(now: h.now).queues.first { $0.service == "SCORE" }?.depth == 1)
        h.answer(h.dispatches[0])
        #expect(h.dispatches.count == 4)
    }

    @Test("with no live worker the client gets NO_WORKER within the timeout")
    func noWorker() {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        h.score(from: client, id: 1)
        h.feed(.tick)
        #expect(h.replies(to: client, id: 1).isEmpty)
        h.advance(ms: 600)
        h.feed(.tick)
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.noWorker])
    }

    @Test("a request past its deadline is answered EXPIRED and never dispatched")
    func expired() {
        var h = CoreHarness()
        h.registerWorker(workerA)
        h.score(from: client, id: 1, deadlineMs: h.now.epochMillis - 1)
        #expect(h.dispatches.isEmpty)
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.expired])
    }

    @Test("a queued request whose deadline passes is answered EXPIRED")
    func expiresInQueue() {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 1)
        h.score(from: client, id: 1)
        h.score(from: client, id: 2, deadlineMs: h.now.epochMillis + 100)
        h.advance(ms: 200)
        h.feed(.tick)
        #expect(h.replies(to: client, id: 2).map(\.header.status) == [.expired])
        #expect(h.dispatches.count == 1)
    }

    @Test("a full queue answers BUSY at once with a retry-after hint")
    func busy() {
        var h = CoreHarness { $0.queueCapacity = 2 }
        h.registerWorker(workerA, slots: 1)
        for id in 1...4 { h.score(from: client, id: UInt64(id)) }
        let busy = h.replies(to: client, id: 4)
        #expect(busy.map(\.header.status) == [.busy])
        #expect(busy[0].header.retryAfterMs > 0)
        #expect(h.core.counters[.droppedBusy] == 1)
    }

    @Test("the header alone tells the reactor to shed, and shedding answers exactly as reading the whole request would")
    func shedOnHeader() {
        var h = CoreHarness { $0.queueCapacity = 2 }
        h.registerWorker(workerA, slots: 1)
        let header = { (id: UInt64) in Header(command: .score, requestId: id).encoded() }
        for id in 1...3 {
            #expect(h.core.requestToShed(headerFrame: header(UInt64(id)), userId: nil, now: h.now) == nil, "room for \(id)")
            h.score(from: client, id: UInt64(id))
        }
        // One dispatched, two queued: the next SCORE is shed; STATUS, replies and garbage are not.
        let shed = h.core.requestToShed(headerFrame: header(4), userId: nil, now: h.now)
        #expect(shed?.requestId == 4)
        #expect(h.core.requestToShed(headerFrame: Header(command: .status, requestId: 5).encoded(), userId: nil, now: h.now) == nil)
        let reply = Header(command: .score, requestId: 6).reply().encoded()
        #expect(h.core.requestToShed(headerFrame: reply, userId: nil, now: h.now) == nil)
        #expect(h.core.requestToShed(headerFrame: [1, 2, 3], userId: nil, now: h.now) == nil)

        h.feed(.clientShed(identity: client, header: shed!))
        h.score(from: client, id: 7)  // the same state, through the full path
        let early = h.replies(to: client, id: 4)
        let full = h.replies(to: client, id: 7)
        #expect(early.map(\.header.status) == [.busy] && full.map(\.header.status) == [.busy])
        #expect(early[0].header.retryAfterMs == full[0].header.retryAfterMs && early[0].errorText == full[0].errorText)
        #expect(h.core.counters[.droppedBusy] == 2)
        #expect(h.core.outstandingRequests == 3)
    }

    @Test("a request whose deadline falls before the queue ahead would drain gets BUSY now, not EXPIRED later")
    func admissionByDeadline() {
        var h = CoreHarness()  // the default queue of 4,096: far more than one slot drains in time
        h.registerWorker(workerA, slots: 1)
        // Until a reply gives the rate, nothing is refused for its deadline.
        h.score(from: client, id: 1, deadlineMs: h.now.epochMillis + 10)
        h.score(from: client, id: 2, deadlineMs: h.now.epochMillis + 10_000)
        #expect(h.sentToClients.isEmpty)
        h.advance(ms: 100)
        h.answer(h.dispatches[0])  // 100 ms a request, one slot: 10 requests a second
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.ok])
        for id in 3...5 { h.score(from: client, id: UInt64(id), deadlineMs: h.now.epochMillis + 10_000) }
        // Request 2 is in flight and 3 requests wait: about 300 ms ahead of the next one.
        let late = Header(command: .score, requestId: 6, deadlineMs: h.now.epochMillis + 200)
        #expect(h.core.requestToShed(headerFrame: late.encoded(), userId: nil, now: h.now)?.requestId == 6)
        h.score(from: client, id: 6, deadlineMs: h.now.epochMillis + 200)
        h.score(from: client, id: 7, deadlineMs: h.now.epochMillis + 1000)
        h.score(from: client, id: 8)  // no deadline: never refused for one
        let refused = h.replies(to: client, id: 6)
        #expect(refused.map(\.header.status) == [.busy])
        #expect(refused.first?.errorText?.contains("past the request's deadline") == true)
        #expect(h.replies(to: client, id: 7).isEmpty && h.replies(to: client, id: 8).isEmpty)
        #expect(h.core.queueDepths[.score] == 5)
    }

    /// The wait ahead was summed over every worker offering SCORE: a slow width-2 worker's backlog was weighed
    /// against a fast width-3 worker's 64 slots, so a width-2 request was admitted and answered EXPIRED later.
    @Test("in a fleet of two widths, a request's wait ahead counts only the workers, pace and queue of its width")
    func admissionByDeadlinePerWidth() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 1)
        h.score(from: client, id: 1, deadlineMs: h.now.epochMillis + 10_000)
        h.advance(ms: 100)
        h.answer(h.dispatches[0])  // 100 ms a request on the width-2 worker's one slot
        h.registerWorker(workerB, slots: 64, inputWidth: 3)
        // The width-3 worker answers in 1 ms, many times: the mean over every SCORE reply falls near 1 ms, which is
        // no measure of the width-2 worker's pace (the reviewer's case: admitted, then EXPIRED).
        for id in 100..<130 {
            h.score(from: client, id: UInt64(id), deadlineMs: h.now.epochMillis + 10_000, cols: 3)
            h.advance(ms: 1)
            h.answer(try #require(h.dispatches.last))
        }
        h.score(from: client, id: 2, deadlineMs: h.now.epochMillis + 10_000)  // held by the width-2 worker
        h.score(from: client, id: 3, deadlineMs: h.now.epochMillis + 10_000)  // queued behind it
        // About 200 ms ahead of a width-2 request; the width is not known from the header alone.
        let late = Header(command: .score, requestId: 4, deadlineMs: h.now.epochMillis + 150)
        #expect(h.core.requestToShed(headerFrame: late.encoded(), userId: nil, now: h.now) == nil)
        h.score(from: client, id: 4, deadlineMs: h.now.epochMillis + 150)
        let refused = h.replies(to: client, id: 4)
        #expect(refused.map(\.header.status) == [.busy])
        #expect(refused.first?.errorText?.contains("SCORE requests of 2 features") == true, "\(refused.first?.errorText ?? "")")
        // Nothing waits for the width-3 worker: a request of its width with the same deadline is taken.
        let before = h.dispatches.count
        h.score(from: client, id: 5, deadlineMs: h.now.epochMillis + 150, cols: 3)
        #expect(h.replies(to: client, id: 5).isEmpty)
        #expect(h.dispatches.count == before + 1 && h.dispatches.last?.identity == workerB)
    }

    /// When the only worker of a request's width left while it waited, the CONFLICT named the served widths alone,
    /// as though rows of that width had never been served.
    @Test("a request whose width's workers left while it waited is told they left, not only the widths served")
    func widthWorkersLeft() {
        var h = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        h.registerWorker(workerA, slots: 1)
        h.registerWorker(workerB, slots: 1, inputWidth: 3)
        h.score(from: client, id: 1)
        h.score(from: client, id: 2)  // queued: the width-2 worker's one slot is taken
        h.feed(.workerUnreachable(identity: workerA))
        h.advance(ms: 600)
        h.feed(.tick)
        let refused = h.replies(to: client, id: 2)
        #expect(refused.map(\.header.status) == [.conflict])
        #expect(
            refused.first?.errorText?.hasSuffix(
                "(served widths: 3); it was accepted while a worker of that width was live or one was expected (a "
                    + "rollout to that width), and none is now") == true,
            "\(refused.first?.errorText ?? "")")
    }

    @Test("with roles enforced, a peer that may not score is not shed but refused as unauthorized")
    func shedRespectsRoles() {
        var h = CoreHarness {
            $0.queueCapacity = 0
            $0.enforceRoles = true
        }
        let header = Header(command: .score, requestId: 1).encoded()
        #expect(h.core.requestToShed(headerFrame: header, userId: "client", now: h.now)?.requestId == 1)
        #expect(h.core.requestToShed(headerFrame: header, userId: "worker", now: h.now) == nil)
        #expect(h.core.requestToShed(headerFrame: header, userId: nil, now: h.now) == nil)
        let rows = Tensor(rows: 1, cols: 2, values: [1, 2]).encoded()
        h.feed(.client(identity: client, frames: [header, rows], userId: "worker"))
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.unauthorized])
    }

    @Test("a duplicate outstanding request id is refused, not double-served")
    func duplicate() {
        var h = CoreHarness()
        h.registerWorker(workerA)
        h.score(from: client, id: 1)
        h.score(from: client, id: 1)
        #expect(h.dispatches.count == 1)
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.conflict])
    }

    @Test("an exact version pin is routed only to a worker serving that version")
    func versionPin() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, version: 1)
        h.registerWorker(workerB, version: 2)
        for id in 1...3 { h.score(from: client, id: UInt64(id), version: 2, exact: true) }
        #expect(h.dispatches.allSatisfy { $0.identity == workerB })
        h.score(from: client, id: 9, version: 3)
        h.advance(ms: 1100)
        h.feed(.tick)
        #expect(h.replies(to: client, id: 9).map(\.header.status) == [.conflict])
    }
}

@Suite("Broker core: faults")
struct BrokerFaultTests {
    let client: [UInt8] = [0xC1]
    let workerA: [UInt8] = [0xA]
    let workerB: [UInt8] = [0xB]

    @Test("a silent worker is dropped after 3 heartbeats and its request re-dispatched once")
    func redispatch() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 1)
        h.score(from: client, id: 1)
        let first = try #require(h.dispatches.first)
        #expect(first.identity == workerA)
        h.registerWorker(workerB, slots: 1)
        // B keeps talking; A goes silent.
        for _ in 0..<4 {
            h.advance(ms: 1000)
            h.feed(
                .worker(
                    identity: workerB, frames: [Header(command: .heartbeat, modelVersion: 1).encoded()],
                    peerAddress: nil))
            h.feed(.tick)
        }
        #expect(h.core.liveWorkerCount == 1)
        let second = try #require(h.dispatches.last)
        #expect(second.identity == workerB && second.message.header.attempt == 2)
        #expect(h.core.counters[.redispatched] == 1)
        // The dead worker's late reply is dropped; the live one's is delivered; one reply in all.
        h.answer(first)
        h.answer(second)
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.ok])
        #expect(h.core.counters[.droppedLateReplies] == 1)
    }

    @Test("a request whose attempts are spent gets WORKER_LOST, exactly once")
    func workerLost() {
        var h = CoreHarness { $0.maxAttempts = 1 }
        h.registerWorker(workerA)
        h.score(from: client, id: 1)
        h.feed(.worker(identity: workerA, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        #expect(h.replies(to: client, id: 1).map(\.header.status) == [.workerLost])
        h.advance(ms: 5000)
        h.feed(.tick)
        #expect(h.replies(to: client, id: 1).count == 1)
    }

    @Test("an unroutable worker is treated as dead at once")
    func unreachable() {
        var h = CoreHarness()
        h.registerWorker(workerA)
        h.registerWorker(workerB)
        h.feed(.workerUnreachable(identity: workerA))
        #expect(h.core.liveWorkerCount == 1)
    }

    @Test("a message from an unknown worker is answered with DISCONNECT so it registers again")
    func unknownWorker() {
        var h = CoreHarness()
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat).encoded()], peerAddress: nil))
        #expect(h.sentToWorkers.map(\.message.header.command) == [.disconnect])
    }

    @Test("malformed client input gets a typed error reply naming the request when it can")
    func malformed() {
        var h = CoreHarness()
        var broken = Header(command: .score, requestId: 5).encoded()
        broken[3] = 9
        h.feed(.client(identity: client, frames: [broken], userId: nil))
        #expect(h.replies(to: client, id: 5).map(\.header.status) == [.unsupportedVersion])
        // A tensor whose shape does not match its length (the broker checks the shape; the values are the worker's).
        let short = WireMessage(
            header: Header(command: .score, requestId: 6),
            payload: [Array(Tensor(rows: 1, cols: 2, values: [1, 1]).encoded().dropLast())])
        h.feed(.client(identity: client, frames: short.frames(), userId: nil))
        #expect(h.replies(to: client, id: 6).map(\.header.status) == [.badRequest])
        #expect(h.replies(to: client, id: 6).first?.errorText == WireError.tensorSizeMismatch(rows: 1, cols: 2, bytes: 15).description)
        h.feed(.client(identity: client, frames: [[1, 2, 3]], userId: nil))
        #expect(h.replies(to: client, id: 0).map(\.header.status) == [.badRequest])
        h.feed(.client(identity: client, frames: [Header(command: .ready, requestId: 7).encoded()], userId: nil))
        #expect(h.replies(to: client, id: 7).map(\.header.status) == [.badRequest])
        #expect(h.core.counters[.malformedClientMessages] == 2)
    }

    @Test("cancelling a queued request answers it CANCELLED and acknowledges the CANCEL")
    func cancel() {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 1)
        h.score(from: client, id: 1)
        h.score(from: client, id: 2)
        let cancel = WireMessage(header: Header(command: .cancel, requestId: 3), payload: [CancelPayload.encode(2)])
        h.feed(.client(identity: client, frames: cancel.frames(), userId: nil))
        #expect(h.replies(to: client, id: 2).map(\.header.status) == [.cancelled])
        #expect(h.replies(to: client, id: 3).map(\.header.status) == [.ok])
        h.answer(h.dispatches[0])
        #expect(h.dispatches.count == 1)
    }

    @Test("status lists live workers with their load and version")
    func status() {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 3, version: 4)
        h.score(from: client, id: 1)
        h.advance(ms: 250)
        let document = h.core.statusDocument(now: h.now)
        #expect(document.workers.count == 1)
        let worker = document.workers[0]
        #expect(worker.slots == 3 && worker.inflight == 1 && worker.modelVersion == 4 && worker.inputWidth == 2)
        #expect(worker.heartbeatAgeMs == 250 && worker.address == "127.0.0.1")
    }
}

@Suite("Broker core: rollout")
struct BrokerRolloutTests {
    let client: [UInt8] = [0xC1]
    let workerA: [UInt8] = [0xA]
    let workerB: [UInt8] = [0xB]

    @Test("a promoted version is sent to stale replicas, and once one serves it, requests go only there")
    func rollout() {
        var h = CoreHarness()
        h.registerWorker(workerA, version: 1)
        h.registerWorker(workerB, version: 1)
        let weights = [Header(command: .weights, modelVersion: 2).encoded(), WireJSON.encode(WeightsNotice(version: 2, sha256: "x")), [1]]
        h.feed(.rollout(version: 2, frames: weights))
        #expect(h.sentToWorkers.filter { $0.message.header.command == .weights }.count == 2)
        // A swaps and says so in its heartbeat; B has not yet.
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, modelVersion: 2).encoded()], peerAddress: nil))
        for id in 1...4 { h.score(from: client, id: UInt64(id)) }
        #expect(h.dispatches.allSatisfy { $0.identity == workerA })
        // A stale replica is reminded on a later heartbeat, paced.
        h.advance(ms: 2500)
        h.feed(.worker(identity: workerB, frames: [Header(command: .heartbeat, modelVersion: 1).encoded()], peerAddress: nil))
        #expect(h.sentToWorkers.filter { $0.identity == workerB && $0.message.header.command == .weights }.count == 2)
    }

    /// A SCORE of a width no live worker took waited for the no-worker timeout (then CONFLICT) whenever a worker was
    /// still moving to the promoted version, though that version's width did not fit it either.
    @Test("while workers move to a promoted version, a SCORE of a width neither they nor it take is refused at once")
    func wrongWidthDuringRollout() {
        func send(_ h: inout CoreHarness, columns: Int, id: UInt64) {
            let tensor = Tensor(rows: 1, cols: columns, values: [Float](repeating: 0.5, count: columns))
            let message = WireMessage(header: Header(command: .score, requestId: id), payload: [tensor.encoded()])
            h.feed(.client(identity: client, frames: message.frames(), userId: nil))
        }
        let v2 = [Header(command: .weights, modelVersion: 2).encoded(), WireJSON.encode(WeightsNotice(version: 2, sha256: "s2")), [2]]
        var h = CoreHarness()
        h.registerWorker(workerA, version: 1)  // rows of 2 features
        h.feed(.rollout(version: 2, frames: v2, inputWidth: 5))
        send(&h, columns: 7, id: 1)
        let refused = h.replies(to: client, id: 1)
        #expect(refused.count == 1 && refused.first?.header.status == .badRequest)
        #expect(
            refused.first?.errorText == "rows have 7 features; no live worker takes them (served widths: 2), and the "
                + "promoted model version 2, which the workers are moving to, expects 5")
        // The promoted width waits for the workers moving to it; the width still served goes to them meanwhile.
        send(&h, columns: 5, id: 2)
        #expect(h.replies(to: client, id: 2).isEmpty && h.dispatches.isEmpty)
        send(&h, columns: 2, id: 3)
        #expect(h.dispatches.count == 1 && h.dispatches.first?.identity == workerA)
        // A promoted version whose width is unknown (its checkpoint could not be read) still holds the request.
        var unknown = CoreHarness()
        unknown.registerWorker(workerA, version: 1)
        unknown.feed(.rollout(version: 2, frames: []))
        send(&unknown, columns: 7, id: 1)
        #expect(unknown.replies(to: client, id: 1).isEmpty)
        // A helper's case: workers on the seeded model (version 0) wait for a promoted version no worker could build.
        // Answered after the timeout, the request was told the width the seeded model takes ("no live worker serves
        // rows of 133 features (served widths: 106)"), pointing at the rows.
        var seeded = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        seeded.registerWorker(workerA, version: 0)
        seeded.feed(.rollout(version: 2, frames: []))
        send(&seeded, columns: 7, id: 1)
        seeded.advance(ms: 600)
        seeded.feed(.tick)
        let answered = seeded.replies(to: client, id: 1)
        #expect(answered.map(\.header.status) == [.conflict])
        #expect(answered.first?.errorText == BrokerCore.promotedNotHeld(2), "\(answered.first?.errorText ?? "")")
        // A reviewer's case: a worker on a registered version takes work during a rollout, so a request of a width no
        // worker takes is told the widths, never that the workers wait for the promoted version.
        var mixed = CoreHarness { $0.noWorkerTimeoutMs = 500 }
        mixed.registerWorker(workerA, version: 1)
        mixed.feed(.rollout(version: 2, frames: []))
        mixed.score(from: client, id: 1, version: 1, exact: true, cols: 7)
        mixed.advance(ms: 600)
        mixed.feed(.tick)
        let told = mixed.replies(to: client, id: 1).first?.errorText ?? ""
        #expect(told.contains("no live worker serves rows of 7 features (served widths: 2)") && !told.contains("promoted"), "\(told)")
    }

    @Test("a rollback to the version replicas report is still sent to them: one may be building the version rolled back from")
    func rollbackReachesCurrentReplicas() {
        var h = CoreHarness()
        h.registerWorker(workerA, version: 1)
        let v1 = [Header(command: .weights, modelVersion: 1).encoded(), WireJSON.encode(WeightsNotice(version: 1, sha256: "s1")), [1]]
        let v2 = [Header(command: .weights, modelVersion: 2).encoded(), WireJSON.encode(WeightsNotice(version: 2, sha256: "s2")), [2]]
        h.feed(.rollout(version: 2, frames: v2))
        // A still reports 1 (its build of 2 runs in the background) when version 1 is promoted again.
        h.feed(.rollout(version: 1, frames: v1))
        let sent = h.sentToWorkers.filter { $0.identity == workerA && $0.message.header.command == .weights }
        #expect(sent.map(\.message.header.modelVersion) == [2, 1])
    }
}
