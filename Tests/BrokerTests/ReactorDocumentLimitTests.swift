import Foundation
import Testing

@testable import BrokerCore
@testable import RecWire

/// The reactor reads a CONTROL document (to find a drain, and for the role check) and a READY document: one within
/// the 16 MiB message limit but far beyond any real request is refused unread, so no peer can stall the thread that
/// heartbeats every worker. Before, one 14 MB CONTROL of a million unknown keys froze the reactor for 11 s and every
/// worker was expired.
@Suite("Broker core: documents the reactor reads are bounded")
struct ReactorDocumentLimitTests {
    /// `{"op":"jobs","k0":1,…}` with `keys` extra keys.
    static func manyKeys(_ keys: Int, op: String = "jobs") -> [UInt8] {
        var text = "{\"op\":\"\(op)\""
        for i in 0..<keys { text += ",\"k\(i)\":1" }
        return Array((text + "}").utf8)
    }

    @Test("a CONTROL document over the limit is answered BAD_REQUEST at once, naming the limit; nothing reaches the control plane")
    func oversizedControl() throws {
        var h = CoreHarness()
        h.registerWorker([0x7])
        let document = Self.manyKeys(100_000)
        #expect(document.count > ControlRequest.maximumDocumentBytes)
        h.feed(
            .client(
                identity: [1],
                frames: WireMessage(header: Header(command: .control, requestId: 5), payload: [document]).frames(),
                userId: nil))
        let reply = try #require(h.replies(to: [1], id: 5).first)
        #expect(reply.header.status == .badRequest)
        #expect(reply.errorText?.contains("at most \(ControlRequest.maximumDocumentBytes) bytes") == true)
        #expect(h.toControl.isEmpty && h.core.liveWorkerCount == 1)
    }

    /// A fuzzing helper's case: two 15 MiB FEEDBACK documents of white space from one client held other clients'
    /// CONTROL and policy slates for about 7 s while the control plane decoded them.
    @Test("a FEEDBACK document over 64 KiB is answered BAD_REQUEST at once, naming the limit; nothing reaches the control plane")
    func oversizedFeedback() throws {
        var h = CoreHarness()
        h.registerWorker([0x7])
        let document = Array(
            (#"{"impression_id": "i-1", "item": 3, "click": 1"# + String(repeating: " ", count: 64 << 10) + "}").utf8)
        h.feed(
            .client(
                identity: [1],
                frames: WireMessage(header: Header(command: .feedback, requestId: 6), payload: [document]).frames(),
                userId: nil))
        let reply = try #require(h.replies(to: [1], id: 6).first)
        #expect(reply.header.status == .badRequest)
        #expect(reply.errorText?.contains("a FEEDBACK document is at most 65536 bytes") == true, "\(reply.errorText ?? "")")
        #expect(h.toControl.isEmpty)
    }

    /// A fuzzing helper's case: a worker's RECOMMEND reply of 15.8 MiB of white space held the reactor 2–5 s per reply,
    /// and a healthy worker was expired for the broker's silence.
    @Test("a ranking or slate document over 1 MiB is refused unread")
    func oversizedRecommendReply() {
        let padded = Array(
            (#"{"items": [], "source": "model", "model_version": 1"# + String(repeating: " ", count: 1 << 20) + "}").utf8)
        #expect(RankedItemsReply.problem(padded, headerVersion: 1)?.contains("more than the 1048576 bytes") == true)
        #expect(PolicySlateReply.problem(padded, request: .notRead)?.contains("its slate document has") == true)
        let small = Array(#"{"items": [], "source": "model", "model_version": 1}"#.utf8)
        #expect(RankedItemsReply.problem(small, headerVersion: 1) == nil)
    }

    @Test("a CONTROL document within the byte limit but over the key limit is refused naming the key limit")
    func tooManyKeys() {
        let document = Self.manyKeys(WireJSON.requestKeyLimit)  // op + the extra keys: one more than the limit
        #expect(document.count <= ControlRequest.maximumDocumentBytes)
        #expect(throws: WireError.badDocument(
            "the document holds more than 65536 object keys, the most a request may hold (a view event counts two)")) {
            try WireJSON.decodeRequest(ControlRequest.self, from: document)
        }
        // At the limit the document is read, and its unknown key is what is refused.
        #expect {
            try WireJSON.decodeRequest(ControlRequest.self, from: Self.manyKeys(WireJSON.requestKeyLimit - 1))
        } throws: { error in
            "\(error)".contains("unknown key `k")
        }
    }

    @Test("a READY document over 64 KiB is treated as one that does not decode: DISCONNECT, not registered")
    func oversizedReady() throws {
        var h = CoreHarness()
        var text = String(decoding: WireJSON.encode(ReadyValidationTests.hello()), as: UTF8.self)
        text.removeLast()
        text += ",\"padding\":\"" + String(repeating: "x", count: WorkerHello.maximumDocumentBytes) + "\"}"
        h.feed(
            .worker(
                identity: [0x9],
                frames: WireMessage(header: Header(command: .ready), payload: [Array(text.utf8)]).frames(),
                peerAddress: "127.0.0.1"))
        #expect(h.core.liveWorkerCount == 0)
        #expect(h.sentToWorkers.last?.message.header.command == .disconnect)
        #expect(h.core.counters[.malformedWorkerMessages] == 1)
    }

    @Test("a drain request is still found and carried out on the reactor")
    func drainStillWorks() {
        var h = CoreHarness()
        h.registerWorker([1])
        h.feed(
            .client(
                identity: [1],
                frames: WireMessage(
                    header: Header(command: .control, requestId: 6),
                    payload: [Array(#"{"op":"drain","worker":"w1"}"#.utf8)]
                ).frames(), userId: nil))
        #expect(h.toControl.isEmpty)
        #expect(h.sentToWorkers.contains { $0.message.header.flags.contains(.drain) })
    }
}
