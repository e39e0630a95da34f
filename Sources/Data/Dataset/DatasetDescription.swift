/// A dataset's headline figures, as `recpool data describe --json` prints them.
public struct DatasetDescription: Sendable, Codable, Equatable {
    /// Dataset label.
    public var name: String
    /// Rows (impressions).
    public var rows: Int
    /// Rows of the log left out because their outcome was never observed (``BanditDataset/unobservedRows``).
    public var unobservedRows: Int
    /// Rows of the log whose slate was drawn from a candidate set, which off-policy evaluation leaves out
    /// (``BanditDataset/conditionalRows``).
    public var conditionalRows: Int
    /// Rows of the log that repeat an earlier row in every column (``BanditDataset/repeatedRows``): each is read as
    /// its own impression.
    public var repeatedRows: Int
    /// Clicks: rows whose reward is above 0 (``BanditDataset/isClick(reward:)``).
    public var clicks: Int
    /// Items (actions).
    public var items: Int
    /// Positions (slots).
    public var positions: Int
    /// Width of obp's context (one-hot user features, first category dropped).
    public var contextWidth: Int
    /// Width of obp's action context.
    public var actionContextWidth: Int
    /// Width of the `basic` FeatureSpec fitted on the training split; nil (JSON `null`) when no spec can be fitted
    /// (``featureWidthsUndefined`` says why).
    public var basicFeatureWidth: Int?
    /// Width of the `extended` FeatureSpec fitted on the training split (the MLP's input); nil like
    /// ``basicFeatureWidth``.
    public var extendedFeatureWidth: Int?
    /// Why the feature widths are undefined (the training split has no rows); nil when they are defined.
    public var featureWidthsUndefined: String?
    /// Rows of cold-start users (all-zero affinity).
    public var coldStartRows: Int
    /// Rows of users with history.
    public var warmRows: Int
    /// Click-through rate overall: the share of rows with a click (reward above 0), `clicks / rows`.
    public var ctr: Double
    /// Mean logged reward per row; equal to ``ctr`` for 0/1 rewards, revenue per impression for revenue.
    public var meanReward: Double
    /// Click-through rate of cold-start users; nil (JSON `null`) when there are none.
    public var coldStartCTR: Double?
    /// Click-through rate of warm users; nil (JSON `null`) when there are none.
    public var warmCTR: Double?
    /// Smallest and largest propensity.
    public var pscoreMin: Double
    /// Largest propensity.
    public var pscoreMax: Double
    /// Rows in the training part of the split by time (``DatasetSplit/standard``: the oldest 60%).
    public var trainRows: Int
    /// Rows in the validation part (the next 10%).
    public var validationRows: Int
    /// Rows in the test split.
    public var testRows: Int
    /// What `fit` and `train` would say of the training part, as the text prints it (JSON `training_warning`, `null` in
    /// the command's output when there is nothing to say): a warning that it has no click or a click on every row, or a note that they refuse
    /// it.
    public var trainingWarning: String?

    /// Describes a dataset, split by time with the standard split.
    public init(_ data: BanditDataset) { self.init(SplitDataset(data)) }

