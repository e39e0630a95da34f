import RecTransport
import RecWire
import Testing

@testable import Worker

/// ``ScoringBatch`` on its own: one forward pass for every valid row, one reply per request, each
/// tensor decoded once on arrival (issue #15).
@Suite("Scoring batch")
struct ScoringBatchTests {
    static let replica = ModelReplica.seeded(inputWidth: 3, seed: 5)

    static func request(_ id: UInt64, _ tensor: Tensor, receivedAt: UInt64 = 0) -> ReceivedRequest {
        ReceivedRequest(
            message: WireMessage(header: Header(command: .score, requestId: id), payload: [tensor.encoded()]),
            receivedAtMicros: receivedAt)
    }

    @Test("a request's tensor is validated on arrival, in place: its shape, or the typed error that names the problem")
    func decodedOnArrival() {
        let tensor = Tensor(rows: 2, cols: 3, values: [1, 2, 3, 4, 5, 6])
        let good = Self.request(1, tensor)
        #expect((try? good.shape.get()) == TensorShape(rows: 2, cols: 3) && good.rows == 2)
        #expect(good.withValues { Array($0) } == tensor.values)
        var nan = tensor.encoded()
        nan.replaceSubrange(12..<16, with: Float.nan.bitPattern.littleEndianBytes)
        let bad = ReceivedRequest(
            message: WireMessage(header: Header(command: .score, requestId: 2), payload: [nan]), receivedAtMicros: 0)
        #expect(bad.rows == 1)
        #expect(throws: WireError.nonFiniteValue(row: 0, column: 1)) { try bad.shape.get() }
        let missing = ReceivedRequest(
            message: WireMessage(header: Header(command: .score, requestId: 3), payload: []), receivedAtMicros: 0)
        #expect(throws: WireError.missingFrames(expected: 2, got: 1)) { try missing.shape.get() }
        var limits = WireLimits.standard
        limits.maxRows = 1
        let tooMany = ReceivedRequest(
            message: WireMessage(header: Header(command: .score, requestId: 4), payload: [tensor.encoded()]),
            receivedAtMicros: 0, limits: limits)
        #expect(throws: WireError.tooManyRows(rows: 2, limit: 1)) { try tooMany.shape.get() }
    }

