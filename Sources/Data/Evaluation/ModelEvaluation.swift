/// Figures of a click model on one segment of logged data.
public struct SegmentEvaluation: Sendable, Codable, Equatable {
    /// The segment.
    public var segment: Segment
    /// Rows in the segment.
    public var rows: Int
    /// Why the segment's figures are undefined (`no rows`); nil when it has rows. A segment with no rows is still
    /// reported, with `null` figures, so that every report has all three segments.
    public var undefined: String?
    /// Clicks in the segment: rows whose reward is above 0 (``BanditDataset/isClick(reward:)``).
    public var clicks: Int
    /// Mean logged reward of the segment's rows (the click rate for 0/1 rewards; revenue per row for revenue), or nil
    /// with no rows.
    public var meanReward: Double?
    /// Click prediction on the logged (shown) items, with accuracy, precision, recall and F1 at 0.5; nil with no rows.
    public var classification: ClassificationMetrics?
    /// The same at the threshold chosen on the validation rows (`EvaluationReport.threshold`), or nil when none
    /// was chosen (no validation click).
    public var atChosenThreshold: ClassificationMetrics?
    /// Bootstrap intervals of AUC, PR-AUC and log-loss, or nil (``intervalsUndefined`` says why).
    public var intervals: MetricIntervals?
    /// Why there are no intervals: no rows, no resamples asked for, too few clicks or non-clicks; nil with intervals.
    public var intervalsUndefined: String?
    /// Plain warnings, e.g. a segment with too few clicks for its figures to mean anything.
    public var warnings: [String]
    /// Reliability bins and ECE; nil with no rows.
    public var calibration: Calibration?
    /// Rank of the clicked item among all items at the logged slot, at several cutoffs.
    public var ranking: [RankingMetrics]
    /// ROC curve points (fpr, tpr), or nil when the curve is undefined (no rows, or one class only: it plots the
    /// positives against the negatives); ``rocUndefined`` says why.
    public var roc: [[Double]]?
    /// Ground-truth mean click probability of the model's greedy choice (simulator data only).
    public var oracleGreedyValue: Double?
    /// Ground-truth mean click probability of the logged choice (simulator data only).
    public var oracleLoggedValue: Double?
    /// The true and the feature-only click model scored on the segment's rows (``ReferenceModelScores``; simulator
    /// data only, nil otherwise).
    public var references: [ReferenceModelScores]?

    /// Why ``roc`` is undefined; nil when it is defined.
    public var rocUndefined: String? {
        guard roc == nil else { return nil }
        return undefined ?? classification?.rocAUCUndefined ?? "one class only"
    }

    /// Why ``atChosenThreshold`` is missing (no rows, or no threshold was chosen: `threshold_undefined` of the
    /// report says why); nil when it is given.
    public var atChosenThresholdUndefined: String? {
        guard atChosenThreshold == nil else { return nil }
        return undefined ?? Self.noThreshold
    }

    /// The reason beside a missing ``atChosenThreshold`` of a segment with rows.
    public static let noThreshold = "no decision threshold was chosen"

    /// Why ``oracleGreedyValue``, ``oracleLoggedValue`` and ``references`` are missing: no rows, or a log without
    /// ground truth (every log but the simulator's); nil when the figure is given.
    public func groundTruthUndefined(_ present: Bool) -> String? {
        present ? nil : undefined ?? Self.noGroundTruth
    }

    /// The reason beside the ground-truth figures of a log that is not the simulator's.
    public static let noGroundTruth =
        "the log has no ground truth: only the simulator's data knows each row's true click probability"

    private enum CodingKeys: String, CodingKey {
        case segment, rows, undefined, clicks, meanReward, classification, atChosenThreshold, intervals
        case intervalsUndefined, warnings, calibration, ranking, roc
        case oracleGreedyValue, oracleLoggedValue, references
    }

    /// The reasons beside ``roc``, ``atChosenThreshold`` and the ground-truth figures (`roc_undefined`,
    /// `at_chosen_threshold_undefined`, `oracle_greedy_value_undefined`, `oracle_logged_value_undefined`,
    /// `references_undefined`); computed, so they are written but not read back.
    private enum ReasonKeys: String, CodingKey {
        case rocUndefined, atChosenThresholdUndefined, oracleGreedyValueUndefined, oracleLoggedValueUndefined
        case referencesUndefined
    }

