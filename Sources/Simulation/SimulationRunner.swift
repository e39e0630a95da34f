import RecClient
import RecData
import RecModel
import RecPolicy
import RecTransport
import RecWire

/// Drives a pool with simulated new users and measures what it learns.
///
/// Each user is a ``SimulatedVisitor`` of the world (``VisitorWorld/visitors(count:seed:)``, so user `i` is the
/// same for a given seed), gets one RECOMMEND with its user features, clicks at most one item by the world's
/// ground truth, and FEEDBACK is sent for every shown item (click 1 for the clicked one, 0 for the others).
/// The same users are shown the local baselines: the uniform random policy, the policy the pool served at
/// the start (same exploration, never updated), the world's logging policy if it has one, three textbook
/// contextual bandits learning from their own slates (LinUCB, logistic Thompson sampling, ε-greedy logistic
/// regression), the best policy on the observable features alone, and the oracle (top items by ground-truth
/// single-item click probability). A visitor carries its one choice draw, so every policy meets the same user
/// *and* the same choice draw, and live users can be served concurrently without changing the sequence.
public enum SimulationRunner {
    /// Runs a simulation.
    /// - Parameters:
    ///   - backend: the pool (or an in-process stand-in).
    ///   - plan: users, seed, concurrency, windows and world.
    ///   - world: where the users come from (nil: the simulator world of `plan.world`).
    ///   - onProgress: called after every `progressEvery` finished users, and at the end.
    /// - Returns: the report; failed calls are counted in it, not thrown.
    /// - Throws: ``SimulationError`` when the plan is invalid or the served policy cannot be fetched or does
    ///   not serve the simulated world's catalogue.
    public static func run<Backend: RecommendFeedbackBackend>(
        backend: Backend, plan: SimulationPlan, world: (any VisitorWorld)? = nil,
        onProgress: @Sendable (SimulationProgress) -> Void = { _ in }
    ) async throws(SimulationError) -> SimulationReport {
        if let problem = plan.problem { throw .invalidPlan(problem) }
        let world = world ?? SimulatorWorld(config: plan.world)
        func served() async throws(SimulationError) -> (PolicyInstall, ParameterPack) {
            do throws(ClientError) {
                return try await backend.currentPolicy()
            } catch {
                throw .policyUnavailable(error)
            }
        }
        var (install, pack) = try await served()
        try checkCatalogue(install.spec, world: world)
        var barrier: SyncBarrier?
        if plan.deterministic {
            let wait = try await backend.syncBarrier(spec: install.spec)
            try await wait.settle()
            barrier = wait
            // The settle syncs what feedback was pending, which may serve a newer version: the `fixed` baseline is
            // the policy the pool serves when the first user arrives, not the one before the barrier.
            (install, pack) = try await served()
            try checkCatalogue(install.spec, world: world)
        }
        let fixed: OnlinePolicy
        do throws(PolicyError) {
            fixed = try OnlinePolicy.served(spec: install.spec, weights: pack)
        } catch {
            throw .invalidPolicy(error)
        }
        // A policy's slate size is the pool's default `top`, not a promise: a world with fewer slots (a shop whose log
        // shows two items) is asked for slates as long as its own.
        let slateLength = min(install.spec.slateSize, world.slots)
        let visitors = world.visitors(count: plan.users, seed: plan.seed)
        let started = Clocks.monotonicMicros()
        let (outcomes, broken) = await serveLive(
            backend: backend, visitors: visitors, slateLength: slateLength, plan: plan, barrier: barrier, onProgress)
        // A deterministic run whose barrier failed is no longer one: said, with why, rather than reported as a
        // run whose curve a second run would repeat (it counted one SYNC_BARRIER error and exited 0).
        if let broken { throw broken }
        let elapsedMs = (Clocks.monotonicMicros() - started) / 1000
        // The baselines learn from the users the pool served, and only those: a learner that learnt from a user the pool
        // failed would have seen more than the pool did (docs/ONLINE.md: "left out of every baseline too"). Every user
        // still gets each baseline's slate, so a window the pool served none of keeps its baseline figures.
        let served = outcomes.map(\.served)
        let baselines = try Baselines.run(
            visitors: visitors, world: world, fixed: fixed, slateLength: slateLength, seed: plan.seed,
            learnsFrom: served.allSatisfy { $0 } ? nil : served)
        return SimulationReport(
            plan: plan, world: name(of: world), outcomes: outcomes, baselines: baselines,
            fixedVersion: install.version, elapsedMs: elapsedMs)
    }

