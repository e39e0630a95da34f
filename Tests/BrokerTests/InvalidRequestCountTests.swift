import RecWire
import Testing

@testable import BrokerCore

/// `invalid_requests` counts the requests the broker answered BAD_REQUEST. Some BAD_REQUEST answers were left out: a
/// reply sent by a client, a CANCEL whose payload is not 8 bytes, and the control plane's (a CONTROL or FEEDBACK
/// without its document).
@Suite("Broker core: every BAD_REQUEST is an invalid request")
struct InvalidRequestCountTests {
    static let client: [UInt8] = [0xC1]

    /// Feeds a client message; returns its one reply and how much `invalid_requests` moved.
    static func refused(_ message: WireMessage) throws -> (reply: WireMessage, counted: UInt64) {
        var h = CoreHarness()
        h.registerWorker([0xA], slots: 4)
        let before = h.core.counters[.invalidRequests]
        h.feed(.client(identity: client, frames: message.frames(), userId: nil))
        let reply = try #require(h.replies(to: client, id: message.header.requestId).first)
        return (reply, h.core.counters[.invalidRequests] - before)
    }

    @Test(
        "each BAD_REQUEST the core answers counts once",
        arguments: ["reply bit", "cancel 7 bytes", "cancel 9 bytes", "no payload", "worker command", "score no tensor"])
    func counted(_ fault: String) throws {
        let message: WireMessage
        switch fault {
        case "reply bit": message = WireMessage(header: Header(command: .score, isReply: true, requestId: 5))
        case "cancel 7 bytes":
            message = WireMessage(header: Header(command: .cancel, requestId: 5), payload: [[UInt8](repeating: 0, count: 7)])
        case "cancel 9 bytes":
            message = WireMessage(header: Header(command: .cancel, requestId: 5), payload: [[UInt8](repeating: 0, count: 9)])
        case "no payload": message = WireMessage(header: Header(command: .recommend, requestId: 5))
        case "worker command": message = WireMessage(header: Header(command: .heartbeat, requestId: 5))
        default: message = WireMessage(header: Header(command: .score, requestId: 5))
        }
        let (reply, counted) = try Self.refused(message)
        #expect(reply.header.status == .badRequest, "\(fault): \(reply.header.status)")
        #expect(counted == 1, "\(fault)")
    }

    @Test("a message whose header does not decode counts as malformed only, not as an invalid request too")
    func malformedIsNotARequest() throws {
        var h = CoreHarness()
        h.feed(.client(identity: Self.client, frames: [[1, 2, 3]], userId: nil))
        #expect(h.core.counters[.malformedClientMessages] == 1 && h.core.counters[.invalidRequests] == 0)
    }

    @Test("a BAD_REQUEST the control plane answers counts once; its other answers do not")
    func controlPlane() {
        var h = CoreHarness()
        let request = Header(command: .feedback, requestId: 9)
        let bad = WireMessage.errorReply(to: request, status: .badRequest, message: "FEEDBACK needs a document")
        h.core.controlAnswered(identity: Self.client, frames: bad.frames())
        #expect(h.core.counters[.invalidRequests] == 1)
        let notFound = WireMessage.errorReply(to: request, status: .notFound, message: "unknown impression x")
        h.core.controlAnswered(identity: Self.client, frames: notFound.frames())
        #expect(h.core.counters[.invalidRequests] == 1)
    }
}
