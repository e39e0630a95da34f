import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

@Suite("Broker core: draining and shutdown")
struct DrainCoreTests {
    let client: [UInt8] = [0xC1]
    let workerA: [UInt8] = [0xA]
    let workerB: [UInt8] = [0xB]

    @Test("a DRAIN heartbeat is acknowledged, the worker keeps what it holds, and gets nothing new")
    func drainingWorker() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4)
        h.score(from: client, id: 1)
        let held = try #require(h.dispatches.first)
        h.sentToWorkers.removeAll()
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, flags: .drain).encoded()], peerAddress: nil))
        let ack = try #require(h.sentToWorkers.last)
        #expect(ack.message.header.command == .heartbeat && ack.message.header.flags.contains(.drain))
        h.score(from: client, id: 2)
        #expect(h.dispatches.isEmpty)
        h.registerWorker(workerB, slots: 4)
        #expect(h.dispatches.map(\.identity) == [workerB])
        h.answer(held)
        #expect(h.replies(to: client, id: 1).first?.header.status == .ok)
        h.feed(.worker(identity: workerA, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        #expect(h.core.counters[.redispatched] == 0)
        #expect(h.core.counters[.workersDraining] == 1)
    }

    /// Drains `identity` (as `recpool drain` does) and lets it expire without a word from it.
    static func drainThenExpire(_ h: inout CoreHarness, _ identity: [UInt8]) {
        var actions: [BrokerAction] = []
        h.core.drain(identity, into: &actions)
        h.advance(ms: 10_000)
        h.feed(.tick)
    }

    /// `recpool drain w1` was acknowledged, the worker's link went down, it expired, reconnected and registered as a
    /// worker like any other: it served 4,647 requests and never exited. Its process is told to drain again.
    @Test("a worker that expired while draining is told to drain again when its process registers again")
    func drainSurvivesExpiry() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4, pid: 1)
        Self.drainThenExpire(&h, workerA)
        #expect(h.core.liveWorkerCount == 0 && h.core.counters[.workersExpired] == 1)
        h.sentToWorkers.removeAll()
        // The same process (host h, pid 1) on a new connection.
        h.registerWorker(workerB, slots: 4, pid: 1)
        let toB = h.sentToWorkers.filter { $0.identity == workerB }.map(\.message.header)
        #expect(toB.contains { $0.command == .heartbeat && $0.flags.contains(.drain) }, "\(toB)")
        h.score(from: client, id: 1)
        #expect(h.dispatches.isEmpty, "a worker drained again takes nothing new")
        #expect(h.core.counters[.workersDraining] == 2)
        // Once: the same process registering a third time (after a clean restart of its session) is not drained.
        h.feed(.worker(identity: workerB, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        h.sentToWorkers.removeAll()
        h.registerWorker(workerA, slots: 4, pid: 1)
        #expect(!h.sentToWorkers.contains { $0.message.header.flags.contains(.drain) })
    }

    /// The drain was acknowledged, the connection reset before the worker read its DRAIN, and the worker registered
    /// again and served on: a draining worker found unreachable is counted as disconnected, and that skipped the memory.
    @Test("a draining worker whose connection reset is told to drain again when it registers again; one that said goodbye is not")
    func drainSurvivesAReset() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4, pid: 1)
        var actions: [BrokerAction] = []
        h.core.drain(workerA, into: &actions)
        h.feed(.workerUnreachable(identity: workerA))
        h.sentToWorkers.removeAll()
        h.registerWorker(workerB, slots: 4, pid: 1)
        #expect(h.sentToWorkers.contains { $0.identity == workerB && $0.message.header.flags.contains(.drain) })
        // This time it finishes: DISCONNECT. The same process registering later is not drained.
        h.feed(.worker(identity: workerB, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        h.sentToWorkers.removeAll()
        h.registerWorker(workerA, slots: 4, pid: 1)
        #expect(!h.sentToWorkers.contains { $0.message.header.flags.contains(.drain) })
    }

    /// In a container the worker is pid 1 on a stable host name: a restarted container was drained at once.
    @Test("a new process with the same host and pid (another instance) is not drained; the same instance is")
    func drainIsPerInstance() throws {
        func ready(_ h: inout CoreHarness, _ identity: [UInt8], instance: UInt64) {
            let hello = WorkerHello(
                workerId: "w", services: ["SCORE"], slots: 4, inputWidth: 2, modelVersion: 1, host: "box", pid: 1,
                instance: instance)
            h.feed(
                .worker(
                    identity: identity,
                    frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                    peerAddress: "127.0.0.1"))
        }
        var h = CoreHarness()
        ready(&h, workerA, instance: 7)
        Self.drainThenExpire(&h, workerA)
        h.sentToWorkers.removeAll()
        ready(&h, workerB, instance: 8)
        #expect(!h.sentToWorkers.contains { $0.message.header.flags.contains(.drain) }, "a restarted container")
        h.sentToWorkers.removeAll()
        ready(&h, [0xC], instance: 7)
        #expect(h.sentToWorkers.contains { $0.identity == [0xC] && $0.message.header.flags.contains(.drain) })
    }

    @Test("another process with the drained worker's id is not drained")
    func drainIsPerProcess() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4)
        Self.drainThenExpire(&h, workerA)
        h.sentToWorkers.removeAll()
        let hello = WorkerHello(workerId: "w10", services: ["SCORE"], slots: 4, inputWidth: 2, modelVersion: 1, host: "h", pid: 2)
        h.feed(
            .worker(
                identity: workerB,
                frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: "127.0.0.1"))
        #expect(!h.sentToWorkers.contains { $0.message.header.flags.contains(.drain) })
        h.score(from: client, id: 1)
        #expect(h.dispatches.map(\.identity) == [workerB])
    }

    /// A draining worker that still held requests kept every new request waiting (the hold is for the worker benched
    /// behind it), also when no other worker offered the service: a draining worker that kept heartbeating without
    /// answering held them until it expired, 12.8 s instead of the 1 s no-worker timeout.
    @Test("with only a draining worker that still holds requests, a new request is NO_WORKER after the timeout, naming it")
    func onlyADrainingWorker() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4)
        h.score(from: client, id: 1)
        #expect(h.dispatches.count == 1)
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, flags: .drain).encoded()], peerAddress: nil))
        h.score(from: client, id: 2)
        h.advance(ms: 1_100)
        h.feed(.tick)
        let reply = try #require(h.replies(to: client, id: 2).first)
        #expect(reply.header.status == .noWorker)
        #expect(reply.errorText?.contains("1 draining") == true, "\(reply.errorText ?? "")")
        // The request it holds is still its own to answer.
        #expect(h.replies(to: client, id: 1).isEmpty)
    }

    /// After a clean `recpool drain` STATUS showed `workers_unreachable: 1` and `unknown_worker_messages: 1`: the
    /// broker's heartbeat found the drained worker's connection closed before its DISCONNECT was read, and the
    /// DISCONNECT then came from a worker already gone (and was answered with one).
    @Test("a drained worker found gone before its DISCONNECT is counted as disconnected, and its late goodbye as nothing")
    func drainedWorkerGoneFirst() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4)
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, flags: .drain).encoded()], peerAddress: nil))
        h.sentToWorkers.removeAll()
        h.feed(.workerUnreachable(identity: workerA))
        h.feed(.worker(identity: workerA, frames: [Header(command: .disconnect).encoded()], peerAddress: nil))
        #expect(h.core.liveWorkerCount == 0)
        #expect(h.core.counters[.workersDisconnected] == 1)
        #expect(h.core.counters[.workersUnreachable] == 0)
        #expect(h.core.counters[.unknownWorkerMessages] == 0)
        #expect(h.sentToWorkers.isEmpty, "a goodbye is not answered")
        // A worker that is not draining and cannot be reached is still counted unreachable.
        h.registerWorker(workerB, slots: 4)
        h.feed(.workerUnreachable(identity: workerB))
        #expect(h.core.counters[.workersUnreachable] == 1)
        // Any other message from an unknown worker is still answered with DISCONNECT, so it registers again.
        h.sentToWorkers.removeAll()
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat).encoded()], peerAddress: nil))
        #expect(h.sentToWorkers.map(\.message.header.command) == [.disconnect])
        #expect(h.core.counters[.unknownWorkerMessages] == 1)
    }

    /// A draining worker that held nothing kept requests queued for it without a limit: it counted as a worker that
    /// could take them, so `no-worker-timeout` never answered them.
    @Test("requests queued behind a draining worker are answered after no-worker-timeout, naming the drain")
    func queuedBehindADrain() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 1)
        h.score(from: client, id: 1)
        let held = try #require(h.dispatches.first)
        h.score(from: client, id: 2)  // queued: the one slot is taken
        h.feed(.worker(identity: workerA, frames: [Header(command: .heartbeat, flags: .drain).encoded()], peerAddress: nil))
        h.answer(held)
        #expect(h.replies(to: client, id: 1).first?.header.status == .ok)
        h.score(from: client, id: 3)  // arrives after the drain
        h.advance(ms: 1_100)
        h.feed(.tick)
        for id: UInt64 in [2, 3] {
            let reply = try #require(h.replies(to: client, id: id).first, "request \(id) got no reply")
            #expect(reply.header.status == .noWorker)
            let text = String(decoding: reply.payload.first ?? [], as: UTF8.self)
            #expect(text.contains("no live worker offers SCORE") && text.contains("1 draining"), "\(text)")
        }
        #expect(h.core.counters[.droppedNoWorker] == 2)
    }

    /// STATUS showed a draining worker's READY credit (4) after its DRAIN heartbeat reported slots 0.
    @Test("a DRAIN heartbeat's load frame restates the worker's credit")
    func drainingCredit() throws {
        var h = CoreHarness()
        h.registerWorker(workerA, slots: 4)
        let load = WorkerLoad(slots: 0, queued: 0).encoded()
        h.feed(
            .worker(
                identity: workerA, frames: [Header(command: .heartbeat, flags: .drain).encoded(), load], peerAddress: nil))
        #expect(h.core.workers[workerA]?.slots == 0 && h.core.workers[workerA]?.draining == true)
    }

    @Test("shutting down refuses new work with BUSY and answers what is left when abandoned")
    func shutdown() {
        var h = CoreHarness()
        h.score(from: client, id: 1)  // queued: no worker yet
        h.core.beginShutdown()
        h.score(from: client, id: 2)
        #expect(h.replies(to: client, id: 2).first?.header.status == .busy)
        var actions: [BrokerAction] = []
        h.core.abandonOutstanding(into: &actions)
        #expect(actions.count == 1)
        #expect(h.core.outstandingRequests == 0)
    }

    @Test("shutting down refuses a CONTROL with BUSY naming the shutdown: nothing reaches the control plane, nothing holds the drain")
    func shutdownRefusesControl() throws {
        var h = CoreHarness()
        h.core.beginShutdown()
        let control = WireMessage(
            header: Header(command: .control, requestId: 7, attempt: 2), payload: [WireJSON.encode(ControlRequest(.jobs))])
        h.feed(.client(identity: client, frames: control.frames(), userId: nil))
        let reply = try #require(h.replies(to: client, id: 7).first)
        #expect(reply.header.status == .busy && reply.header.attempt == 2)
        #expect(reply.errorText?.contains("shutting down; nothing was done") == true)
        #expect(h.toControl.isEmpty)
        #expect(h.core.outstandingRequests == 0)
        #expect(h.core.counters[.refusedShuttingDown] == 1)
    }

    @Test("a full queue answers BUSY before the rows are checked")
    func shedsBeforeValidation() {
        var h = CoreHarness { $0.queueCapacity = 1 }
        h.score(from: client, id: 1)
        let bad = WireMessage(
            header: Header(command: .score, requestId: 2), payload: [Tensor(rows: 1, cols: 2, values: [1, .nan]).encoded()])
        h.feed(.client(identity: client, frames: bad.frames(), userId: nil))
        #expect(h.replies(to: client, id: 2).first?.header.status == .busy)
    }
}
