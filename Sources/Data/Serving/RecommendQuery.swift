/// A recommendation request with raw user context. JSON keys: `user_features`, `events`, `candidates`, `top`,
/// `exclude_viewed`.
///
/// `events` and `candidates` may be omitted (no events; every item is a candidate); `top` defaults to 10;
/// `exclude_viewed` (default false) leaves every item the user viewed (any event, however short) out of the answer.
public struct RecommendQuery: Codable, Sendable, Equatable {
    /// The most items one answer may hold (`top`): ranking's cost grows with it, and a page shows far fewer.
    public static let maximumTop = 1_000
    /// The most entries an explicit `candidates` list may hold.
    public static let maximumCandidates = 100_000
    /// The most UTF-8 bytes one user feature's value may hold in a RECOMMEND the online policy answers, whose
    /// impression record logs the user features: a 10 MB value was stored in the durable log (16 MB a request,
    /// 200,000 impressions kept), slowing every later read of it. The model path logs nothing and takes any value.
    public static let maximumLoggedFeatureValueBytes = 1_024

    /// Why this query's user features cannot be logged with a slate, or nil: a value over
    /// ``maximumLoggedFeatureValueBytes``, named.
    public var loggedFeatureProblem: String? {
        guard let (name, value) = userFeatures.first(where: { $0.value.utf8.count > Self.maximumLoggedFeatureValueBytes })
        else { return nil }
        return "user feature '\(name.prefix(64))' holds \(value.utf8.count) bytes; the online policy logs at most "
            + "\(Self.maximumLoggedFeatureValueBytes) a value (a category or a number) with its slate"
    }

    /// Raw user features by name, e.g. `user_feature_0 → "81ce1…"`.
    public var userFeatures: [String: String]
    /// What the (possibly brand-new) user has viewed so far.
    public var events: [ViewEvent]
    /// Items to rank; nil ranks every item.
    public var candidates: [Int]?
    /// How many items to return (at least 1).
    public var top: Int
    /// Whether to leave the items in `events` out of the answer.
    public var excludeViewed: Bool

    enum CodingKeys: String, CodingKey {
        case userFeatures = "user_features", events, candidates, top
        /// What a decoder with `.convertFromSnakeCase` (the wire's `WireJSON`) turns `user_features` into:
        /// without it that decoder finds no `user_features` and every user looks context-free.
        case userFeaturesFromSnakeCase = "userFeatures"
        case excludeViewed = "exclude_viewed"
        /// `exclude_viewed` as a `.convertFromSnakeCase` decoder sees it.
        case excludeViewedFromSnakeCase = "excludeViewed"
    }

    /// Creates a query.
    public init(
        userFeatures: [String: String] = [:], events: [ViewEvent] = [], candidates: [Int]? = nil, top: Int = 10,
        excludeViewed: Bool = false
    ) {
        self.userFeatures = userFeatures
        self.events = events
        self.candidates = candidates
        self.top = top
        self.excludeViewed = excludeViewed
    }

    /// Encodes `user_features`, `events`, `candidates` (when given), `top` and `exclude_viewed` (only when true, so
    /// a query without it is byte-identical to one from before the key existed).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(userFeatures, forKey: .userFeatures)
        try c.encode(events, forKey: .events)
        try c.encodeIfPresent(candidates, forKey: .candidates)
        try c.encode(top, forKey: .top)
        if excludeViewed { try c.encode(true, forKey: .excludeViewed) }
    }

    /// Decodes with defaults for omitted `user_features`, `events` and `top`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        userFeatures =
            try c.decodeIfPresent([String: String].self, forKey: .userFeatures)
            ?? c.decodeIfPresent([String: String].self, forKey: .userFeaturesFromSnakeCase) ?? [:]

        events = try c.decodeIfPresent([ViewEvent].self, forKey: .events) ?? []
        candidates = try c.decodeIfPresent([Int].self, forKey: .candidates)
        top = try c.decodeIfPresent(Int.self, forKey: .top) ?? 10
        excludeViewed =
            try c.decodeIfPresent(Bool.self, forKey: .excludeViewed)
            ?? c.decodeIfPresent(Bool.self, forKey: .excludeViewedFromSnakeCase) ?? false
    }
}

/// One view by the user: an item and how long they looked at it. JSON keys: `item`, `seconds`.
public struct ViewEvent: Codable, Sendable, Equatable {
    /// The longest dwell one view may report, in seconds (about 31.7 years): any real view is shorter, and the sum
    /// of a history's dwells, the weights of the pooled history, stays finite. FEEDBACK's `dwell_seconds` has the
    /// same bound (`FeedbackRequest.maximumDwellSeconds` in RecWire).
    public static let maximumSeconds = 1e9

