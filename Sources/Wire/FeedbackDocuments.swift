/// A user's reaction to one shown item (FEEDBACK, frame 1). JSON keys: `impression_id`, `item`, `click`,
/// `dwell_seconds` (optional).
public struct FeedbackRequest: Codable, Sendable, Equatable {
    /// The largest FEEDBACK document (frame 1) the broker reads: 64 KiB, far above any of its four keys (an id of at
    /// most 64 bytes) with white space. A larger one is refused `BAD_REQUEST` unread: two 15 MiB documents from one
    /// client held every other client's CONTROL and policy slates for about 7 s while the control plane decoded them.
    public static let maximumDocumentBytes = 64 << 10

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