    /// Encodes every key, writing `null` for a missing value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(segment, forKey: .segment)
        try c.encode(rows, forKey: .rows)
        try c.encode(undefined, forKey: .undefined)
        try c.encode(clicks, forKey: .clicks)
        try c.encode(meanReward, forKey: .meanReward)
        try c.encode(classification, forKey: .classification)
        try c.encode(atChosenThreshold, forKey: .atChosenThreshold)
        try c.encode(intervals, forKey: .intervals)
        try c.encode(intervalsUndefined, forKey: .intervalsUndefined)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(calibration, forKey: .calibration)
        try c.encode(ranking, forKey: .ranking)
        try c.encode(roc, forKey: .roc)
        try c.encode(oracleGreedyValue, forKey: .oracleGreedyValue)
        try c.encode(oracleLoggedValue, forKey: .oracleLoggedValue)
        try c.encode(references, forKey: .references)
        var reasons = encoder.container(keyedBy: ReasonKeys.self)
        try reasons.encode(rocUndefined, forKey: .rocUndefined)
        try reasons.encode(atChosenThresholdUndefined, forKey: .atChosenThresholdUndefined)
        try reasons.encode(groundTruthUndefined(oracleGreedyValue != nil), forKey: .oracleGreedyValueUndefined)
        try reasons.encode(groundTruthUndefined(oracleLoggedValue != nil), forKey: .oracleLoggedValueUndefined)
        try reasons.encode(groundTruthUndefined(references != nil), forKey: .referencesUndefined)
    }
}

/// Evaluation of a click model on logged data: classification, calibration, ranking and off-policy value of the
/// model's greedy policy, each split into all rows, cold-start users and warm users.
public struct EvaluationReport: Sendable, Codable, Equatable {
    /// Dataset label.
    public var dataset: String
    /// Model label.
    public var model: String
    /// Rows evaluated.
    public var rows: Int
    /// Feature width of the spec.
    public var featureWidth: Int
    /// The decision threshold chosen on the validation rows (max F1), or nil when it could not be chosen.
    public var threshold: ThresholdChoice?
    /// Why ``threshold`` is nil (no rows to choose it on, or no click among them); nil when it was chosen.
    public var thresholdUndefined: String?
    /// Per-segment figures, always all three in the order all, cold start, warm (a segment with no rows has `null`
    /// figures and ``SegmentEvaluation/undefined`` `no rows`).
    public var segments: [SegmentEvaluation]
    /// Off-policy evaluation of the greedy policy "show the item the model scores highest at the logged slot".
    public var offPolicy: OffPolicyReport
    /// Caveats (reward-model fallbacks, empty segments, single-class segments).
    public var notes: [String]

    private enum CodingKeys: String, CodingKey {
        case dataset, model, rows, featureWidth, threshold, thresholdUndefined, segments, offPolicy, notes
    }

    /// Encodes every key, writing `null` for a missing threshold and the reason beside it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(model, forKey: .model)
        try c.encode(rows, forKey: .rows)
        try c.encode(featureWidth, forKey: .featureWidth)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(thresholdUndefined, forKey: .thresholdUndefined)
        try c.encode(segments, forKey: .segments)
        try c.encode(offPolicy, forKey: .offPolicy)
        try c.encode(notes, forKey: .notes)
    }
}

/// Runs a model over logged data.
public enum ModelEvaluation {
    /// A segment with fewer clicks than this gets a warning that its classification figures mean little.
    public static let minimumClicks = 30

    /// The warning for rows holding fewer than ``minimumClicks`` clicks, or nil when they hold enough.
    public static func fewClicksWarning(clicks: Int) -> String? {
        guard clicks < minimumClicks else { return nil }
        return "only \(clicks) clicks (fewer than \(minimumClicks)): AUC, PR-AUC, F1 and calibration on these rows "
            + "mean little"
    }

