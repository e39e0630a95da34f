import RecWire
import Testing

@testable import Worker

/// The graceful drain and the micro-batch decisions of the worker core, without sockets.
@Suite("Worker core: drain and micro-batches")
struct WorkerCoreDrainTests {
    @Test("stopping while registered sends a DRAIN heartbeat, answers what arrives before the ack, then DISCONNECTs")
    func drain() {
        var harness = WorkerHarness.registered()
        harness.feed(.stopRequested)
        var sent = harness.takeSent()
        #expect(sent.count == 1 && sent[0].message.header.command == .heartbeat)
        #expect(sent[0].message.header.flags.contains(.drain) && sent[0].mode == .ifRoomBestEffort)
        #expect(harness.exits.isEmpty)
        let (header, payload) = WorkerHarness.score(id: 7)
        harness.receive(header, payload)
        harness.receive(Header(command: .heartbeat, flags: .drain))
        #expect(harness.stopWorker == 1)
        harness.feed(.tick)
        sent = harness.takeSent()
        #expect(sent.map(\.message.header.command) == [.score, .disconnect])
        #expect(sent[0].message.header.requestId == 7 && sent[0].message.header.status == .ok)
        #expect(harness.exits == [.stopped])
    }

    @Test("stopping before the broker answered READY leaves at once")
    func stopUnregistered() {
        var harness = WorkerHarness()
        harness.feed(.connected)
        _ = harness.takeSent()
        harness.feed(.stopRequested)
        #expect(harness.takeSent().map(\.message.header.command) == [.disconnect])
        #expect(harness.exits == [.stopped])
    }

    @Test("a drain the broker never acknowledges ends after the liveness window")
    func drainTimeout() {
        var harness = WorkerHarness.registered {
            $0.heartbeatIntervalMs = 100
            $0.liveness = 3
        }
        harness.feed(.stopRequested)
        harness.advance(ms: 200)
        harness.receive(Header(command: .heartbeat))
        harness.feed(.tick)
        #expect(harness.exits.isEmpty)
        #expect(harness.core.nextWakeDelayMs(now: harness.now) <= 101)
        harness.advance(ms: 101)
        harness.feed(.tick)
        #expect(harness.exits == [.stopped])
        #expect(harness.sent.last?.message.header.command == .disconnect)
    }

    @Test("a drain whose broker has gone silent leaves unacknowledged, saying drained=false, and does not reconnect")
    func drainWithTheBrokerGone() {
        var harness = WorkerHarness.registered {
            $0.heartbeatIntervalMs = 100
            $0.liveness = 3
        }
        // The broker was last heard a while before the stop: its silence window ends before the drain's own.
        harness.advance(ms: 250)
        harness.feed(.stopRequested)
        harness.advance(ms: 60)
        harness.feed(.tick)
        #expect(harness.exits == [.stopped])
        #expect(harness.sent.last?.message.header.command == .disconnect)
        let left = harness.logs.first { $0.message == "left the broker" }
        #expect(left?.metadata["drained"].map { "\($0)" } == "false", "\(harness.logs.map(\.message))")
        #expect(!harness.logs.contains { $0.message == "broker silent; reconnecting" })
    }

    @Test("a drain ordered by the broker stops the worker, announces the drain and leaves")
    func orderedDrain() {
        var harness = WorkerHarness.registered()
        harness.receive(Header(command: .heartbeat, flags: .drain))
        #expect(harness.stopWorker == 1 && harness.core.isStopping)
        #expect(harness.logs.contains { $0.message == "the broker asked us to drain" })
        harness.feed(.tick)
        let sent = harness.takeSent()
        #expect(sent.map(\.message.header.command) == [.heartbeat, .disconnect])
        #expect(sent[0].message.header.flags.contains(.drain))
        #expect(harness.exits == [.stopped])
    }

