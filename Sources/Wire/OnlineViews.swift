/// The outcome of the off-policy guard for one candidate version. JSON keys: `accepted`, `reason`,
/// `estimator`, `candidate_value`, `current_value`, `margin`, `rows`, `at_ms`.
public struct GuardDecision: Codable, Sendable, Hashable {
    /// Whether the candidate became the served version.
    public var accepted: Bool
    /// Why, in one line.
    public var reason: String
    /// The estimator used (`snipw`).
    public var estimator: String
    /// The candidate's estimated value (expected clicks per shown item) on recent logged impressions.
    public var candidateValue: Double?
    /// The current version's estimate on the same rows.
    public var currentValue: Double?
    /// The margin the candidate may fall below the current version by.
    public var margin: Double
    /// Logged rows (shown items with feedback) the estimates used.
    public var rows: Int
    /// When the decision was taken, ms since the Unix epoch.
    public var atMs: UInt64

    /// Creates a decision.
    public init(
        accepted: Bool, reason: String, estimator: String = "snipw", candidateValue: Double?, currentValue: Double?,
        margin: Double, rows: Int, atMs: UInt64
    ) {
        self.accepted = accepted
        self.reason = reason
        self.estimator = estimator
        self.candidateValue = candidateValue
        self.currentValue = currentValue
        self.margin = margin
        self.rows = rows
        self.atMs = atMs
    }
}

/// What one replica reported it serves. JSON keys: `worker`, `version`, `weights_sha256`.
public struct ReplicaPolicyView: Codable, Sendable, Hashable {
    /// The worker's display id.
    public var worker: String
    /// The policy version it serves.
    public var version: UInt64
    /// SHA-256 of its served weights' ``ParameterPack``.
    public var weightsSha256: String

    /// Creates a view.
    public init(worker: String, version: UInt64, weightsSha256: String) {
        self.worker = worker
        self.version = version
        self.weightsSha256 = weightsSha256
    }
}

/// Online learning as the broker sees it (`recpool online status`, and `online` in the status document).
/// JSON keys: `enabled`, `frozen`, `version`, `weights_sha256`, `syncs`, `rejected`, `empty_syncs`, `last_sync_ms`,
/// `sync_interval_ms`, `sync_events`, `impressions`, `feedback`, `duplicates`, `pending_events`, `syncing`,
/// `last_decision`, `replicas`, `catalogue_version` (null when the policy serves the simulator world's catalogue).
public struct OnlineView: Codable, Sendable, Hashable {
    /// Whether the broker runs online learning.
    public var enabled: Bool
    /// Whether learning is paused (serving continues with the current version).
    public var frozen: Bool
    /// The version every replica should serve.
    public var version: UInt64
    /// SHA-256 of that version's weights.
    public var weightsSha256: String
    /// Accepted syncs since the broker started.
    public var syncs: Int
    /// Candidates rejected since the broker started: refused by the guard, a merge that could not be built (its
    /// statistics not finite, say), or accepted but not stored durably (a registration too).
    public var rejected: Int
    /// Syncs since the broker started that had no learning to merge (no replica of the served version learnt from
    /// an event): no candidate, so neither accepted nor rejected. Every finished sync counts in exactly one of
    /// ``syncs``, ``rejected`` and this, and sets ``lastSyncMs``.
    public var emptySyncs: Int = 0
    /// When the last sync finished, ms since the Unix epoch (0 for never).
    public var lastSyncMs: UInt64
    /// A sync starts at most this long after the previous one, ms.
    public var syncIntervalMs: UInt64
    /// ... or once this many feedback events have reached the learners.
    public var syncEvents: Int
    /// Impressions in the log.
    public var impressions: Int
    /// Feedback events accepted (durable).
    public var feedback: Int
    /// Duplicate feedback events ignored.
    public var duplicates: Int
    /// Events delivered to learners since the last sync.
    public var pendingEvents: Int
    /// Whether a sync is in progress (replicas pulled, or the guard judging).
    public var syncing: Bool
    /// The guard's most recent decision.
    public var lastDecision: GuardDecision?
    /// What each replica reported it serves.
    public var replicas: [ReplicaPolicyView]
    /// The registry's catalogue version the served policy serves (`--online-catalogue`); nil for the simulator
    /// world's catalogue.
    public var catalogueVersion: UInt64? = nil
    /// Acknowledged feedback events consumed without being learnt since the broker started: events of replicas in
    /// no merge of two syncs in a row (docs/ONLINE.md, "Syncs"). They are stored and exported; no version learnt
    /// them. A partition or a replica far behind shows here, not only in the broker's log.
    public var unlearntEvents: Int = 0

