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
