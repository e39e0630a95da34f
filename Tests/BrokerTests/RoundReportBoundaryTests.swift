import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// The ROUND_RESULT boundary: a final report is checked like a training round's, and a report that does not decode
/// is said, not dropped unseen (the round would otherwise time out with no word of why).
@Suite("ROUND_RESULT reports at the broker's boundary")
struct RoundReportBoundaryTests {
    /// The job's first round, answered by both replicas and stored: the next assignment is the finalize request to [1].
    static func finalizing(_ m: inout JobMachine) {
        _ = m.startJob(promote: true)
        for (identity, shard) in [([UInt8(1)], 0), ([2], 1)] {
            _ = m.feed(
                .roundResult(
                    identity: identity, message: JobMachine.result(round: 1, shard: shard, stateSHA: "", totalSteps: 5)))
        }
        _ = m.feed(.roundStored(job: "job-1", .success("sha-r1")))
    }

    @Test(
        "a final report with a negative count or a loss that is not finite fails the job; nothing is registered",
        arguments: [
            (samples: -1, loss: 0.5 as Double?, says: "negative count"),
            (samples: 10, loss: Double.greatestFiniteMagnitude, says: "training diverged"),
            (samples: 10, loss: -2, says: "not a finite number ≥ 0"),
        ])
    func invalidFinalReport(samples: Int, loss: Double?, says: String) throws {
        var m = JobMachine()
        Self.finalizing(&m)
        let actions = m.feed(
            .roundResult(
                identity: [1],
                message: JobMachine.result(round: 2, shard: 0, stateSHA: "sha-r1", samples: samples, loss: loss)))
        #expect(!actions.contains { if case .register = $0 { true } else { false } })
        let record = try #require(actions.persisted.first?.record)
        #expect(record.state == .failed)
        #expect(record.error?.contains("is invalid") == true && record.error?.contains(says) == true)
    }

    @Test("a ROUND_RESULT whose report does not decode is logged naming why, and changes nothing")
    func undecodableReportIsLogged() {
        var m = JobMachine()
        _ = m.startJob()
        var actions: [JobAction] = []
        let garbled = WireMessage(
            header: Header(command: .roundResult, requestId: 1), payload: [Array(#"{"job": 7}"#.utf8)])
        m.core.handle(.roundResult(identity: [1], message: garbled), nowMs: 2_000, into: &actions)
        let logged = actions.compactMap { action -> String? in
            if case .log(.warning, let text, let metadata) = action { return "\(text) \(metadata)" }
            return nil
        }
        #expect(logged.count == 1)
        #expect(logged.first?.contains("does not decode") == true)
        #expect(!actions.contains { if case .persist = $0 { true } else { false } })
    }
}
