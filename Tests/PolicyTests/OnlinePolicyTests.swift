import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// A small world and its catalogue spec, shared by the tests.
func smallSpec(exploration: ExplorationSpec = ExplorationSpec()) -> (SimulatorWorld, OnlinePolicySpec) {
    let world = SimulatorWorld(config: SimulatorConfig())
    return (world, SimulatorCatalog.spec(world: world, exploration: exploration))
}

/// Runs `users` simulated cold-start users against a learning policy in-process; returns clicks per user.
func simulateLearning(users: Int, seed: UInt64, spec: OnlinePolicySpec, world: SimulatorWorld, learn: Bool = true)
    throws -> [Int]
{
    var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: seed)
    var environment = SimulatorEnvironment(world: world, seed: seed)
    var rng = Xoshiro256(seed: seed ^ 0xABCD)
    var clicks: [Int] = []
    for u in 0..<users {
        let observation = environment.reset()
        let slate = try learner.current.recommend(userFeatures: observation.userFeatures, rng: &rng)
        let step = try environment.step(slate.map(\.item))
        clicks.append(step.clicked == nil ? 0 : 1)
        if learn {
            let events = slate.map {
                LearnEvent(
                    impressionId: "i\(u)", userFeatures: observation.userFeatures, item: $0.item, position: $0.position,
                    reward: step.clicked == $0.item ? 1 : 0, propensity: $0.propensity, version: 1)
            }
            _ = learner.learn(events)
        }
    }
    return clicks
}

@Suite struct OnlinePolicyTests {
    @Test func slotProbabilitiesSumToOneAndMatchTheLoggedPropensities() throws {
        for exploration in [ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.2), ExplorationSpec(kind: .softmax, temperature: 0.1)] {
            let (_, spec) = smallSpec(exploration: exploration)
            let policy = try OnlinePolicy.initial(spec: spec)
            let features = ["user_feature_0": "u0_01", "user_feature_2": "u2_03"]
            let q = try policy.qValues(userFeatures: features)
            let p = policy.probabilities(q, items: Array(0..<spec.itemCount))
            #expect(abs(p.reduce(0, +) - 1) < 1e-9)
            var rng = Xoshiro256(seed: 3)
            let slate = try policy.recommend(userFeatures: features, rng: &rng)
            #expect(slate.count == spec.slateSize)
            #expect(Set(slate.map(\.item)).count == slate.count)
            let replay = try policy.slotProbabilities(userFeatures: features, slate: slate.map(\.item))
            for (a, b) in zip(replay, slate.map(\.propensity)) { #expect(abs(a - b) < 1e-9) }
        }
    }

    @Test func epsilonGreedyPropensitiesAreEmpirical() throws {
        let exploration = ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.3)
        let (_, spec) = smallSpec(exploration: exploration)
        let policy = try OnlinePolicy.initial(spec: spec)
        let features = ["user_feature_1": "u1_02"]
        var rng = Xoshiro256(seed: 11)
        var counts: [Int: Int] = [:]
        var propensity: [Int: Double] = [:]
        let n = 20_000
        for _ in 0..<n {
            let first = try policy.recommend(userFeatures: features, top: 1, rng: &rng)[0]
            counts[first.item, default: 0] += 1
            propensity[first.item] = first.propensity
        }
        for (item, count) in counts where count > 500 {
            #expect(abs(Double(count) / Double(n) - propensity[item]!) < 0.02)
        }
    }

    @Test func badContextIsATypedError() throws {
        let (_, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        var rng = Xoshiro256(seed: 1)
        #expect(throws: PolicyError.unknownUserFeature("colour")) {
            try policy.recommend(userFeatures: ["colour": "red"], rng: &rng)
        }
        #expect(throws: PolicyError.unknownItem(999)) {
            try policy.recommend(userFeatures: [:], candidates: [1, 999], rng: &rng)
        }
        #expect(throws: PolicyError.invalidTop(0)) { try policy.recommend(userFeatures: [:], top: 0, rng: &rng) }
        #expect(throws: PolicyError.invalidTop(101)) { try policy.recommend(userFeatures: [:], top: 101, rng: &rng) }
        #expect(try policy.recommend(userFeatures: [:], top: 100, rng: &rng).count == 40)
        #expect(throws: PolicyError.invalidDwell(1e9 + 1)) {
            try policy.recommend(userFeatures: [:], viewed: [ViewedItem(item: 4, seconds: 1e9 + 1)], rng: &rng)
        }
        #expect(throws: PolicyError.unknownItem(40)) {
            try policy.recommend(userFeatures: [:], viewed: [ViewedItem(item: 40, seconds: 3)], rng: &rng)
        }
        #expect(throws: PolicyError.invalidDwell(-1)) {
            try policy.recommend(userFeatures: [:], viewed: [ViewedItem(item: 4, seconds: -1)], rng: &rng)
        }
        var broken = spec
        broken.slateSize = 0
        #expect(throws: PolicyError.self) { try OnlinePolicy.initial(spec: broken) }
    }

    @Test func learningFromFeedbackRaisesTheClickThroughRate() throws {
        let (world, spec) = smallSpec()
        let clicks = try simulateLearning(users: 5000, seed: 21, spec: spec, world: world)
        let fifth = clicks.count / 5
        let first = Double(clicks.prefix(fifth).reduce(0, +)) / Double(fifth)
        let last = Double(clicks.suffix(fifth).reduce(0, +)) / Double(fifth)
        print("online learning CTR first fifth \(first), last fifth \(last)")
        #expect(last > first + 0.04)
    }

    @Test func theGuardRejectsNoiseAndAcceptsTheLearntPolicy() throws {
        let (world, spec) = smallSpec()
        // Log impressions with a policy that learns, then compare versions on them.
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 5)
        var environment = SimulatorEnvironment(world: world, seed: 5)
        var rng = Xoshiro256(seed: 9)
        var logged: [GuardImpression] = []
        for u in 0..<3000 {
            let observation = environment.reset()
            let slate = try learner.current.recommend(userFeatures: observation.userFeatures, rng: &rng)
            let step = try environment.step(slate.map(\.item))
            var clicks: [Int: Int] = [:]
            for s in slate { clicks[s.item] = step.clicked == s.item ? 1 : 0 }
            logged.append(
                GuardImpression(
                    userFeatures: observation.userFeatures, slate: slate.map(\.item),
                    propensities: slate.map(\.propensity), clicks: clicks))
            _ = learner.learn(slate.map {
                LearnEvent(impressionId: "i\(u)", userFeatures: observation.userFeatures, item: $0.item,
                    reward: clicks[$0.item] == 1 ? 1 : 0, propensity: $0.propensity, version: 1)
            })
        }
        let current = try learner.current.with(statistics: learner.learnt)
        let noise = try PolicyWeights.policy(PolicyWeights.noise(like: current, seed: 77), like: current)
        let recent = Array(logged.suffix(1500))
        let rejected = PolicyGuard.decide(
            candidate: noise, current: current, on: recent, margin: 0.01, minimumRows: 200, nowMs: 0)
        #expect(!rejected.accepted, "\(rejected.reason)")
        let same = PolicyGuard.decide(
            candidate: current, current: current, on: recent, margin: 0.01, minimumRows: 200, nowMs: 0)
        #expect(same.accepted, "\(same.reason)")
    }
}