    /// Evaluates `scorer` (rows of `spec.width` features → click probabilities) on `data`, usually the test split.
    /// - Parameters:
    ///   - validation: rows to choose the decision threshold on (max F1), normally the validation split just before
    ///     `data`; nil chooses it on `data` itself and notes that the figures at it are optimistic.
    ///   - validationIsEvaluated: whether the `validation` rows are among the evaluated rows (`--split validation` or
    ///     `all`): a note then says that the figures at the threshold are optimistic.
    ///   - cutoffs: K for HitRate@K and NDCG@K.
    ///   - rewardModel: reward model for DM and DR of the greedy policy (nil skips them).
    ///   - resamples: bootstrap resamples for the off-policy intervals.
    ///   - trainingRows: how many of `data`'s first rows are its log's training part (`--split train`: all of them;
    ///     `all`: the oldest): on the very rows a specification was fitted on, the model was trained with out-of-fold
    ///     cross rates (``FeatureSpec/trainingMatrix(_:)``), so their logged items are scored with those, as `fit`
    ///     saw them; every item's score (ranking, off-policy value) is a served request's.
    /// - Throws: ``NonFiniteScore`` naming the dataset (`data` or `validation`), the row and the item of the first score
    ///   that is not finite: no report with NaN metrics is made.
    public static func evaluate(
        data: BanditDataset, spec: FeatureSpec, modelName: String,
        scorer: (_ rows: [Float], _ width: Int) -> [Float],
        validation: BanditDataset? = nil, validationIsEvaluated: Bool = false, cutoffs: [Int] = [1, 3, 5, 10],
        rewardModel: RewardModelKind? = .logistic(), resamples: Int = 500, trainingRows: Int = 0
    ) throws(NonFiniteScore) -> EvaluationReport {
        let k = data.nActions
        let all = try scoreEveryItem(data: data, spec: spec, scorer: scorer)
        var logged = (0..<data.rows).map { all[$0 * k + data.action[$0]] }
        var fittedNote: String?
        if trainingRows > 0 {
            // Scored with the served rates, a training row's own click reached its item × user rates, which the model
            // never saw in training: `eval --split train` printed AUC 0.63 for a model that fits those rows at 0.99.
            let part = data.subset(0..<min(trainingRows, data.rows), name: data.name)
            if let fitted = spec.outOfFoldMatrix(part) {
                // In chunks of 4,096 rows, as every item's scores are: the activations stay bounded.
                var start = 0
                while start < part.rows {
                    let end = min(start + 4_096, part.rows)
                    let raw = try checkedScores(
                        Array(fitted.values[(start * spec.width)..<(end * spec.width)]), spec: spec, dataset: data.name,
                        scorer: scorer
                    ) { (start + $0, data.action[start + $0]) }
                    for (offset, score) in raw.enumerated() { logged[start + offset] = Double(score) }
                    start = end
                }
                fittedNote =
                    "the \(part.rows) training rows' logged items are scored with the out-of-fold item × user rates the "
                    + "model was trained on (as `recpool fit` and `data features --split train` make them); the ranking "
                    + "and off-policy figures score every item as a served request would"
            }
        }
        let policy = ActionDistribution.greedy(scores: all, nActions: k)
        let offPolicy = OffPolicyEvaluation.evaluate(
            policy: policy, policyName: "greedy(\(modelName))", on: data, rewardModel: rewardModel, resamples: resamples
        )
        var notes = offPolicy.notes
        if let fittedNote { notes.append(fittedNote) }
        let (threshold, thresholdUndefined) = try chooseThreshold(
            validation: validation, spec: spec, scorer: scorer,
            fallback: (labels: data.clickLabels, scores: logged), validationIsEvaluated: validationIsEvaluated,
            notes: &notes)
        // One definition of a click (reward > 0, as training labels are): the classification, calibration and ranking
        // figures are of clicks, whatever the reward's size; the mean reward is reported beside them.
        let clickLabels = data.clickLabels
        let truth = data.oracle?.referenceProbabilities(actions: data.action, positions: data.position)
        var segments: [SegmentEvaluation] = []
        // A cutoff at or past the items ranked holds every item: its hit rate is 1 whatever the model, which a one-item
        // catalogue's `HR@5 1.0000 NDCG@5 1.0000` printed with no word.
        let trivial = cutoffs.filter { $0 >= k }
        if !trivial.isEmpty, !data.rows(in: .all).isEmpty {
            notes.append(
                "HR@K at K = \(trivial.map(String.init).joined(separator: ", ")) is 1 whatever the model: the model ranks "
                    + "\(k) item\(k == 1 ? "" : "s"), so every ranking of K holds them all")
        }
        for segment in Segment.allCases {
            let rows = data.rows(in: segment)
            guard !rows.isEmpty else {
                segments.append(SegmentEvaluation(noRowsIn: segment, cutoffs: cutoffs))
                continue
            }
            let labels = rows.map { clickLabels[$0] }
            let scores = rows.map { logged[$0] }
            let classification = ClassificationMetrics(labels: labels, scores: scores)
            if classification.rocAUC == nil {
                notes.append("segment \(segment.rawValue): one class only, ROC AUC undefined")
            } else if let first = scores.first, scores.allSatisfy({ $0 == first }) {
                // Every row scored alike (a checkpoint that kept the constant predictor): its AUC is 0.5 by ties alone,
                // and every resample gives the same, so its interval has no width.
                notes.append(
                    "segment \(segment.rawValue): the model scores every row alike, so its ROC AUC is 0.5 by ties alone")
            }
            let warnings = fewClicksWarning(clicks: classification.positives).map { [$0] } ?? []
            let ranks = rows.filter { clickLabels[$0] == 1 }.map {
                RankingMetrics.rank(of: data.action[$0], scores: all[($0 * k)..<(($0 + 1) * k)])
            }
            var greedyValue: Double?
            if let oracle = data.oracle {
                // The greedy policy's expected true click: items tied for the best score share the choice.
                greedyValue =
                    rows.reduce(0.0) { sum, row in
                        sum + (0..<k).reduce(0.0) { value, item in
                            let p = policy[row, item]
                            return p == 0
                                ? value : value + p * oracle.probability(row: row, item: item, position: data.position[row])
                        }
                    } / Double(rows.count)
            }
            // The logged items' true click probabilities are the true click model's reference scores.
            let loggedValue = truth.map { truth in rows.reduce(0.0) { $0 + truth.trueModel[$1] } / Double(rows.count) }
            segments.append(
                SegmentEvaluation(
                    segment: segment, rows: rows.count, undefined: nil, clicks: classification.positives,
                    meanReward: rows.reduce(0.0) { $0 + data.reward[$1] } / Double(rows.count),
                    classification: classification,
                    atChosenThreshold: threshold.map {
                        ClassificationMetrics(labels: labels, scores: scores, threshold: $0.threshold)
                    },
                    intervals: MetricIntervals.bootstrap(
                        labels: labels, scores: scores, resamples: min(resamples, 200)),
                    intervalsUndefined: MetricIntervals.undefinedReason(labels: labels, resamples: resamples),
                    warnings: warnings, calibration: Calibration(labels: labels, scores: scores),
                    ranking: cutoffs.map { RankingMetrics(ranks: ranks, k: $0) },
                    roc: classification.rocAUC == nil
                        ? nil : ClassificationMetrics.rocCurve(labels: labels, scores: scores).map { [$0.fpr, $0.tpr] },
                    oracleGreedyValue: greedyValue, oracleLoggedValue: loggedValue,
                    references: ReferenceModelScores.references(rows: rows, labels: labels, truth: truth)))
        }
        return EvaluationReport(
            dataset: data.name, model: modelName, rows: data.rows, featureWidth: spec.width, threshold: threshold,
            thresholdUndefined: thresholdUndefined, segments: segments,
            offPolicy: offPolicy, notes: notes)
    }

