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
    /// Both values are checked whichever ``kind`` uses them, so a NaN given for the other kind's value is refused,
    /// never carried along silently.
    public var problem: String? {
        guard epsilon.isFinite, epsilon >= 0, epsilon <= 1 else { return "epsilon must be in [0, 1], got \(epsilon)" }
        guard temperature.isFinite, temperature > 0 else {
            return "temperature must be a finite number above 0, got \(temperature)"
        }
        return nil
    }
}

/// How a serving replica learns from feedback. JSON keys: `update_every`, `batch_size`, `steps_per_update`,
/// `learning_rate`, `replay_capacity`, `prior_precision`, `prior_log_odds`, `noise_variance`, `cold_start_shows`,
/// `cold_start_share`, `learner`, `gamma`, `target_update_every`.
///
/// The contextual bandit's last layer is Bayesian linear regression (prior precision λ, noise variance σ²): a
/// replica adds each event to the posterior's sufficient statistics at once and, every `update_every` events,
/// solves for the posterior mean and draws a Thompson sample that it serves until the next update. `batch_size`,
/// `steps_per_update`, `learning_rate` and `replay_capacity` belong to gradient learners and are used by neither
/// online learner (both solve their last layer in closed form).
///
/// `learner` picks what a replica learns: the contextual bandit (γ = 0, each event's reward is its own target) or the
/// session DQN (``OnlineLearnerKind/sessionDQN``: the same last layer fitted to Double-DQN targets
/// `r + γ·Q_target(s′, argmax_a′ Q_online(s′, a′))` over the session state, with a target network copied every
/// `target_update_every` updates).
public struct OnlineLearningSpec: Codable, Sendable, Equatable {
    /// What a replica learns (JSON `learner`: `contextual_bandit` or `session_dqn`).
    public var learner: OnlineLearnerKind
    /// γ: the discount of the session DQN's target (JSON `gamma`, in [0, 1); unused by the contextual bandit).
    public var gamma: Double
    /// Updates between two copies of the online network into the target network (session DQN only).
    public var targetUpdateEvery: Int
    /// Feedback events between two learning updates (K).
    public var updateEvery: Int
    /// Transitions per gradient step, sampled from the replay data (gradient learners only).
    public var batchSize: Int
    /// Gradient steps per update. Unused: both learners (the contextual bandit's Bayesian last layer and the session
    /// DQN's linear Gaussian fit) are closed-form; kept so stored specs keep their form and SHA-256.
    public var stepsPerUpdate: Int
    /// Adam's learning rate. Unused, like ``stepsPerUpdate``.
    public var learningRate: Double
    /// Transitions the replay data keeps (gradient learners only).
    public var replayCapacity: Int
    /// λ: the precision of the Gaussian prior on every coefficient of the Bayesian last layer.
    public var priorPrecision: Double
    /// m₀: the prior mean of the last layer's intercept, the log-odds of a click before any feedback (the other
    /// coefficients' prior mean is 0).
    public var priorLogOdds: Double
    /// σ²: the reward noise variance; Thompson samples are drawn from N(mean, σ² · precision⁻¹).
    public var noiseVariance: Double
    /// N: an item whose id bucket has fewer events than this is "new" and shares the cold-start exploration.
    public var coldStartShows: Int
    /// The share of every slot reserved for uniformly drawn new items while the candidates hold one.
    public var coldStartShare: Double

    /// Creates learning settings.
    public init(
        updateEvery: Int = 16, batchSize: Int = 64, stepsPerUpdate: Int = 4, learningRate: Double = 0.003,
        replayCapacity: Int = 20_000, priorPrecision: Double = 3, noiseVariance: Double = 0.03,
        coldStartShows: Int = 30, coldStartShare: Double = 0.05, priorLogOdds: Double = 0,
        learner: OnlineLearnerKind = .contextualBandit, gamma: Double = 0.9, targetUpdateEvery: Int = 8
    ) {
        self.priorLogOdds = priorLogOdds
        self.learner = learner
        self.gamma = gamma
        self.targetUpdateEvery = targetUpdateEvery
        self.updateEvery = updateEvery
        self.batchSize = batchSize
        self.stepsPerUpdate = stepsPerUpdate
        self.learningRate = learningRate
        self.replayCapacity = replayCapacity
        self.priorPrecision = priorPrecision
        self.noiseVariance = noiseVariance
        self.coldStartShows = coldStartShows
        self.coldStartShare = coldStartShare
    }

