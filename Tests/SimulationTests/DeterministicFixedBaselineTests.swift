import RecClient
import RecData
import RecPolicy
import RecSimulation
import RecTransport
import RecWire
import Testing

/// `recpool simulate --deterministic` took its `fixed` baseline before its start barrier, whose settle syncs what
/// feedback was pending: the run reported `fixed_version` 20 while every user was served version 21 or later.
@Suite("A deterministic run's fixed baseline")
struct DeterministicFixedBaselineTests {
    /// A backend whose barrier's settle moves the served version from 1 to 2, as a pool's pending sync does.
    final class SettlingBackend: RecommendFeedbackBackend {
        let inner: LearnerBackend
        let settled = LockedBox(false)

        init() throws { inner = try LearnerBackend() }

        func recommend(_ query: RecommendQuery) async throws(ClientError) -> PolicyRecommendation {
            try await inner.recommend(query)
        }

        func feedback(_ request: FeedbackRequest) async throws(ClientError) -> FeedbackReply {
            try await inner.feedback(request)
        }

        func currentPolicy() async throws(ClientError) -> (PolicyInstall, ParameterPack) {
            var (install, pack) = try await inner.currentPolicy()
            if settled.withLock({ $0 }) { install.version = 2 }
            return (install, pack)
        }

        func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
            let settled = self.settled
            return SyncBarrier(everyEvents: 1_000_000) { settled.withLock { $0 = true } }
        }
    }

    @Test("is the policy served once the start barrier has settled")
    func fixedAfterSettle() async throws {
        let backend = try SettlingBackend()
        var plan = SimulationPlan(users: 20, seed: 3, windows: 2)
        plan.deterministic = true
        let report = try await SimulationRunner.run(backend: backend, plan: plan)
        #expect(report.fixedVersion == 2)
    }
}
