import RecWire
import Testing

@testable import BrokerCore

/// Every request handed to the control plane gets exactly one reply: a shutdown waits for the control plane's
/// answers, and when its bound runs out the requests still waiting are answered BUSY, never left in silence.
@Suite("Broker core: requests waiting for the control plane")
struct ControlWaitTests {
    static func control(_ h: inout CoreHarness, client: [UInt8], id: UInt64, op: String = "jobs") {
        let message = WireMessage(
            header: Header(command: .control, requestId: id), payload: [Array("{\"op\":\"\(op)\"}".utf8)])
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
    }

    static func feedback(_ h: inout CoreHarness, client: [UInt8], id: UInt64) {
        let message = WireMessage(
            header: Header(command: .feedback, requestId: id),
            payload: [WireJSON.encode(FeedbackRequest(impressionId: "i", item: 1, click: 1))])
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
    }

    @Test("CONTROL and FEEDBACK are outstanding until the control plane's reply passes; other frames change nothing")
    func outstandingUntilAnswered() throws {
        var h = CoreHarness()
        Self.control(&h, client: [1], id: 7)
        Self.feedback(&h, client: [2], id: 8)
        #expect(h.toControl.count == 2 && h.core.outstandingRequests == 2)
        // A reply to another request id, or to the same id from another client, is not theirs.
        h.core.controlAnswered(
            identity: [1], frames: [Header(command: .control, isReply: true, requestId: 99).encoded()])
        h.core.controlAnswered(
            identity: [3], frames: [Header(command: .control, isReply: true, requestId: 7).encoded()])
        #expect(h.core.outstandingRequests == 2)
        h.core.controlAnswered(
            identity: [1], frames: [Header(command: .control, isReply: true, requestId: 7).encoded(), Array("{}".utf8)])
        #expect(h.core.outstandingRequests == 1)
        // A second copy of the same reply does not go below zero.
        h.core.controlAnswered(
            identity: [1], frames: [Header(command: .control, isReply: true, requestId: 7).encoded()])
        #expect(h.core.outstandingRequests == 1)
        h.core.controlAnswered(
            identity: [2], frames: [Header(command: .feedback, isReply: true, requestId: 8).encoded()])
        #expect(h.core.outstandingRequests == 0)
    }

    /// A request id is unique among a client's outstanding requests: a SCORE named the id of a CONTROL the control
    /// plane was carrying out and was accepted, so two replies carried one id and a CANCEL of it cancelled the SCORE.
    @Test("a request naming an id outstanding in another command is CONFLICT at once; the outstanding one is unaffected")
    func duplicateIdAcrossCommands() throws {
        var h = CoreHarness()
        h.registerWorker([0xA1])
        Self.control(&h, client: [1], id: 77)
        h.score(from: [1], id: 77)
        Self.feedback(&h, client: [1], id: 77)
        Self.control(&h, client: [1], id: 77)
        h.score(from: [1], id: 78)
        Self.control(&h, client: [1], id: 78)
        Self.feedback(&h, client: [1], id: 78)
        let refusals = h.sentToClients.filter { $0.message.header.status == .conflict }.map(\.message)
        #expect(refusals.count == 5)
        #expect(refusals.allSatisfy { $0.errorText?.contains("is already outstanding") == true })
        #expect(Set(refusals.map(\.header.command)) == [.score, .feedback, .control])
        #expect(h.core.counters[.duplicateRequestIds] == 5)
        // Only the first CONTROL went to the control plane, and only the first SCORE to a worker.
        #expect(h.toControl.count == 1 && h.dispatches.count == 1)
        #expect(h.core.outstandingRequests == 2)
        // Another client's id 77 is its own.
        h.score(from: [2], id: 77)
        #expect(h.dispatches.count == 2)
    }

    @Test("the shutdown bound answers each request still waiting for the control plane BUSY, once")
    func abandonedAtShutdown() throws {
        var h = CoreHarness()
        Self.control(&h, client: [1], id: 7, op: "train")
        Self.control(&h, client: [1], id: 6, op: "train")
        Self.feedback(&h, client: [2], id: 8)
        h.core.beginShutdown()
        var actions: [BrokerAction] = []
        h.core.abandonOutstanding(into: &actions)
        let replies = actions.compactMap { action -> ([UInt8], WireMessage)? in
            if case .sendToClient(let identity, let frames) = action {
                return (identity, try! WireMessage(decoding: frames))
            }
            return nil
        }
        #expect(replies.count == 3)
        let control = replies.filter { $0.0 == [1] }.map(\.1)
        #expect(control.count == 2)
        for reply in control {
            #expect(reply.header.command == .control && reply.header.isReply && [6, 7].contains(reply.header.requestId))
            #expect(reply.header.status == .busy && reply.header.retryAfterMs > 0)
            #expect(reply.errorText?.contains("may have taken effect") == true, "\(reply.errorText ?? "")")
        }
        let feedback = try #require(replies.first { $0.0 == [2] }?.1)
        #expect(
            feedback.header.command == .feedback && feedback.header.status == .busy && feedback.header.requestId == 8)
        #expect(feedback.errorText?.contains("duplicate") == true)
        #expect(h.core.outstandingRequests == 0)
        #expect(h.core.counters[.abandonedAtShutdown] == 3)
    }

    @Test("a held policy slate still waiting at the shutdown bound is answered BUSY with its dispatch's attempt")
    func heldSlateAbandoned() throws {
        var h = CoreHarness()
        UnloggedSlateTests.registerPolicyWorker(&h)
        try UnloggedSlateTests.holdPolicySlate(&h)
        #expect(h.core.outstandingRequests == 1)
        h.core.beginShutdown()
        var actions: [BrokerAction] = []
        h.core.abandonOutstanding(into: &actions)
        guard case .sendToClient(let identity, let frames) = try #require(actions.first) else {
            Issue.record("no reply to the client")
            return
        }
        let answer = try WireMessage(decoding: frames)
        #expect(identity == [1] && answer.header.requestId == 5 && answer.header.command == .recommend)
        #expect(answer.header.status == .busy && answer.header.attempt == 1)
        #expect(answer.errorText?.contains("nothing was served") == true)
        #expect(h.core.outstandingRequests == 0)
    }
}
