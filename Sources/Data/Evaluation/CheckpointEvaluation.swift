import RecModel

/// Why a checkpoint could not be evaluated.
public enum CheckpointEvaluationError: Error, Sendable, CustomStringConvertible {
    /// The checkpoint file could not be read.
    case unreadable(String)
    /// The checkpoint holds a DQN (a Q-network over a session's items), not the interest model (an MLP scoring one
    /// user-item row) that scoring, evaluation and off-policy evaluation need.
    case notAnInterestModel(kind: String)
    /// The checkpoint carries no feature spec (train with `recpool data features … --spec-out` and
    /// `recpool fit --feature-spec`).
    case missingFeatureSpec
    /// The feature spec blob is not a valid spec.
    case invalidFeatureSpec(FeatureSpecError)
    /// The spec's width differs from the model's input width.
    case widthMismatch(spec: Int, model: Int)
    /// The spec was fitted on a catalogue of a different size from the dataset's.
    case itemCountMismatch(spec: Int, data: Int, dataset: String = "the dataset")
    /// The dataset lacks features the spec was fitted on, has features it was not, or has more positions; the
    /// problems are phrases such as `missing numeric user features basket_value`.
    case datasetMismatch(dataset: String, expected: [String], problems: [String])
    /// The dataset's catalogue is not the one the model was fitted on (``CheckpointEvaluation/catalogueProblem(spec:data:)``):
    /// `problem` names the first item whose features differ.
    case catalogueMismatch(dataset: String, problem: String)
    /// The dataset logs slot `slot`, which the model was not fitted on (`known`, the slots of its training log):
    /// ``CheckpointEvaluation/aligned(_:to:)`` has no position to read it as.
    case unknownSlot(dataset: String, slot: Int, known: [Int])
    /// Row `row` (0-based) of the dataset holds a numeric user feature `feature` of `value`, which lies more than
    /// ``FeatureSpec/ZScore/maximumStandardScore`` training standard deviations from the mean the model was fitted
    /// with (``FeatureSpec/ZScore/admits(_:)``): serving refuses such a request (BAD_REQUEST), so scoring the row here
    /// would report figures of scores no served request gets.
    case userValueOutOfRange(dataset: String, row: Int, feature: String, value: Double)
    /// The model's score of an item at a row (both 0-based) of a dataset (the evaluated rows or the validation rows
    /// the threshold is chosen on) is NaN or infinite: no metric would be defined.
    case nonFiniteScore(NonFiniteScore)

    /// The message naming the command that refused the checkpoint, such as `eval`; the same as ``description`` for
    /// every other case.
    public func description(command: String) -> String {
        guard case .notAnInterestModel(let kind) = self else { return description }
        return "a \(kind) checkpoint cannot be used by \(command); it needs an interest model (MLP)"
    }

    /// The message naming the command and, when the checkpoint itself is at fault (unreadable, of the wrong kind,
    /// its feature specification missing, undecodable or of another width), the checkpoint's path first, as `predict`
    /// names it: `eval` said only "feature spec width 131 differs from the model's input width 3".
    public func description(command: String, checkpoint path: String) -> String {
        switch self {
        case .unreadable(let reason) where reason.contains(path): return description(command: command)
        case .unreadable, .notAnInterestModel, .missingFeatureSpec, .invalidFeatureSpec, .widthMismatch,
            .itemCountMismatch:
            return "\(path): \(description(command: command))"
        case .datasetMismatch, .catalogueMismatch, .unknownSlot, .nonFiniteScore, .userValueOutOfRange:
            return description(command: command)
        }
    }

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .unreadable(let reason): return "cannot read checkpoint: \(reason)"
        case .notAnInterestModel: return description(command: "this command")
        case .missingFeatureSpec:
            return "the checkpoint has no feature spec (train with `recpool data features … --spec-out spec.json` "
                + "then `recpool fit --feature-spec spec.json`)"
        case .invalidFeatureSpec(let error): return "invalid feature spec in checkpoint: \(error)"
        case .widthMismatch(let spec, let model):
            return "feature spec width \(spec) differs from the model's input width \(model)"
        case .itemCountMismatch(let spec, let data, let dataset):
            return "the model's feature spec knows \(spec) items, but \(dataset) has \(data) in its catalogue: score it with "
                + "a model fitted on that catalogue ("
                + (data > spec
                    ? "a catalogue grown since the model was fitted has items it never saw)"
                    : "the model's item rows are not this catalogue's)")
        case .datasetMismatch(let dataset, let expected, let problems):
            return "\(dataset) does not have the model's features: \(problems.joined(separator: "; ")) (the model "
                + "was trained on user features \(expected.joined(separator: ", ")); read the data with the schema "
                + "the model was trained with)"
        case .catalogueMismatch(let dataset, let problem): return "\(dataset): \(problem)"
        case .unknownSlot(let dataset, let slot, let known):
            return "\(dataset) logs slot \(slot), which the model was not fitted on (its training log's slots: "
                + "\(known.map(String.init).joined(separator: ", "))): it has no position to score it at"
        case .nonFiniteScore(let bad): return bad.description
        case .userValueOutOfRange(let dataset, let row, let feature, let value):
            return "\(dataset) row \(row) (0-based): numeric user feature '\(feature)' is \(value), more than "
                + "1e15 training standard deviations from the training mean its feature "
                + "specification was fitted with; serving refuses such a request, so the row cannot be used (correct or "
                + "drop the value)"
        }
    }
}

