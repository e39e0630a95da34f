import RecModel
import RecWire

/// A serving replica's learner, a contextual bandit: feedback events become terminal transitions `(s, a, r)`
/// in a replay ring, and every `update_every` events it takes `steps_per_update` gradient steps on
/// mini-batches from the ring. Since a recommendation is one step of a cold-start session, it runs the DQN
/// machinery with γ = 0, so the target of every transition is its reward and `Q(s, a)` regresses the click
/// probability of item `a` for context `s` (Huber loss); no Bellman bootstrap is involved.
///
/// A value owned by one thread (the worker's background thread); the serving side reads only the
/// ``OnlinePolicy`` snapshots it publishes.
public struct OnlineLearner: Sendable {
    /// The version the current weights started from.
    public private(set) var baseVersion: UInt64
    /// Feedback events learnt since ``baseVersion`` was installed.
    public private(set) var eventsSinceInstall = 0
    /// Gradient steps since ``baseVersion`` was installed.
    public private(set) var updatesSinceInstall = 0
    /// Events waiting for the next update.
    public private(set) var eventsSinceUpdate = 0
    /// Events that could not be used (a context the spec rejects).
    public private(set) var rejectedEvents = 0
    private var agent: DQNAgent
    private var policy: OnlinePolicy

    /// Creates a learner starting from `policy` at `version`.
    public init(policy: OnlinePolicy, version: UInt64, seed: UInt64) {
        let learning = policy.spec.learning
        let config = DQNConfig(
            replayCapacity: learning.replayCapacity, batchSize: learning.batchSize, targetUpdate: .hard(every: 1),
            epsilon: EpsilonSchedule(start: 0, end: 0, decaySteps: 1), gamma: 0,
            learningRate: Float(learning.learningRate), hiddenSizes: policy.spec.hiddenSizes,
            learningStarts: 1, seed: seed)
        agent = DQNAgent(
            stateWidth: policy.spec.stateWidth, form: .itemInput(itemWidth: policy.spec.itemWidth), items: policy.items,
            config: config)
        agent.online = policy.network
        agent.target = policy.network
        self.policy = policy
        baseVersion = version
    }

    /// The policy with the learner's current weights.
    public var current: OnlinePolicy { policy }

    /// Takes a new version (an averaged one from the broker): the weights are replaced, the replay ring and
    /// Adam's moments are kept, and the counters restart.
    public mutating func install(_ policy: OnlinePolicy, version: UInt64) {
        agent.online = policy.network
        agent.target = policy.network
        self.policy = policy
        baseVersion = version
        eventsSinceInstall = 0
        updatesSinceInstall = 0
    }

    /// Adds feedback events to the replay ring and, once `update_every` events have arrived, runs an update.
    /// - Returns: whether an update ran (the caller then publishes ``current``).
    public mutating func learn(_ events: [LearnEvent]) -> Bool {
        for event in events {
            guard event.item >= 0 && event.item < policy.spec.itemCount,
                let state = try? policy.state(event.userFeatures)
            else {
                rejectedEvents += 1
                continue
            }
            let reward = Float(event.reward)
            agent.replay.append(Transition(state: state, action: event.item, reward: reward, nextState: state, done: true))
            eventsSinceInstall += 1
            eventsSinceUpdate += 1
        }
        guard eventsSinceUpdate >= policy.spec.learning.updateEvery, agent.replay.count > 0 else { return false }
        eventsSinceUpdate = 0
        for _ in 0..<policy.spec.learning.stepsPerUpdate {
            agent.trainStep()
            updatesSinceInstall += 1
        }
        if let next = try? OnlinePolicy(spec: policy.spec, network: agent.online) {
            policy = next
        } else {
            // A diverged step: keep serving the last good weights.
            agent.online = policy.network
            agent.target = policy.network
        }
        return true
    }

    /// Transitions held for learning.
    public var replayCount: Int { agent.replay.count }
}
