/// How a policy explores when it builds a slate. JSON keys: `kind` (`epsilon_greedy` or `softmax`),
/// `epsilon`, `temperature`.
///
/// A slate is built slot by slot from the items not yet placed. ε-greedy places the remaining item with
/// the highest Q-value with probability 1 − ε, else a uniformly drawn remaining item; softmax draws a
/// remaining item with probability ∝ exp(Q/temperature). The propensity logged for a slot is the
/// probability of the item placed there given the items placed before it.
public struct ExplorationSpec: Codable, Sendable, Equatable {
    /// The two exploration rules.
    public enum Kind: String, Codable, Sendable {
        /// Greedy with probability 1 − ε, uniform otherwise.
        case epsilonGreedy = "epsilon_greedy"
        /// Boltzmann exploration over the Q-values.
        case softmax
    }

    /// The rule.
    public var kind: Kind
    /// ε for ``Kind/epsilonGreedy``, in [0, 1].
    public var epsilon: Double
    /// The temperature for ``Kind/softmax``, above 0.
    public var temperature: Double

    /// Creates an exploration rule.
    public init(kind: Kind = .epsilonGreedy, epsilon: Double = 0.1, temperature: Double = 0.05) {
        self.kind = kind
        self.epsilon = epsilon
        self.temperature = temperature
    }

    /// Why these values cannot be used, or `nil` when they can.
    public var problem: String? {
        switch kind {
        case .epsilonGreedy:
            guard epsilon.isFinite, epsilon >= 0, epsilon <= 1 else { return "epsilon must be in [0, 1], got \(epsilon)" }
        case .softmax:
            guard temperature.isFinite, temperature > 0 else { return "temperature must be above 0, got \(temperature)" }
        }
        return nil
    }
}

/// How a serving replica learns from feedback. JSON keys: `update_every`, `batch_size`, `steps_per_update`,
/// `learning_rate`, `replay_capacity`.
public struct OnlineLearningSpec: Codable, Sendable, Equatable {
    /// Feedback events between two learning updates (K).
    public var updateEvery: Int
    /// Transitions per gradient step, sampled from the replay data.
    public var batchSize: Int
    /// Gradient steps per update.
    public var stepsPerUpdate: Int
    /// Adam's learning rate.
    public var learningRate: Double
    /// Transitions the replay data keeps.
    public var replayCapacity: Int

    /// Creates learning settings.
    public init(
        updateEvery: Int = 16, batchSize: Int = 64, stepsPerUpdate: Int = 4, learningRate: Double = 0.003,
        replayCapacity: Int = 20_000
    ) {
        self.updateEvery = updateEvery
        self.batchSize = batchSize
        self.stepsPerUpdate = stepsPerUpdate
        self.learningRate = learningRate
        self.replayCapacity = replayCapacity
    }

    /// Why these values cannot be used, or `nil` when they can.
    public var problem: String? {
        if updateEvery < 1 { return "update_every must be at least 1, got \(updateEvery)" }
        if batchSize < 1 { return "batch_size must be at least 1, got \(batchSize)" }
        if stepsPerUpdate < 1 { return "steps_per_update must be at least 1, got \(stepsPerUpdate)" }
        if !(learningRate.isFinite && learningRate > 0) { return "learning_rate must be above 0, got \(learningRate)" }
        if replayCapacity < 1 { return "replay_capacity must be at least 1, got \(replayCapacity)" }
        return nil
    }
}

/// Everything a replica needs to serve and learn an online policy except the weights: the catalogue,
/// the state encoding, the network's shape, exploration and learning. JSON keys: `user_feature_cardinalities`,
/// `item_features`, `hidden_sizes`, `slate_size`, `exploration`, `learning`, `seed`.
///
/// The state of a user is the one-hot encoding of their categorical features: feature `j`
/// (`user_feature_j`) takes values `u{j}_{k}` for `k` in `0..<user_feature_cardinalities[j]` (an unknown value
/// leaves its block zero). The Q-network is item-as-input: `Q(s, a) = f(s ‖ item_features[a])`.
public struct OnlinePolicySpec: Codable, Sendable, Equatable {
    /// Categories per user feature.
    public var userFeatureCardinalities: [Int]
    /// One feature row per catalogue item; all rows have the same width.
    public var itemFeatures: [[Float]]
    /// Hidden layer widths of the Q-network.
    public var hiddenSizes: [Int]
    /// Items per slate unless a request asks for fewer.
    public var slateSize: Int
    /// Exploration.
    public var exploration: ExplorationSpec
    /// Online learning.
    public var learning: OnlineLearningSpec
    /// Seed of the initial weights.
    public var seed: UInt64

    /// Creates a spec.
    public init(
        userFeatureCardinalities: [Int], itemFeatures: [[Float]], hiddenSizes: [Int] = [64], slateSize: Int = 3,
        exploration: ExplorationSpec = ExplorationSpec(), learning: OnlineLearningSpec = OnlineLearningSpec(),
        seed: UInt64 = 1
    ) {
        self.userFeatureCardinalities = userFeatureCardinalities
        self.itemFeatures = itemFeatures
        self.hiddenSizes = hiddenSizes
        self.slateSize = slateSize
        self.exploration = exploration
        self.learning = learning
        self.seed = seed
    }

