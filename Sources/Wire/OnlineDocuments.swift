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

/// The broker's order to serve an online policy version (frame 1 of ``Command/policy``; frame 2 is the
/// ``ParameterPack`` of the Q-network's parameters). JSON keys: `version`, `spec`, `learning_enabled`,
/// `catalogue`.
///
/// Over the simulator world's catalogue `catalogue` is null and `spec` inlines every item. Over a registry
/// catalogue (`--online-catalogue`) `catalogue` names the version and its SHA-256, and `spec` carries no items
/// (``OnlinePolicySpec/withoutItems``): the replica takes the rows from the catalogue version it holds (sent by
/// CATALOGUE and verified by hash), so the message's size does not grow with the catalogue. A replica that does not
/// hold that version refuses with POLICY_STATE `catalogue_missing` and keeps serving what it served.
public struct PolicyInstall: Codable, Sendable, Equatable {
    /// The policy version; replies to RECOMMEND carry it.
    public var version: UInt64
    /// The encoding, exploration and learning settings, and the items unless `catalogue` names them.
    public var spec: OnlinePolicySpec
    /// Whether the replica learns from feedback (false while the pool is frozen).
    public var learningEnabled: Bool
    /// The registry catalogue version whose rows are the spec's items, or nil when `spec` inlines them.
    public var catalogue: CatalogueReference?
    /// SHA-256 (hex) of the version's whole encoded statistics pack, or nil (an order from before it existed).
    /// The receiver installs nothing whose pack — sent whole, or rebuilt from a delta in frame 2 — hashes
    /// otherwise; a frame 2 that is a delta needs it.
    public var weightsSha256: String?
    /// The POLICY_PULL (its request id) whose answer from this replica the version merged, or nil: set only on the
    /// version a sync stored, for the replicas whose learning it merged, so each can keep re-linearising the events
    /// it sent (``OnlineLearner``). An order from before the field existed has none.
    public var mergedSync: UInt64?

    /// Creates an install order. With a `catalogue`, the spec's items are dropped (the receiver resolves them).
    public init(
        version: UInt64, spec: OnlinePolicySpec, learningEnabled: Bool, catalogue: CatalogueReference? = nil,
        weightsSha256: String? = nil, mergedSync: UInt64? = nil
    ) {
        self.version = version
        self.spec = catalogue == nil ? spec : spec.withoutItems
        self.learningEnabled = learningEnabled
        self.catalogue = catalogue
        self.weightsSha256 = weightsSha256
        self.mergedSync = mergedSync
    }

    enum CodingKeys: String, CodingKey {
        case version, spec, learningEnabled, catalogue, weightsSha256, mergedSync
    }

    /// Encodes every key, `catalogue` and `weights_sha256` as null when absent; `merged_sync` only when set (a POLICY
    /// to a replica whose pull the version merged).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(spec, forKey: .spec)
        try c.encode(learningEnabled, forKey: .learningEnabled)
        try c.encode(catalogue, forKey: .catalogue)
        try c.encode(weightsSha256, forKey: .weightsSha256)
        try c.encodeIfPresent(mergedSync, forKey: .mergedSync)
    }

    /// Decodes; an order sent before `catalogue` existed inlines its items, one sent before `weights_sha256`
    /// existed names no hash.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(UInt64.self, forKey: .version)
        spec = try c.decode(OnlinePolicySpec.self, forKey: .spec)
        learningEnabled = try c.decode(Bool.self, forKey: .learningEnabled)
        catalogue = try c.decodeIfPresent(CatalogueReference.self, forKey: .catalogue)
        weightsSha256 = try c.decodeIfPresent(String.self, forKey: .weightsSha256)
        mergedSync = try c.decodeIfPresent(UInt64.self, forKey: .mergedSync)
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

/// The columns `recpool logs export` writes before the user features, in order (docs/ONLINE.md, "Exporting the
/// log"): the first is the unnamed row index. A user feature of the online policy may not take one of these names,
/// or its column would shadow (in pandas, duplicate) the logged one; a catalogue upload whose schema names one is
/// refused.
public enum ImpressionLogColumns {
    /// The fixed columns' names.
    public static let fixed = [
        "", "timestamp", "item_id", "position", "click", "observed", "dwell", "propensity_score",
        "impression_id", "policy_version", "viewed", "score", "retrieval",
    ]
}

