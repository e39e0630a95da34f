extension Checkpoint {
    /// Why this checkpoint is not an interest model (an MLP giving one click probability per row, through a sigmoid
    /// output unit, as docs/MODELS.md defines it and a scoring replica, `predict`, `export`, `eval` and `import`
    /// require), in words that start with "it" or "its"; nil when it is one. The one place this rule is written.
    public var interestModelProblem: String? {
        switch model {
        case .dqn:
            return "it holds a DQN; scoring replicas serve MLP checkpoints (from recpool fit or an mlp job)"
        case .mlp(let mlp):
            return Self.interestModelProblem(mlp)
        }
    }

    /// ``interestModelProblem`` of an MLP: one output per row, and that output a sigmoid's, so every score is a
    /// probability in [0, 1]. An identity or ReLU output (a hand-edited file) scores negatives or zeros that the
    /// thresholds, the log-loss and RECOMMEND read as probabilities.
    public static func interestModelProblem(_ mlp: MLP) -> String? {
        guard mlp.outputWidth == 1 else {
            return "its MLP gives \(mlp.outputWidth) outputs per row; an interest model gives one score per row"
        }
        if let activation = mlp.layers.last?.activation, activation != .sigmoid {
            return "its MLP's output unit is \(activation.name), not sigmoid; an interest model's score is a click "
                + "probability"
        }
        return nil
    }
}
