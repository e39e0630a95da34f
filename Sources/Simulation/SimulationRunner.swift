import RecClient
import RecData
import RecModel
import RecPolicy
import RecTransport
import RecWire

/// Drives a pool with simulated new users and measures what it learns.
///
/// Each user is drawn from the world's prior by ``SimulatorEnvironment/reset()`` (so user `i` is the same for
/// a given seed), gets one RECOMMEND with its user features, clicks at most one item by the simulator's
/// ground truth, and FEEDBACK is sent for every shown item (click 1 for the clicked one, 0 for the others).
/// The same users are shown three local baselines: the uniform random policy, the policy the pool served at
/// the start (same exploration, never updated) and the oracle (top items by ground-truth single-item click
/// probability). A step consumes exactly one uniform from the environment, so the environment is copied just
/// before each user's step: every policy meets the same user *and* the same choice draw, and live users can
/// be served concurrently without changing the sequence.
public enum SimulationRunner {
    /// Runs a simulation.
    /// - Parameters:
    ///   - backend: the pool (or an in-process stand-in).
    ///   - plan: users, seed, concurrency, windows and world.
    ///   - onProgress: called after every `progressEvery` finished users, and at the end.
    /// - Returns: the report; failed calls are counted in it, not thrown.
    /// - Throws: ``SimulationError`` when the plan is invalid or the served policy cannot be fetched or does
    ///   not serve the simulated world's catalogue.
    public static func run<Backend: RecommendFeedbackBackend>(
        backend: Backend, plan: SimulationPlan, onProgress: @Sendable (SimulationProgress) -> Void = { _ in }
    ) async throws(SimulationError) -> SimulationReport {
        if let problem = plan.problem { throw .invalidPlan(problem) }
        let world = SimulatorWorld(config: plan.world)
        let install: PolicyInstall
        let pack: ParameterPack
        do throws(ClientError) {
            (install, pack) = try await backend.currentPolicy()
        } catch {
            throw .policyUnavailable(error)
        }
        try checkCatalogue(install.spec, world: world)
        let fixed: OnlinePolicy
        do throws(PolicyError) {
            fixed = try OnlinePolicy.served(spec: install.spec, weights: pack)
        } catch {
            throw .invalidPolicy(error)
        }
        let slateLength = install.spec.slateSize
        let draws = drawUsers(world: world, count: plan.users, seed: plan.seed)
        let baselines = try Baselines.run(draws: draws, fixed: fixed, slateLength: slateLength, seed: plan.seed)

        let started = Clocks.monotonicMicros()
        let outcomes = await serveLive(backend: backend, draws: draws, slateLength: slateLength, plan: plan, onProgress)
        let elapsedMs = (Clocks.monotonicMicros() - started) / 1000
        return SimulationReport(
            plan: plan, outcomes: outcomes, baselines: baselines, fixedVersion: install.version, elapsedMs: elapsedMs)
    }

    /// The served spec must be ``SimulatorCatalog``'s for the simulated world, else clicks mean nothing.
    static func checkCatalogue(_ spec: OnlinePolicySpec, world: SimulatorWorld) throws(SimulationError) {
        let config = world.config
        let expected = SimulatorCatalog.spec(world: world)
        guard spec.userFeatures.map(\.name) == expected.userFeatures.map(\.name) else {
            throw .catalogueMismatch(
                "user features \(spec.userFeatures.map(\.name)), the world has \(expected.userFeatures.map(\.name))")
        }
        guard spec.itemCount == config.items else {
            throw .catalogueMismatch("\(spec.itemCount) items, the world has \(config.items)")
        }
        if let item = spec.itemFeatures.indices.first(where: { spec.itemFeatures[$0] != expected.itemFeatures[$0] }) {
            throw .catalogueMismatch("item \(item)'s features differ (a world with another seed or shape?)")
        }
        guard spec.slateSize <= config.positions else {
            throw .catalogueMismatch("slate size \(spec.slateSize), the world shows at most \(config.positions) items")
        }
    }

    /// One simulated user: what the pool sees, and the environment positioned just before the user's step.
    struct UserDraw: Sendable {
        var observation: SimulatorObservation
        var environment: SimulatorEnvironment

        /// Shows `slate` to the user on a copy of the environment (the same choice draw every time).
        func step(_ slate: [Int]) throws(SimulatorError) -> SimulatorStep {
            var copy = environment
            return try copy.step(slate)
        }
    }