    enum CodingKeys: String, CodingKey {
        case updateEvery, batchSize, stepsPerUpdate, learningRate, replayCapacity, priorPrecision, noiseVariance
        case coldStartShows, coldStartShare, priorLogOdds, learner, gamma, targetUpdateEvery
    }

    /// Decodes, with the defaults for the Bayesian keys a document from before them lacks.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = OnlineLearningSpec()
        updateEvery = try c.decodeIfPresent(Int.self, forKey: .updateEvery) ?? d.updateEvery
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        stepsPerUpdate = try c.decodeIfPresent(Int.self, forKey: .stepsPerUpdate) ?? d.stepsPerUpdate
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        replayCapacity = try c.decodeIfPresent(Int.self, forKey: .replayCapacity) ?? d.replayCapacity
        priorPrecision = try c.decodeIfPresent(Double.self, forKey: .priorPrecision) ?? d.priorPrecision
        noiseVariance = try c.decodeIfPresent(Double.self, forKey: .noiseVariance) ?? d.noiseVariance
        coldStartShows = try c.decodeIfPresent(Int.self, forKey: .coldStartShows) ?? d.coldStartShows
        coldStartShare = try c.decodeIfPresent(Double.self, forKey: .coldStartShare) ?? d.coldStartShare
        priorLogOdds = try c.decodeIfPresent(Double.self, forKey: .priorLogOdds) ?? d.priorLogOdds
        learner = try c.decodeIfPresent(OnlineLearnerKind.self, forKey: .learner) ?? d.learner
        gamma = try c.decodeIfPresent(Double.self, forKey: .gamma) ?? d.gamma
        targetUpdateEvery = try c.decodeIfPresent(Int.self, forKey: .targetUpdateEvery) ?? d.targetUpdateEvery
    }

    /// Why these values cannot be used, or `nil` when they can.
    public var problem: String? {
        if updateEvery < 1 { return "update_every must be at least 1, got \(updateEvery)" }
        if batchSize < 1 { return "batch_size must be at least 1, got \(batchSize)" }
        if stepsPerUpdate < 1 { return "steps_per_update must be at least 1, got \(stepsPerUpdate)" }
        if !(learningRate.isFinite && learningRate > 0) { return "learning_rate must be above 0, got \(learningRate)" }
        if replayCapacity < 1 { return "replay_capacity must be at least 1, got \(replayCapacity)" }
        if !(priorPrecision.isFinite && priorPrecision > 0) {
            return "prior_precision must be above 0, got \(priorPrecision)"
        }
        if !priorLogOdds.isFinite { return "prior_log_odds must be a finite number, got \(priorLogOdds)" }
        if !(noiseVariance.isFinite && noiseVariance >= 0) { return "noise_variance must be ≥ 0, got \(noiseVariance)" }
        if coldStartShows < 0 { return "cold_start_shows must be ≥ 0, got \(coldStartShows)" }
        if !(coldStartShare.isFinite && coldStartShare >= 0 && coldStartShare < 1) {
            return "cold_start_share must be in [0, 1), got \(coldStartShare)"
        }
        if !(gamma.isFinite && gamma >= 0 && gamma < 1) { return "gamma must be in [0, 1), got \(gamma)" }
        if targetUpdateEvery < 1 { return "target_update_every must be at least 1, got \(targetUpdateEvery)" }
        return nil
    }
}

/// What an online replica learns.
public enum OnlineLearnerKind: String, Codable, Sendable, Equatable, CaseIterable {
    /// γ = 0: each recommendation's reward is its own target (a Bayesian logistic last layer, Thompson sampling).
    case contextualBandit = "contextual_bandit"
    /// The session DQN: the state holds the session so far (the items clicked in it), the target is Double-DQN's
    /// `r + γ·Q_target(s′, argmax_a′ Q_online(s′, a′))` with a periodically copied target network.
    case sessionDQN = "session_dqn"
}

