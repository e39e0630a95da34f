import RecModel
import RecWire
import Testing

@testable import Worker

/// The micro-batch rule of issue #19: small requests are merged into one forward pass, and a request
/// that is already a batch (`--batch-alone-rows` rows or more) is scored on arrival, alone, so that
/// merging never adds queueing to it.
@Suite("Micro-batching: large requests alone")
struct WorkerCoreMicroBatchTests {
    @Test("a request of batch-alone-rows rows is answered on arrival, even with a batch wait")
    func largeAlone() {
        var harness = WorkerHarness.registered {
            $0.batchWaitMicros = 5000
            $0.batchAloneRows = 8
        }
        let (header, payload) = WorkerHarness.score(id: 1, rows: 8)
        harness.receive(header, payload)
        let sent = harness.takeSent()
        #expect(sent.map(\.message.header.requestId) == [1])
        #expect(sent[0].message.header.status == .ok)
        #expect(harness.batches == [8])
        #expect(harness.core.pending.isEmpty && harness.core.pendingRows == 0)
    }

    /// `--batch-wait-us 10000000` at low traffic: a request with a 5 s deadline waited the whole 10 s and was EXPIRED.
    @Test("a request's deadline shortens the batch wait to half the time it has left")
    func deadlineShortensTheWait() {
        var harness = WorkerHarness.registered { $0.batchWaitMicros = 10_000_000 }
        var (header, payload) = WorkerHarness.score(id: 1)
        header.deadlineMs = harness.now.epochMillis + 4_000
        harness.receive(header, payload)
        harness.feed(.tick)
        #expect(harness.sent.isEmpty && harness.core.batchDeadline == harness.now.monotonicMicros + 2_000_000)
        // A later request with less time left shortens it again; one without a deadline does not lengthen it.
        harness.advance(ms: 500)
        (header, payload) = WorkerHarness.score(id: 2)
        header.deadlineMs = harness.now.epochMillis + 1_000
        harness.receive(header, payload)
        (header, payload) = WorkerHarness.score(id: 3)
        harness.receive(header, payload)
        harness.feed(.tick)
        #expect(harness.core.batchDeadline == harness.now.monotonicMicros + 500_000)
        #expect(!harness.takeSent().contains { $0.message.header.command == .score })
        harness.advance(ms: 500)
        harness.feed(.tick)
        #expect(harness.takeSent().filter { $0.message.header.command == .score }.map(\.message.header.requestId) == [1, 2, 3])
        // Past its deadline on arrival: no wait at all.
        (header, payload) = WorkerHarness.score(id: 4)
        header.deadlineMs = harness.now.epochMillis - 1
        harness.receive(header, payload)
        harness.feed(.tick)
        #expect(harness.takeSent().filter { $0.message.header.command == .score }.map(\.message.header.requestId) == [4])
    }

    @Test("small requests waiting when a large one arrives are answered first, in their own batch")
    func smallFirstThenLarge() {
        var harness = WorkerHarness.registered {
            $0.batchWaitMicros = 5000
            $0.batchAloneRows = 8
        }
        for id in 1...2 {
            let (header, payload) = WorkerHarness.score(id: UInt64(id), rows: 3)
            harness.receive(header, payload)
        }
        #expect(harness.sent.isEmpty)
        let (header, payload) = WorkerHarness.score(id: 3, rows: 20)
        harness.receive(header, payload)
        #expect(harness.takeSent().map(\.message.header.requestId) == [1, 2, 3])
        // Two forward passes: the small ones together, the large one alone, never 26 rows at once.
        #expect(harness.batches == [6, 20])
    }

    @Test(
        "large requests are one forward pass each; requests under the threshold share one",
        arguments: [(rows: 4, passes: [4, 4, 4]), (rows: 3, passes: [9])])
    func mergedOnlyUnderThreshold(rows: Int, passes: [Int]) {
        var harness = WorkerHarness.registered { $0.batchAloneRows = 4 }
        for id in 1...3 {
            let (header, payload) = WorkerHarness.score(id: UInt64(id), rows: rows)
            harness.receive(header, payload)
        }
        harness.feed(.tick)
        #expect(harness.takeSent().map(\.message.header.requestId) == [1, 2, 3])
        #expect(harness.batches == passes)
    }

    @Test("a large request scored alone from its frame gets the scores of the allocating forward pass")
    func largeScoresMatch() throws {
        var harness = WorkerHarness.registered { $0.batchAloneRows = 4 }
        let (header, payload) = WorkerHarness.score(id: 1, rows: 5)
        harness.receive(header, payload)
        let reply = try #require(harness.takeSent().first?.message)
        let scores = try Tensor(decoding: reply.payload[0])
        let input = try Tensor(decoding: payload[0])
        let expected = WorkerHarness.replica.mlp.predict(Matrix(rows: 5, cols: 2, values: input.values))
        #expect(scores.rows == 5 && scores.cols == 1)
        for (a, b) in zip(scores.values, expected) { #expect(abs(a - b) < 1e-6) }
    }

    @Test("an invalid large request is still a typed BAD_REQUEST, and the valid ones beside it are scored")
    func invalidLarge() throws {
        var harness = WorkerHarness.registered { $0.batchAloneRows = 4 }
        var (header, payload) = WorkerHarness.score(id: 1, rows: 6)
        // A NaN in row 2, column 1 of the frame (after the 8-byte shape).
        let offset = 8 + (2 * 2 + 1) * 4
        payload[0].replaceSubrange(offset..<(offset + 4), with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Array($0) })
        harness.receive(header, payload)
        (header, payload) = WorkerHarness.score(id: 2, rows: 6)
        harness.receive(header, payload)
        let sent = harness.takeSent()
        #expect(sent.map(\.message.header.requestId) == [1, 2])
        #expect(sent[0].message.header.status == .badRequest)
        #expect(sent[0].message.errorText == WireError.nonFiniteValue(row: 2, column: 1).description)
        #expect(sent[1].message.header.status == .ok)
    }
}
