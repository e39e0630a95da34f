import RecModel

extension Checkpoint {
    /// Why a scoring replica cannot serve this checkpoint, in words that start with "it" or "its", or `nil` when it
    /// can. The one rule the registry (`import`, `promote`, `rollback`, a job's promotion) and a worker (`--model`,
    /// WEIGHTS) both apply, so a model one of them refuses is never taken by the other:
    /// - it is an interest model (``interestModelProblem``);
    /// - a model without a feature specification is reached only by SCORE, so it is at most `maxScoreColumns`
    ///   features wide (``MLP/unreachableWidthProblem(_:maxScoreColumns:)``);
    /// - its feature specification, if any, decodes and is as wide as the model
    ///   (``FeatureSpec/servingProblem(_:inputWidth:)``).
    /// - Parameter maxScoreColumns: the most features a SCORE row may hold (docs/PROTOCOL.md, "Limits": 4,096).
    public func servingProblem(maxScoreColumns: Int) -> String? {
        if let problem = interestModelProblem { return problem }
        guard case .mlp(let mlp) = model else { return nil }
        if featureSpec.isEmpty, let problem = MLP.unreachableWidthProblem(mlp.inputWidth, maxScoreColumns: maxScoreColumns) {
            return problem
        }
        return FeatureSpec.servingProblem(featureSpec, inputWidth: mlp.inputWidth)
    }
}

extension MLP {
    /// Why a model `inputWidth` features wide with no feature specification can serve nothing, or `nil` when it can:
    /// such a model is reached only by SCORE, whose rows hold at most `maxScoreColumns` features (docs/PROTOCOL.md,
    /// "Limits"), so one wider would refuse every request it is sent. A model with a feature specification also ranks
    /// RECOMMEND's candidates, whose rows the worker builds itself, and may be wider.
    public static func unreachableWidthProblem(_ inputWidth: Int, maxScoreColumns: Int) -> String? {
        guard inputWidth > maxScoreColumns else { return nil }
        return "its model takes rows of \(inputWidth) features, and a SCORE row holds at most \(maxScoreColumns) "
            + "(docs/PROTOCOL.md, \"Limits\"): no request could reach it"
    }
}
