import RecWire
import Testing

@testable import Worker

/// A broker's own messages are judged by the header rules a worker's are: an undefined flag, a status or the reply
/// bit makes one malformed, only a sign of life (a fake broker's HEARTBEAT with flags 0xFFFF made the worker drain and
/// exit 0, which a supervisor reads as "stay stopped"; a WEIGHTS with a status changed the model it serves).
@Suite("Worker core: malformed messages from the broker")
struct WorkerCoreBrokerHeaderTests {
    static func heartbeat(flags: UInt16, status: Status = .ok, reply: Bool = false) -> Header {
        var header = Header(command: .heartbeat, isReply: reply, flags: Header.Flags(rawValue: flags))
        header.status = status
        return header
    }

    @Test("a HEARTBEAT with DRAIN and an undefined flag, a status or the reply bit is ignored, not obeyed",
        arguments: [
            (UInt16(0xFFFF), Status.ok, false), (UInt16(0x0002 | 0x0004), .ok, false), (UInt16(0x0002), .busy, false),
            (UInt16(0x0002), .ok, true),
        ])
    func malformedDrain(flags: UInt16, status: Status, reply: Bool) {
        var harness = WorkerHarness.registered()
        _ = harness.takeSent()
        harness.receive(Self.heartbeat(flags: flags, status: status, reply: reply))
        #expect(harness.stopWorker == 0 && harness.exits.isEmpty)
        #expect(harness.logs.contains { $0.message.contains("ignored a malformed HEARTBEAT from the broker") })
        // The worker still serves, and a well-formed DRAIN is still obeyed.
        let (header, payload) = WorkerHarness.score(id: 3)
        harness.receive(header, payload)
        harness.feed(.tick)
        #expect(harness.takeSent().contains { $0.message.header.requestId == 3 && $0.message.header.status == .ok })
        harness.receive(Header(command: .heartbeat, flags: .drain))
        #expect(harness.stopWorker == 1)
    }

    @Test("WEIGHTS, POLICY, CATALOGUE and LEARN with an undefined flag or a status are not applied",
        arguments: [Command.weights, .policy, .catalogue, .learn, .policyPull, .disconnect])
    func malformedControl(command: Command) {
        for (flags, status) in [(UInt16(0xFFFF), Status.ok), (UInt16(0), .badRequest), (UInt16(1), .ok)] {
            var harness = WorkerHarness.registered()
            _ = harness.takeSent()
            var header = Header(command: command, flags: Header.Flags(rawValue: flags), modelVersion: 6)
            header.status = status
            harness.receive(header, [[UInt8]("{}".utf8), [1, 2, 3]])
            #expect(harness.background.isEmpty && harness.online.isEmpty, "\(command.name) \(flags) \(status)")
            #expect(harness.takeSent().isEmpty, "\(command.name): a DISCONNECT's READY was sent")
            #expect(harness.logs.contains { $0.message.contains("ignored a malformed \(command.name) from the broker") })
        }
    }

    @Test("a WEIGHTS whose header names another version than its notice is not built; one that agrees is")
    func weightsVersionsDisagree() {
        let notice = WireJSON.encode(WeightsNotice(version: 7, sha256: String(repeating: "a", count: 64)))
        var harness = WorkerHarness.registered()
        _ = harness.takeSent()
        harness.receive(Header(command: .weights, modelVersion: 6), [notice, [1, 2, 3]])
        #expect(harness.background.isEmpty)
        #expect(harness.logs.contains { $0.message.contains("malformed WEIGHTS message ignored") })
        harness.receive(Header(command: .weights, modelVersion: 7), [notice, [1, 2, 3]])
        #expect(harness.background.count == 1)
    }

    @Test("a TRAIN_ROUND with an undefined flag or a status is not trained on, and is answered with a failed ROUND_RESULT")
    func malformedRound() {
        for (flags, status) in [(UInt16(0xFFFF), Status.ok), (UInt16(0), .busy)] {
            var harness = WorkerHarness.registered()
            _ = harness.takeSent()
            var header = Header(command: .trainRound, flags: Header.Flags(rawValue: flags), requestId: 4, attempt: 2)
            header.status = status
            harness.receive(header, [[UInt8](#"{"job":"job-1","round":4,"shard":0}"#.utf8), [1, 2, 3]])
            #expect(harness.background.isEmpty)
            let sent = harness.takeSent()
            #expect(sent.count == 1 && sent.first?.message.header.command == .roundResult, "\(sent.map(\.message.header))")
            #expect(sent.first?.message.header.attempt == 2)
        }
    }

    @Test("the header rule for the broker's messages: DRAIN on HEARTBEAT only, no status, no reply bit")
    func rule() {
        #expect(WorkerCore.brokerMessageProblem(Header(command: .heartbeat, flags: .drain)) == nil)
        #expect(WorkerCore.brokerMessageProblem(Header(command: .weights)) == nil)
        #expect(WorkerCore.brokerMessageProblem(Header(command: .weights, flags: .drain)) != nil)
        #expect(WorkerCore.brokerMessageProblem(Header(command: .policy, flags: .exactVersion, modelVersion: 2)) != nil)
        // Requests the broker forwards are judged by requestProblem, not here.
        #expect(WorkerCore.brokerMessageProblem(Header(command: .score, flags: .exactVersion, modelVersion: 2)) == nil)
    }
}
