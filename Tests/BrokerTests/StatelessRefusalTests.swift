import RecWire
import Testing

@testable import Broker

/// A broker without `--state-dir` names what a refused request needs: FEEDBACK and the online operations need online
/// learning, the rest the state directory (it said "to train and manage models" to a FEEDBACK).
@Suite("A broker without a state directory says what a request needs")
struct StatelessRefusalTests {
    static func control(_ op: String) -> WireMessage {
        WireMessage(header: Header(command: .control), payload: [Array("{\"op\":\"\(op)\"}".utf8)])
    }

    @Test("FEEDBACK and the online operations need --online and --state-dir", arguments: ["online", "impressions", "online_sync"])
    func online(op: String) {
        #expect(BrokerReactor.statelessRefusal(Self.control(op)).contains("--online and --state-dir"))
        let feedback = WireMessage(header: Header(command: .feedback), payload: [Array("{}".utf8)])
        #expect(BrokerReactor.statelessRefusal(feedback).contains("takes no feedback"))
    }

    @Test("jobs, the registry and catalogues need --state-dir", arguments: ["train", "models", "catalogues"])
    func stateful(op: String) {
        let text = BrokerReactor.statelessRefusal(Self.control(op))
        #expect(text.contains("start it with --state-dir") && !text.contains("--online"))
    }

    /// A `drain` (which needs no state) with a key it does not take was told to start the broker with --state-dir.
    @Test("a CONTROL document that does not decode is refused for what is wrong with it")
    func malformedDocument() {
        let drain = WireMessage(
            header: Header(command: .control), payload: [Array(#"{"op":"drain","worker":"w1","job":"x"}"#.utf8)])
        let text = BrokerReactor.statelessRefusal(drain)
        #expect(text.contains("`job` is no argument of drain") && !text.contains("--state-dir"), "\(text)")
    }

    /// A misspelt op (`drian`), or no document at all, was told to start the broker with --state-dir, which would not
    /// help; the control plane, and a broker with a state directory, name the problem.
    @Test("an op this build does not know, or a missing document, is named as the control plane names it")
    func unknownOperation() {
        #expect(BrokerReactor.statelessRefusal(Self.control("drian")) == "unknown CONTROL op \"drian\"")
        let bare = BrokerReactor.statelessRefusal(WireMessage(header: Header(command: .control), payload: []))
        #expect(!bare.contains("--state-dir") && bare.contains("frame"), "\(bare)")
    }
}
