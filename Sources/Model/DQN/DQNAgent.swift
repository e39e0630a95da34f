/// A DQN agent (Mnih et al. 2015) with Double-DQN targets (van Hasselt et al. 2016), Huber loss,
/// a replay ring, a target network and ε-greedy exploration.
///
/// The target for a transition is `y = r + γ·(1 − done)·Q_target(s′, a*)` with
/// `a* = argmax_a′ Q_online(s′, a′)` (Double-DQN) or `argmax_a′ Q_target(s′, a′)` (plain DQN).
/// Everything is a value: the online and target networks are plain copies of each other.
public struct DQNAgent: Sendable {
    /// Hyper-parameters.
    public let config: DQNConfig
    /// The network being trained.
    public var online: QNetwork
    /// The slowly following target network.
    public var target: QNetwork
    /// Adam's state for `online`.
    public var optimizerState: OptimizerState
    /// Experience.
    public var replay: ReplayBuffer
    /// Candidate items' features, `actions × itemWidth`, for the item-input form; `nil` otherwise.
    /// May be replaced to add cold items.
    public var items: Matrix?
    /// Environment steps observed.
    public private(set) var steps = 0
    /// Gradient steps taken.
    public private(set) var updates = 0
    private var rng: Xoshiro256

    /// Creates an agent with a fresh network.
    /// - Parameters:
    ///   - stateWidth: State features.
    ///   - form: The Q-network's form.
    ///   - items: Candidate item features (item-input form only).
    ///   - config: Hyper-parameters.
    public init(stateWidth: Int, form: QNetworkForm, items: Matrix? = nil, config: DQNConfig = DQNConfig()) {
        if case .itemInput(let w) = form {
            precondition(items?.cols == w, "DQNAgent: the item-input form needs items with \(w) features")
        }
        self.config = config
        online = QNetwork(stateWidth: stateWidth, form: form, hiddenSizes: config.hiddenSizes, seed: config.seed)
        target = online
        optimizerState = Self.optimizer(config).makeState(parameterCount: online.network.parameterCount)
        replay = ReplayBuffer(capacity: config.replayCapacity)
        self.items = items
        rng = Xoshiro256(seed: config.seed ^ 0x5DEE_CE66_D1CE_5EED)
    }

    static func optimizer(_ c: DQNConfig) -> Optimizer { .adam(AdamConfig(learningRate: c.learningRate)) }

    /// Number of actions.
    public var actionCount: Int {
        switch online.form {
        case .actionOutputs(let n): n
        case .itemInput: items?.rows ?? 0
        }
    }

    /// The online network's Q-value for every action in `state`.
    public func qValues(_ state: [Float]) -> [Float] {
        online.qValues(states: Matrix(rows: 1, cols: state.count, values: state), items: items).values
    }

    /// The action with the highest online Q-value (the lowest index on ties).
    public func greedyAction(_ state: [Float]) -> Int { argmax(qValues(state)) }

    /// The current exploration rate.
    public var epsilon: Float { config.epsilon.value(at: steps) }

    /// ε-greedy: a uniformly random action with probability ε, else the greedy one.
    public mutating func act(_ state: [Float]) -> Int {
        if rng.nextFloat() < epsilon { return rng.nextInt(below: actionCount) }
        return greedyAction(state)
    }

    /// Stores a transition, counts a step, and takes a gradient step once the buffer holds
    /// `learningStarts` transitions.
    /// - Returns: The step's loss, or `nil` when no gradient step was taken.
    @discardableResult
    public mutating func observe(_ t: Transition) -> Float? {
        replay.append(t)
        steps += 1
        guard replay.count >= max(config.learningStarts, 1) else { return nil }
        return trainStep()
    }

    /// One gradient step on a uniformly sampled batch, then the target update.
    /// - Returns: The batch's mean Huber loss.
    @discardableResult
    public mutating func trainStep() -> Float {
        let batch = replay.sample(config.batchSize, rng: &rng)
        let sw = online.stateWidth
        let states = Matrix(rows: batch.count, cols: sw, values: batch.flatMap(\.state))
        let nextStates = Matrix(rows: batch.count, cols: sw, values: batch.flatMap(\.nextState))
        let targets = bootstrapTargets(batch, nextStates: nextStates)

        let input: Matrix
        switch online.form {
        case .actionOutputs: input = states
        case .itemInput: input = Matrix.hconcat(states, items!.gatherRows(batch.map(\.action)))
        }
        let trace = online.network.trace(input)
        let q = trace[trace.count - 1]
        let chosen: [Float]
        switch online.form {
        case .actionOutputs: chosen = batch.enumerated().map { q[$0.offset, $0.element.action] }
        case .itemInput: chosen = q.values
        }
        let (loss, g) = Loss.huber(delta: config.huberDelta).valueAndGradient(outputs: chosen, targets: targets)
        var dq = Matrix(zeros: q.rows, cols: q.cols)
        for (i, t) in batch.enumerated() {
            switch online.form {
            case .actionOutputs: dq[i, t.action] = g[i]
            case .itemInput: dq[i, 0] = g[i]
            }
        }
        let gradient = online.network.backward(trace: trace, logitGradient: dq)
        Self.optimizer(config).update(&online.network, gradient: gradient, state: &optimizerState)
        updates += 1
        updateTarget()
        return loss
    }

    /// `r + γ·(1 − done)·Q_target(s′, a*)` for each transition.
    func bootstrapTargets(_ batch: [Transition], nextStates: Matrix) -> [Float] {
        if config.gamma == 0 { return batch.map(\.reward) }
        let qt = target.qValues(states: nextStates, items: items)
        let qo = config.doubleDQN ? online.qValues(states: nextStates, items: items) : qt
        return batch.enumerated().map { i, t in
            if t.done { return t.reward }
            let row = Array(qo.values[(i * qo.cols)..<((i + 1) * qo.cols)])
            return t.reward + config.gamma * qt[i, argmax(row)]
        }
    }

    mutating func updateTarget() {
        switch config.targetUpdate {
        case .hard(let every):
            if updates % max(every, 1) == 0 { target = online }
        case .soft(let tau):
            var t = target.network.flatParameters
            let o = online.network.flatParameters
            for i in t.indices { t[i] = tau * o[i] + (1 - tau) * t[i] }
            target.network.flatParameters = t
        }
    }

    /// The trained model, for a checkpoint.
    public var model: DQNModel { DQNModel(network: online, gamma: config.gamma) }
}

/// Index of the largest value (the first on ties).
func argmax(_ v: [Float]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}

/// A trained Q-function with the discount it was trained for: what a checkpoint stores.
public struct DQNModel: Sendable, Equatable {
    /// The Q-network.
    public var network: QNetwork
    /// The discount γ it was trained with.
    public var gamma: Float

    /// Creates a model.
    public init(network: QNetwork, gamma: Float) {
        self.network = network
        self.gamma = gamma
    }
}