    /// Width of the state vector.
    public var stateWidth: Int { userFeatureCardinalities.reduce(0, +) }
    /// Width of an item's features.
    public var itemWidth: Int { itemFeatures.first?.count ?? 0 }
    /// Items in the catalogue.
    public var itemCount: Int { itemFeatures.count }

    /// Why this spec cannot be served, or `nil` when it can.
    public var problem: String? {
        if userFeatureCardinalities.isEmpty || userFeatureCardinalities.contains(where: { $0 < 1 }) {
            return "user_feature_cardinalities must be non-empty and positive"
        }
        if itemFeatures.count < 2 { return "the catalogue needs at least 2 items" }
        if itemWidth < 1 || itemFeatures.contains(where: { $0.count != itemWidth }) {
            return "every item needs the same, non-zero number of features"
        }
        if itemFeatures.contains(where: { $0.contains { !$0.isFinite } }) { return "item features must be finite" }
        if hiddenSizes.contains(where: { $0 < 1 }) { return "hidden sizes must be positive" }
        if slateSize < 1 || slateSize > itemFeatures.count { return "slate_size must be in 1...\(itemFeatures.count)" }
        return exploration.problem ?? learning.problem
    }
}

/// The broker's order to serve an online policy version (frame 1 of ``Command/policy``; frame 2 is the
/// ``ParameterPack`` of the Q-network's parameters). JSON keys: `version`, `spec`, `learning_enabled`.
public struct PolicyInstall: Codable, Sendable, Equatable {
    /// The policy version; replies to RECOMMEND carry it.
    public var version: UInt64
    /// The catalogue, encoding, exploration and learning settings.
    public var spec: OnlinePolicySpec
    /// Whether the replica learns from feedback (false while the pool is frozen).
    public var learningEnabled: Bool

    /// Creates an install order.
    public init(version: UInt64, spec: OnlinePolicySpec, learningEnabled: Bool) {
        self.version = version
        self.spec = spec
        self.learningEnabled = learningEnabled
    }
}

/// One shown item of a policy recommendation. JSON keys: `item`, `position`, `score`, `propensity`.
public struct SlateItem: Codable, Sendable, Equatable {
    /// The item.
    public var item: Int
    /// Its slot, from 0 (the top).
    public var position: Int
    /// The policy's Q-value for it.
    public var score: Double
    /// The probability that the policy placed this item in this slot, given the items above it.
    public var propensity: Double

    /// Creates a slate entry.
    public init(item: Int, position: Int, score: Double, propensity: Double) {
        self.item = item
        self.position = position
        self.score = score
        self.propensity = propensity
    }
}

/// The reply to RECOMMEND when the worker serves an online policy. JSON keys: `impression_id`, `items`,
/// `model_version`, `source` (`"policy"`), `exploration`.
public struct PolicyRecommendation: Codable, Sendable, Equatable {
    /// Names this impression in FEEDBACK.
    public var impressionId: String
    /// The slate, top slot first.
    public var items: [SlateItem]
    /// The policy version that chose it.
    public var modelVersion: UInt64
    /// Always `"policy"`.
    public var source: String
    /// The exploration rule used.
    public var exploration: ExplorationSpec

    /// Creates a reply.
    public init(impressionId: String, items: [SlateItem], modelVersion: UInt64, exploration: ExplorationSpec) {
        self.impressionId = impressionId
        self.items = items
        self.modelVersion = modelVersion
        self.source = "policy"
        self.exploration = exploration
    }
}

/// What the impression log keeps of one recommendation: the worker sends it to the broker as a third frame
/// of its RECOMMEND reply, and the broker strips it before answering the client. JSON keys: `impression_id`,
/// `created_ms`, `version`, `user_features`, `slate`, `propensities`, `scores`.
public struct ImpressionRecord: Codable, Sendable, Equatable {
    /// The impression's id.
    public var impressionId: String
    /// When it was served, ms since the Unix epoch.
    public var createdMs: UInt64
    /// The policy version that chose the slate.
    public var version: UInt64
    /// The raw context: the user's features.
    public var userFeatures: [String: String]
    /// The items shown, top slot first.
    public var slate: [Int]
    /// The propensity of each shown item.
    public var propensities: [Double]
    /// The Q-value of each shown item.
    public var scores: [Double]

    /// Creates a record.
    public init(
        impressionId: String, createdMs: UInt64, version: UInt64, userFeatures: [String: String], slate: [Int],
        propensities: [Double], scores: [Double]
    ) {
        self.impressionId = impressionId
        self.createdMs = createdMs
        self.version = version
        self.userFeatures = userFeatures
        self.slate = slate
        self.propensities = propensities
        self.scores = scores
    }

