import Testing

@testable import RecModel

/// A deterministic chain: states 0…4, start at 0; action 1 moves right, action 0 moves left
/// (staying at 0). Entering state 4 pays 1 and ends the episode; every other step pays 0.
/// With γ = 0.9: Q*(s, right) = γ^(3−s) and Q*(s, left) = γ·V*(max(s−1, 0)).
struct ChainMDP {
    static let length = 5
    static let gamma: Float = 0.9

    static func oneHot(_ s: Int) -> [Float] { (0..<length).map { $0 == s ? 1 : 0 } }

    static func step(_ s: Int, _ a: Int) -> (next: Int, reward: Float, done: Bool) {
        let n = a == 1 ? s + 1 : max(s - 1, 0)
        return (n, n == length - 1 ? 1 : 0, n == length - 1)
    }

    static func optimalQ(_ s: Int, _ a: Int) -> Float {
        func v(_ s: Int) -> Float { powf_(gamma, length - 2 - s) }
        return a == 1 ? v(s) : gamma * v(max(s - 1, 0))
    }

    /// Runs ε-greedy episodes of at most 20 steps for `steps` environment steps.
    static func train(_ agent: inout DQNAgent, steps: Int, features: (Int) -> [Float] = oneHot) {
        var s = 0, t = 0
        for _ in 0..<steps {
            let a = agent.act(features(s))
            let (n, r, done) = step(s, a)
            agent.observe(Transition(state: features(s), action: a, reward: r, nextState: features(n), done: done))
            s = n
            t += 1
            if done || t == 20 { s = 0; t = 0 }
        }
    }

    static var config: DQNConfig {
        DQNConfig(
            replayCapacity: 5_000, batchSize: 32, targetUpdate: .hard(every: 100),
            epsilon: EpsilonSchedule(start: 1, end: 0.1, decaySteps: 1_000), gamma: gamma,
            learningRate: 2e-3, hiddenSizes: [32], learningStarts: 200, seed: 1)
    }
}

@Suite("DQN")
struct DQNTests {
    @Test("on a deterministic chain the Q-network learns Q* within 0.05 and its greedy policy is optimal")
    func chainConvergesToOptimalQ() {
        var agent = DQNAgent(stateWidth: ChainMDP.length, form: .actionOutputs(actionCount: 2), config: ChainMDP.config)
        ChainMDP.train(&agent, steps: 4_000)
        for s in 0..<(ChainMDP.length - 1) {
            let q = agent.qValues(ChainMDP.oneHot(s))
            for a in 0..<2 {
                #expect(abs(q[a] - ChainMDP.optimalQ(s, a)) < 0.05, "Q(\(s), \(a)) = \(q[a]), Q* = \(ChainMDP.optimalQ(s, a))")
            }
            #expect(agent.greedyAction(ChainMDP.oneHot(s)) == 1)
        }
    }

    @Test("the item-input form (state ‖ item features → Q) learns the same Q* with soft target updates")
    func itemInputForm() {
        var config = ChainMDP.config
        config.targetUpdate = .soft(tau: 0.02)
        let items = Matrix(rowArrays: [[1, 0], [0, 1]])  // action 0 = left, 1 = right, as features
        var agent = DQNAgent(stateWidth: ChainMDP.length, form: .itemInput(itemWidth: 2), items: items, config: config)
        ChainMDP.train(&agent, steps: 4_000)
        for s in 0..<(ChainMDP.length - 1) {
            let q = agent.qValues(ChainMDP.oneHot(s))
            for a in 0..<2 { #expect(abs(q[a] - ChainMDP.optimalQ(s, a)) < 0.05, "Q(\(s), \(a)) = \(q[a])") }
            #expect(agent.greedyAction(ChainMDP.oneHot(s)) == 1)
        }
    }

    @Test("with γ = 0 the DQN is a contextual bandit and learns the immediate reward")
    func banditWhenGammaIsZero() {
        var config = ChainMDP.config
        config.gamma = 0
        var agent = DQNAgent(stateWidth: ChainMDP.length, form: .actionOutputs(actionCount: 2), config: config)
        ChainMDP.train(&agent, steps: 3_000)
        let q3 = agent.qValues(ChainMDP.oneHot(3))
        #expect(abs(q3[1] - 1) < 0.05)
        #expect(abs(agent.qValues(ChainMDP.oneHot(1))[1]) < 0.05)
    }

    @Test("the replay ring keeps the newest transitions up to its capacity")
    func replayRing() {
        var buffer = ReplayBuffer(capacity: 3)
        for i in 0..<5 { buffer.append(Transition(state: [Float(i)], action: 0, reward: 0, nextState: [], done: false)) }
        #expect(buffer.count == 3)
        #expect(Set(buffer.storage.map { $0.state[0] }) == [2, 3, 4])
        var rng = Xoshiro256(seed: 1)
        let drawn = buffer.sample(3_000, rng: &rng).map { Int($0.state[0]) }
        for v in 2...4 { #expect(abs(drawn.filter { $0 == v }.count - 1_000) < 100) }
    }

    @Test("ε falls linearly from start to end and then stays")
    func epsilonSchedule() {
        let e = EpsilonSchedule()
        #expect(e.value(at: 0) == 1)
        #expect(abs(e.value(at: 5_000) - 0.525) < 1e-6)
        #expect(e.value(at: 10_000) == 0.05)
        #expect(e.value(at: 50_000) == 0.05)
    }

    @Test("the defaults are the documented ones")
    func defaults() {
        let c = DQNConfig()
        #expect(c.replayCapacity == 50_000 && c.batchSize == 32 && c.targetUpdate == .hard(every: 500))
        #expect(c.gamma == 0.9 && c.learningRate == 5e-4 && c.doubleDQN && c.epsilon == EpsilonSchedule())
    }
}