    /// The user sequence of a seed: reset, remember, then advance past the step's one uniform.
    static func drawUsers(world: SimulatorWorld, count: Int, seed: UInt64) -> [UserDraw] {
        var environment = SimulatorEnvironment(world: world, seed: seed)
        var draws: [UserDraw] = []
        draws.reserveCapacity(count)
        for _ in 0..<count {
            let observation = environment.reset()
            draws.append(UserDraw(observation: observation, environment: environment))
            // Any valid slate consumes the same single uniform; the outcome is discarded.
            _ = try? environment.step([0])
        }
        return draws
    }

    /// What happened to one live user.
    struct LiveOutcome: Sendable {
        var index: Int
        var served = false
        var click = 0
        var version: UInt64 = 0
        var feedbackSent = 0
        var duplicates = 0
        var errors: [String: Int] = [:]
    }

    private static func serveLive<Backend: RecommendFeedbackBackend>(
        backend: Backend, draws: [UserDraw], slateLength: Int, plan: SimulationPlan,
        _ onProgress: @Sendable (SimulationProgress) -> Void
    ) async -> [LiveOutcome] {
        var outcomes = draws.indices.map { LiveOutcome(index: $0) }
        var progress = SimulationProgress(
            done: 0, users: draws.count, served: 0, clicks: 0, recentCtr: 0, feedbackSent: 0, errors: 0, version: 0)
        var recent = RecentClicks(capacity: max(1, draws.count / plan.windows))
        await withTaskGroup(of: LiveOutcome.self) { group in
            var next = 0
            func startNext() {
                guard next < draws.count else { return }
                let index = next
                let draw = draws[index]
                next += 1
                group.addTask { await serve(index, draw: draw, slateLength: slateLength, backend: backend) }
            }
            for _ in 0..<min(plan.concurrency, draws.count) { startNext() }
            while let outcome = await group.next() {
                outcomes[outcome.index] = outcome
                progress.done += 1
                progress.feedbackSent += outcome.feedbackSent
                progress.errors += outcome.errors.values.reduce(0, +)
                if outcome.served {
                    progress.served += 1
                    progress.clicks += outcome.click
                    progress.version = max(progress.version, outcome.version)
                    recent.append(outcome.click)
                    progress.recentCtr = recent.mean
                }
                if progress.done % plan.progressEvery == 0 || progress.done == draws.count { onProgress(progress) }
                startNext()
            }
        }
        return outcomes
    }

    private static func serve<Backend: RecommendFeedbackBackend>(
        _ index: Int, draw: UserDraw, slateLength: Int, backend: Backend
    ) async -> LiveOutcome {
        var outcome = LiveOutcome(index: index)
        let recommendation: PolicyRecommendation
        do throws(ClientError) {
            recommendation = try await backend.recommend(
                RecommendQuery(userFeatures: draw.observation.userFeatures, top: slateLength))
        } catch {
            outcome.errors[error.statusName, default: 0] += 1
            return outcome
        }
        let step: SimulatorStep
        do throws(SimulatorError) {
            step = try draw.step(recommendation.items.map(\.item))
        } catch {
            // A slate the simulated user cannot be shown (unknown or repeated items, too long).
            outcome.errors["BAD_SLATE", default: 0] += 1
            return outcome
        }
        outcome.served = true
        outcome.click = step.clicked == nil ? 0 : 1
        outcome.version = recommendation.modelVersion
        for shown in recommendation.items {
            let event = FeedbackRequest(
                impressionId: recommendation.impressionId, item: shown.item, click: step.clicked == shown.item ? 1 : 0)
            do throws(ClientError) {
                let reply = try await backend.feedback(event)
                outcome.feedbackSent += 1
                if reply.duplicate { outcome.duplicates += 1 }
            } catch {
                outcome.errors[error.statusName, default: 0] += 1
            }
        }
        return outcome
    }
}

/// A ring of the most recent clicks, for the progress line's recent CTR.
struct RecentClicks {
    private var ring: [Int]
    private var next = 0
    private var filled = 0
    private var sum = 0

    init(capacity: Int) { ring = [Int](repeating: 0, count: capacity) }

    mutating func append(_ click: Int) {
        sum += click - ring[next]
        ring[next] = click
        next = (next + 1) % ring.count
        filled = min(filled + 1, ring.count)
    }

    var mean: Double { filled > 0 ? Double(sum) / Double(filled) : 0 }
}
