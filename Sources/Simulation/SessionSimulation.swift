import Foundation
import RecClient
import RecData
import RecModel
import RecPolicy
import RecTransport
import RecWire

/// What one simulated session did against the pool.
public struct SessionOutcome: Sendable, Equatable {
    /// The session's index in the run (its user).
    public var index: Int
    /// Steps (RECOMMENDs answered and shown).
    public var steps = 0
    /// Clicks.
    public var clicks = 0
    /// Whether the session ran until its budget was spent (no failed call cut it short).
    public var completed = false
    /// The highest policy version that served a step.
    public var version: UInt64 = 0
    /// Failed calls by status name (`BAD_SLATE`: a slate the user cannot be shown).
    public var errors: [String: Int] = [:]
}

/// Runs whole sessions of the simulator's online environment (``SimulatorEnvironment``: a budget of 30 steps, each
/// costing 1, a click giving back 0.5, interests drifting towards clicked items) against a pool, to compare learners
/// by clicks per session rather than clicks per slate.
///
/// Session `i` is a brand-new user from an environment seeded by `(seed, i)`, so the same seed gives the same users
/// (and, while the slates agree, the same choices) to every pool. Each step sends RECOMMEND with the user's features
/// and, as `events`, the items clicked earlier in the session (dwell 1 s each): the session state a session learner
/// (``SessionQLearner``) conditions on. FEEDBACK goes out for every shown item. The same users are also shown two
/// references computed in the client: the uniform random slate, and the myopic oracle (each step, the items with the
/// highest true single-item click probability for the user's current, drifted interests).
public enum SessionSimulation {
    /// Dwell sent for every clicked item in `events`.
    public static let dwellSeconds = 1.0
    /// A session is cut after this many steps (never reached by the default world: 30 + 0.5 per click).
    public static let stepLimit = 1_000

