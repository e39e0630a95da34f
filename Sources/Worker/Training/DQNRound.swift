import RecData
import RecModel
import RecWire

/// One DQN replica of a data-parallel job: an agent acting in its own seeded simulator
/// environment, with its own replay buffer. The replica lives in the worker's ``TrainingCache``
/// between rounds; only the online Q-network and its Adam state travel in the pack.
///
/// Each round the replica takes the broker's averaged weights as both its online and its target
/// network (so the target follows the average, once per round), then runs H environment steps:
/// ε-greedy action, one step of the simulator, one Double-DQN gradient step once the buffer
/// holds a batch (Mnih et al. 2015; van Hasselt, Guez & Silver 2016).
///
/// The agent shows one item per step (slot 0); the state is the user's one-hot observable
/// features, the session's clicks per item (capped at 3, scaled to [0, 1]) and the budget left.
public struct DQNReplica: Sendable {
    /// The agent, with its replay buffer and exploration state.
    public var agent: DQNAgent
    /// The replica's environment.
    public var environment: SimulatorEnvironment
    /// The current user.
    public var observation: SimulatorObservation
    /// Environment steps taken so far (the local step).
    public var step: Int

    /// The discount the replicas train with.
    public static let gamma: Float = 0.9
    /// Greedy episodes in an evaluation.
    public static let evaluationEpisodes = 20

    /// The width of the state vector for a world.
    public static func stateWidth(_ config: SimulatorConfig) -> Int {
        config.userFeatureCardinalities.reduce(0, +) + config.items + 1
    }

    /// The state vector of an observation.
    public static func encode(_ o: SimulatorObservation, config: SimulatorConfig) -> [Float] {
        var out = [Float](repeating: 0, count: stateWidth(config))
        var offset = 0
        for (j, cardinality) in config.userFeatureCardinalities.enumerated() {
            if let name = o.userFeatures["user_feature_\(j)"],
                let code = (0..<cardinality).first(where: { SimulatorWorld.categoryName(feature: j, code: $0) == name })
            {
                out[offset + code] = 1
            }
            offset += cardinality
        }
        for (item, clicks) in o.clicks where item >= 0 && item < config.items {
            out[offset + item] = Float(min(clicks, 3)) / 3
        }
        offset += config.items
        out[offset] = Float(o.remainingBudget / max(config.sessionBudget, 1))
        return out
    }

    /// A fresh replica for shard `shard`: the exploration and replay-sampling stream and the
    /// environment are seeded from (seed, shard); the network is overwritten from the round's state.
    public static func make(
        world: SimulatorWorld, hidden: [Int], batch: Int, learningRate: Float, totalSteps: Int, seed: UInt64, shard: Int,
        spec: TrainJobSpec? = nil
    ) -> DQNReplica {
        let config = DQNConfig(
            replayCapacity: spec?.replayCapacity ?? TrainJobSpec.defaultReplayCapacity, batchSize: batch, targetUpdate: .hard(every: Int.max),
            epsilon: EpsilonSchedule(
                start: 1, end: Float(spec?.epsilonEnd ?? 0.05), decaySteps: spec?.epsilonDecaySteps ?? max(1, totalSteps / 2)),
            gamma: Float(spec?.gamma ?? Double(gamma)),
            learningRate: learningRate, hiddenSizes: hidden, learningStarts: batch,
            seed: LocalSGD.shardSeed(seed, shard))
        let agent = DQNAgent(
            stateWidth: stateWidth(world.config), form: .actionOutputs(actionCount: world.config.items), config: config)
        var environment = SimulatorEnvironment(world: world, seed: LocalSGD.shardSeed(seed ^ 0xD0_5EED, shard))
        let observation = environment.reset()
        return DQNReplica(agent: agent, environment: environment, observation: observation, step: 0)
    }

    /// Runs `steps` environment steps.
    /// - Returns: Environment steps taken and the mean loss of the gradient steps among them; nil when none was
    ///   taken (the replay buffer held fewer transitions than a batch), where no loss was measured.
    /// - Throws: ``TrainingError/badDataset(_:)`` if the simulator refuses a slate.
    public mutating func run(steps: Int) throws(TrainingError) -> (samples: Int, loss: Double?) {
        let config = environment.world.config
        var lossSum: Double = 0
        var updates = 0
        for _ in 0..<steps {
            let state = Self.encode(observation, config: config)
            let action = agent.act(state)
            let outcome: SimulatorStep
            do throws(SimulatorError) {
                outcome = try environment.step([action])
            } catch {
                throw .badDataset("the simulator refused item \(action): \(error)")
            }
            let next = Self.encode(outcome.observation, config: config)
            let transition = Transition(
                state: state, action: action, reward: Float(outcome.reward), nextState: next, done: outcome.done)
            if let loss = agent.observe(transition) {
                lossSum += Double(loss)
                updates += 1
            }
            observation = outcome.done ? environment.reset() : outcome.observation
            step += 1
        }
        return (steps, updates > 0 ? lossSum / Double(updates) : nil)
    }