/// One user feature as the policy encodes it. JSON keys: `name`, `kind` (`categorical` or `numeric`), `values`,
/// `buckets`, `mean`, `scale`.
///
/// A categorical feature takes `values.count + buckets` columns: a value in `values` sets its own column, any
/// other value sets one of `buckets` columns chosen by hashing `name=value` (FNV-1a 64), so a value never seen
/// still encodes. A numeric feature takes one column, `(x − mean) / scale`. The width never depends on the
/// number of items.
public struct UserFeatureSpec: Codable, Sendable, Equatable {
    /// How the feature is encoded.
    public enum Kind: String, Codable, Sendable {
        /// Text values: known ones one-hot, the others hashed into buckets.
        case categorical
        /// A number, standardised.
        case numeric
    }

    /// The feature's name in RECOMMEND's `user_features`.
    public var name: String
    /// How it is encoded.
    public var kind: Kind
    /// Categorical values with a column each (may be empty).
    public var values: [String]
    /// Hashed columns for categorical values outside `values`.
    public var buckets: Int
    /// Subtracted from a numeric value.
    public var mean: Double
    /// A numeric value is divided by this after subtracting `mean`.
    public var scale: Double

    /// Creates a feature.
    public init(name: String, kind: Kind, values: [String] = [], buckets: Int = 8, mean: Double = 0, scale: Double = 1) {
        self.name = name
        self.kind = kind
        self.values = values
        self.buckets = buckets
        self.mean = mean
        self.scale = scale
    }

    /// The most hash buckets of a categorical feature (a policy's `φ` is at most a few thousand wide anyway).
    public static let maximumBuckets = 1 << 20

    /// Columns this feature takes.
    public var width: Int { kind == .numeric ? 1 : values.count.addingSaturating(buckets) }

    /// Why the feature cannot be encoded, or `nil`.
    public var problem: String? {
        if name.isEmpty { return "a user feature needs a name" }
        switch kind {
        case .categorical:
            // Checked before `width` adds them to the value count, so an absurd count is refused, not overflowed.
            if !(0...Self.maximumBuckets).contains(buckets) {
                return "user feature \(name): buckets must be 0...\(Self.maximumBuckets)"
            }
            if width < 1 { return "user feature \(name) needs values or buckets" }
            if Set(values).count != values.count { return "user feature \(name) repeats a value" }
        case .numeric:
            if !(mean.isFinite && scale.isFinite && scale > 0) {
                return "user feature \(name): mean must be finite and scale above 0"
            }
        }
        return nil
    }
}

/// Everything a replica needs to serve and learn an online policy except the learnt statistics: the catalogue,
/// the user-feature encoding, the model's sizes, exploration and learning. JSON keys: `user_features`, `item_ids`,
/// `item_features`, `item_active`, `id_buckets`, `item_dims`, `slate_size`, `exploration`, `learning`, `seed`, and
/// `item_scaling` when the item columns are standardised.
///
/// Items are the catalogue's rows: `item_ids[i]` (external id), `item_features[i]` (its encoded feature row; all
/// rows have one width) and `item_active[i]` (false once retired: never recommended). Rows never move; an added
/// item appends one. An item is represented by its feature row (reduced to at most `item_dims` columns by a fixed
/// seeded projection) and a learnt coefficient of its id's hash bucket (`id_buckets` of them), so nothing in the
/// model grows with the number of items.
public struct OnlinePolicySpec: Codable, Sendable, Equatable {
    /// The user features the policy reads.
    public var userFeatures: [UserFeatureSpec]
    /// External item id per row.
    public var itemIds: [String]
    /// One encoded feature row per item, all of one width, in one flat buffer (``ItemFeatureRows``: shared with the
    /// catalogue it was set from, written as `[[Float]]`).
    public var itemFeatures: ItemFeatureRows
    /// Whether each row may be recommended.
    public var itemActive: [Bool]
    /// Hash buckets of item ids, each with a learnt bias.
    public var idBuckets: Int
    /// Item feature columns the model uses (a wider row is projected down).
    public var itemDims: Int
    /// Items per slate unless a request asks for fewer.
    public var slateSize: Int
    /// Exploration.
    public var exploration: ExplorationSpec
    /// Online learning.
    public var learning: OnlineLearningSpec
    /// Seed of the item projection and of the first Thompson sample.
    public var seed: UInt64
    /// How each item column is standardised before the model reads it (``ItemScaling``); nil reads the rows as they
    /// are. Fixed for the policy's lineage.
    public var itemScaling: ItemScaling?