    /// Runs the baselines alone, without a pool, on the users a pool would meet (`--baselines-only`): slates as
    /// long as the world's slots, the pool's CTRs undefined, no fixed baseline.
    /// - Throws: ``SimulationError/invalidPlan(_:)``.
    public static func runBaselines(plan: SimulationPlan, world: (any VisitorWorld)? = nil) throws(SimulationError)
        -> SimulationReport
    {
        if let problem = plan.problem { throw .invalidPlan(problem) }
        let world = world ?? SimulatorWorld(config: plan.world)
        let visitors = world.visitors(count: plan.users, seed: plan.seed)
        let baselines = try Baselines.run(
            visitors: visitors, world: world, fixed: nil, slateLength: world.slots, seed: plan.seed)
        return SimulationReport(
            plan: plan, world: name(of: world), outcomes: visitors.indices.map { LiveOutcome(index: $0) },
            baselines: baselines, fixedVersion: nil, elapsedMs: nil)
    }

    static func name(of world: any VisitorWorld) -> String {
        (world as? LoggedWorld)?.name ?? "simulator"
    }

    /// The served spec must be the simulated world's catalogue, else clicks mean nothing. Its slate size may differ
    /// from the world's slots: each RECOMMEND asks for as many items as the world shows (`top`).
    static func checkCatalogue(_ spec: OnlinePolicySpec, world: any VisitorWorld) throws(SimulationError) {
        guard spec.itemCount == world.itemCount else {
            // Another catalogue, or the world's with items added since (rows never move): name both remedies.
            let remedy =
                "; serve the world's catalogue (for an OBD world, the same obd: source; for the simulator's, the one "
                + "`simulate --export-catalogue` writes)"
                + (spec.itemCount > world.itemCount
                    ? ", or, if items were added to it since, restart the broker with --online-catalogue set to the "
                        + "version that was uploaded (`recpool catalogue list`)" : "")
            throw .catalogueMismatch("\(spec.itemCount) items, the world has \(world.itemCount)\(remedy)")
        }
        // The baselines show every item of the world; a pool with retired items cannot, and the CTRs (÷ oracle too)
        // would compare slates drawn from different catalogues.
        let retired = spec.itemActive.filter { !$0 }.count
        guard retired == 0 else {
            throw .catalogueMismatch(
                "\(retired) of the pool's \(spec.itemCount) items are retired, while the baselines show every item of "
                    + "the world: serve a catalogue version with every item active (a retired item cannot be restored: "
                    + "restart the broker with --online-catalogue set to a version from before the retire, `recpool "
                    + "catalogue list`; a pool pinned so refuses catalogue changes until it serves `latest` again)")
        }
        // As sets: the policy lists the schema's features in its own order, the world categorical ones first.
        let names = world.userFeatureNames
        guard Set(spec.userFeatures.map(\.name)) == Set(names) else {
            throw .catalogueMismatch("user features \(spec.userFeatures.map(\.name)), the world has \(names)")
        }
        let expected: ItemFeatureRows
        if let simulator = world as? SimulatorWorld {
            expected = SimulatorCatalog.spec(world: simulator).itemFeatures
        } else if let logged = world as? LoggedWorld {
            var rows = spec
            rows.setCatalogue(logged.catalogue)
            expected = rows.itemFeatures
        } else {
            return
        }
        if let item = spec.itemFeatures.indices.first(where: { spec.itemFeatures[$0] != expected[$0] }) {
            throw .catalogueMismatch("item \(item)'s features differ (a world with another seed or shape?)")
        }
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

    /// Users that may fail in a row before a run stops (``SimulationError/poolStopped(_:)``): a pool that stopped
    /// serving cost every later user a timeout (at 5 s each, hours for a default run) before a report that looked
    /// complete, with exit 0.
    public static let failedUsersLimit = 25

    private static func serveLive<Backend: RecommendFeedbackBackend>(
        backend: Backend, visitors draws: [SimulatedVisitor], slateLength: Int, plan: SimulationPlan,
        barrier: SyncBarrier?,
        _ onProgress: @Sendable (SimulationProgress) -> Void
    ) async -> (outcomes: [LiveOutcome], broken: SimulationError?) {
        var outcomes = draws.indices.map { LiveOutcome(index: $0) }
        var progress = SimulationProgress(
            done: 0, users: draws.count, served: 0, clicks: 0, recentCtr: 0, feedbackSent: 0, errors: 0, version: 0)
        var recent = RecentClicks(capacity: max(1, draws.count / plan.windows))
        var barrier = barrier
        var broken: SimulationError? = nil
        // Users that failed in a row (in the order they finished), and how.
        var failedInARow = 0
        var failures: [String: Int] = [:]
        await withTaskGroup(of: LiveOutcome.self) { group in
            var next = 0
            func startNext() {
                guard next < draws.count, broken == nil else { return }
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
                if outcome.served, plan.deterministic, broken == nil, !outcome.errors.isEmpty {
                    // Served, but some of its FEEDBACK failed: the pool learnt fewer events than the curve needs, and
                    // the barrier (every M events sent) was never met again, so the run went on, unsynced, and
                    // exited 0 as if it would repeat.
                    let how = outcome.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                        .joined(separator: ", ")
                    broken = .notDeterministic(
                        "the run stopped after \(progress.done) of \(draws.count) users: user \(outcome.index)'s feedback "
                            + "was not all delivered (\(how)), and a curve learnt from fewer events would not repeat")
                }
                if outcome.served {
                    failedInARow = 0
                    failures = [:]
                } else if broken == nil {
                    failedInARow += 1
                    for (status, count) in outcome.errors { failures[status, default: 0] += count }
                    let how = failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                    if plan.deterministic {
                        // Its curve would not repeat with a user missing (a dead worker's NO_WORKER, a timeout).
                        broken = .notDeterministic(
                            "the run stopped after \(progress.done) of \(draws.count) users: user \(outcome.index) was "
                                + "not served (\(how)), and a curve with a user missing would not repeat")
                    } else if failedInARow >= failedUsersLimit {
                        broken = .poolStopped(
                            "the last \(failedInARow) users in a row failed (\(how)); the run stopped after "
                                + "\(progress.done) of \(draws.count) users (\(progress.served) served)")
                    }
                }
                if outcome.served {
                    progress.served += 1
                    progress.clicks += outcome.click
                    progress.version = max(progress.version, outcome.version)
                    recent.append(outcome.click)
                    progress.recentCtr = recent.mean
                }
                if progress.done % plan.progressEvery == 0 || progress.done == draws.count { onProgress(progress) }
                if let active = barrier, outcome.feedbackSent > 0, progress.feedbackSent % active.everyEvents == 0 {
                    do throws(SimulationError) {
                        try await active.settle()
                    } catch {
                        // The run is no longer deterministic: it stops (the users in flight finish) and says why, after
                        // how many users; no later barrier is waited for (a frozen pool made every barrier retry for a
                        // minute, a 300-user run half an hour, and the run then exited 0).
                        barrier = nil
                        let why: String
                        if case .notDeterministic(let text) = error { why = text } else { why = "\(error)" }
                        broken = .notDeterministic("the run stopped after \(progress.done) of \(draws.count) users: \(why)")
                    }
                }
                startNext()
            }
        }
        return (outcomes, broken)
    }

    private static func serve<Backend: RecommendFeedbackBackend>(
        _ index: Int, draw: SimulatedVisitor, slateLength: Int, backend: Backend
    ) async -> LiveOutcome {
        var outcome = LiveOutcome(index: index)
        let recommendation: PolicyRecommendation
        do throws(ClientError) {
            recommendation = try await backend.recommend(
                RecommendQuery(userFeatures: draw.userFeatures, top: slateLength))
        } catch {
            outcome.errors[error.statusName, default: 0] += 1
            return outcome
        }
        let clicked: Int?
        do throws(SimulatorError) {
            clicked = try draw.clicked(recommendation.items.map(\.item))
        } catch {
            // A slate the simulated user cannot be shown (unknown or repeated items, too long).
            outcome.errors["BAD_SLATE", default: 0] += 1
            return outcome
        }
        outcome.served = true
        outcome.click = clicked == nil ? 0 : 1
        outcome.version = recommendation.modelVersion
        for shown in recommendation.items {
            let event = FeedbackRequest(
                impressionId: recommendation.impressionId, item: shown.item, click: clicked == shown.item ? 1 : 0)
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
