/// How ``MLPTrainer/fit(_:config:)`` trains: the interest model's defaults are Keras-like
/// (10 epochs, batch 32, 20% validation, Adam at 0.001, binary cross-entropy), and the run keeps the weights of
/// its best validation epoch (Keras's `EarlyStopping(restore_best_weights=True)`), so more epochs never end worse
/// on validation than the best one seen.
public struct TrainingConfig: Sendable, Equatable, Codable {
    /// Passes over the training rows.
    public var epochs: Int
    /// Rows per step; the last batch of an epoch may be smaller.
    public var batchSize: Int
    /// Fraction of rows held out for validation, in `[0, 1)`.
    public var validationFraction: Double
    /// Seed for the validation split and the per-epoch shuffles.
    public var seed: UInt64
    /// Stop after this many epochs in a row without a lower validation loss; `nil` (or 0) never stops early.
    public var earlyStoppingPatience: Int?
    /// End with the model and optimiser state of the epoch with the lowest validation loss (default), rather than
    /// the last epoch's. No effect without validation rows.
    public var restoreBestEpoch: Bool = true
    /// Whether the starting weights compete with the epochs for the best validation loss (best epoch −1): with a start
    /// at the constant predictor (``MLPTrainer/startFromConstant(clickRate:)``) the model never ends worse than it.
    public var startingWeightsCandidate: Bool = false
    /// The loss to minimise.
    public var loss: Loss
    /// The optimiser.
    public var optimizer: Optimizer

    /// Creates a configuration.
    public init(
        epochs: Int = 10, batchSize: Int = 32, validationFraction: Double = 0.2, seed: UInt64 = 0,
        earlyStoppingPatience: Int? = nil, restoreBestEpoch: Bool = true, startingWeightsCandidate: Bool = false,
        loss: Loss = .binaryCrossEntropy,
        optimizer: Optimizer = .adam(AdamConfig(learningRate: 0.001))
    ) {
        precondition(epochs >= 0 && batchSize > 0, "TrainingConfig: epochs ≥ 0 and batch size > 0")
        self.epochs = epochs
        self.batchSize = batchSize
        self.validationFraction = validationFraction
        self.seed = seed
        self.earlyStoppingPatience = earlyStoppingPatience
        self.restoreBestEpoch = restoreBestEpoch
        self.startingWeightsCandidate = startingWeightsCandidate
        self.loss = loss
        self.optimizer = optimizer
    }
}

/// What happened in one epoch.
public struct EpochRecord: Sendable, Equatable, Codable {
    /// Zero-based epoch number.
    public var epoch: Int
    /// Mean training loss over the epoch's rows.
    public var trainLoss: Float
    /// Loss on the validation rows after the epoch; `nil` without validation rows.
    public var validationLoss: Float?
}

/// The record of a ``MLPTrainer/fit(_:config:)`` run.
public struct TrainingHistory: Sendable, Equatable, Codable {
    /// One record per epoch run.
    public var epochs: [EpochRecord]
    /// Whether early stopping ended the run before `epochs`.
    public var stoppedEarly: Bool
    /// The zero-based epoch with the lowest validation loss, −1 when no epoch beat the starting weights; `nil`
    /// without validation rows.
    public var bestEpoch: Int? = nil
    /// Whether the model ended with `bestEpoch`'s weights instead of the last epoch's (false when they are the same).
    public var restoredBest: Bool = false
    /// The starting weights' validation loss when they were a candidate for the best epoch
    /// (``TrainingConfig/startingWeightsCandidate``), measured as each epoch's is; `nil` otherwise.
    public var startingValidationLoss: Float? = nil

    /// Creates a record.
    public init(epochs: [EpochRecord], stoppedEarly: Bool, bestEpoch: Int? = nil, restoredBest: Bool = false) {
        self.epochs = epochs
        self.stoppedEarly = stoppedEarly
        self.bestEpoch = bestEpoch
        self.restoredBest = restoredBest
    }
}