/// What the impression log keeps of one recommendation: the worker sends it to the broker as a third frame
/// of its RECOMMEND reply, and the broker strips it before answering the client. JSON keys: `impression_id`,
/// `created_ms`, `version`, `user_features`, `viewed`, `slate`, `propensities`, `scores`.
public struct ImpressionRecord: Codable, Sendable, Equatable {
    /// The impression's id.
    public var impressionId: String
    /// When it was served, ms since the Unix epoch.
    public var createdMs: UInt64
    /// The policy version that chose the slate.
    public var version: UInt64
    /// The raw context: the user's features.
    public var userFeatures: [String: String]
    /// The items the user had viewed, with dwell time (RECOMMEND's `events`); part of the policy's state.
    public var viewed: [ViewedItem]
    /// The items shown, top slot first.
    public var slate: [Int]
    /// The propensity of each shown item.
    public var propensities: [Double]
    /// The Q-value of each shown item.
    public var scores: [Double]
    /// What the slate's candidates were when they were not every active item: the item index version
    /// (`e<embeddings>.c<catalogue>.g<generation>`) when it was drawn from retrieval's candidates, or
    /// ``requestCandidates`` when from the RECOMMEND's own `candidates`; nil when every active item was a candidate.
    /// The propensities are exact within those candidates (items outside them had probability 0), but another
    /// policy's probabilities of the slate cannot be recomputed without the same candidates, so off-policy evaluation
    /// of a candidate policy (the guard) uses only records where this is nil.
    public var retrieval: String?

    /// ``retrieval`` of a slate drawn from the RECOMMEND's own `candidates`, a set that left out an active item (the
    /// set itself is not logged).
    public static let requestCandidates = "request"

    /// Creates a record.
    public init(
        impressionId: String, createdMs: UInt64, version: UInt64, userFeatures: [String: String],
        viewed: [ViewedItem] = [], slate: [Int], propensities: [Double], scores: [Double], retrieval: String? = nil
    ) {
        self.retrieval = retrieval
        self.impressionId = impressionId
        self.createdMs = createdMs
        self.version = version
        self.userFeatures = userFeatures
        self.viewed = viewed
        self.slate = slate
        self.propensities = propensities
        self.scores = scores
    }

    enum CodingKeys: String, CodingKey {
        case impressionId, createdMs, version, userFeatures, viewed, slate, propensities, scores, retrieval
    }

