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
    /// An in-process pool (``LearnerBackend``) whose barrier a subclass defines.
    class ForwardingBackend: RecommendFeedbackBackend, @unchecked Sendable {
        let inner: LearnerBackend

        init() throws { inner = try LearnerBackend() }

        func recommend(_ query: RecommendQuery) async throws(ClientError) -> PolicyRecommendation {
            try await inner.recommend(query)
        }

        func feedback(_ request: FeedbackRequest) async throws(ClientError) -> FeedbackReply {
            try await inner.feedback(request)
        }

        func currentPolicy() async throws(ClientError) -> (PolicyInstall, ParameterPack) {
            try await inner.currentPolicy()
        }

        func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
            throw .notDeterministic("a ForwardingBackend has no barrier of its own")
        }
    }

    /// A backend whose barrier's settle moves the served version from 1 to 2, as a pool's pending sync does.
    final class SettlingBackend: ForwardingBackend, @unchecked Sendable {
        let settled = LockedBox(false)

        override func currentPolicy() async throws(ClientError) -> (PolicyInstall, ParameterPack) {
            var (install, pack) = try await inner.currentPolicy()
            if settled.withLock({ $0 }) { install.version = 2 }
            return (install, pack)
        }

        override func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
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

    /// A backend whose barrier settles at the start, then fails at every later wait (a pool frozen during the run),
    /// counting the waits.
    final class FrozenLaterBackend: ForwardingBackend, @unchecked Sendable {
        let waits = LockedBox(0)

        override func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
            let waits = self.waits
            return SyncBarrier(everyEvents: 3) { () throws(SimulationError) in
                let count = waits.withLock { $0 += 1; return $0 }
                if count > 1 { throw .notDeterministic("online learning was frozen during the run (recpool online unfreeze)") }
            }
        }
    }

    /// A pool frozen during a deterministic run made every barrier retry the broker's CONFLICT for a minute (a
    /// 300-user run half an hour), and the run then exited 0 with one SYNC_BARRIER error a barrier.
    @Test("a barrier that fails ends the run: it throws why, after how many users, and waits for no later barrier")
    func failedBarrierEndsTheRun() async throws {
        let backend = try FrozenLaterBackend()
        var plan = SimulationPlan(users: 40, seed: 3, windows: 2)
        plan.deterministic = true
        do {
            _ = try await SimulationRunner.run(backend: backend, plan: plan)
            Issue.record("the run reported a deterministic curve after its barrier failed")
        } catch {
            guard case .notDeterministic(let why) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(why.contains("the run stopped after") && why.contains("of 40 users") && why.contains("frozen"), "\(why)")
        }
        #expect(backend.waits.withLock { $0 } == 2, "waited at a barrier after one had failed")
    }

    /// A backend whose fifth FEEDBACK expires, and whose barrier settles every 3 events (one user's slate).
    final class LosingFeedbackBackend: ForwardingBackend, @unchecked Sendable {
        let calls = LockedBox(0)

        override func feedback(_ request: FeedbackRequest) async throws(ClientError) -> FeedbackReply {
            let call = calls.withLock { $0 += 1; return $0 }
            if call == 5 { throw .server(status: .expired, message: "EXPIRED: the deadline passed", retryAfterMs: 0) }
            return try await inner.feedback(request)
        }

        override func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
            SyncBarrier(everyEvents: 3) {}
        }
    }

    /// A helper's run: a FEEDBACK that expired left the user served, the event count off the barrier's multiple for
    /// the rest of the run (no sync waited for again), and the run exited 0 as a repeatable curve.
    @Test("a served user whose FEEDBACK failed ends a deterministic run, naming the user and the status")
    func lostFeedbackEndsTheRun() async throws {
        let backend = try LosingFeedbackBackend()
        var plan = SimulationPlan(users: 30, seed: 3, windows: 2)
        plan.deterministic = true
        do {
            _ = try await SimulationRunner.run(backend: backend, plan: plan)
            Issue.record("the run reported a deterministic curve after a FEEDBACK was lost")
        } catch {
            guard case .notDeterministic(let why) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(why.contains("feedback was not all delivered") && why.contains("EXPIRED 1"), "\(why)")
        }
    }
}
