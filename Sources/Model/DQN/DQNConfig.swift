/// How the target network follows the online network.
public enum TargetUpdate: Sendable, Equatable, Codable {
    /// Copy the online weights every `every` gradient steps (Mnih et al. 2015).
    case hard(every: Int)
    /// Polyak averaging after every gradient step: `θ′ ← τθ + (1 − τ)θ′` (Lillicrap et al. 2016).
    case soft(tau: Float)
}

/// ε-greedy exploration with ε falling linearly from `start` to `end` over `decaySteps` steps,
/// then staying at `end`: `ε(t) = end + (start − end)·max(0, 1 − t/decaySteps)`.
public struct EpsilonSchedule: Sendable, Equatable, Codable {
    /// ε at step 0.
    public var start: Float
    /// ε from `decaySteps` on.
    public var end: Float
    /// Steps over which ε falls.
    public var decaySteps: Int

    /// Creates a schedule; the defaults are RLlib's DQN's: 1.0 → 0.05 over 10,000 steps.
    public init(start: Float = 1.0, end: Float = 0.05, decaySteps: Int = 10_000) {
        self.start = start
        self.end = end
        self.decaySteps = decaySteps
    }

    /// ε at environment step `t`.
    public func value(at t: Int) -> Float {
        if decaySteps <= 0 { return end }
        let frac = max(0, 1 - Float(t) / Float(decaySteps))
        return end + (start - end) * frac
    }
}

/// DQN hyper-parameters (see docs/MODELS.md). Replay 50,000, a hard target update every 500 steps,
/// ε 1.0 → 0.05 over 10,000 steps, Adam at 5e-4 and Double-DQN on follow RLlib's DQN; batch 32 and
/// Huber δ = 1 follow the Nature DQN (Mnih et al., 2015). γ = 0.9 is RecPool's own choice, not
/// either source's 0.99: a simulated session lasts about 30 steps, so a horizon of about 1/(1 − γ) = 10
/// steps covers it. γ = 0 turns the DQN into a contextual bandit (the target is the immediate reward).
public struct DQNConfig: Sendable, Equatable, Codable {
    /// Transitions kept in the replay ring.
    public var replayCapacity: Int
    /// Transitions per gradient step.
    public var batchSize: Int
    /// How the target network follows.
    public var targetUpdate: TargetUpdate
    /// Exploration schedule.
    public var epsilon: EpsilonSchedule
    /// Discount γ in `r + γ·max_a′ Q(s′, a′)`.
    public var gamma: Float
    /// Adam's step size.
    public var learningRate: Float
    /// Use the Double-DQN target (van Hasselt, Guez & Silver 2016).
    public var doubleDQN: Bool
    /// Huber δ.
    public var huberDelta: Float
    /// Hidden layer widths of the Q-network.
    public var hiddenSizes: [Int]
    /// No gradient steps until the buffer holds this many transitions.
    public var learningStarts: Int
    /// Seed for initialisation, exploration and sampling.
    public var seed: UInt64

    /// Creates a configuration.
    public init(
        replayCapacity: Int = 50_000, batchSize: Int = 32, targetUpdate: TargetUpdate = .hard(every: 500),
        epsilon: EpsilonSchedule = EpsilonSchedule(), gamma: Float = 0.9, learningRate: Float = 5e-4,
        doubleDQN: Bool = true, huberDelta: Float = 1, hiddenSizes: [Int] = [64, 64],
        learningStarts: Int = 1_000, seed: UInt64 = 0
    ) {
        self.replayCapacity = replayCapacity
        self.batchSize = batchSize
        self.targetUpdate = targetUpdate
        self.epsilon = epsilon
        self.gamma = gamma
        self.learningRate = learningRate
        self.doubleDQN = doubleDQN
        self.huberDelta = huberDelta
        self.hiddenSizes = hiddenSizes
        self.learningStarts = learningStarts
        self.seed = seed
    }
}
