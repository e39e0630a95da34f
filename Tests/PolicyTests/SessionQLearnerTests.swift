import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

@Suite("Session DQN: Double-DQN targets and the target network")
struct SessionQLearnerTests {
    func spec(gamma: Double = 0.9, updateEvery: Int = 1, targetUpdateEvery: Int = 3) -> (SimulatorWorld, OnlinePolicySpec) {
        let world = SimulatorWorld(config: SimulatorConfig())
        let learning = OnlineLearningSpec(
            updateEvery: updateEvery, learner: .sessionDQN, gamma: gamma, targetUpdateEvery: targetUpdateEvery)
        return (world, SimulatorCatalog.spec(world: world, learning: learning))
    }

    func user(_ world: SimulatorWorld, seed: UInt64) -> [String: String] {
        var env = SimulatorEnvironment(world: world, seed: seed)
        return env.reset().userFeatures
    }

    @Test("the Double-DQN target: the online network picks a′, the target network evaluates it (hand-computed)")
    func doubleDQNTarget() {
        // Online picks index 1 (0.7); the target network's value there is 0.4: y = 1 + 0.9 · 0.4 = 1.36.
        // Plain DQN (max of the target network, 2.0) would give 2.8; this test tells the two apart.
        let y = DoubleDQN.target(reward: 1, gamma: 0.9, onlineNext: [0.2, 0.7, 0.5], targetNext: [1.0, 0.4, 2.0])
        #expect(abs(y - 1.36) < 1e-12)
        let noClick = DoubleDQN.target(reward: 0, gamma: 0.5, onlineNext: [3, -1], targetNext: [0.6, 9])
        #expect(abs(noClick - 0.3) < 1e-12)
        // Ties go to the first index.
        #expect(DoubleDQN.target(reward: 0, gamma: 1 / 2, onlineNext: [1, 1], targetNext: [4, 8]) == 2)
        // Terminal, γ = 0 (a contextual bandit) and no candidates: the reward alone.
        #expect(DoubleDQN.target(reward: 1, gamma: 0.9, onlineNext: [0.2, 0.7], targetNext: [1, 2], done: true) == 1)
        #expect(DoubleDQN.target(reward: 1, gamma: 0, onlineNext: [0.2, 0.7], targetNext: [1, 2]) == 1)
        #expect(DoubleDQN.target(reward: 0.5, gamma: 0.9, onlineNext: [], targetNext: []) == 0.5)
    }

    @Test("the next state adds a clicked item with the views' mean dwell; an unclicked one leaves it as it was")
    func nextState() {
        let viewed = [ViewedItem(item: 4, seconds: 2), ViewedItem(item: 9, seconds: 4)]
        let click = LearnEvent(
            impressionId: "i", userFeatures: [:], viewed: viewed, item: 7, reward: 1, propensity: 0.5, version: 1)
        #expect(SessionQLearner.nextViewed(after: click) == viewed + [ViewedItem(item: 7, seconds: 3)])
        var none = click
        none.reward = 0
        #expect(SessionQLearner.nextViewed(after: none) == viewed)
        var first = click
        first.viewed = []
        #expect(SessionQLearner.nextViewed(after: first) == [ViewedItem(item: 7, seconds: 1)])
    }

    /// The Thompson sample came from a running generator: installing the version a replica already served drew
    /// another sample, and `simulate --deterministic` on a session DQN pool gave another curve on every fresh pool.
    @Test("the served sample is keyed by seed, version and updates: installing the same version serves the same sample")
    func samplesAreKeyed() throws {
        let (_, spec) = spec(gamma: 0.8, targetUpdateEvery: 30)
        let policy = try OnlinePolicy.initial(spec: spec)
        let first = SessionQLearner(policy: policy, version: 3, seed: 5)
        var again = first
        again.install(policy, version: 3)
        again.install(policy, version: 3)
        #expect(again.current.coefficients == first.current.coefficients)
        #expect(SessionQLearner(policy: policy, version: 3, seed: 5).current.coefficients == first.current.coefficients)
        #expect(SessionQLearner(policy: policy, version: 4, seed: 5).current.coefficients != first.current.coefficients)
    }