    /// The environment of session `index`.
    static func environment(world: SimulatorWorld, seed: UInt64, index: Int) -> SimulatorEnvironment {
        var mix = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index))
        return SimulatorEnvironment(world: world, seed: mix.next())
    }

    /// Runs `plan.users` sessions against `backend`, `plan.concurrency` at once.
    /// - Throws: ``SimulationError`` when the plan is invalid, the served policy cannot be fetched or does not serve
    ///   the simulated world's catalogue.
    public static func run<Backend: RecommendFeedbackBackend>(
        backend: Backend, plan: SimulationPlan, onProgress: @Sendable (Int) -> Void = { _ in }
    ) async throws(SimulationError) -> SessionReport {
        if let problem = plan.problem { throw .invalidPlan(problem) }
        if plan.deterministic { throw .invalidPlan("sessions do not run deterministically (one client lane)") }
        let world = SimulatorWorld(config: plan.world)
        let install: PolicyInstall
        do throws(ClientError) {
            install = try await backend.currentPolicy().0
        } catch {
            throw .policyUnavailable(error)
        }
        try SimulationRunner.checkCatalogue(install.spec, world: world)
        let slateLength = install.spec.slateSize
        let started = Clocks.monotonicMicros()
        var outcomes = (0..<plan.users).map { SessionOutcome(index: $0) }
        // Sessions that failed in a row (in the order they finished), and how: past
        // `SimulationRunner.failedUsersLimit` the run stops, as a run of single slates does. A pool that stopped
        // serving used up every later session on its first RECOMMEND (a broker's drain, ~1 s, took 35 of 40) or cost
        // each a timeout, and the report looked complete, exit 0.
        var failedInARow = 0
        var failures: [String: Int] = [:]
        var stopped: SimulationError?
        var completed = 0
        await withTaskGroup(of: SessionOutcome.self) { group in
            var next = 0
            func startNext() {
                guard next < plan.users, stopped == nil else { return }
                let index = next
                next += 1
                let env = environment(world: world, seed: plan.seed, index: index)
                group.addTask { await serve(index, env: env, slateLength: slateLength, backend: backend) }
            }
            for _ in 0..<min(plan.concurrency, plan.users) { startNext() }
            var done = 0
            while let outcome = await group.next() {
                outcomes[outcome.index] = outcome
                done += 1
                if outcome.completed { completed += 1 }
                if outcome.steps == 0 && !outcome.errors.isEmpty {
                    failedInARow += 1
                    for (status, count) in outcome.errors { failures[status, default: 0] += count }
                    if failedInARow >= SimulationRunner.failedUsersLimit, stopped == nil {
                        let how = failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                        stopped = .poolStopped(
                            "the last \(failedInARow) sessions in a row failed at their first step (\(how)); the run "
                                + "stopped after \(done) of \(plan.users) sessions (\(completed) completed)")
                    }
                } else {
                    failedInARow = 0
                    failures = [:]
                }
                if done % plan.progressEvery == 0 || done == plan.users { onProgress(done) }
                startNext()
            }
        }
        if let stopped { throw stopped }
        let elapsedMs = (Clocks.monotonicMicros() - started) / 1000
        let references = (0..<plan.users).map { index in
            reference(env: environment(world: world, seed: plan.seed, index: index), slateLength: slateLength, index: index)
        }
        return SessionReport(
            plan: plan, outcomes: outcomes, random: references.map(\.random), oracle: references.map(\.oracle),
            learner: install.spec.learning.learner.rawValue,
            gamma: install.spec.learning.learner == .sessionDQN ? install.spec.learning.gamma : 0, elapsedMs: elapsedMs)
    }

    private static func serve<Backend: RecommendFeedbackBackend>(
        _ index: Int, env start: SimulatorEnvironment, slateLength: Int, backend: Backend
    ) async -> SessionOutcome {
        var env = start
        var outcome = SessionOutcome(index: index)
        let user = env.reset()
        var events: [ViewEvent] = []
        while outcome.steps < stepLimit {
            let recommendation: PolicyRecommendation
            do throws(ClientError) {
                recommendation = try await backend.recommend(
                    RecommendQuery(userFeatures: user.userFeatures, events: events, top: slateLength))
            } catch {
                outcome.errors[error.statusName, default: 0] += 1
                return outcome
            }
            let step: SimulatorStep
            do throws(SimulatorError) {
                step = try env.step(recommendation.items.map(\.item))
            } catch {
                outcome.errors["BAD_SLATE", default: 0] += 1
                return outcome
            }
            outcome.steps += 1
            outcome.version = max(outcome.version, recommendation.modelVersion)
            if let clicked = step.clicked {
                outcome.clicks += 1
                events.append(ViewEvent(item: clicked, seconds: dwellSeconds))
            }
            for shown in recommendation.items {
                let event = FeedbackRequest(
                    impressionId: recommendation.impressionId, item: shown.item, click: step.clicked == shown.item ? 1 : 0)
                do throws(ClientError) {
                    _ = try await backend.feedback(event)
                } catch {
                    outcome.errors[error.statusName, default: 0] += 1
                }
            }
            if step.done {
                outcome.completed = true
                return outcome
            }
        }
        return outcome
    }

    /// Clicks of the random slate and of the myopic oracle in session `index`'s environment.
    static func reference(env: SimulatorEnvironment, slateLength: Int, index: Int) -> (random: Int, oracle: Int) {
        var rng = Xoshiro256(seed: UInt64(index) &+ 0xA5A5)
        var random = env
        var oracle = env
        random.reset()
        oracle.reset()
        let items = env.world.config.items
        var clicks = (0, 0)
        for _ in 0..<stepLimit {
            var pool = Array(0..<items)
            var slate: [Int] = []
            for _ in 0..<min(slateLength, items) { slate.append(pool.remove(at: rng.nextInt(below: pool.count))) }
            guard let step = try? random.step(slate) else { break }
            if step.clicked != nil { clicks.0 += 1 }
            if step.done { break }
        }
        for _ in 0..<stepLimit {
            let alone = (0..<items).map { (try? oracle.choiceProbabilities([$0]))?.first ?? 0 }
            let slate = Array(alone.indices.sorted { alone[$0] > alone[$1] }.prefix(slateLength))
            guard let step = try? oracle.step(slate) else { break }
            if step.clicked != nil { clicks.1 += 1 }
            if step.done { break }
        }
        return clicks
    }
}
