import Foundation
import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// The learner's re-linearisation window: every update re-linearises the newest events at the current mean, so
/// the served mean moves to the maximum a posteriori of the logistic model (iteratively reweighted least squares)
/// instead of keeping each event's factor at the point it arrived at (assumed-density filtering).
@Suite struct RelinearisationTests {
    /// Events of `users` simulated users served by the prior (every learner sees the same events).
    static func events(spec: OnlinePolicySpec, world: SimulatorWorld, users: Int) throws -> [LearnEvent] {
        let policy = try OnlinePolicy.initial(spec: spec)
        var environment = SimulatorEnvironment(world: world, seed: 11)
        var rng = Xoshiro256(seed: 12)
        var out: [LearnEvent] = []
        for u in 0..<users {
            let observation = environment.reset()
            let slate = try policy.recommend(userFeatures: observation.userFeatures, rng: &rng)
            let step = try environment.step(slate.map(\.item))
            for item in slate {
                out.append(
                    LearnEvent(
                        impressionId: "i\(u)", userFeatures: observation.userFeatures, item: item.item,
                        position: item.position, reward: step.clicked == item.item ? 1 : 0,
                        propensity: item.propensity, version: 1))
            }
        }
        return out
    }

    /// The norm of the gradient of the log posterior (logistic likelihood, Gaussian prior) at the served mean.
    static func gradientNorm(_ learner: OnlineLearner, events: [LearnEvent]) throws -> Double {
        let policy = learner.current
        let learning = policy.spec.learning
        let theta = policy.coefficients.theta
        let bias = policy.coefficients.bias
        let lambda = learning.priorPrecision
        var gradTheta: [Double] = theta.map { -lambda * $0 }
        if !gradTheta.isEmpty { gradTheta[0] += lambda * learning.priorLogOdds }
        var gradBias: [Double] = bias.map { -lambda * $0 }
        for event in events {
            let z = try policy.userVector(event.userFeatures, viewed: event.viewed)
            let phi = policy.interactions(z: z, item: event.item, position: event.position)
            let bucket = policy.bucket(of: event.item)
            var eta = bias[bucket]
            for i in phi.indices where phi[i] != 0 { eta += theta[i] * phi[i] }
            let residual = event.reward - 1 / (1 + exp(-eta))
            for i in phi.indices where phi[i] != 0 { gradTheta[i] += residual * phi[i] }
            gradBias[bucket] += residual
        }
        var sum = 0.0
        for g in gradTheta + gradBias { sum += g * g }
        return sum.squareRoot()
    }

    @Test func theWindowMovesTheServedMeanToTheMaximumAPosteriori() throws {
        let world = SimulatorWorld(config: SimulatorConfig())
        // Noise 0: the served "sample" is the posterior mean.
        let spec = SimulatorCatalog.spec(world: world, learning: OnlineLearningSpec(updateEvery: 16, noiseVariance: 0))
        let events = try Self.events(spec: spec, world: world, users: 400)
        var adf = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 1, window: 0)
        var irls = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 1, window: 2_400)
        // The same 1,200 events twice (2,400 in the window, every one re-linearised at every update).
        for _ in 0..<2 {
            for start in stride(from: 0, to: events.count, by: 16) {
                let batch = Array(events[start..<min(start + 16, events.count)])
                _ = adf.learn(batch)
                _ = irls.learn(batch)
            }
        }
        let seen = events + events
        let adfNorm = try Self.gradientNorm(adf, events: seen)
        let irlsNorm = try Self.gradientNorm(irls, events: seen)
        let learnt = seen.count
        #expect(irls.eventsSinceInstall == learnt)
        #expect(adf.eventsSinceInstall == learnt)
        print("gradient norm at the served mean: window \(irlsNorm), none \(adfNorm)")
        let bound = 0.1 * adfNorm
        #expect(irlsNorm < bound, "gradient at the mean: window \(irlsNorm), none \(adfNorm)")
    }

    /// An install that names no pull, or another pull than the one noted (a sync that left this replica out, or a
    /// resend after a later pull), starts an empty window.
    @Test(arguments: [nil, 8] as [UInt64?])
    func anInstallStartsAnEmptyWindowAndTheStatisticsStayTheInstalledOnesPlusTheNewFactors(mergedSync: UInt64?) throws {
        let world = SimulatorWorld(config: SimulatorConfig())
        let spec = SimulatorCatalog.spec(world: world, learning: OnlineLearningSpec(updateEvery: 8, noiseVariance: 0))
        let events = try Self.events(spec: spec, world: world, users: 60)
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 1, window: 50)
        _ = learner.learn(events)
        learner.notePull(sync: 7)
        let installed = try learner.current.with(statistics: learner.learnt)
        learner.install(installed, version: 2, mergedSync: mergedSync)
        #expect(learner.learnt == installed.statistics)
        // After the install the window holds only new events: the counts per bucket grow by exactly those.
        let more = Array(events.prefix(8))
        _ = learner.learn(more)
        let before: Double = installed.statistics.k.reduce(0, +)
        let after: Double = learner.learnt.k.reduce(0, +)
        #expect(after == before + Double(more.count))
    }

    /// One learner that never installs against one that installs its own statistics every 200 events, as a one-replica
    /// pool's syncs do: with each install naming the pull it merged, the window carries over and both serve the same
    /// posterior mean (up to rounding); without it the window starts empty at each install and the means part.
    @Test func anInstallThatMergedThePullKeepsTheWindow() throws {
        let world = SimulatorWorld(config: SimulatorConfig())
        let spec = SimulatorCatalog.spec(world: world, learning: OnlineLearningSpec(updateEvery: 8, noiseVariance: 0))
        let events = try Self.events(spec: spec, world: world, users: 400)
        let initial = try OnlinePolicy.initial(spec: spec)
        var whole = OnlineLearner(policy: initial, version: 1, seed: 1, window: 600)
        var kept = OnlineLearner(policy: initial, version: 1, seed: 1, window: 600)
        var reset = OnlineLearner(policy: initial, version: 1, seed: 1, window: 600)
        var version: UInt64 = 1
        for start in stride(from: 0, to: events.count, by: 8) {
            let batch = Array(events[start..<min(start + 8, events.count)])
            _ = whole.learn(batch)
            _ = kept.learn(batch)
            _ = reset.learn(batch)
            guard (start + 8) % 200 == 0 else { continue }
            // A sync at an update boundary: pull, then install what was pulled (the merge of one replica).
            version += 1
            kept.notePull(sync: version)
            kept.install(try kept.current.with(statistics: kept.learnt), version: version, mergedSync: version)
            reset.notePull(sync: version)
            reset.install(try reset.current.with(statistics: reset.learnt), version: version)
        }
        #expect(version > 4)
        func gap(_ a: OnlineLearner, _ b: OnlineLearner) -> Double {
            zip(a.current.coefficients.theta, b.current.coefficients.theta).map { abs($0 - $1) }.max() ?? 0
        }
        let keptGap = gap(kept, whole)
        let resetGap = gap(reset, whole)
        #expect(keptGap < 1e-9, "kept \(keptGap), reset \(resetGap)")
        #expect(resetGap > 1e-3, "kept \(keptGap), reset \(resetGap)")
        // The statistics are the same sums as the learner that never installed, so a merge of them stays exact.
        let k = zip(kept.learnt.k, whole.learnt.k).map { abs($0 - $1) }.max() ?? 0
        #expect(k < 1e-9)
    }
}