    /// Creates a view.
    public init(
        enabled: Bool, frozen: Bool, version: UInt64, weightsSha256: String, syncs: Int, rejected: Int,
        lastSyncMs: UInt64, syncIntervalMs: UInt64, syncEvents: Int, impressions: Int, feedback: Int, duplicates: Int,
        pendingEvents: Int, lastDecision: GuardDecision?, replicas: [ReplicaPolicyView], syncing: Bool = false,
        catalogueVersion: UInt64? = nil, emptySyncs: Int = 0, unlearntEvents: Int = 0
    ) {
        self.unlearntEvents = unlearntEvents
        self.emptySyncs = emptySyncs
        self.catalogueVersion = catalogueVersion
        self.syncing = syncing
        self.enabled = enabled
        self.frozen = frozen
        self.version = version
        self.weightsSha256 = weightsSha256
        self.syncs = syncs
        self.rejected = rejected
        self.lastSyncMs = lastSyncMs
        self.syncIntervalMs = syncIntervalMs
        self.syncEvents = syncEvents
        self.impressions = impressions
        self.feedback = feedback
        self.duplicates = duplicates
        self.pendingEvents = pendingEvents
        self.lastDecision = lastDecision
        self.replicas = replicas
    }
}

/// One logged impression with the feedback it received (`impressions` CONTROL op). JSON keys: `seq`,
/// `record`, `clicks` (item → 0 or 1, for the items that got feedback), `dwell` (item → seconds, for the items
/// whose feedback reported a dwell time; absent from an older broker's pages, read as none).
///
/// A shown item that is in neither map got no feedback: it is *unobserved*, which is not a click of 0.
public struct LoggedImpression: Codable, Sendable, Equatable {
    /// Position in the log (increasing).
    public var seq: Int64
    /// The impression.
    public var record: ImpressionRecord
    /// Feedback received, by item.
    public var clicks: [String: Int]
    /// Dwell seconds reported with the feedback, by item.
    public var dwell: [String: Double]

    /// Creates a row.
    public init(seq: Int64, record: ImpressionRecord, clicks: [String: Int], dwell: [String: Double] = [:]) {
        self.seq = seq
        self.record = record
        self.clicks = clicks
        self.dwell = dwell
    }

    enum CodingKeys: String, CodingKey { case seq, record, clicks, dwell }

    /// Decodes; a page without `dwell` (an older broker) has none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(Int64.self, forKey: .seq)
        record = try c.decode(ImpressionRecord.self, forKey: .record)
        clicks = try c.decode([String: Int].self, forKey: .clicks)
        dwell = try c.decodeIfPresent([String: Double].self, forKey: .dwell) ?? [:]
    }
}

/// A page of the impression log. JSON keys: `impressions`, `next_after` (null at the end), `spec`,
/// `earlier_lineage`.
///
/// A page covers up to `limit` rows of the log after `after`: those of the current lineage are in `impressions`, and
/// those logged by an earlier lineage (a policy over another catalogue, whose item rows `spec` does not name) are only
/// counted in `earlierLineage`, so `impressions.count + earlierLineage ≤ limit` and `next_after` is the last covered
/// row's `seq` when the page covered `limit` rows.
public struct ImpressionPage: Codable, Sendable, Equatable {
    /// Rows of the current lineage, oldest first.
    public var impressions: [LoggedImpression]
    /// Pass as `after` for the next page; nil when this was the last.
    public var nextAfter: Int64?
    /// The serving policy's spec (the catalogue, for the item-context file of an export).
    public var spec: OnlinePolicySpec?
    /// Rows this page covered that an earlier lineage logged, left out (0 from a broker that predates lineages).
    public var earlierLineage: Int

