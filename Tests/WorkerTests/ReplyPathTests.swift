import RecData
import RecWire
import Testing

@testable import Worker

/// The worker's reply path (issue #13): every reply echoes the request's `attempt`, header fields a
/// request may not set are refused naming the field, and only computed rows count as scored.
@Suite("Worker reply path")
struct ReplyPathTests {
    static let replica = ModelReplica.seeded(inputWidth: 2, seed: 1)

    static func request(_ header: Header, rows: Int = 1, cols: Int = 2) -> ReceivedRequest {
        let tensor = Tensor(rows: rows, cols: cols, values: [Float](repeating: 0.5, count: rows * cols))
        return ReceivedRequest(message: WireMessage(header: header, payload: [tensor.encoded()]), receivedAtMicros: 0)
    }

    @Test("OK, EXPIRED, BAD_REQUEST and CONFLICT replies all echo the attempt; only valid rows are scored")
    func attemptOnEveryReply() {
        let now: UInt64 = 1_700_000_000_000
        var ok = Header(command: .score, requestId: 1, deadlineMs: now + 1000, attempt: 3)
        ok.attempt = 3
        let expired = Header(command: .score, requestId: 2, deadlineMs: now - 1, attempt: 4)
        let width = Header(command: .score, requestId: 3, attempt: 5)
        var pinned = Header(command: .score, requestId: 4, modelVersion: 9, attempt: 6)
        pinned.flags = .exactVersion
        var flags = Header(command: .score, requestId: 5, attempt: 7)
        flags.flags = Header.Flags(rawValue: 0x0100)
        var pinZero = Header(command: .score, requestId: 6, attempt: 8)
        pinZero.flags = .exactVersion
        let requests = [
            Self.request(ok, rows: 3), Self.request(expired, rows: 5), Self.request(width, rows: 7, cols: 3),
            Self.request(pinned, rows: 11), Self.request(flags, rows: 13), Self.request(pinZero, rows: 17),
        ]
        let outcome = ScoringBatch.answer(requests, replica: Self.replica, nowEpochMillis: now)
        #expect(outcome.replies.map(\.header.status) == [.ok, .expired, .badRequest, .conflict, .badRequest, .badRequest])
        #expect(outcome.replies.map(\.header.attempt) == [3, 4, 5, 6, 7, 8])
        #expect(outcome.replies.map(\.header.requestId) == [1, 2, 3, 4, 5, 6])
        #expect(outcome.replies[4].errorText?.contains("flags") == true)
        #expect(outcome.replies[5].errorText?.contains("model_version") == true)
        #expect(outcome.rowsScored == 3)
    }

    @Test("RECOMMEND error replies echo the attempt too")
    func recommendAttempt() {
        let expired = WireMessage(
            header: Header(command: .recommend, requestId: 1, deadlineMs: 5, attempt: 2), payload: [Array("{}".utf8)])
        let reply = RecommendHandler.answer(expired, replica: Self.replica, nowEpochMillis: 10)
        #expect(reply.header.status == .expired && reply.header.attempt == 2)
        var status = Header(command: .recommend, requestId: 2, attempt: 3)
        status.status = .internal
        let refused = RecommendHandler.answer(
            WireMessage(header: status, payload: [Array("{}".utf8)]), replica: Self.replica, nowEpochMillis: 10)
        #expect(refused.header.status == .badRequest && refused.header.attempt == 3)
        #expect(refused.errorText?.contains("status") == true)
    }

    /// A document that is not JSON was answered "model version 0 has no feature specification", which did not name
    /// the broken document (the broker does not read it: docs/PROTOCOL.md, the checks' order, step 6).
    @Test("a RECOMMEND whose document is not JSON is refused naming the document, before the replica's abilities")
    func brokenDocumentFirst() {
        for document in ["{", "\u{FF}", "[1]"] {
            let reply = RecommendHandler.answer(
                WireMessage(header: Header(command: .recommend, requestId: 1), payload: [Array(document.utf8)]),
                replica: Self.replica, nowEpochMillis: 10)
            #expect(reply.header.status == .badRequest)
            #expect(reply.errorText?.contains("feature specification") == false, "\(reply.errorText ?? "")")
        }
    }

    @Test("a RECOMMEND document of more keys than any request holds is refused before it is decoded")
    func recommendKeyLimit() throws {
        // The session thread answers RECOMMEND and must never stall: a million unknown keys took seconds to decode.
        // Both RECOMMEND paths (the replica's recommender and the online policy) decode the query this way.
        var text = "{\"top\":3"
        for i in 0...WireJSON.requestKeyLimit { text += ",\"k\(i)\":1" }
        // A long view history is well within the limit: 10,000 events are 20,000 keys.
        let history = (0..<10_000).map { "{\"item\":\($0 % 40),\"seconds\":1}" }.joined(separator: ",")
        let query = try WireJSON.decodeRequest(
            RecommendQuery.self, from: Array("{\"top\":3,\"events\":[\(history)]}".utf8))
        #expect(query.events.count == 10_000)
        #expect(throws: WireError.badDocument(
            "the document holds more than 65536 object keys, the most a request may hold (a view event counts two)")) {
            try WireJSON.decodeRequest(RecommendQuery.self, from: Array((text + "}").utf8))
        }
    }

    @Test("a deadline of 2^64-1 is in the future, and 1 is in the past")
    func deadlineExtremes() {
        let now: UInt64 = 1_700_000_000_000
        let requests = [UInt64.max, .max - 1, 1, 0].enumerated().map { index, deadline in
            Self.request(Header(command: .score, requestId: UInt64(index), deadlineMs: deadline, attempt: .max))
        }
        let outcome = ScoringBatch.answer(requests, replica: Self.replica, nowEpochMillis: now)
        #expect(outcome.replies.map(\.header.status) == [.ok, .ok, .expired, .ok])
        #expect(outcome.replies.allSatisfy { $0.header.attempt == .max })
    }
}