    /// Why the record is not well formed, or `nil`.
    public var problem: String? {
        if impressionId.isEmpty || impressionId.utf8.count > 64 { return "impression_id must have 1 to 64 bytes" }
        if slate.isEmpty { return "the slate is empty" }
        if propensities.count != slate.count || scores.count != slate.count {
            return "slate, propensities and scores differ in length"
        }
        if propensities.contains(where: { !($0 > 0 && $0 <= 1) }) { return "a propensity is not in (0, 1]" }
        if Set(slate).count != slate.count { return "the slate repeats an item" }
        return nil
    }
}

/// A user's reaction to one shown item (FEEDBACK, frame 1). JSON keys: `impression_id`, `item`, `click`,
/// `dwell_seconds` (optional).
public struct FeedbackRequest: Codable, Sendable, Equatable {
    /// The impression the item was shown in.
    public var impressionId: String
    /// The item.
    public var item: Int
    /// 1 for a click, 0 for none.
    public var click: Int
    /// How long the user looked at the item, seconds.
    public var dwellSeconds: Double?

    /// Creates a feedback event.
    public init(impressionId: String, item: Int, click: Int, dwellSeconds: Double? = nil) {
        self.impressionId = impressionId
        self.item = item
        self.click = click
        self.dwellSeconds = dwellSeconds
    }

    /// Why the event is not well formed, or `nil`.
    public var problem: String? {
        if impressionId.isEmpty || impressionId.utf8.count > 64 { return "impression_id must have 1 to 64 bytes" }
        if click != 0 && click != 1 { return "click must be 0 or 1, got \(click)" }
        if let dwell = dwellSeconds, !(dwell.isFinite && dwell >= 0) {
            return "dwell_seconds must be a finite number ≥ 0, got \(dwell)"
        }
        return nil
    }
}

/// The answer to FEEDBACK. JSON keys: `impression_id`, `item`, `duplicate`.
///
/// An OK reply means the event is committed to the broker's store; `duplicate` says it had been received
/// before and was ignored this time.
public struct FeedbackReply: Codable, Sendable, Equatable {
    /// The impression.
    public var impressionId: String
    /// The item.
    public var item: Int
    /// Whether the event was already known (and so ignored).
    public var duplicate: Bool

    /// Creates a reply.
    public init(impressionId: String, item: Int, duplicate: Bool) {
        self.impressionId = impressionId
        self.item = item
        self.duplicate = duplicate
    }
}

/// One feedback event joined with its impression, as a learner needs it. JSON keys: `impression_id`,
/// `user_features`, `item`, `reward`, `propensity`, `version`.
public struct LearnEvent: Codable, Sendable, Equatable {
    /// The impression.
    public var impressionId: String
    /// The context from the impression log.
    public var userFeatures: [String: String]
    /// The item shown.
    public var item: Int
    /// The reward (the click).
    public var reward: Double
    /// The logged propensity of the item.
    public var propensity: Double
    /// The policy version that showed it.
    public var version: UInt64

    /// Creates an event.
    public init(
        impressionId: String, userFeatures: [String: String], item: Int, reward: Double, propensity: Double,
        version: UInt64
    ) {
        self.impressionId = impressionId
        self.userFeatures = userFeatures
        self.item = item
        self.reward = reward
        self.propensity = propensity
        self.version = version
    }
}

/// Feedback for a replica's learner (``Command/learn``, frame 1). JSON key: `events`.
public struct LearnBatch: Codable, Sendable, Equatable {
    /// The events, oldest first.
    public var events: [LearnEvent]

    /// Creates a batch.
    public init(events: [LearnEvent]) { self.events = events }
}

/// A replica's report on its online policy (``Command/policyState``). JSON keys: `kind` (`sync` or
/// `installed`), `sync`, `version`, `events`, `updates`, `weights_sha256`.
public struct PolicyStateReport: Codable, Sendable, Equatable {
    /// Why the report was sent.
    public enum Kind: String, Codable, Sendable {
        /// The answer to a POLICY_PULL; the pack follows in frame 2.
        case sync
        /// The replica installed a version and now serves it.
        case installed
    }

    /// Why the report was sent.
    public var kind: Kind
    /// The sync it answers (the POLICY_PULL's request id), 0 for `installed`.
    public var sync: UInt64
    /// The version the replica's weights started from (sync) or serves (installed).
    public var version: UInt64
    /// Feedback events learnt from since that version was installed.
    public var events: Int
    /// Gradient steps taken since that version was installed.
    public var updates: Int
    /// SHA-256 (hex) of the encoded ``ParameterPack`` of the weights the replica serves or sends.
    public var weightsSha256: String

    /// Creates a report.
    public init(kind: Kind, sync: UInt64, version: UInt64, events: Int, updates: Int, weightsSha256: String) {
        self.kind = kind
        self.sync = sync
        self.version = version
        self.events = events
        self.updates = updates
        self.weightsSha256 = weightsSha256
    }
}
