/// Logged bandit feedback in the Open Bandit Dataset's shape, from OBD files or from the simulator,
/// so that the same training and evaluation code runs on both.
///
/// Row `i` says: a user with context `userFeatures[i]` and history `affinity[i]` was shown item `action[i]`
/// at slot `position[i]` (0-based) by a logging policy that chose it with probability `pscore[i]`,
/// and clicked (`reward[i] == 1`) or not.
public struct BanditDataset: Sendable {
    /// A label such as `obd:random/all`.
    public var name: String
    /// Number of items (actions); items are `0..<nActions`.
    public var nActions: Int
    /// Number of slots (positions), `0..<nPositions`.
    public var nPositions: Int
    /// Shown item per row.
    public var action: [Int]
    /// Slot per row, 0-based (obp: dense rank − 1 of the logged position).
    public var position: [Int]
    /// Click (1) or not (0) per row.
    public var reward: [Double]
    /// Logging policy's probability of the shown item per row, in [``minimumPropensity``, 1].
    public var pscore: [Double]

    /// The smallest propensity a loader accepts, `1e-100`.
    ///
    /// An importance weight `w = π(a|x) / pscore` is then at most `1e100`, so for any log of fewer than `1e100` rows
    /// the sums the estimators and the effective sample size need (`Σw`, `Σw²`, `(Σw)²`) stay finite. A log with a
    /// smaller propensity is refused where it is read, naming the row, instead of printing an infinite or NaN
    /// estimate later.
    public static let minimumPropensity = 1e-100
    /// Raw categorical user features per row.
    public var userFeatures: CategoricalColumns
    /// Raw numeric user features per row (a shop's schema may declare them; none for OBD and the simulator), as 32-bit
    /// floats for the models' context.
    public var userNumeric: FeatureMatrix
    /// The same numeric user features as read, 64-bit, `rows × userNumeric.columns` row-major: what a `FeatureSpec` is
    /// fitted on and transforms, so its statistics, the training rows and a served request (whose value is parsed as
    /// a 64-bit number) see the same number. Rounded to 32 bits, `1700000074` is `1700000128`, and a timestamp-like
    /// column collapses to a few values. A missing value (a blank cell) is NaN here, scored as the training mean, and
    /// its column's mean in ``userNumeric`` and the context.
    public var userNumericRaw: [Double]
    /// How many of `actionContext`'s last columns are numeric item features (the others are label codes).
    public var itemNumericColumns: Int
    /// obp's context: one-hot user features with each column's first (sorted) category dropped.
    public var context: FeatureMatrix
    /// obp's action context, one row per item: label-encoded item categories, then continuous item features.
    public var actionContext: FeatureMatrix
    /// User-item affinity per row (past clicks per item); an empty row is a cold-start user.
    public var affinity: SparseRows
    /// Ground-truth click probabilities, for simulator data only.
    public var oracle: ClickOracle?
    /// Rows of the source log left out because their outcome was never observed (the schema's `observed` role,
    /// value 0: shown, no feedback); they are in none of the per-row arrays. 0 for a log without that role.
    public var unobservedRows = 0
    /// Per row, whether its slate was drawn from a candidate set (the schema's `retrieval` role): its propensity is
    /// conditional on a set the log does not hold, so no other policy can be weighed against it (off-policy
    /// evaluation leaves it out, ``withoutConditionalRows()``), while its click is as good a label as any row's.
    /// Empty when no row was.
    public var conditional: [Bool] = []
    /// Rows ``withoutConditionalRows()`` left out of this dataset's parts, for the reports that say so.
    public var conditionalRowsLeftOut = 0
    /// Rows of the source log that repeat an earlier row in every column, the timestamp included (a log written
    /// twice, a retried export): each is still read as its own impression, so it is learnt and weighed twice; the
    /// reports say so. Counted over the whole log and kept by ``subset(_:name:)``; 0 for OBD and the simulator.
    public var repeatedRows = 0
    /// The source line of the first row counted in ``repeatedRows`` (1 is the header), nil when none is.
    public var firstRepeatedLine: Int? = nil
    /// Rows drawn from a candidate set (``conditional``).
    public var conditionalRows: Int { conditional.count { $0 } }