    @Test("an event's target is r + γ·Q_target(s′, argmax Q_online(s′, ·)) over the active items, s′ holding the click")
    func eventTarget() throws {
        // One update per event, a target copy at the 30th: after 40 events both networks are learnt and differ.
        let (world, spec) = spec(gamma: 0.8, targetUpdateEvery: 30)
        var learner = SessionQLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 5)
        let features = user(world, seed: 11)
        // Learn some clicks so the online network is no longer the prior's zero.
        for step in 0..<40 {
            let item = step % 7
            _ = learner.learn([
                LearnEvent(
                    impressionId: "i\(step)", userFeatures: features, item: item, reward: item < 3 ? 1 : 0,
                    propensity: 0.3, version: 1)
            ])
        }
        #expect(learner.targetCopies == 1)
        #expect(learner.online != learner.target)
        #expect(learner.target.theta.contains { $0 != 0 })
        let event = LearnEvent(
            impressionId: "x", userFeatures: features, viewed: [ViewedItem(item: 2, seconds: 1)], item: 5, reward: 1,
            propensity: 0.3, version: 1)
        let policy = learner.current
        let next = try policy.userVector(features, viewed: [ViewedItem(item: 2, seconds: 1), ViewedItem(item: 5, seconds: 1)])
        let items = policy.activeRows
        let qOnline = learner.qValues(learner.online, z: next, items: items)
        let qTarget = learner.qValues(learner.target, z: next, items: items)
        let best = qOnline.indices.max { qOnline[$0] < qOnline[$1] }!
        #expect(abs(try learner.target(of: event) - (1 + 0.8 * qTarget[best])) < 1e-9)
        #expect(try learner.target(of: event) != 1, "the bootstrap term is there")
    }

    /// A LEARN reward of 1e308 was learnt (only finiteness was checked): every later statistic was infinite, the
    /// replica's slate never changed again and each sync's delta was refused. The contextual bandit refuses it.
    @Test("a reward outside [0, 1] is rejected and counted, never learnt, as the contextual bandit rejects it")
    func rewardOutsideUnitInterval() throws {
        let (world, spec) = spec(updateEvery: 1)
        var learner = SessionQLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 9)
        let features = user(world, seed: 3)
        let before = learner.learnt
        for (index, reward) in [1e308, 2, -1, 12.5].enumerated() {
            _ = learner.learn([
                LearnEvent(
                    impressionId: "bad\(index)", userFeatures: features, item: 1, reward: reward, propensity: 0.3, version: 1)
            ])
        }
        #expect(learner.rejectedEvents == 4)
        #expect(learner.learnt == before)
        _ = learner.learn([
            LearnEvent(impressionId: "ok", userFeatures: features, item: 1, reward: 1, propensity: 0.3, version: 1)
        ])
        #expect(learner.rejectedEvents == 4 && learner.learnt != before)
    }

    @Test("the target network is a copy of the online network taken every target_update_every updates")
    func targetNetworkUpdate() throws {
        let (world, spec) = spec(updateEvery: 2, targetUpdateEvery: 3)
        var learner = SessionQLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 9)
        let start = learner.target
        #expect(learner.online == start)
        let features = user(world, seed: 3)
        var updates = 0
        var event = 0
        func step(_ learner: inout SessionQLearner) {
            for _ in 0..<2 {
                _ = learner.learn([
                    LearnEvent(
                        impressionId: "i\(event)", userFeatures: features, item: event % 5, reward: event % 3 == 0 ? 1 : 0,
                        propensity: 0.3, version: 1)
                ])
                event += 1
            }
            updates += 1
        }
        step(&learner)
        step(&learner)
        #expect(learner.updatesSinceInstall == 2)
        #expect(learner.target == start, "no copy before the third update")
        #expect(learner.online != start)
        step(&learner)
        #expect(learner.targetCopies == 1)
        #expect(learner.target == learner.online, "copied at the third update")
        let copied = learner.target
        step(&learner)
        #expect(learner.target == copied)
        #expect(learner.online != copied)
        // Installing a version restarts both networks at its posterior mean.
        let merged = try learner.current.with(statistics: learner.learnt)
        learner.install(merged, version: 2)
        #expect(learner.target == learner.online)
        #expect(learner.targetCopies == 0 && learner.updatesSinceInstall == 0)
    }

    @Test("with γ = 0 the session DQN learns exactly the ridge regression on rewards (a linear contextual bandit)")
    func gammaZeroIsABandit() throws {
        let (world, spec) = spec(gamma: 0, targetUpdateEvery: 1)
        var learner = SessionQLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 2)
        let policy = try OnlinePolicy.initial(spec: spec)
        var stats = policy.statistics
        let features = user(world, seed: 8)
        for i in 0..<10 {
            let event = LearnEvent(
                impressionId: "i\(i)", userFeatures: features, viewed: i > 4 ? [ViewedItem(item: 1, seconds: 1)] : [],
                item: i, position: i % 3, reward: i % 2 == 0 ? 1 : 0, propensity: 0.2, version: 1)
            _ = learner.learn([event])
            let z = try policy.userVector(features, viewed: event.viewed)
            stats.add(
                phi: policy.interactions(z: z, item: i, position: i % 3), bucket: policy.bucket(of: i), reward: event.reward)
        }
        #expect(learner.learnt == stats)
    }
}
