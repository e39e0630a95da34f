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

    @Test func anInstallStartsAnEmptyWindowAndTheStatisticsStayTheInstalledOnesPlusTheNewFactors() throws {
        let world = SimulatorWorld(config: SimulatorConfig())
        let spec = SimulatorCatalog.spec(world: world, learning: OnlineLearningSpec(updateEvery: 8, noiseVariance: 0))
        let events = try Self.events(spec: spec, world: world, users: 60)
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 1, window: 50)
        _ = learner.learn(events)
        let installed = try learner.current.with(statistics: learner.learnt)
        learner.install(installed, version: 2)
        #expect(learner.learnt == installed.statistics)
        // After the install the window holds only new events: the counts per bucket grow by exactly those.
        let more = Array(events.prefix(8))
        _ = learner.learn(more)
        let before: Double = installed.statistics.k.reduce(0, +)
        let after: Double = learner.learnt.k.reduce(0, +)
        #expect(after == before + Double(more.count))
    }
}