    /// The model's score of every item at each row's logged slot, `rows × nActions` row-major (scored in chunks of
    /// about 4,096 candidate rows to bound memory). A candidate policy built from it (greedy, ε-greedy) can be
    /// evaluated off-policy.
    ///
    /// Rows of one context (the same user features, affinities and slot, so the same candidate rows) are scored once
    /// and share their scores: a matrix product's last bits depend on where a row sits in the batch, and identical
    /// impressions scored in different chunks came out an ulp apart, splitting their ties (AUC and PR-AUC then
    /// differed from scikit-learn's on the same model).
    /// - Throws: ``NonFiniteScore`` naming the row and item of the first score that is not finite.
    public static func scoreEveryItem(
        data: BanditDataset, spec: FeatureSpec, scorer: (_ rows: [Float], _ width: Int) -> [Float]
    ) throws(NonFiniteScore) -> [Double] {
        let k = data.nActions
        // Each row's context, and the first row of each distinct one (the rows scored).
        var contexts: [CandidateContext] = []
        var firstOf: [CandidateContext: Int] = [:]
        var source = [Int](repeating: 0, count: data.rows)
        var scored: [Int] = []
        contexts.reserveCapacity(data.rows)
        for row in 0..<data.rows {
            let context = CandidateContext(
                userFeatures: data.userContext(row),
                affinity: Dictionary(
                    data.affinity.entries(row).map { ($0.column, Double($0.value)) }, uniquingKeysWith: { _, last in last }),
                position: data.position[row])
            if let index = firstOf[context] {
                source[row] = index
            } else {
                firstOf[context] = scored.count
                source[row] = scored.count
                scored.append(row)
                contexts.append(context)
            }
        }
        var distinct = [Double](repeating: 0, count: scored.count * k)
        let chunk = max(1, 4_096 / k)
        let items = Array(0..<k)
        var start = 0
        while start < scored.count {
            let end = min(start + chunk, scored.count)
            var rows: [Float] = []
            rows.reserveCapacity((end - start) * k * spec.width)
            for index in start..<end {
                let context = contexts[index]
                rows += spec.candidateRows(
                    userFeatures: context.userFeatures, affinity: context.affinity, items: items,
                    position: context.position)
            }
            // The chunk's rows and items are known here, so the error names the right ones.
            let scores = try checkedScores(rows, spec: spec, dataset: data.name, scorer: scorer) {
                (scored[start + $0 / k], $0 % k)
            }
            for (offset, s) in scores.enumerated() { distinct[start * k + offset] = Double(s) }
            start = end
        }
        var all = [Double](repeating: 0, count: data.rows * k)
        for row in 0..<data.rows {
            let from = source[row] * k
            for item in 0..<k { all[row * k + item] = distinct[from + item] }
        }
        return all
    }