    @Test("without a batch wait, every request read before the tick is scored in one forward pass")
    func batchWithoutWait() {
        var harness = WorkerHarness.registered()
        for id in 1...3 {
            let (header, payload) = WorkerHarness.score(id: UInt64(id), rows: id)
            harness.receive(header, payload)
        }
        #expect(harness.sent.isEmpty && harness.core.pendingRows == 6)
        harness.feed(.tick)
        let sent = harness.takeSent()
        #expect(sent.map(\.message.header.requestId) == [1, 2, 3])
        #expect(sent.allSatisfy { $0.mode == .required && $0.message.header.status == .ok })
        #expect(harness.batches == [6])
        #expect(harness.core.pending.isEmpty)
    }

    @Test("with a batch wait, requests wait until the wait ends or the batch is full")
    func batchWait() {
        var harness = WorkerHarness.registered {
            $0.batchWaitMicros = 5000
            $0.batchMaxRows = 4
        }
        var (header, payload) = WorkerHarness.score(id: 1)
        harness.receive(header, payload)
        harness.feed(.tick)
        #expect(harness.sent.isEmpty)
        #expect(harness.core.nextWakeDelayMs(now: harness.now) == 5)
        harness.advance(ms: 3)
        (header, payload) = WorkerHarness.score(id: 2)
        harness.receive(header, payload)
        harness.feed(.tick)
        #expect(harness.sent.isEmpty && harness.core.nextWakeDelayMs(now: harness.now) == 2)
        harness.advance(ms: 2)
        harness.feed(.tick)
        #expect(harness.takeSent().map(\.message.header.requestId) == [1, 2])
        #expect(harness.batches == [2])
        // A full batch is scored at once, and the shell reads nothing more until it is.
        (header, payload) = WorkerHarness.score(id: 3, rows: 4)
        harness.receive(header, payload)
        #expect(!harness.core.acceptsMessages)
        harness.feed(.tick)
        #expect(harness.takeSent().map(\.message.header.requestId) == [3])
        #expect(harness.core.acceptsMessages && harness.batches == [2, 4])
    }

    @Test("a request that does not decode counts one row, is answered BAD_REQUEST and is not scored")
    func badRequestInBatch() {
        var harness = WorkerHarness.registered()
        harness.receive(Header(command: .score, requestId: 9, attempt: 2), [[1, 2, 3]])
        #expect(harness.core.pendingRows == 1)
        harness.feed(.tick)
        let sent = harness.takeSent()
        #expect(sent.count == 1 && sent[0].message.header.status == .badRequest && sent[0].message.header.attempt == 2)
        #expect(harness.batches.isEmpty && harness.errorReplies == 1)
    }
}

/// RECOMMENDs are answered on their own thread (a 16 MiB document takes seconds to decode): the drain waits for the
/// ones it holds, and an answer for an earlier registration is never sent to the broker of a later one.
@Suite("Worker core: RECOMMENDs answered off the session thread")
struct WorkerCoreRecommendTests {
    @Test("an acknowledged drain waits for the RECOMMENDs the RECOMMEND thread holds, then leaves")
    func drainWaitsForRecommends() {
        var harness = WorkerHarness.registered()
        harness.receive(Header(command: .recommend, requestId: 9), [Array(#"{"top":3}"#.utf8)])
        #expect(harness.recommends.count == 1 && harness.core.recommendsOutstanding == 1)
        harness.feed(.stopRequested)
        harness.receive(Header(command: .heartbeat, flags: .drain))
        harness.feed(.tick)
        #expect(harness.exits.isEmpty, "left with a RECOMMEND unanswered")
        harness.feed(.recommendAnswered)
        harness.feed(.tick)
        #expect(harness.exits == [.stopped])
        #expect(harness.sent.last?.message.header.command == .disconnect)
    }

    @Test("a registration again (DISCONNECT, or a new connection) starts a new registration with nothing outstanding")
    func registrationCountsAnswers() {
        var harness = WorkerHarness.registered()
        let first = harness.core.registration
        harness.receive(Header(command: .recommend, requestId: 9), [Array(#"{"top":3}"#.utf8)])
        harness.receive(Header(command: .disconnect))
        #expect(harness.core.registration == first + 1)
        #expect(harness.core.recommendsOutstanding == 0)
        harness.feed(.connected)
        #expect(harness.core.registration == first + 2)
    }
}