    /// Greedy episodes of `network` on an evaluation environment seeded from `seed` (the same
    /// for every replica): mean `reward` per episode, `ctr` (clicks per shown item; nil, written `null`, when no
    /// item could be shown, where it is undefined) and `episodes`.
    public static func evaluate(network: QNetwork, world: SimulatorWorld, seed: UInt64) -> MetricValues {
        var environment = SimulatorEnvironment(world: world, seed: seed ^ 0xE5A1_0A7E)
        var clicks = 0.0
        var shown = 0
        for _ in 0..<evaluationEpisodes {
            var observation = environment.reset()
            for _ in 0..<10_000 {
                let state = encode(observation, config: world.config)
                let q = network.qValues(states: Matrix(rows: 1, cols: state.count, values: state)).values
                var best = 0
                for i in q.indices where q[i] > q[best] { best = i }
                guard let outcome = try? environment.step([best]) else { break }
                clicks += outcome.reward
                shown += 1
                if outcome.done { break }
                observation = outcome.observation
            }
        }
        return [
            "reward": clicks / Double(evaluationEpisodes), "ctr": shown > 0 ? clicks / Double(shown) : nil,
            "episodes": Double(evaluationEpisodes),
        ]
    }
}

extension RoundExecutor {
    /// A DQN round; see ``DQNReplica``. The dataset must be `synthetic:…`: its simulator config
    /// defines the world, and one epoch is as many environment steps as the specifier's rows.
    static func executeDQN(
        _ a: RoundAssignment, state bytes: [UInt8], cache: TrainingCache, report: inout RoundReport
    ) throws(TrainingError) -> [UInt8] {
        let spec = a.spec
        let specifier: DatasetSpecifier
        do throws(DataError) {
            specifier = try DatasetSpecifier(parsing: spec.dataset)
        } catch {
            throw .unknownDataset("'\(spec.dataset)': \(error.description)")
        }
        guard case .synthetic(let config, let rows, _) = specifier else {
            throw .unknownDataset("'\(spec.dataset)': a dqn job trains in the simulator, use synthetic:KEY=VALUE,…")
        }
        report.datasetSHA = sha256Hex(Array(spec.dataset.utf8))
        let hidden = spec.hidden ?? [64, 64]
        let width = DQNReplica.stateWidth(config)
        guard
            let count = TrainingState.parameterCount(inputWidth: width, hiddenSizes: hidden, outputWidth: config.items),
            count <= maximumParameters, config.users <= 1_000_000, config.items <= 100_000
        else { throw .invalidAssignment("the simulator or the Q-network is too large for a worker") }
        guard rows <= ResolvedDataset.maximumSyntheticRows else {
            throw .invalidAssignment(
                "rows=\(rows) exceeds \(ResolvedDataset.maximumSyntheticRows) environment steps per epoch")
        }
        report.totalSteps = rows.multipliedSaturating(by: spec.epochs)  // the assignment's numbers
        report.step = min(a.fromStep, report.totalSteps)
        report.epoch = report.step / rows

        let template = QNetwork(
            stateWidth: width, form: .actionOutputs(actionCount: config.items), hiddenSizes: hidden, seed: spec.seed)
        let received: TrainingState
        if bytes.isEmpty {
            received = TrainingState(
                model: template.network,
                optimizer: Optimizer.adam(AdamConfig()).makeState(parameterCount: template.network.parameterCount))
        } else {
            let pack: ParameterPack
            do throws(WireError) {
                pack = try ParameterPack(decoding: bytes)
            } catch {
                throw .badState("\(error)")
            }
            received = try TrainingState(pack: pack, template: template.network)
        }
        let network = QNetwork(network: received.model, form: template.form, stateWidth: width)
        let key = TrainingCache.ReplicaKey(job: a.job, shard: a.shard)
        let world = cache.replica(key)?.environment.world ?? SimulatorWorld(config: config)
        if a.evaluate || a.finalize {
            report.metrics = DQNReplica.evaluate(network: network, world: world, seed: spec.seed)
        }
        if a.finalize {
            cache.removeReplica(key)
            return Checkpoint(
                version: 0, model: .dqn(DQNModel(network: network, gamma: Float(spec.gamma ?? Double(DQNReplica.gamma)))),
                metadata: [
                    "job": a.job, "trainer": "recpool train (local DQN)", "dataset": spec.dataset,
                    "seed": "\(spec.seed)",
                    "workers": "\(a.shards)", "sync_every": "\(spec.syncEvery)",
                    "state": "one-hot user features ‖ clicks ‖ budget",
                ]
            ).encoded()
        }
        // Reuse the cached replica when it is where this round starts; otherwise (first round, or a
        // shard reassigned from a dead worker) start a fresh one: its replay buffer starts empty.
        var replica =
            cache.replica(key).flatMap { $0.step == a.fromStep ? $0 : nil }
            ?? DQNReplica.make(
                world: world, hidden: hidden, batch: spec.batch, learningRate: Float(spec.lr),
                totalSteps: report.totalSteps, seed: spec.seed, shard: a.shard, spec: spec)
        replica.step = a.fromStep
        replica.agent.online = network
        replica.agent.target = network
        replica.agent.optimizerState = received.optimizer
        let end = a.steps >= report.totalSteps - report.step ? report.totalSteps : a.fromStep + a.steps
        let (samples, loss) = try replica.run(steps: max(0, end - a.fromStep))
        cache.storeReplica(replica, for: key)
        let pack = TrainingState(model: replica.agent.online.network, optimizer: replica.agent.optimizerState).pack
        // The simulator's states are bounded: only the learning rate can be the cause.
        try checkConverging(
            loss: loss, pack: pack, step: replica.step,
            advice: { DivergenceAdvice.text(largestFeature: 0, learningRate: spec.lr) })
        report.samples = samples
        report.loss = loss
        report.step = replica.step
        report.epoch = replica.step / rows
        return pack.encoded()
    }
}