    /// `scorer`'s scores of `rows` (feature rows of `spec.width`), or ``NonFiniteScore`` for the first that is not
    /// finite, naming `dataset` and the row and item `locate` gives for its index, and the feature behind it.
    static func checkedScores(
        _ rows: [Float], spec: FeatureSpec, dataset: String, scorer: (_ rows: [Float], _ width: Int) -> [Float],
        locate: (Int) -> (row: Int, item: Int)
    ) throws(NonFiniteScore) -> [Float] {
        let scores = scorer(rows, spec.width)
        precondition(scores.count * spec.width == rows.count, "scorer returned \(scores.count) scores")
        guard let bad = scores.firstIndex(where: { !$0.isFinite }) else { return scores }
        let (row, item) = locate(bad)
        throw NonFiniteScore(
            dataset: dataset, row: row, item: item, score: scores[bad],
            cause: NonFiniteScore.cause(rows[(bad * spec.width)..<((bad + 1) * spec.width)], spec: spec))
    }

    /// Chooses the max-F1 threshold on the validation rows' logged items, or on `fallback` without validation rows.
    /// - Returns: the choice, or nil and why none could be made (no rows, or no click among them).
    private static func chooseThreshold(
        validation: BanditDataset?, spec: FeatureSpec, scorer: (_ rows: [Float], _ width: Int) -> [Float],
        fallback: (labels: [Double], scores: [Double]), validationIsEvaluated: Bool, notes: inout [String]
    ) throws(NonFiniteScore) -> (choice: ThresholdChoice?, undefined: String?) {
        let labels: [Double]
        let scores: [Double]
        let place: String
        if let validation, validation.rows > 0 {
            labels = validation.clickLabels
            // One score per validation row, of its logged item.
            let raw = try checkedScores(
                spec.matrix(validation).values, spec: spec, dataset: validation.name, scorer: scorer
            ) { ($0, validation.action[$0]) }
            scores = raw.map(Double.init)
            place = "validation"
        } else {
            (labels, scores) = fallback
            place = "evaluated"
        }
        let clicks = labels.filter { $0 > 0.5 }.count
        guard let t = ClassificationMetrics.bestF1Threshold(labels: labels, scores: scores), t.isFinite else {
            // The note names the one real reason: a note that a threshold was chosen would contradict it.
            let why =
                labels.isEmpty
                ? "no rows" : clicks == 0 ? "no click among the \(place) rows" : "the best threshold is not finite"
            // Chosen on the evaluated rows only for want of validation rows: the reason says both.
            let reason = place == "validation" ? why : labels.isEmpty ? "no validation rows and no evaluated rows" : "no validation rows, and \(why)"
            notes.append("\(reason): no threshold could be chosen")
            return (nil, reason)
        }
        if place == "validation" {
            if validationIsEvaluated {
                notes.append(
                    "the threshold was chosen on the validation rows, which are among the evaluated rows, so figures "
                        + "at it are optimistic")
            }
        } else {
            notes.append("no validation rows: the threshold was chosen on the evaluated rows, so figures at it are optimistic")
        }
        return (ThresholdChoice(threshold: t, chosenOn: place, criterion: "max F1", rows: labels.count, clicks: clicks), nil)
    }
}