    /// The rows whose propensities are the logging policy's over every item: the rows off-policy evaluation may weigh
    /// another policy against (``conditional`` ones left out, and counted in ``conditionalRowsLeftOut``).
    public func withoutConditionalRows() -> BanditDataset {
        guard conditionalRows > 0 else { return self }
        var out = subset((0..<rows).filter { !conditional[$0] }, name: name)
        out.conditionalRowsLeftOut = conditionalRowsLeftOut + conditionalRows
        return out
    }
    /// Each item's id as a served catalogue of its catalogue file names it (the file's id, or its SKU with a `sku`
    /// role), in item order (`itemIds[k]` is item `k`'s), for a log read with a catalogue (``LogLoader``); nil for
    /// generated data. A served catalogue's rows are matched to the log's
    /// items by these (``itemsAsCatalogueRows(ids:)``).
    public var itemIds: [String]? = nil
    /// Each row's viewed items with their dwell seconds summed per item (a log's `viewed` column: every view, short
    /// ones too), as a request's `events` carry them to the online policy, which weighs the viewed items' vectors by
    /// these; nil for a log without a `viewed` column. ``affinity`` keeps only the engagements the MLP's features
    /// count, so an online policy scored from it would see another history than the one it served.
    public var viewedSeconds: SparseRows? = nil
    /// The logged slot value each position stands for (`positionValues[p]` is position `p`'s slot), for a log read by
    /// ``LogLoader`` (a schema's, or OBD's files), whose slots are dense-ranked in its own file; nil for generated data,
    /// whose positions are the slots (the simulator). A model fitted on one log is evaluated on another by these (``CheckpointEvaluation``), so a later
    /// log without slot 1 never has its slot 2 read as position 0.
    public var positionValues: [Int]? = nil

    /// Creates a dataset; all per-row arrays must have the same length.
    public init(
        name: String, nActions: Int, nPositions: Int, action: [Int], position: [Int], reward: [Double],
        pscore: [Double], userFeatures: CategoricalColumns, context: FeatureMatrix, actionContext: FeatureMatrix,
        affinity: SparseRows, oracle: ClickOracle? = nil, userNumeric: FeatureMatrix? = nil,
        userNumericRaw: [Double]? = nil, itemNumericColumns: Int = 1
    ) {
        let n = action.count
        let numeric = userNumeric ?? FeatureMatrix(rows: n, columnNames: [], values: [])
        let raw = userNumericRaw ?? numeric.values.map(Double.init)
        precondition(
            position.count == n && reward.count == n && pscore.count == n
                && (userFeatures.names.isEmpty || userFeatures.rows == n) && numeric.rows == n
                && raw.count == numeric.values.count
                && context.rows == n && affinity.rows == n && actionContext.rows == nActions
                && (0...actionContext.columns).contains(itemNumericColumns),
            "BanditDataset: per-row arrays disagree in length")
        self.userNumeric = numeric
        self.userNumericRaw = raw
        self.itemNumericColumns = itemNumericColumns
        self.name = name
        self.nActions = nActions
        self.nPositions = nPositions
        self.action = action
        self.position = position
        self.reward = reward
        self.pscore = pscore
        self.userFeatures = userFeatures
        self.context = context
        self.actionContext = actionContext
        self.affinity = affinity
        self.oracle = oracle
    }