    /// Creates a spec; `itemIds` default to `"0"`, `"1"`, … and every item is active. The rows are copied into one
    /// flat buffer (``ItemFeatureRows/init(_:)``).
    public init(
        userFeatures: [UserFeatureSpec], itemFeatures: [[Float]], itemIds: [String]? = nil, itemActive: [Bool]? = nil,
        idBuckets: Int = 1024, itemDims: Int = 16, slateSize: Int = 3, exploration: ExplorationSpec = ExplorationSpec(),
        learning: OnlineLearningSpec = OnlineLearningSpec(), seed: UInt64 = 1
    ) {
        self.userFeatures = userFeatures
        self.itemFeatures = ItemFeatureRows(itemFeatures)
        self.itemIds = itemIds ?? itemFeatures.indices.map(String.init)
        self.itemActive = itemActive ?? [Bool](repeating: true, count: itemFeatures.count)
        self.idBuckets = idBuckets
        self.itemDims = itemDims
        self.slateSize = slateSize
        self.exploration = exploration
        self.learning = learning
        self.seed = seed
    }

    /// Width of an item's features.
    public var itemWidth: Int { itemFeatures.width }
    /// Columns of the user's encoded features: each user feature's ``UserFeatureSpec/width``, summed (saturating).
    public var userWidth: Int { userFeatures.reduce(0) { $0.addingSaturating($1.width) } }
    /// Items in the catalogue, retired ones included.
    public var itemCount: Int { itemFeatures.count }
    /// Items that may be recommended.
    public var activeCount: Int { itemActive.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// The most features an item may have. A replica's item projection holds item width × `item_dims` floats (at most
    /// 4,096 × 4,096 here), built before anything else of the spec is used; the catalogue registry's encodings are at
    /// most this wide (`ItemCatalogue.maximumWidth` in RecData).
    public static let maximumItemWidth = 4_096

    /// Why this spec cannot be served, or `nil` when it can.
    public var problem: String? {
        if let bad = userFeatures.lazy.compactMap(\.problem).first { return bad }
        if Set(userFeatures.map(\.name)).count != userFeatures.count { return "a user feature name appears twice" }
        if itemFeatures.isEmpty { return "the catalogue needs at least 1 item" }
        if itemIds.count != itemFeatures.count || itemActive.count != itemFeatures.count {
            return "item_ids, item_features and item_active differ in length"
        }
        if Set(itemIds).count != itemIds.count { return "an item id appears twice" }
        if !itemFeatures.isRegular { return "every item needs the same number of features" }
        if itemFeatures.values.contains(where: { !$0.isFinite }) { return "item features must be finite" }
        if let itemScaling, let bad = itemScaling.problem(itemWidth: itemWidth) { return bad }
        if !(1...UserFeatureSpec.maximumBuckets).contains(idBuckets) {
            return "id_buckets must be 1...\(UserFeatureSpec.maximumBuckets)"
        }
        if !(0...4_096).contains(itemDims) { return "item_dims must be 0...4096" }
        if itemWidth > Self.maximumItemWidth {
            return "items have \(itemWidth) features; at most \(Self.maximumItemWidth)"
        }
        if !(1...1_000).contains(slateSize) { return "slate_size must be 1...1000" }
        return exploration.problem ?? learning.problem
    }
}

/// A catalogue version of the broker's registry, named instead of inlined. JSON keys: `version`, `sha256`.
public struct CatalogueReference: Codable, Sendable, Equatable, Hashable {
    /// The registry's version.
    public var version: UInt64
    /// SHA-256 (hex) of the version's canonical bytes, as CATALOGUE announced them.
    public var sha256: String

    /// Creates a reference.
    public init(version: UInt64, sha256: String) {
        self.version = version
        self.sha256 = sha256
    }
}

extension OnlinePolicySpec {
    /// The spec without its items (`item_ids`, `item_features`, `item_active` empty): what a POLICY or a stored
    /// policy version holds when it names a registry catalogue version instead of inlining the rows. Such a spec
    /// is never servable on its own (``problem`` says the catalogue needs an item), so a receiver that cannot
    /// resolve the catalogue cannot serve a wrong one by mistake.
    public var withoutItems: OnlinePolicySpec {
        var detached = self
        detached.itemIds = []
        detached.itemFeatures = ItemFeatureRows()
        detached.itemActive = []
        return detached
    }

    /// Whether the spec holds no items (a detached spec whose catalogue is named elsewhere).
    public var itemsDetached: Bool { itemIds.isEmpty && itemFeatures.isEmpty && itemActive.isEmpty }
}