extension SegmentEvaluation {
    /// The reason every figure of a segment with no rows is undefined.
    public static let noRows = "no rows"

    /// A segment with no rows: every figure `null`, ``undefined`` and ``intervalsUndefined`` `no rows`.
    init(noRowsIn segment: Segment, cutoffs: [Int]) {
        self.init(
            segment: segment, rows: 0, undefined: Self.noRows, clicks: 0, meanReward: nil, classification: nil,
            atChosenThreshold: nil, intervals: nil, intervalsUndefined: Self.noRows, warnings: [], calibration: nil,
            ranking: cutoffs.map { RankingMetrics(ranks: [], k: $0) }, roc: nil, oracleGreedyValue: nil,
            oracleLoggedValue: nil, references: nil)
    }
}

/// A model's score that is not a finite number, and where: no metric or policy would be defined.
public struct NonFiniteScore: Error, Sendable, Equatable, CustomStringConvertible {
    /// The dataset whose row it is (the evaluated rows' name, or the validation rows').
    public var dataset: String
    /// The row of that dataset, 0-based.
    public var row: Int
    /// The item scored, 0-based.
    public var item: Int
    /// The score.
    public var score: Float
    /// What in the row's features made it so, when one of them is not finite: the column and its value after scaling
    /// (a raw value far outside the training spread z-scores past a 32-bit float's range); nil otherwise.
    public var cause: String?

    /// Creates the error.
    public init(dataset: String, row: Int, item: Int, score: Float, cause: String? = nil) {
        self.dataset = dataset
        self.row = row
        self.item = item
        self.score = score
        self.cause = cause
    }

    /// The first feature of `row` that is not finite, named by its column, or nil.
    static func cause(_ row: ArraySlice<Float>, spec: FeatureSpec) -> String? {
        guard let index = row.firstIndex(where: { !$0.isFinite }) else { return nil }
        let column = index - row.startIndex
        let name = column < spec.columns.count ? spec.columns[column] : "\(column)"
        return "column \(name) is \(row[index]) after scaling by the training statistics"
    }

    /// A one-line message.
    public var description: String {
        "\(dataset) row \(row) (0-based), item \(item): the model's score is \(score), not a finite number"
            + (cause.map { " (\($0))" } ?? "")
    }
}

/// What a row's candidate rows are built from (``FeatureSpec/candidateRows(userFeatures:affinity:items:position:)``):
/// rows with equal contexts get equal candidate rows, so ``ModelEvaluation/scoreEveryItem(data:spec:scorer:)`` scores
/// one of them.
struct CandidateContext: Hashable {
    /// The row's user features as the log holds them.
    var userFeatures: [String: String]
    /// The row's affinity values by column.
    var affinity: [Int: Double]
    /// The logged slot, 0-based.
    var position: Int
}