    /// Whether `seconds` is a dwell a view may report: finite, ≥ 0 and at most ``maximumSeconds``.
    public static func admits(seconds: Double) -> Bool { seconds >= 0 && seconds <= maximumSeconds }

    /// The item viewed.
    public var item: Int
    /// Dwell time in seconds.
    public var seconds: Double

    /// Creates an event.
    public init(item: Int, seconds: Double) {
        self.item = item
        self.seconds = seconds
    }
}

/// An item and its score. JSON keys: `item`, `score`.
public struct ScoredItem: Codable, Sendable, Equatable {
    /// The item.
    public var item: Int
    /// The model's click probability, or the popularity prior for the fallback.
    public var score: Double

    /// Creates a scored item.
    public init(item: Int, score: Double) {
        self.item = item
        self.score = score
    }
}

/// Where a ranking came from. JSON: `"model"` or `"cold_start_fallback"`.
public enum RecommendationSource: String, Codable, Sendable {
    /// The model scored the candidates.
    case model
    /// The popularity prior recorded in the feature spec ranked them.
    case coldStartFallback = "cold_start_fallback"
}

/// A ranked answer. JSON keys: `items`, `source`.
public struct Recommendation: Codable, Sendable, Equatable {
    /// Best first, at most `top`.
    public var items: [ScoredItem]
    /// Model or cold-start fallback.
    public var source: RecommendationSource

    /// Creates a recommendation.
    public init(items: [ScoredItem], source: RecommendationSource) {
        self.items = items
        self.source = source
    }
}

/// Why a query was refused.
public enum RecommendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `top` is below 1 or above ``RecommendQuery/maximumTop``.
    case invalidTop(Int)
    /// The explicit candidate list holds more than ``RecommendQuery/maximumCandidates`` entries.
    case tooManyCandidates(Int)
    /// An event or candidate names an item the model does not know.
    case unknownItem(Int)
    /// An event's dwell time is negative, not finite, or above ``ViewEvent/maximumSeconds``.
    case invalidSeconds(item: Int, seconds: Double)
    /// The candidate list is empty.
    case noCandidates
    /// The candidate list repeats an item.
    case duplicateCandidate(Int)
    /// A user feature name the spec does not know (a typo would otherwise silently fall into the unknown bucket).
    case unknownUserFeature(String)
    /// A numeric user feature whose value is not a finite number.
    case notNumeric(feature: String, value: String)
    /// The scorer returned the wrong number of scores.
    case scorerFailed(expected: Int, got: Int)
    /// Retrieval before ranking failed (the index refused the search): a fault of the server, not of the query.
    case retrievalFailed(String)
    /// The model computed a score that is not finite for a candidate (an overflowing model): a fault of the server.
    case nonFiniteScore(item: Int, score: Double)

    /// Whether the fault lies with the server (the model, the scorer, the index), not the query: answered INTERNAL,
    /// every other case BAD_REQUEST.
    public var isServerFault: Bool {
        switch self {
        case .scorerFailed, .retrievalFailed, .nonFiniteScore: true
        default: false
        }
    }

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .invalidTop(let top): return "top must be 1…\(RecommendQuery.maximumTop), got \(top)"
        case .tooManyCandidates(let count):
            return "candidates may list at most \(RecommendQuery.maximumCandidates) items, got \(count)"
        case .unknownItem(let item): return "unknown item \(item)"
        case .invalidSeconds(let item, let seconds):
            return "event for item \(item) has invalid seconds \(seconds) (a dwell is 0…1e9 s)"
        case .noCandidates: return "no candidate to rank (the list is empty, or exclude_viewed left out every one)"
        case .duplicateCandidate(let item): return "candidate \(item) appears more than once"
        case .unknownUserFeature(let name): return "unknown user feature '\(name)'"
        case .notNumeric(let feature, let value):
            return "user feature '\(feature)' is numeric: a finite number within 1e15 standard deviations of its "
                + "training mean, got '\(value)'"
        case .scorerFailed(let expected, let got): return "scorer returned \(got) scores for \(expected) rows"
        case .retrievalFailed(let reason): return "retrieval before ranking failed: \(reason)"
        case .nonFiniteScore(let item, let score): return "item \(item): the model computes a score of \(score.isNaN ? "nan" : "\(score)")"
        }
    }
}
