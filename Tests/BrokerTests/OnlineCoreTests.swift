import RecWire
import Testing

@testable import Broker

@Suite("Online learning in the broker core")
struct OnlineCoreTests {
    @Test("a policy RECOMMEND reply's impression frame goes to the control plane and never to the client")
    func impressionIsStripped() throws {
        var h = CoreHarness()
        let hello = WorkerHello(
            workerId: "w7", services: ["RECOMMEND", "POLICY"], slots: 2, inputWidth: 2, modelVersion: 1, host: "h",
            pid: 1)
        h.feed(
            .worker(
                identity: [7], frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: nil))
        #expect(h.core.trainingWorkers.map(\.online) == [true])
        let query = WireMessage(header: Header(command: .recommend, requestId: 5), payload: [Array("{}".utf8)])
        h.feed(.client(identity: [1], frames: query.frames(), userId: nil))
        let dispatched = try #require(h.sentToWorkers.last { $0.message.header.command == .recommend })
        let record = Array("{\"impression_id\":\"x\"}".utf8)
        let reply = WireMessage(
            header: dispatched.message.header.reply(status: .ok, modelVersion: 3),
            payload: [Array("{\"items\":[]}".utf8), record])
        h.feed(.worker(identity: [7], frames: reply.frames(), peerAddress: nil))
        // Held for the control plane, which logs it or (without online learning) refuses it: never sent from here.
        #expect(h.replies(to: [1], id: 5).isEmpty)
        let logged = h.toControl.compactMap { input -> ([UInt8], Int)? in
            guard case .heldImpression(let worker, let bytes, _, let frames, _) = input, worker == "w7",
                let slate = try? WireMessage(decoding: frames)
            else { return nil }
            return (bytes, slate.payload.count)
        }
        #expect(logged.map(\.0) == [record] && logged.map(\.1) == [1])
    }

    @Test("FEEDBACK goes to the control plane, and POLICY_STATE from a worker too")
    func feedbackIsRoutedToControl() throws {
        var h = CoreHarness()
        h.registerWorker([3])
        let feedback = WireMessage(header: Header(command: .feedback, requestId: 8), payload: [Array("{}".utf8)])
        h.feed(.client(identity: [1], frames: feedback.frames(), userId: nil))
        let state = WireMessage(header: Header(command: .policyState), payload: [Array("{}".utf8)])
        h.feed(.worker(identity: [3], frames: state.frames(), peerAddress: nil))
        let commands = h.toControl.compactMap { input -> Command? in
            switch input {
            case .client(_, let m, _), .worker(_, let m): return m.header.command
            default: return nil
            }
        }
        #expect(commands == [.feedback, .policyState])
        #expect(h.sentToWorkers.allSatisfy { $0.message.header.command != .feedback })
    }
}
