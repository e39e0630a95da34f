import RecClient
import RecData
import RecPolicy
@testable import RecSimulation
import RecTransport
import RecWire
import Testing

/// A pool that died mid-run (its worker or broker killed) cost every later user a failed call, hours of timeouts at
/// the defaults, and the run then exited 0 with a report that looked complete; a deterministic run went on the same
/// way, with a curve that could not repeat; and the baselines had learnt from users the pool never served.
@Suite("A simulation whose pool stops serving")
struct PoolStoppedTests {
    /// An in-process pool that answers NO_WORKER from the `diesAfter`-th RECOMMEND on, and every third one from
    /// `flakyFrom` on when set.
    final class DyingBackend: DeterministicFixedBaselineTests.ForwardingBackend, @unchecked Sendable {
        let calls = LockedBox(0)
        let diesAfter: Int
        let barrier: Bool

        init(diesAfter: Int, barrier: Bool = false) throws {
            self.diesAfter = diesAfter
            self.barrier = barrier
            try super.init()
        }

        override func recommend(_ query: RecommendQuery) async throws(ClientError) -> PolicyRecommendation {
            let call = calls.withLock { $0 += 1; return $0 }
            if call > diesAfter {
                throw .server(status: .noWorker, message: "no live worker offers RECOMMEND", retryAfterMs: 0)
            }
            return try await inner.recommend(query)
        }

