extension Checkpoint {
    /// Why this checkpoint is not an interest model (an MLP giving one score per row, as docs/MODELS.md defines it and
    /// a scoring replica, `predict`, `export`, `eval` and `import` require), in words that start with "it" or "its"; nil
    /// when it is one. The one place this rule is written.
    public var interestModelProblem: String? {
        switch model {
        case .dqn:
            return "it holds a DQN; scoring replicas serve MLP checkpoints (from recpool fit or an mlp job)"
        case .mlp(let mlp):
            return mlp.outputWidth == 1
                ? nil : "its MLP gives \(mlp.outputWidth) outputs per row; an interest model gives one score per row"
        }
    }
}