/// Glue between the model layer's checkpoints and `ModelEvaluation` / `Recommender`.
public enum CheckpointEvaluation {
    /// A scorer that runs an MLP's forward pass on row-major features.
    public static func scorer(_ network: MLP) -> @Sendable (_ rows: [Float], _ width: Int) -> [Float] {
        { rows, width in
            guard !rows.isEmpty else { return [] }
            return network.predict(Matrix(rows: rows.count / width, cols: width, values: rows))
        }
    }

    /// Reads a checkpoint and its feature spec and checks that they fit together.
    /// - Throws: `CheckpointEvaluationError`.
    public static func load(_ path: String) throws(CheckpointEvaluationError) -> (
        checkpoint: Checkpoint, spec: FeatureSpec
    ) {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.read(fromFile: path)
        } catch {
            throw .unreadable("\(error)")
        }
        return try withSpec(checkpoint)
    }

    /// Decodes checkpoint bytes (a registry version's blob) and checks its feature spec as ``load(_:)`` does.
    /// - Throws: `CheckpointEvaluationError`.
    public static func load(bytes: [UInt8]) throws(CheckpointEvaluationError) -> (
        checkpoint: Checkpoint, spec: FeatureSpec
    ) {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(decoding: bytes)
        } catch {
            throw .unreadable("\(error)")
        }
        return try withSpec(checkpoint)
    }

    private static func withSpec(_ checkpoint: Checkpoint) throws(CheckpointEvaluationError) -> (
        checkpoint: Checkpoint, spec: FeatureSpec
    ) {
        // A DQN checkpoint has no feature spec either, but the missing spec is not its problem: its model is the wrong
        // kind.
        guard case .mlp(let mlp) = checkpoint.model else { throw .notAnInterestModel(kind: "DQN") }
        // One probability per row, as import, predict and export require.
        guard mlp.outputWidth == 1 else {
            throw .notAnInterestModel(kind: "\(mlp.outputWidth)-output MLP")
        }
        // The one rule (`Checkpoint.interestModelProblem`): here only the sigmoid part is left to say.
        if Checkpoint.interestModelProblem(mlp) != nil, let activation = mlp.layers.last?.activation {
            throw .notAnInterestModel(kind: "non-sigmoid MLP (its output unit is \(activation.name))")
        }
        guard !checkpoint.featureSpec.isEmpty else { throw .missingFeatureSpec }
        let spec: FeatureSpec
        do {
            spec = try FeatureSpec.decode(checkpoint.featureSpec)
        } catch {
            throw .invalidFeatureSpec(error)
        }
        let width = checkpoint.model.network.inputWidth
        guard spec.width == width else { throw .widthMismatch(spec: spec.width, model: width) }
        return (checkpoint, spec)
    }

    /// The candidate policy of a checkpoint on logged rows: ε-greedy around the item the model scores highest at
    /// each row's logged slot (ε = 0 is greedy).
    /// - Throws: `CheckpointEvaluationError` (`.itemCountMismatch`, `.datasetMismatch`, `.nonFiniteScore`).
    public static func policy(
        checkpoint: Checkpoint, spec: FeatureSpec, data: BanditDataset, epsilon: Double = 0
    ) throws(CheckpointEvaluationError) -> ActionDistribution {
        let data = try aligned(data, to: spec)
        try check(spec: spec, data: data)
        let scores: [Double]
        do {
            scores = try ModelEvaluation.scoreEveryItem(data: data, spec: spec, scorer: scorer(checkpoint.model.network))
        } catch {
            throw .nonFiniteScore(error)
        }
        return .epsilonGreedy(scores: scores, nActions: data.nActions, epsilon: epsilon)
    }

    /// Evaluates a checkpoint's model on logged data (normally the test split), choosing the decision threshold on
    /// `validation` (see `ModelEvaluation.evaluate`).
    /// - Throws: `CheckpointEvaluationError`, `.nonFiniteScore` naming the dataset (the evaluated rows or
    ///   `validation`), the row and the item of the first score that is not finite (no report with NaN metrics is
    ///   returned).
    /// `trainingRows`: how many of `data`'s first rows are the log's training part (``ModelEvaluation/evaluate``).
    public static func evaluate(
        checkpointPath: String, data: BanditDataset, validation: BanditDataset? = nil,
        validationIsEvaluated: Bool = false, resamples: Int = 500, trainingRows: Int = 0
    ) throws(CheckpointEvaluationError) -> EvaluationReport {
        let (checkpoint, spec) = try load(checkpointPath)
        let data = try aligned(data, to: spec)
        let validation = try validation.map { rows throws(CheckpointEvaluationError) in try aligned(rows, to: spec) }
        try check(spec: spec, data: data)
        if let validation { try check(spec: spec, data: validation) }
        let name = label(path: checkpointPath, checkpoint: checkpoint)
        // ModelEvaluation checks every score where it knows the dataset, row and item it belongs to.
        do {
            return try ModelEvaluation.evaluate(
                data: data, spec: spec, modelName: name, scorer: scorer(checkpoint.model.network),
                validation: validation, validationIsEvaluated: validationIsEvaluated, resamples: resamples,
                trainingRows: trainingRows)
        } catch {
            throw .nonFiniteScore(error)
        }
    }
}
