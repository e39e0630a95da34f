import Testing

@testable import Shared

@Suite("Whole messages")
struct WireMessageTests {
    @Test("frame count and total size are limited for the whole message")
    func limits() {
        let header = Header(command: .score).encoded()
        let limits = WireLimits(maxFrames: 3, maxMessageBytes: 100)
        #expect(throws: WireError.tooManyFrames(count: 4, limit: 3)) {
            try WireMessage(decoding: [header, [], [], []], limits: limits)
        }
        #expect(throws: WireError.messageTooLarge(bytes: 56 + 60, limit: 100)) {
            try WireMessage(decoding: [header, [UInt8](repeating: 0, count: 60)], limits: limits)
        }
        #expect(WireError.tooManyFrames(count: 4, limit: 3).status == .tooLarge)
        #expect(throws: WireError.missingFrames(expected: 1, got: 0)) { try WireMessage(decoding: [[UInt8]]()) }
    }

    @Test("an error reply carries the request id, the status, a retry hint and a message")
    func errorReply() throws {
        let request = Header(command: .score, requestId: 9)
        let reply = WireMessage.errorReply(to: request, status: .busy, message: "queue full", retryAfterMs: 50)
        let decoded = try WireMessage(decoding: reply.frames())
        #expect(decoded.header.isReply && decoded.header.requestId == 9 && decoded.header.status == .busy)
        #expect(decoded.header.retryAfterMs == 50)
        #expect(decoded.errorText == "queue full")
    }

    @Test("random and mutated bytes never crash the decoder")
    func garbage() {
        var generator = SystemRandomNumberGenerator()
        let valid = WireMessage(
            header: Header(command: .score, requestId: 5),
            payload: [Tensor(rows: 2, cols: 3, values: [1, 2, 3, 4, 5, 6]).encoded()]
        ).frames()
        var rejected = 0
        for round in 0..<20_000 {
            var frames = valid
            if round % 2 == 0 {
                let count = Int.random(in: 0...80, using: &generator)
                frames = [(0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }]
            } else {
                let which = Int.random(in: 0..<frames.count, using: &generator)
                if !frames[which].isEmpty {
                    let at = Int.random(in: 0..<frames[which].count, using: &generator)
                    frames[which][at] = UInt8.random(in: 0...255, using: &generator)
                    if round % 3 == 0 { frames[which] = Array(frames[which].prefix(at)) }
                }
            }
            do {
                let message = try WireMessage(decoding: frames)
                if let first = message.payload.first { _ = try Tensor(decoding: first) }
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 10_000)
    }

    @Test("JSON documents use snake_case keys and report what is wrong")
    func documents() throws {
        let hello = WorkerHello(
            workerId: "w", services: ["SCORE"], slots: 4, inputWidth: 106, modelVersion: 3, host: "h", pid: 1)
        let frame = WireJSON.encode(hello)
        #expect(String(decoding: frame, as: UTF8.self).contains("\"input_width\":106"))
        #expect(try WireJSON.decode(WorkerHello.self, from: frame) == hello)
        #expect(throws: WireError.self) { try WireJSON.decode(WorkerHello.self, from: Array("{\"slots\":1}".utf8)) }
    }
}
