import RecWire
import Testing

@testable import BrokerCore

/// A CANCEL's answer is true: NOT_FOUND only when no reply to that request is coming, CONFLICT ("past the point of
/// cancel") when the control plane holds the request and its reply will still come.
@Suite("Broker core: what CANCEL answers")
struct CancelTruthTests {
    static func cancel(_ h: inout CoreHarness, client: [UInt8], target: UInt64, id: UInt64 = 900) -> WireMessage? {
        let message = WireMessage(header: Header(command: .cancel, requestId: id), payload: [CancelPayload.encode(target)])
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
        return h.replies(to: client, id: id).last
    }

    @Test("a CANCEL of a RECOMMEND whose slate waits to be logged is CONFLICT 'past the point of cancel', not NOT_FOUND")
    func heldSlateIsPastCancel() throws {
        var h = CoreHarness()
        UnloggedSlateTests.registerPolicyWorker(&h)
        try UnloggedSlateTests.holdPolicySlate(&h)
        let answer = try #require(Self.cancel(&h, client: [1], target: 5))
        #expect(answer.header.command == .cancel)
        #expect(answer.header.status == .conflict)
        #expect(answer.errorText?.contains("past the point of cancel") == true, "\(answer.errorText ?? "")")
        #expect(answer.errorText?.contains("slate") == true)
        // The slate is still on its way: the request stays outstanding and nothing else was sent to the client.
        #expect(h.core.outstandingRequests == 1)
        #expect(h.replies(to: [1], id: 5).isEmpty)
        #expect(h.core.counters[.cancelled] == 0)
        // Once the slate went out, the request is over: a CANCEL then is NOT_FOUND.
        h.core.controlAnswered(
            identity: [1], frames: [Header(command: .recommend, isReply: true, requestId: 5).encoded(), Array("{}".utf8)])
        #expect(Self.cancel(&h, client: [1], target: 5, id: 901)?.header.status == .notFound)
    }

    @Test("a CANCEL naming a CONTROL or FEEDBACK the control plane holds is CONFLICT; another client's id is NOT_FOUND")
    func controlPlaneRequestsArePastCancel() throws {
        var h = CoreHarness()
        ControlWaitTests.control(&h, client: [1], id: 7)
        ControlWaitTests.feedback(&h, client: [1], id: 8)
        let control = try #require(Self.cancel(&h, client: [1], target: 7))
        #expect(control.header.status == .conflict)
        #expect(control.errorText?.contains("past the point of cancel") == true)
        let feedback = try #require(Self.cancel(&h, client: [1], target: 8, id: 901))
        #expect(feedback.header.status == .conflict)
        #expect(feedback.errorText?.contains("feedback") == true)
        #expect(Self.cancel(&h, client: [2], target: 7, id: 902)?.header.status == .notFound)
        #expect(Self.cancel(&h, client: [1], target: 9, id: 903)?.header.status == .notFound)
        #expect(h.core.outstandingRequests == 2)
    }
}