    /// Describes a dataset split by time; the feature widths are those of specs fitted on its training part.
    public init(_ split: SplitDataset) {
        let data = split.all
        name = data.name
        rows = data.rows
        unobservedRows = data.unobservedRows
        repeatedRows = data.repeatedRows
        conditionalRows = data.conditionalRows
        clicks = data.clicks
        items = data.nActions
        positions = data.nPositions
        contextWidth = data.context.columns
        actionContextWidth = data.actionContext.columns
        let train = split.train
        trainRows = train.rows
        validationRows = split.validation.rows
        testRows = split.test.rows
        do throws(FeatureSpecError) {
            basicFeatureWidth = try FeatureSpec.fit(on: train, featureSet: .basic).width
            extendedFeatureWidth = try FeatureSpec.fit(on: train, featureSet: .extended).width
            featureWidthsUndefined = nil
        } catch {
            basicFeatureWidth = nil
            extendedFeatureWidth = nil
            featureWidthsUndefined = train.rows == 0 ? "the training split has no rows" : error.description
        }
        let cold = data.rows(in: .coldStart)
        let warm = data.rows(in: .warm)
        coldStartRows = cold.count
        warmRows = warm.count
        func rate(_ rows: [Int]) -> Double? {
            guard !rows.isEmpty else { return nil }
            return Double(rows.filter { BanditDataset.isClick(reward: data.reward[$0]) }.count) / Double(rows.count)
        }
        ctr = rate(Array(0..<data.rows)) ?? 0  // a loaded dataset has rows
        meanReward = data.rows == 0 ? 0 : data.reward.reduce(0, +) / Double(data.rows)
        coldStartCTR = rate(cold)
        warmCTR = rate(warm)
        pscoreMin = data.pscore.min() ?? 0
        pscoreMax = data.pscore.max() ?? 0
        do throws(FeatureSpecError) {
            try split.requireTrainingRows(name: data.name)
            trainingWarning = split.noPositiveWarning(name: data.name)
        } catch {
            trainingWarning = "note: \(error.description): fit and train refuse it"
        }
    }

    /// Encodes every key; a segment CTR with no rows in the segment is `null`, and so are the feature widths when
    /// the training split has no rows.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(rows, forKey: .rows)
        try c.encode(unobservedRows, forKey: .unobservedRows)
        try c.encode(conditionalRows, forKey: .conditionalRows)
        try c.encode(repeatedRows, forKey: .repeatedRows)
        try c.encode(clicks, forKey: .clicks)
        try c.encode(items, forKey: .items)
        try c.encode(positions, forKey: .positions)
        try c.encode(contextWidth, forKey: .contextWidth)
        try c.encode(actionContextWidth, forKey: .actionContextWidth)
        try c.encode(basicFeatureWidth, forKey: .basicFeatureWidth)
        try c.encode(extendedFeatureWidth, forKey: .extendedFeatureWidth)
        try c.encode(featureWidthsUndefined, forKey: .featureWidthsUndefined)
        try c.encode(coldStartRows, forKey: .coldStartRows)
        try c.encode(warmRows, forKey: .warmRows)
        try c.encode(ctr, forKey: .ctr)
        try c.encode(meanReward, forKey: .meanReward)
        try c.encode(coldStartCTR, forKey: .coldStartCTR)
        try c.encode(warmCTR, forKey: .warmCTR)
        var reasons = encoder.container(keyedBy: ReasonKeys.self)
        try reasons.encode(coldStartCTR == nil ? Self.noRows : nil, forKey: .coldStartCTRUndefined)
        try reasons.encode(warmCTR == nil ? Self.noRows : nil, forKey: .warmCTRUndefined)
        try c.encode(pscoreMin, forKey: .pscoreMin)
        try c.encode(pscoreMax, forKey: .pscoreMax)
        try c.encode(trainRows, forKey: .trainRows)
        try c.encode(validationRows, forKey: .validationRows)
        try c.encode(testRows, forKey: .testRows)
        try c.encodeIfPresent(trainingWarning, forKey: .trainingWarning)
    }

    private enum CodingKeys: String, CodingKey {
        case name, rows, unobservedRows, conditionalRows, repeatedRows, clicks, items, positions, contextWidth, actionContextWidth, basicFeatureWidth
        case extendedFeatureWidth, featureWidthsUndefined, coldStartRows, warmRows, ctr, meanReward, coldStartCTR
        case warmCTR
        case pscoreMin, pscoreMax
        case trainRows, validationRows, testRows, trainingWarning
    }

    /// The reasons beside ``coldStartCTR`` and ``warmCTR`` (`cold_start_ctr_undefined`, `warm_ctr_undefined`):
    /// computed, so written but not read back.
    private enum ReasonKeys: String, CodingKey { case coldStartCTRUndefined, warmCTRUndefined }

    /// Why a segment's CTR is undefined: the segment has no rows (0/0).
    public static let noRows = "no rows (0/0)"
}