    /// Encodes every key, `retrieval` as null when the slate was drawn from every active item.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(impressionId, forKey: .impressionId)
        try c.encode(createdMs, forKey: .createdMs)
        try c.encode(version, forKey: .version)
        try c.encode(userFeatures, forKey: .userFeatures)
        try c.encode(viewed, forKey: .viewed)
        try c.encode(slate, forKey: .slate)
        try c.encode(propensities, forKey: .propensities)
        try c.encode(scores, forKey: .scores)
        try c.encode(retrieval, forKey: .retrieval)
    }

    /// Decodes; a record logged before `viewed` (or `retrieval`) existed has none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        impressionId = try c.decode(String.self, forKey: .impressionId)
        createdMs = try c.decode(UInt64.self, forKey: .createdMs)
        version = try c.decode(UInt64.self, forKey: .version)
        userFeatures = try c.decode([String: String].self, forKey: .userFeatures)
        viewed = try c.decodeIfPresent([ViewedItem].self, forKey: .viewed) ?? []
        slate = try c.decode([Int].self, forKey: .slate)
        propensities = try c.decode([Double].self, forKey: .propensities)
        scores = try c.decode([Double].self, forKey: .scores)
        retrieval = try c.decodeIfPresent(String.self, forKey: .retrieval)
    }

    /// Why the record is not well formed, or `nil`.
    public var problem: String? {
        if let problem = WireText.nameProblem(impressionId, field: "impression_id", maxBytes: 64) { return problem }
        if slate.isEmpty { return "the slate is empty" }
        if propensities.count != slate.count || scores.count != slate.count {
            return "slate, propensities and scores differ in length"
        }
        if propensities.contains(where: { !($0 > 0 && $0 <= 1) }) { return "a propensity is not in (0, 1]" }
        if Set(slate).count != slate.count { return "the slate repeats an item" }
        if let item = slate.first(where: { $0 < 0 }) { return "the slate shows item \(item), below 0" }
        if let view = viewed.first(where: { $0.item < 0 }) { return "viewed names item \(view.item), below 0" }
        if let view = viewed.first(where: { !($0.seconds >= 0 && $0.seconds <= FeedbackRequest.maximumDwellSeconds) }) {
            return "viewed item \(view.item) has a dwell of \(view.seconds) s, not 0…1e9 s"
        }
        if createdMs > Self.maximumCreatedMs {
            return "created_ms \(createdMs) is after 9999-12-31T23:59:59.999Z, the last time a log's timestamp can hold"
        }
        return nil
    }

    /// The smallest propensity a new record may carry: 1e-100, RecData's `BanditDataset.minimumPropensity`, the
    /// smallest a log's reader and every off-policy estimator takes (a weight `π/p` stays finite). A policy's
    /// propensities are at least 1e-12; a record below this floor was logged and acknowledged, then refused by
    /// `recpool logs export` for the whole log. ``exportProblem`` checks it when a record arrives; ``problem``, which
    /// stored rows are read by too, does not, so a row logged before the check was made still reads.
    public static let minimumPropensity = 1e-100

    /// Why a well-formed record cannot be logged, though ``problem`` takes it: what `recpool logs export` and the
    /// loaders that read its CSV would refuse (a propensity below ``minimumPropensity``, a user feature value holding
    /// U+0000), or a `retrieval` that is not an item index version (``isIndexVersion(_:)``). Checked when a worker's
    /// record arrives, never on stored rows.
    public var exportProblem: String? {
        if let bad = propensities.first(where: { $0 < Self.minimumPropensity }) {
            return "propensity \(bad) is below \(Self.minimumPropensity), the smallest a log may hold"
        }
        if let name = userFeatures.keys.sorted().first(where: { userFeatures[$0]!.unicodeScalars.contains("\u{0}") }) {
            return "user feature '\(name)' holds U+0000, which the exported log (CSV) cannot hold"
        }
        if let retrieval, retrieval != Self.requestCandidates, !Self.isIndexVersion(retrieval) {
            return "retrieval '\(retrieval.unicodeScalars.prefix(80).map { $0.escaped(asASCII: true) }.joined())' is not an "
                + "item index version (e<embeddings>.c<catalogue>.g<generation>) or \(Self.requestCandidates)"
        }
        return nil
    }

    /// Whether `text` is an item index version as a worker logs it, `e<embeddings>.c<catalogue>.g<generation>`, each
    /// a decimal `UInt64` (RecIndex's `IndexVersion`).
    public static func isIndexVersion(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return false }
        return zip(parts, ["e", "c", "g"]).allSatisfy { part, prefix in
            part.hasPrefix(prefix) && part.count > 1 && part.dropFirst().allSatisfy { ("0"..."9").contains($0) }
                && UInt64(part.dropFirst()) != nil
        }
    }

    /// The latest `created_ms` a record may carry: 9999-12-31T23:59:59.999Z, the last instant an ISO 8601 timestamp
    /// with a four-digit year (what `recpool logs export` writes and the log loader reads) can name.
    public static let maximumCreatedMs: UInt64 = 253_402_300_799_999
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

    /// The longest dwell a FEEDBACK event may report, in seconds (about 31.7 years; RecData's
    /// `ViewEvent.maximumSeconds`): sums and means of dwells then stay finite.
    public static let maximumDwellSeconds = 1e9

    /// Creates a feedback event.
    public init(impressionId: String, item: Int, click: Int, dwellSeconds: Double? = nil) {
        self.impressionId = impressionId
        self.item = item
        self.click = click
        self.dwellSeconds = dwellSeconds
    }

    /// Why the event is not well formed, or `nil`, naming its JSON keys.
    public var problem: String? { problem(names: Self.jsonNames) }

    /// The names a problem gives each field: the message's JSON keys, or a command's flags.
    public struct FieldNames: Sendable {
        /// The impression id's name.
        public var impressionId: String
        /// The item's name.
        public var item: String
        /// The click's name.
        public var click: String
        /// The dwell's name.
        public var dwellSeconds: String

        /// Names for each field.
        public init(impressionId: String, item: String, click: String, dwellSeconds: String) {
            (self.impressionId, self.item, self.click, self.dwellSeconds) = (impressionId, item, click, dwellSeconds)
        }
    }

    /// The JSON keys of FEEDBACK's frame.
    public static let jsonNames = FieldNames(
        impressionId: "impression_id", item: "item", click: "click", dwellSeconds: "dwell_seconds")

    /// Why the event is not well formed, or `nil`, naming each field as `names` says (`recpool feedback` names its
    /// flags: `--dwell 1e10`, not `dwell_seconds`).
    public func problem(names: FieldNames) -> String? {
        if let problem = WireText.nameProblem(impressionId, field: names.impressionId, maxBytes: 64) { return problem }
        if item < 0 { return "\(names.item) must be a catalogue row (0 or more), got \(item)" }
        if click != 0 && click != 1 { return "\(names.click) must be 0 or 1, got \(click)" }
        if let dwell = dwellSeconds, !(dwell >= 0 && dwell <= Self.maximumDwellSeconds) {
            return "\(names.dwellSeconds) must be 0…1e9 (seconds), got \(dwell)"
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

/// An item a user viewed before a recommendation, and for how long. JSON keys: `item`, `seconds`.
public struct ViewedItem: Codable, Sendable, Equatable {
    /// The item's catalogue row.
    public var item: Int
    /// Dwell time in seconds (≥ 0).
    public var seconds: Double

    /// Creates a view.
    public init(item: Int, seconds: Double) {
        self.item = item
        self.seconds = seconds
    }
}

/// One feedback event joined with its impression, as a learner needs it. JSON keys: `impression_id`,
/// `user_features`, `viewed`, `item`, `position`, `reward`, `propensity`, `version`.
public struct LearnEvent: Codable, Sendable, Equatable {
    /// The impression.
    public var impressionId: String
    /// The context from the impression log.
    public var userFeatures: [String: String]
    /// The items viewed before the impression, from the impression log.
    public var viewed: [ViewedItem]
    /// The item shown.
    public var item: Int
    /// Its slot in the slate, from 0 (the top): the learner separates position bias from the item's appeal.
    public var position: Int
    /// The reward (the click).
    public var reward: Double
    /// The logged propensity of the item.
    public var propensity: Double
    /// The policy version that showed it.
    public var version: UInt64

    /// Creates an event.
    public init(
        impressionId: String, userFeatures: [String: String], viewed: [ViewedItem] = [], item: Int, position: Int = 0,
        reward: Double, propensity: Double, version: UInt64
    ) {
        self.impressionId = impressionId
        self.userFeatures = userFeatures
        self.viewed = viewed
        self.item = item
        self.position = position
        self.reward = reward
        self.propensity = propensity
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case impressionId, userFeatures, viewed, item, position, reward, propensity, version
    }

    /// Decodes; an event without `viewed` has none, one without `position` was in the top slot.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        impressionId = try c.decode(String.self, forKey: .impressionId)
        userFeatures = try c.decode([String: String].self, forKey: .userFeatures)
        viewed = try c.decodeIfPresent([ViewedItem].self, forKey: .viewed) ?? []
        item = try c.decode(Int.self, forKey: .item)
        position = try c.decodeIfPresent(Int.self, forKey: .position) ?? 0
        reward = try c.decode(Double.self, forKey: .reward)
        propensity = try c.decode(Double.self, forKey: .propensity)
        version = try c.decode(UInt64.self, forKey: .version)
    }
}

/// Feedback for a replica's learner (``Command/learn``, frame 1). JSON key: `events`.
public struct LearnBatch: Codable, Sendable, Equatable {
    /// The events, oldest first.
    public var events: [LearnEvent]

    /// Creates a batch.
    public init(events: [LearnEvent]) { self.events = events }
}

/// A replica's report on its online policy (``Command/policyState``). JSON keys: `kind` (`sync`, `installed`,
/// `catalogue_missing`, `delta_refused` or `refused`), `sync`, `version`, `events`, `updates`, `weights_sha256`, with
/// `catalogue_missing` also `catalogue` and `error`, with `delta_refused` and `refused` also `error`, with
/// `installed` also `catalogue` when the POLICY named one.
public struct PolicyStateReport: Codable, Sendable, Equatable {
    /// Why the report was sent.
    public enum Kind: String, Codable, Sendable {
        /// The answer to a POLICY_PULL; the pack follows in frame 2.
        case sync
        /// The replica installed a version and now serves it.
        case installed
        /// The replica refused a POLICY that names a catalogue version it does not hold (`catalogue`); it keeps
        /// serving what it served. The broker sends that CATALOGUE version and the POLICY again.
        case catalogueMissing = "catalogue_missing"
        /// The replica refused a POLICY whose frame 2 was a statistics delta (`error` says why: a base it does not
        /// hold, a malformed delta, or rebuilt statistics that do not hash to `weights_sha256`); it keeps serving
        /// what it served. The broker sends the version again with the whole pack.
        case deltaRefused = "delta_refused"
        /// The replica refused a POLICY it cannot install at all (`error` says why: an install document or whole
        /// pack that does not decode, a spec out of range, weights that do not hash to `weights_sha256`); it keeps
        /// serving what it served. `version` is the refused POLICY's, or 0 when its document did not decode. The
        /// broker logs it, naming the replica; sending the same POLICY again would be refused again.
        case refused
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
    /// With `catalogue_missing`: the catalogue version the refused POLICY named; with `installed`: the catalogue
    /// version the installed POLICY named (absent when its spec inlined the items, and otherwise).
    public var catalogue: CatalogueReference?
    /// With `catalogue_missing`, `delta_refused` and `refused`: why, in words (absent otherwise).
    public var error: String?

    /// Creates a report.
    public init(
        kind: Kind, sync: UInt64, version: UInt64, events: Int, updates: Int, weightsSha256: String,
        catalogue: CatalogueReference? = nil, error: String? = nil
    ) {
        self.kind = kind
        self.sync = sync
        self.version = version
        self.events = events
        self.updates = updates
        self.weightsSha256 = weightsSha256
        self.catalogue = catalogue
        self.error = error
    }

    /// Why the report's numbers cannot be used, or `nil`: `events` or `updates` below 0.
    public var problem: String? {
        if events < 0 || updates < 0 { return "negative count (events \(events), updates \(updates))" }
        return nil
    }
}