        override func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
            guard barrier else { return try await super.syncBarrier(spec: spec) }
            return SyncBarrier(everyEvents: 1_000_000) {}
        }
    }

    @Test("25 users failing in a row stop the run with poolStopped, naming how and after how many users")
    func stopsAfterFailuresInARow() async throws {
        let backend = try DyingBackend(diesAfter: 30)
        let plan = SimulationPlan(users: 400, seed: 3, windows: 4)
        do {
            _ = try await SimulationRunner.run(backend: backend, plan: plan)
            Issue.record("the run went on to the end")
        } catch {
            guard case .poolStopped(let why) = error else { Issue.record("\(error)"); return }
            #expect(why.contains("the last 25 users in a row failed (NO_WORKER 25)"), "\(why)")
            #expect(why.contains("the run stopped after 55 of 400 users (30 served)"), "\(why)")
            #expect("\(error)".hasPrefix("the pool stopped serving: "))
        }
        // Only the users in flight finished after the stop: none of the other 345 was asked for.
        #expect(backend.calls.withLock { $0 } == 55)
    }

    /// `simulate --sessions` had no such stop: a broker restart's drain used up 35 of 40 sessions on BUSY, and a
    /// stopped broker cost every later session a timeout, each run exiting 0.
    @Test("25 sessions failing at their first step in a row stop a sessions run with poolStopped")
    func sessionsStopAfterFailuresInARow() async throws {
        let backend = try DyingBackend(diesAfter: 30)
        var plan = SimulationPlan(users: 200, seed: 3, windows: 4)
        plan.concurrency = 1
        do {
            _ = try await SessionSimulation.run(backend: backend, plan: plan)
            Issue.record("the run went on to the end")
        } catch {
            guard case .poolStopped(let why) = error else { Issue.record("\(error)"); return }
            #expect(why.contains("the last 25 sessions in a row failed at their first step (NO_WORKER 25)"), "\(why)")
        }
        #expect(backend.calls.withLock { $0 } < 100, "the later sessions were never started")
    }

    /// A helper's case: a draining broker hints 50 ms, and three retries on that hint (150 ms) lost users and events
    /// across a restart of about a second.
    @Test("the wait before a BUSY request is sent again backs off from 100 ms to 1 s, or follows a longer hint")
    func busyWaits() {
        #expect((0..<7).map { PoolBackend.busyWaitMs(attempt: $0, retryAfterMs: 50) } == [100, 200, 400, 800, 1_000, 1_000, 1_000])
        #expect(PoolBackend.busyWaitMs(attempt: 0, retryAfterMs: 2_000) == 2_000)
        #expect(PoolBackend.busyWaitMs(attempt: 0, retryAfterMs: .max) == 5_000)
    }

    @Test("a request answered BUSY is sent again while its grace lasts, after the broker's retry_after_ms or longer")
    func busyIsRetried() async throws {
        let calls = LockedBox(0)
        // Grace far beyond the sleeps (a loaded machine stretches them); the one that runs out is judged on the sleeps
        // alone: the first retry waits 100 ms at 0 elapsed, the second would end past 100 + 200 ms > 150.
        let value = try await PoolBackend.retryingBusy(graceMs: 600_000) { () async throws(ClientError) -> Int in
            let call = calls.withLock { $0 += 1; return $0 }
            if call < 3 { throw .server(status: .busy, message: "draining", retryAfterMs: 1) }
            return 7
        }
        #expect(value == 7 && calls.withLock { $0 } == 3)
        calls.withLock { $0 = 0 }
        await #expect(throws: ClientError.self) {
            try await PoolBackend.retryingBusy(graceMs: 150) { () async throws(ClientError) -> Int in
                calls.withLock { $0 += 1 }
                throw .server(status: .busy, message: "draining", retryAfterMs: 1)
            }
        }
        #expect(calls.withLock { $0 } == 2, "the first try and one more (100 ms; another 200 ms would pass 150 ms)")
        calls.withLock { $0 = 0 }
        await #expect(throws: ClientError.self) {
            try await PoolBackend.retryingBusy(graceMs: 600_000) { () async throws(ClientError) -> Int in
                calls.withLock { $0 += 1 }
                throw .server(status: .noWorker, message: "none", retryAfterMs: 0)
            }
        }
        #expect(calls.withLock { $0 } == 1, "only BUSY is sent again")
    }

    @Test("a deterministic run stops at its first user not served")
    func deterministicStopsAtTheFirstFailure() async throws {
        let backend = try DyingBackend(diesAfter: 10, barrier: true)
        var plan = SimulationPlan(users: 40, seed: 3, windows: 2)
        plan.deterministic = true
        do {
            _ = try await SimulationRunner.run(backend: backend, plan: plan)
            Issue.record("the run went on to the end")
        } catch {
            guard case .notDeterministic(let why) = error else { Issue.record("\(error)"); return }
            #expect(why.contains("the run stopped after 11 of 40 users: user 10 was not served (NO_WORKER 1)"), "\(why)")
        }
    }

    @Test("the baselines learn from the served users only, and a window the pool served none of keeps their figures")
    func baselinesOnServedUsersOnly() async throws {
        // Users 0…19 served, then 10 failures (below the limit), then the pool is back: users 30… served.
        final class GapBackend: DeterministicFixedBaselineTests.ForwardingBackend, @unchecked Sendable {
            let calls = LockedBox(0)
            override func recommend(_ query: RecommendQuery) async throws(ClientError) -> PolicyRecommendation {
                let call = calls.withLock { $0 += 1; return $0 }
                if (21...30).contains(call) { throw .timedOut(requestId: UInt64(call), afterMs: 1) }
                return try await inner.recommend(query)
            }
        }
        let report = try await SimulationRunner.run(
            backend: try GapBackend(), plan: SimulationPlan(users: 60, seed: 4, windows: 3))
        #expect(report.served == 50)
        let everyone = try SimulationRunner.runBaselines(plan: SimulationPlan(users: 60, seed: 4, windows: 3))
        // LinUCB over the 55 served users in order, recomputed: its clicks on them are the report's.
        let world = SimulatorWorld(config: SimulationPlan(users: 60, seed: 4, windows: 3).world)
        let visitors = world.visitors(count: 60, seed: 4)
        let context = OneHotContext(vocabulary: world.userVocabulary)
        var linUCB = LinUCBSlates(bandit: LinUCB(arms: world.itemCount, dimension: context.width, alpha: 0.03))
        var clicks = 0
        // Every user is shown LinUCB's slate; it learns from the served ones only, and they alone are counted.
        for (index, visitor) in visitors.enumerated() {
            let served = !(20..<30).contains(index)
            let x = context.encode(visitor.userFeatures)
            let slate = linUCB.slate(context: x, length: 3)
            let item = try visitor.clicked(slate)
            if served {
                for shown in slate { linUCB.learn(context: x, item: shown, click: shown == item ? 1 : 0) }
                clicks += item == nil ? 0 : 1
            }
        }
        let linucb = try #require(report.baselines.first { $0.name == "linucb" })
        #expect(abs(linucb.ctr - Double(clicks) / 50) < 1e-12, "\(linucb.ctr) against \(clicks) / 50")
        // Over all 60 users (what the baselines ran on before) the figure is another one.
        let all = try #require(everyone.baselines.first { $0.name == "linucb" })
        #expect(all.ctr != linucb.ctr || clicks == 0)
        // 6 windows of 10 users: window 2 (users 20…29) was served to none, and still has each baseline's figures.
        let windowed = try await SimulationRunner.run(
            backend: try GapBackend(), plan: SimulationPlan(users: 60, seed: 4, windows: 6))
        let gap = windowed.windows[2]
        #expect(gap.served == 0)
        // The baselines that learn nothing (random, oracle) show every user the same slates as a run of the baselines
        // alone, so their figures there are that run's (they were 0: no user of the window had a figure).
        let alone = try SimulationRunner.runBaselines(plan: SimulationPlan(users: 60, seed: 4, windows: 6)).windows[2]
        #expect(gap.oracleCtr == alone.oracleCtr && gap.randomCtr == alone.randomCtr)
        #expect(alone.oracleCtr > 0, "a window whose oracle got no click tells nothing: choose another seed")
    }
}