    /// Creates a page.
    public init(impressions: [LoggedImpression], nextAfter: Int64?, spec: OnlinePolicySpec?, earlierLineage: Int = 0) {
        self.impressions = impressions
        self.nextAfter = nextAfter
        self.spec = spec
        self.earlierLineage = earlierLineage
    }

    enum CodingKeys: String, CodingKey { case impressions, nextAfter, spec, earlierLineage }

    /// Decodes; a page without `earlier_lineage` (an older broker) left nothing out.
    /// - Throws: `DecodingError` for a missing key or a negative `earlier_lineage`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        impressions = try c.decode([LoggedImpression].self, forKey: .impressions)
        nextAfter = try c.decodeIfPresent(Int64.self, forKey: .nextAfter)
        spec = try c.decodeIfPresent(OnlinePolicySpec.self, forKey: .spec)
        earlierLineage = try c.decodeIfPresent(Int.self, forKey: .earlierLineage) ?? 0
        guard earlierLineage >= 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .earlierLineage, in: c, debugDescription: "earlier_lineage \(earlierLineage) is below 0")
        }
    }
}

extension OnlineView {
    private enum Keys: String, CodingKey {
        case enabled, frozen, version, weightsSha256, syncs, rejected, emptySyncs, lastSyncMs, syncIntervalMs
        case syncEvents
        case impressions, feedback, duplicates, pendingEvents, syncing, lastDecision, replicas, catalogueVersion
        case unlearntEvents
    }

    /// Decodes every key; a view without `empty_syncs` or `unlearnt_events` (from an older broker) reads 0 there.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        enabled = try c.decode(Bool.self, forKey: .enabled)
        frozen = try c.decode(Bool.self, forKey: .frozen)
        version = try c.decode(UInt64.self, forKey: .version)
        weightsSha256 = try c.decode(String.self, forKey: .weightsSha256)
        syncs = try c.decode(Int.self, forKey: .syncs)
        rejected = try c.decode(Int.self, forKey: .rejected)
        emptySyncs = try c.decodeIfPresent(Int.self, forKey: .emptySyncs) ?? 0
        lastSyncMs = try c.decode(UInt64.self, forKey: .lastSyncMs)
        syncIntervalMs = try c.decode(UInt64.self, forKey: .syncIntervalMs)
        syncEvents = try c.decode(Int.self, forKey: .syncEvents)
        impressions = try c.decode(Int.self, forKey: .impressions)
        feedback = try c.decode(Int.self, forKey: .feedback)
        duplicates = try c.decode(Int.self, forKey: .duplicates)
        pendingEvents = try c.decode(Int.self, forKey: .pendingEvents)
        syncing = try c.decode(Bool.self, forKey: .syncing)
        lastDecision = try c.decodeIfPresent(GuardDecision.self, forKey: .lastDecision)
        replicas = try c.decode([ReplicaPolicyView].self, forKey: .replicas)
        catalogueVersion = try c.decodeIfPresent(UInt64.self, forKey: .catalogueVersion)
        unlearntEvents = try c.decodeIfPresent(Int.self, forKey: .unlearntEvents) ?? 0
    }

    /// Encodes every key, `last_decision` and `catalogue_version` as null when there is none.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(enabled, forKey: .enabled)
        try c.encode(frozen, forKey: .frozen)
        try c.encode(version, forKey: .version)
        try c.encode(weightsSha256, forKey: .weightsSha256)
        try c.encode(syncs, forKey: .syncs)
        try c.encode(rejected, forKey: .rejected)
        try c.encode(emptySyncs, forKey: .emptySyncs)
        try c.encode(lastSyncMs, forKey: .lastSyncMs)
        try c.encode(syncIntervalMs, forKey: .syncIntervalMs)
        try c.encode(syncEvents, forKey: .syncEvents)
        try c.encode(impressions, forKey: .impressions)
        try c.encode(feedback, forKey: .feedback)
        try c.encode(duplicates, forKey: .duplicates)
        try c.encode(pendingEvents, forKey: .pendingEvents)
        try c.encode(syncing, forKey: .syncing)
        try c.encode(lastDecision, forKey: .lastDecision)
        try c.encode(replicas, forKey: .replicas)
        try c.encode(catalogueVersion, forKey: .catalogueVersion)
        try c.encode(unlearntEvents, forKey: .unlearntEvents)
    }
}
