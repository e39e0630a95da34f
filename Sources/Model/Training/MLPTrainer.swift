/// Trains an ``MLP`` one step at a time, holding the model and the optimiser state as values.
///
/// The training-job code can drive ``step(_:)`` directly, and average ``model`` and ``state``
/// (through ``MLP/flatParameters`` and ``OptimizerState/flatMoments``) across replicas.
///
/// A step runs on the trainer's ``TrainingWorkspace``, so in steady state it allocates nothing.
/// Two trainers are equal when their model, optimiser, state and loss are: the workspace is
/// scratch, not part of the value.
public struct MLPTrainer: Sendable, Equatable {
    /// The model being trained.
    public var model: MLP
    /// The optimiser and its hyper-parameters.
    public var optimizer: Optimizer
    /// The optimiser's moments and step count.
    public var state: OptimizerState
    /// The loss.
    public var loss: Loss
    /// Decoupled weight decay `λ` (AdamW: Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019):
    /// after each optimiser update every weight matrix is multiplied by `1 − lr · λ`; biases are not decayed. 0 (the
    /// default) is no decay. With the output layer started at the constant predictor (weights 0, bias the base
    /// rate's logit, ``startFromConstant(clickRate:)``) the decay pulls the model back toward that constant.
    public var weightDecay: Float = 0

    /// Scratch memory for the steps.
    var workspace = TrainingWorkspace()

    /// How many times the workspace's buffers were (re)allocated: constant across steps once a
    /// batch size has been seen.
    public var workspaceAllocations: Int { workspace.allocations }

    /// Equal model, optimiser, state, loss and weight decay (the workspace is scratch).
    public static func == (a: MLPTrainer, b: MLPTrainer) -> Bool {
        a.model == b.model && a.optimizer == b.optimizer && a.state == b.state && a.loss == b.loss
            && a.weightDecay == b.weightDecay
    }

    /// Creates a trainer with a fresh optimiser state.
    /// - Parameter weightDecay: ``weightDecay``, `λ ≥ 0` and finite.
    public init(
        model: MLP, optimizer: Optimizer = .adam(AdamConfig()), loss: Loss = .binaryCrossEntropy,
        weightDecay: Float = 0
    ) {
        precondition(weightDecay >= 0 && weightDecay.isFinite, "MLPTrainer: weight decay must be finite and ≥ 0")
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.weightDecay = weightDecay
        self.state = optimizer.makeState(parameterCount: model.parameterCount)
    }

    /// One optimiser step on one batch: forward, backward, update, then the decoupled weight decay; read in place
    /// from the batch.
    /// - Returns: The batch's mean loss before the update.
    @discardableResult
    public mutating func step(_ batch: LabeledData) -> Float {
        precondition(batch.inputs.cols == model.inputWidth, "MLPTrainer: rows have \(batch.inputs.cols) features, model \(model.inputWidth)")
        return batch.inputs.values.withUnsafeBufferPointer { input in
            batch.targets.withUnsafeBufferPointer { targets in
                step(rows: batch.count, input: input, targets: targets)
            }
        }
    }

    /// One optimiser step on the rows `indices` of `data`, gathered into the workspace (each row
    /// copied once, no allocation once sized): the same update as `step(data.subset(indices))`.
    /// - Returns: The batch's mean loss before the update.
    @discardableResult
    public mutating func step<C: Collection>(from data: LabeledData, rows indices: C) -> Float where C.Element == Int {
        precondition(data.inputs.cols == model.inputWidth, "MLPTrainer: rows have \(data.inputs.cols) features, model \(model.inputWidth)")
        let rows = workspace.gather(data, rows: indices)
        let inputs = workspace.inputs
        let targets = workspace.targets
        let k = data.targetWidth
        return inputs.withUnsafeBufferPointer { input in
            targets.withUnsafeBufferPointer { t in
                step(rows: rows, input: input, targets: UnsafeBufferPointer(rebasing: t[0..<(rows * k)]))
            }
        }
    }

    private mutating func step(rows: Int, input: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>) -> Float {
        let value = model.valueAndGradient(rows: rows, input: input, targets: targets, loss: loss, workspace: &workspace)
        // Read where the gradient lies first: handing `model` to the workspace for the update's
        // duration would share its arrays and make the update copy them.
        let gradient = workspace.gradientRange(of: model)
        workspace.storage.withUnsafeBufferPointer { storage in
            optimizer.update(&model, flatGradient: UnsafeBufferPointer(rebasing: storage[gradient]), state: &state)
        }
        if weightDecay > 0 {
            let keep = 1 - optimizer.learningRate * weightDecay
            for i in model.layers.indices {
                model.layers[i].weight.values.withUnsafeMutableBufferPointer { w in
                    for j in 0..<w.count { w[j] *= keep }
                }
            }
        }
        return value
    }

