import RecModel
import RecWire
import Testing

@testable import Worker

@Suite("No NaN leaves the worker")
struct ScoringBatchNonFiniteTests {
    static func request(_ id: UInt64, _ rows: [[Float]], attempt: UInt16 = 0) -> ReceivedRequest {
        let tensor = Tensor(rows: rows.count, cols: rows[0].count, values: rows.flatMap { $0 })
        return ReceivedRequest(
            message: WireMessage(
                header: Header(command: .score, requestId: id, attempt: attempt), payload: [tensor.encoded()]),
            receivedAtMicros: 0)
    }

    @Test("a finite row that overflows inside the MLP is BAD_REQUEST naming the row; other requests are scored")
    func overflowingRow() throws {
        let replica = ModelReplica.seeded(inputWidth: 4, seed: 42)
        #expect(replica.score([3e38, 3e38, 0, 0], rows: 1).allSatisfy { !$0.isFinite })
        let outcome = ScoringBatch.answer(
            [
                Self.request(1, [[0.1, 0.2, 0.3, 0.4], [3e38, 3e38, 0, 0]], attempt: 2),
                Self.request(2, [[0.9, 0.1, 0.2, 0.3]]),
            ], replica: replica, nowEpochMillis: 0)
        let replies = outcome.replies
        // Three rows computed in the forward pass; one scored: the BAD_REQUEST's two rows are not (a worker's
        // recpool_worker_rows_total counted them as scored).
        #expect(outcome.rowsComputed == 3 && outcome.rowsScored == 1)
        #expect(replies.count == 2)
        #expect(replies[0].header.status == .badRequest)
        #expect(replies[0].header.requestId == 1 && replies[0].header.attempt == 2)
        let message = String(decoding: try replies[0].frame(0), as: UTF8.self)
        #expect(message.hasPrefix("row 1 (0-based): "), "\(message)")
        #expect(message.contains("not") || message.contains("overflow"))
        #expect(replies[1].header.status == .ok)
        let scores = try Tensor(decoding: try replies[1].frame(0), maxRows: 10, maxCols: 10)
        #expect(scores.values.count == 1 && scores.values.allSatisfy(\.isFinite))
    }

    /// The pass's time was taken from the first OK reply: a batch whose only request overflowed counted a forward pass
    /// in `recpool_worker_batches_total` and none in `recpool_worker_compute_seconds_count`.
    @Test("a forward pass whose only request is answered BAD_REQUEST still reports its compute time")
    func computeTimeWithoutAnOKReply() {
        let replica = ModelReplica.seeded(inputWidth: 4, seed: 42)
        let outcome = ScoringBatch.answer([Self.request(1, [[3e38, 3e38, 0, 0]])], replica: replica, nowEpochMillis: 0)
        #expect(outcome.replies.map(\.header.status) == [.badRequest])
        #expect(outcome.rowsComputed == 1 && outcome.rowsScored == 0 && outcome.computeMicros != nil)
        // A batch with nothing computed (an expired request) has no pass to time.
        var expired = Self.request(2, [[0.1, 0.2, 0.3, 0.4]])
        expired.message.header.deadlineMs = 1
        let none = ScoringBatch.answer([expired], replica: replica, nowEpochMillis: 10)
        #expect(none.rowsComputed == 0 && none.computeMicros == nil)
    }
}
