import Foundation
import RecStore
import RecWire
import Synchronization
import Testing

@testable import Broker

/// Every accepted sync held policy slates and FEEDBACK acknowledgements for 0.7–3.6 s: the control plane's thread read
/// and decoded the guard's 3,000 stored impressions before handing the case to the guard's thread. The guard's thread
/// reads them now.
@Suite("The guard reads its own evidence")
struct GuardJudgeTests {
    /// The calling thread's name, as the kernel holds it.
    static func threadName() -> String {
        ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("the evidence is read on the guard's thread; a read that fails rejects the candidate, naming why")
    func evidenceReadOnTheGuardThread() async throws {
        let h = try RegistryOnlineHarness()
        let v1 = try h.register(["f0"], [[0], [1], [2]], parent: nil)
        let policy = try h.start(v1).core.policy
        let seen = Mutex<(reader: String?, decision: GuardDecision?)>((nil, nil))
        let judge = GuardJudge { _, decision in seen.withLock { $0.decision = decision } }
        defer { judge.stop() }
        judge.judge(
            GuardJudge.Case(
                sync: 7, candidate: policy, current: policy,
                evidence: {
                    seen.withLock { $0.reader = Self.threadName() }
                    throw StoreError.io(path: "recpool.sqlite", reason: "disk I/O error")
                },
                margin: 0.05, minimumRows: 10, nowMs: 5_000))
        for _ in 0..<500 where seen.withLock({ $0.decision == nil }) { try await Task.sleep(for: .milliseconds(10)) }
        let (reader, decision) = seen.withLock { ($0.reader, $0.decision) }
        #expect(reader == "broker-guard")
        let verdict = try #require(decision)
        #expect(!verdict.accepted && verdict.rows == 0 && verdict.atMs == 5_000)
        #expect(verdict.reason.hasPrefix(GuardJudge.unreadableEvidence) && verdict.reason.contains("disk I/O error"), "\(verdict.reason)")
    }
}
