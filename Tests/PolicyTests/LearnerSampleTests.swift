import Foundation
import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// The learner's Thompson samples are a function of its statistics, seed, installed version and updates since the
/// install (what makes `recpool simulate --deterministic` repeatable), and the prior log-odds set the untrained scores.
@Suite struct LearnerSampleTests {
    /// Feeds `n` simulated slates to `learner`.
    static func feed(_ learner: inout OnlineLearner, spec: OnlinePolicySpec, world: SimulatorWorld, n: Int) throws {
        var environment = SimulatorEnvironment(world: world, seed: 11)
        var rng = Xoshiro256(seed: 12)
        for u in 0..<n {
            let observation = environment.reset()
            let slate = try learner.current.recommend(userFeatures: observation.userFeatures, rng: &rng)
            let step = try environment.step(slate.map(\.item))
            _ = learner.learn(slate.map {
                LearnEvent(
                    impressionId: "i\(u)", userFeatures: observation.userFeatures, item: $0.item, position: $0.position,
                    reward: step.clicked == $0.item ? 1 : 0, propensity: $0.propensity, version: 1)
            })
        }
    }

    @Test func installingTheSameVersionTwiceServesTheSameSample() throws {
        let (world, spec) = smallSpec()
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 3)
        try Self.feed(&learner, spec: spec, world: world, n: 40)
        let merged = try learner.current.with(statistics: learner.learnt)
        learner.install(merged, version: 2)
        let once = learner.current.coefficients
        // A second install of the same version (a sync that brought nothing new) must not move the sample,
        // however many installs came before.
        learner.install(merged, version: 2)
        learner.install(merged, version: 2)
        #expect(learner.current.coefficients == once)
        // Another version, or the next update, draws another sample.
        learner.install(merged, version: 3)
        #expect(learner.current.coefficients != once)
        var other = OnlineLearner(policy: merged, version: 2, seed: 3)
        #expect(other.current.coefficients == once)
        try Self.feed(&other, spec: spec, world: world, n: 8)
        #expect(other.updatesSinceInstall >= 1 && other.current.coefficients != once)
    }

    @Test func thePriorLogOddsSetTheUntrainedScores() throws {
        let (_, base) = smallSpec()
        var spec = base
        spec.learning.priorLogOdds = -2
        let policy = try OnlinePolicy.initial(spec: spec)
        let scores = try policy.qValues(userFeatures: [:])
        let expected = 1 / (1 + exp(2.0))
        #expect(scores.allSatisfy { abs($0 - expected) < 1e-12 })
        #expect(try OnlinePolicy.initial(spec: base).qValues(userFeatures: [:]).allSatisfy { $0 == 0.5 })
        spec.learning.priorLogOdds = .nan
        #expect(spec.learning.problem?.contains("prior_log_odds") == true)
    }
}