    /// The mean loss of the current model on `data`, without updating.
    public func evaluateLoss(_ data: LabeledData) -> Float {
        if data.count == 0 { return 0 }
        let z = model.logits(data.inputs)
        return loss.valueAndLogitGradient(logits: z.values, targets: data.targets, outputActivation: model.outputActivation).value
    }

    /// Trains for `config.epochs` epochs of seeded shuffled mini-batches, validating on a
    /// held-out fraction after each epoch, keeping the best validation epoch's weights (``TrainingConfig``).
    ///
    /// Deterministic: the same model, data and config give the same weights bit for bit.
    /// - Returns: Per-epoch losses.
    @discardableResult
    public mutating func fit(_ data: LabeledData, config: TrainingConfig) -> TrainingHistory {
        var rng = Xoshiro256(seed: config.seed)
        let (train, validation) = data.split(validationFraction: config.validationFraction, rng: &rng)
        return fit(train: train, validation: validation, config: config, rng: &rng)
    }

    /// Trains on `train` and measures `validation` after each epoch, as `fit(_:config:)` does after its random split:
    /// for data split by time, whose validation rows are given (``RecData``'s `DatasetSplit`).
    /// `config.validationFraction` is not used; `rng` shuffles each epoch (`Xoshiro256(seed: config.seed)` by default).
    ///
    /// Early stopping (Prechelt, "Early Stopping — But When?", 1998): with `config.earlyStoppingPatience` = p, the
    /// run stops after p epochs in a row without a validation loss below the best so far; with
    /// `config.restoreBestEpoch` the model and optimiser state end as they were after the best validation epoch,
    /// whether the run stopped early or ran every epoch; with `config.startingWeightsCandidate` the starting weights
    /// are a candidate too (best epoch −1), so the run never ends validating worse than it began. Without validation rows neither applies.
    /// - Returns: Per-epoch losses, the best epoch and whether its weights were restored.
    @discardableResult
    public mutating func fit(
        train: LabeledData, validation: LabeledData, config: TrainingConfig, rng: inout Xoshiro256
    ) -> TrainingHistory {
        var history = TrainingHistory(epochs: [], stoppedEarly: false)
        // With `startingWeightsCandidate`, the starting weights are the first candidate (epoch −1): training never
        // ends validating worse than where it began.
        let start = validation.count > 0 && config.startingWeightsCandidate ? evaluateLoss(validation) : nil
        history.startingValidationLoss = start
        var best: (epoch: Int, loss: Float, model: MLP, state: OptimizerState)? =
            start.flatMap { $0.isFinite ? (-1, $0, model, state) : nil }
        var sinceBest = 0
        for epoch in 0..<config.epochs {
            let order = rng.permutation(train.count)
            var total: Double = 0
            var start = 0
            while start < train.count {
                let end = min(start + config.batchSize, train.count)
                total += Double(step(from: train, rows: order[start..<end])) * Double(end - start)
                start = end
            }
            let validationLoss = validation.count > 0 ? evaluateLoss(validation) : nil
            history.epochs.append(
                EpochRecord(
                    epoch: epoch, trainLoss: train.count > 0 ? Float(total / Double(train.count)) : 0,
                    validationLoss: validationLoss))
            guard let vl = validationLoss, vl.isFinite else { continue }
            if best == nil || vl < best!.loss {
                // Copying the model and the state is a copy of their arrays only when this is a new best.
                best = (epoch, vl, model, state)
                sinceBest = 0
            } else {
                sinceBest += 1
                // Stopping "early" means skipping epochs that were asked for: patience running out on the last
                // epoch stops nothing, so the run is not reported as stopped early.
                if let patience = config.earlyStoppingPatience, patience > 0, sinceBest >= patience,
                    epoch + 1 < config.epochs
                {
                    history.stoppedEarly = true
                    break
                }
            }
        }
        history.bestEpoch = best?.epoch
        if config.restoreBestEpoch, let best, best.epoch != history.epochs.count - 1 {
            model = best.model
            state = best.state
            history.restoredBest = true
        }
        return history
    }
}