    /// Number of rows (impressions).
    public var rows: Int { action.count }
    /// Row `row`'s user context as a request carries it: each categorical user feature's value, and each numeric one's
    /// 64-bit value as text that parses back to the same number (Swift prints a `Double` as the shortest text that
    /// does). Scoring a logged row from this gives the features its training row had; the categorical values alone
    /// (`userFeatures.dictionary(row)`) score every numeric feature as missing.
    public func userContext(_ row: Int) -> [String: String] {
        // A blank categorical value is a missing one (the loader's convention), left out as the request that logged it
        // left it out: sent as "", a log's extra feature blank on 90% of its rows refused every row as unknown.
        var context = userFeatures.names.isEmpty ? [:] : userFeatures.dictionary(row).filter { !$0.value.isEmpty }
        // A missing value (NaN) is left out, as the request that logged it left it out.
        for (name, value) in userNumericRawValues(row) where value.isFinite { context[name] = "\(value)" }
        return context
    }

    /// Row `row`'s numeric user features as read (``userNumericRaw``), by column name.
    public func userNumericRawValues(_ row: Int) -> [String: Double] {
        let columns = userNumeric.columns
        return Dictionary(
            uniqueKeysWithValues: userNumeric.columnNames.enumerated().map { ($1, userNumericRaw[row * columns + $0]) })
    }
    /// Whether a logged reward counts as a click: a reward above 0. This is the one definition of a click for a
    /// reward log (0/1 clicks, revenue, ratings): training labels, evaluation's classification and ranking figures, and
    /// `data describe`'s click count and CTR all use it; the reward's size is reported as the mean reward.
    public static func isClick(reward: Double) -> Bool { reward > 0 }
    /// Number of clicks (rows with ``isClick(reward:)``).
    public var clicks: Int { reward.reduce(0) { $0 + (Self.isClick(reward: $1) ? 1 : 0) } }
    /// Each row's click as a 0/1 label (``isClick(reward:)``).
    public var clickLabels: [Double] { reward.map { Self.isClick(reward: $0) ? 1 : 0 } }
    /// Whether row `i` comes from a cold-start user (all-zero affinity vector).
    public func isCold(_ row: Int) -> Bool { affinity.isEmpty(row) }
    /// Indices of the rows in a segment.
    public func rows(in segment: Segment) -> [Int] {
        switch segment {
        case .all: return Array(0..<rows)
        case .coldStart: return (0..<rows).filter { isCold($0) }
        case .warm: return (0..<rows).filter { !isCold($0) }
        }
    }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int], name: String? = nil) -> BanditDataset {
        var out = BanditDataset(
            name: name ?? self.name, nActions: nActions, nPositions: nPositions,
            action: indices.map { action[$0] }, position: indices.map { position[$0] },
            reward: indices.map { reward[$0] }, pscore: indices.map { pscore[$0] },
            userFeatures: userFeatures.gather(indices), context: context.gather(indices),
            actionContext: actionContext, affinity: affinity.gather(indices),
            oracle: oracle.map { $0.gather(indices) }, userNumeric: userNumeric.gather(indices),
            userNumericRaw: indices.flatMap { row in
                userNumericRaw[(row * userNumeric.columns)..<((row + 1) * userNumeric.columns)]
            },
            itemNumericColumns: itemNumericColumns)
        out.itemIds = itemIds
        out.conditional = conditional.isEmpty ? [] : indices.map { conditional[$0] }
        out.conditionalRowsLeftOut = conditionalRowsLeftOut
        (out.repeatedRows, out.firstRepeatedLine) = (repeatedRows, firstRepeatedLine)
        out.viewedSeconds = viewedSeconds?.gather(indices)
        out.positionValues = positionValues
        return out
    }

    /// The rows of `range`, in order (a time split's part).
    public func subset(_ range: Range<Int>, name: String) -> BanditDataset { subset(Array(range), name: name) }
}

/// A slice of users that every report shows separately.
public enum Segment: String, Sendable, Codable, CaseIterable {
    /// Every row.
    case all
    /// Users with no history (all-zero affinity vector): about 95% of OBD impressions.
    case coldStart = "cold_start"
    /// Users with some history.
    case warm
}