    @Test("scores from one batched pass equal each request scored alone, in request order")
    func batchedEqualsAlone() throws {
        let a = Tensor(rows: 2, cols: 3, values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        let b = Tensor(rows: 1, cols: 3, values: [0.7, 0.8, 0.9])
        let outcome = ScoringBatch.answer(
            [Self.request(1, a), Self.request(2, b)], replica: Self.replica, nowEpochMillis: 0)
        #expect(outcome.rowsScored == 3)
        #expect(outcome.replies.map(\.header.requestId) == [1, 2])
        for (reply, tensor) in zip(outcome.replies, [a, b]) {
            let scores = try Tensor(decoding: reply.payload[0])
            #expect(scores.rows == tensor.rows && scores.cols == 1)
            let alone = Self.replica.score(tensor.values, rows: tensor.rows)
            for (x, y) in zip(scores.values, alone) { #expect(abs(x - y) <= 1e-6) }
        }
    }

    @Test("a reused scoring workspace gives byte-identical replies to a fresh one, and grows only for a larger batch")
    func workspaceReuse() {
        var rng = 0
        func tensor(_ rows: Int) -> Tensor {
            rng += 1
            return Tensor(rows: rows, cols: 3, values: (0..<(rows * 3)).map { Float(($0 + rng) % 7) / 7 - 0.5 })
        }
        let batches: [[ReceivedRequest]] = [
            [Self.request(1, tensor(40))],
            [Self.request(2, tensor(1)), Self.request(3, tensor(5))],
            [Self.request(4, tensor(40))],
            [Self.request(5, tensor(2)), Self.request(6, tensor(3)), Self.request(7, tensor(4))],
        ]
        var workspace = ScoringWorkspace()
        for batch in batches {
            let reused = ScoringBatch.answer(batch, replica: Self.replica, nowEpochMillis: 0, workspace: &workspace)
            let fresh = ScoringBatch.answer(batch, replica: Self.replica, nowEpochMillis: 0)
            #expect(reused.replies.map(\.payload) == fresh.replies.map(\.payload))
            #expect(reused.replies.allSatisfy { $0.header.status == .ok })
        }
        #expect(workspace.forward.allocations == 1 && workspace.forward.capacityRows == 40)
    }

    @Test("reply buffers are reused across batches, and a reply still held keeps its bytes when its buffer is reused")
    func replyBuffersReused() throws {
        // Many requests with distinct values, batch after batch on one workspace: every reply holds
        // its own request's scores, including the replies kept from earlier batches.
        var workspace = ScoringWorkspace()
        var kept: [(reply: WireMessage, expected: [Float])] = []
        var id: UInt64 = 0
        for round in 0..<6 {
            var batch: [ReceivedRequest] = []
            var inputs: [Tensor] = []
            for r in 0..<(round % 2 == 0 ? 16 : 5) {
                id += 1
                let rows = 1 + (r + round) % 4
                let values = (0..<(rows * 3)).map { Float(Int(id) * 31 + $0 * 7 % 13) / 97 - 0.5 }
                let tensor = Tensor(rows: rows, cols: 3, values: values)
                inputs.append(tensor)
                batch.append(Self.request(id, tensor))
            }
            let outcome = ScoringBatch.answer(batch, replica: Self.replica, nowEpochMillis: 0, workspace: &workspace)
            #expect(outcome.replies.map(\.header.requestId) == batch.map(\.message.header.requestId))
            for (reply, tensor) in zip(outcome.replies, inputs) {
                kept.append((reply, Self.replica.score(tensor.values, rows: tensor.rows)))
            }
        }
        for (reply, expected) in kept {
            let scores = try Tensor(decoding: reply.payload[0])
            #expect(scores.rows == expected.count && scores.cols == 1)
            for (x, y) in zip(scores.values, expected) { #expect(abs(x - y) <= 1e-6, "request \(reply.header.requestId)") }
        }
        // Kept replies shared their buffers, so reuse had to copy: one allocation per reply made.
        #expect(workspace.replies.allocations == kept.count)

        // Replies dropped after each batch (what the session does once it has sent them): the
        // buffers are written in place, and only a larger reply grows one.
        var steady = ScoringWorkspace()
        let batch = (0..<8).map { Self.request(UInt64($0), Tensor(rows: 2, cols: 3, values: [Float](repeating: Float($0) / 10, count: 6))) }
        for _ in 0..<5 {
            let outcome = ScoringBatch.answer(batch, replica: Self.replica, nowEpochMillis: 0, workspace: &steady)
            for (index, reply) in outcome.replies.enumerated() {
                let scores = try Tensor(decoding: reply.payload[0]).values
                let expected = Self.replica.score([Float](repeating: Float(index) / 10, count: 6), rows: 2)
                #expect(scores.count == 2)
                for (x, y) in zip(scores, expected) { #expect(abs(x - y) <= 1e-6, "request \(index)") }
            }
        }
        #expect(steady.replies.allocations == 8)
    }

    @Test("a tensor held inside libzmq (the session's path) is validated and scored in place, like the same bytes")
    func heldFrameScored() throws {
        let context = ZMQContext()
        let receiver = try ZMQSocket(context, type: .dealer)
        defer { receiver.close() }
        let sender = try ZMQSocket(context, type: .dealer)
        defer { sender.close() }
        try receiver.bind("inproc://held-tensor")
        try sender.connect("inproc://held-tensor")
        let good = Tensor(rows: 40, cols: 3, values: (0..<120).map { Float($0) / 100 })
        var nan = Tensor(rows: 2, cols: 3, values: [1, 2, 3, 4, 5, 6]).encoded()
        nan.replaceSubrange(24..<28, with: Float.infinity.bitPattern.littleEndianBytes)
        var requests: [ReceivedRequest] = []
        for (id, frame) in [(UInt64(1), good.encoded()), (2, nan)] {
            try sender.send([Header(command: .score, requestId: id).encoded(), frame])
            let message = try #require(try receiver.receive(peekFrames: 1) { _ in .hold })
            #expect(message.frames.count == 1 && message.held.count == 1)
            requests.append(
                ReceivedRequest(
                    message: try WireMessage(decoding: message.frames), held: message.held, receivedAtMicros: 0))
        }
        #expect((try? requests[0].shape.get()) == TensorShape(rows: 40, cols: 3))
        #expect(throws: WireError.nonFiniteValue(row: 1, column: 1)) { try requests[1].shape.get() }
        let held = ScoringBatch.answer(requests, replica: Self.replica, nowEpochMillis: 0)
        let bytes = ScoringBatch.answer([Self.request(1, good)], replica: Self.replica, nowEpochMillis: 0)
        #expect(held.replies.map(\.header.status) == [.ok, .badRequest])
        #expect(held.replies[0].payload == bytes.replies[0].payload)
    }

    @Test("every OK reply names the replica's version and shares the batch's compute time")
    func replyFields() {
        var replica = Self.replica
        replica.version = 12
        let tensor = Tensor(rows: 1, cols: 3, values: [1, 1, 1])
        let outcome = ScoringBatch.answer(
            [Self.request(1, tensor, receivedAt: 5), Self.request(2, tensor, receivedAt: 6)], replica: replica,
            nowEpochMillis: 0)
        #expect(
            outcome.replies.allSatisfy { $0.header.status == .ok && $0.header.modelVersion == 12 && $0.header.isReply })
        #expect(outcome.replies[0].header.computeMicros == outcome.replies[1].header.computeMicros)
    }

    @Test("a width the model does not take is BAD_REQUEST naming both widths; the other requests are scored")
    func widthMismatch() {
        let outcome = ScoringBatch.answer(
            [
                Self.request(1, Tensor(rows: 1, cols: 2, values: [1, 2])),
                Self.request(2, Tensor(rows: 4, cols: 3, values: [Float](repeating: 0, count: 12))),
            ], replica: Self.replica, nowEpochMillis: 0)
        #expect(outcome.replies.map(\.header.status) == [.badRequest, .ok])
        #expect(outcome.replies[0].errorText == "rows have 2 features; model version 0 expects 3")
        #expect(outcome.rowsScored == 4)
    }

    @Test("a batch with no valid request scores nothing")
    func nothingValid() {
        let outcome = ScoringBatch.answer(
            [Self.request(1, Tensor(rows: 1, cols: 2, values: [1, 2]))], replica: Self.replica, nowEpochMillis: 0)
        #expect(outcome.rowsScored == 0 && outcome.replies.count == 1)
    }
}

extension UInt32 {
    fileprivate var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
