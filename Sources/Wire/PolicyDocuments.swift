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

    /// Encodes every key, `catalogue` and `weights_sha256` as null when absent; `merged_sync` when set (a POLICY to a
    /// replica whose pull the version merged), and as `null` otherwise once `WireJSON` (``NullEncoding``) writes it.
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

/// One shown item of a policy recommendation. JSON keys: `item`, `id`, `position`, `score`, `propensity`.
public struct SlateItem: Codable, Sendable, Equatable {
    /// The item: its catalogue row, which FEEDBACK names.
    public var item: Int
    /// The item's id in the served catalogue (a shop's SKU; `"0"`, `"1"`, … for a catalogue without ids), or nil
    /// from a worker that predates it. Shown, never read back: FEEDBACK names the row.
    public var id: String?
    /// Its slot, from 0 (the top).
    public var position: Int
    /// The policy's Q-value for it.
    public var score: Double
    /// The probability that the policy placed this item in this slot, given the items above it.
    public var propensity: Double

    /// Creates a slate entry.
    public init(item: Int, id: String? = nil, position: Int, score: Double, propensity: Double) {
        self.item = item
        self.id = id
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
