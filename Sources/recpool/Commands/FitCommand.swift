import ArgumentParser
import Foundation
import RecConfig
import RecData
import RecModel
import RecTransport
import RecWire

/// `recpool fit`: trains the interest model on a CSV file and writes a checkpoint.
struct FitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Train a model on a dataset and write a checkpoint.",
        discussion: """
            DATASET is what every command's --dataset is: obd:POLICY/CAMPAIGN, synthetic:…, a shop's CSV log with \
            --schema (or in OBD's layout), or a CSV of numeric feature columns plus a `label` column. Logs are split \
            by time (train 60% / validation 10% / test 30%); the feature specification is fitted on the training \
            part and embedded in the checkpoint, and the test part is never read. A feature matrix is split at \
            random (--validation). The same seed gives the same weights bit for bit.
            """)

    @Option(help: "Model kind; only `mlp` for now.") var model: String = "mlp"
    @Option(help: "obd:…, synthetic:…, a CSV log (with --schema), or a numeric CSV with a `label` column.")
    var dataset: String
    @Option(help: "A schema (TOML) for a shop's CSV log (docs/YOUR-DATA.md).") var schema: String?
    @Option(name: .customLong("data-dir"), help: "Directory holding obd/.") var dataDirectory: String?
    @Option(help: "Where to write the checkpoint.") var out: String
    @Option(help: "Seed for initialisation, the validation split and shuffling.") var seed: UInt64 = 0
    @Option(help: "Passes over the training rows.") var epochs: Int = 10
    @Option(help: "Rows per training step.") var batch: Int = 32
    @Option(help: "Adam learning rate (any normal 32-bit float above 0; a pool job takes (0, 10)).") var lr: Double = 0.001
    @Option(
        name: .customLong("weight-decay"),
        help: "Decoupled weight decay λ (AdamW): each step multiplies the weights by 1 − lr·λ (0: none).")
    var weightDecay: Float = FitCommand.defaultWeightDecay
    @Option(help: "Hidden layer widths, comma-separated (default: d_in,64).") var hidden: String?
    @Option(help: "Fraction of a feature matrix's rows held out at random for validation (a log is split by time: refused for one).")
    var validation: Double = FitCommand.defaultValidation
    @Option(help: "Stop after this many epochs in a row without a lower validation loss (0: run every epoch).")
    var patience: Int = 3
    @Flag(
        inversion: .prefixedNo,
        help: "End with the weights of the epoch with the lowest validation loss (--no-restore-best: the last epoch's).")
    var restoreBest = true
    @Option(
        help: "Version number written inside the checkpoint (the file's own; a registry numbers what it imports itself).",
        transform: VersionNumber.parse)
    var version: UInt64 = 1
    @Option(help: "A feature specification file (JSON) to embed in the checkpoint.") var featureSpec: String?
    @Flag(help: "Print the checkpoint and the validation figures as one JSON object.") var json = false

    /// The default `--validation`: the fraction of a feature matrix's rows held out.
    static let defaultValidation = 0.2

    /// Why `--validation` is refused for a log: its parts are fixed by time.
    static let logValidationRefusal =
        "--validation holds out rows of a feature matrix at random; a log is split by time (the oldest 60% train, the "
        + "next 10% validation, the newest 30% test), whatever it says"

    /// The default `--weight-decay`, measured in docs/BENCHMARKS.md ("Interest model").
    static let defaultWeightDecay: Float = 0

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        try PathName.validate([(dataDirectory, "--data-dir")], what: "a folder")
        // An empty path was read as a file named "" ("cannot open : No such file", after loading the dataset).
        try PathName.validate([(schema, "--schema"), (featureSpec, "--feature-spec")], what: "a file")
        try DatasetName.validate(dataset)
        // Parsed here too, so a bad list is this command's usage error (with `recpool fit`'s usage line).
        if let hidden { _ = try parseWidths(hidden) }
        guard model == "mlp" else { throw ValidationError("unknown model kind \"\(model)\" (supported: mlp)") }
        // `train`'s bounds (TrainingSpec), and 0 besides: `fit --epochs 0` writes the constant predictor.
        guard (0...10_000).contains(epochs) else { throw ValidationError("--epochs must be 0…10000, got \(epochs)") }
        guard (1...65_536).contains(batch) else { throw ValidationError("--batch must be 1…65536, got \(batch)") }
        // Any rate above 0 a 32-bit float holds as a normal number, read as typed (a Float option read `1e308` as
        // inf): a subnormal one (`1e-40`) is no rate a step can use. Unlike a pool job's (0, 10), a large one is taken,
        // to see a run diverge: it ends in exit 6, naming the rate.
        guard lr > 0, Float(lr).isFinite, Float(lr).isNormal else {
            throw ValidationError(
                "--lr must be a number > 0 that a 32-bit float holds as a normal number (\(Float.leastNormalMagnitude) "
                    + "to \(Float.greatestFiniteMagnitude)), got \(lr)")
        }
        guard validation >= 0, validation < 1 else { throw ValidationError("--validation must be in [0, 1), got \(validation)") }
        guard weightDecay >= 0, weightDecay.isFinite, Float(lr) * weightDecay < 1 else {
            throw ValidationError("--weight-decay must be finite, ≥ 0 and below 1 / lr (\(1 / Float(lr))), got \(weightDecay)")
        }
        guard patience >= 0 else { throw ValidationError("--patience must be 0 (never stop early) or more, got \(patience)") }
        // The paths last: a wrong number is named first, whatever the paths.
        try PathOption.validateOutputs([(out, "--out")])
        try PathOption.validateDistinct(
            outputs: [(out, "--out")],
            inputs: [(dataset, "--dataset"), (featureSpec, "--feature-spec")] + PathOption.schemaInputs(schema))
    }

    func run() throws {
        do {
            var options = try DatasetOptions.parse([dataset])
            options.dataDirectory = dataDirectory
            options.schema = schema
            let (train, held, logSpec, names) = try rows(options.resolve())
            let hiddenSizes = try hidden.map(parseWidths)
            // A model on no rows or zero inputs cannot be built (`Dense` traps on a zero width): refuse it, as the pool
            // refuses such an upload.
            guard train.count + held.count > 0, train.inputs.cols > 0 else {
                throw CommandFailure("\(dataset) has no rows or no feature columns", exitCode: .badInput)
            }
            if logSpec != nil && featureSpec != nil {
                throw CommandFailure(
                    "--feature-spec is for a feature matrix; a log's specification is fitted on its training part",
                    exitCode: .usage)
            }
            if let problem = MLP.sizeProblem(inputWidth: train.inputs.cols, hiddenSizes: hiddenSizes) {
                throw CommandFailure("\(dataset): \(problem) (--hidden)", exitCode: .usage)
            }
            let spec = try logSpec ?? featureSpec.map { try readFeatureSpec($0, width: train.inputs.cols, names: names) } ?? []
            var trainer = MLPTrainer(
                model: MLP(inputWidth: train.inputs.cols, hiddenSizes: hiddenSizes, seed: seed),
                optimizer: .adam(AdamConfig(learningRate: Float(lr))), weightDecay: weightDecay)
            // A log's model starts at the constant predictor (the training click rate), the point it must beat, and
            // its starting weights are a candidate for the best epoch. A feature matrix's starts from the seeded
            // weights, as pool training does (one worker without averaging gives this command's model bit for bit),
            // except with `--epochs 0`, where nothing trains: that writes the constant predictor, never random weights.
            let fromConstant = logSpec != nil || epochs == 0
            if fromConstant {
                trainer.startFromConstant(clickRate: Double(train.targets.reduce(0, +)) / Double(max(train.count, 1)))
            }
            let config = TrainingConfig(
                epochs: epochs, batchSize: batch, validationFraction: validation, seed: seed,
                earlyStoppingPatience: patience, restoreBestEpoch: restoreBest, startingWeightsCandidate: fromConstant)
            var rng = Xoshiro256(seed: seed)
            if logSpec == nil { _ = rng.permutation(train.count + held.count) }  // as fit(_:config:) draws its split
            let history = trainer.fit(train: train, validation: held, config: config, rng: &rng)
            // The starting weights are a candidate (epoch 0): their loss is printed as each epoch's, so the kept epoch
            // is the lowest `val_loss` printed.
            if let start = history.startingValidationLoss {
                printError(
                    "epoch 0 (the starting weights, the constant predictor): "
                        + (start.isFinite ? "val_loss \(start)" : "validation loss not finite, not a candidate"))
            }
            for e in history.epochs {
                // A diverged run never becomes a checkpoint full of NaN weights, and its losses are named, not printed
                // as nan.
                for (name, loss) in [("training loss", Double(e.trainLoss)), ("validation loss", e.validationLoss.map(Double.init))]
                where loss.map({ !$0.isFinite }) ?? false {
                    throw NonFiniteResult(
                        what: "epoch \(e.epoch + 1): \(name) (\(divergenceAdvice(train)))",
                        value: loss!)
                }
                let v = e.validationLoss.map { " val_loss \($0)" } ?? ""
                printError("epoch \(e.epoch + 1): loss \(e.trainLoss)\(v)")
            }
            // Finite losses do not prove finite weights (a weight that overflowed where no row reaches it): no
            // checkpoint is written with one, since no reader would accept it.
            // The optimiser's moments too: a squared gradient that overflowed leaves finite weights frozen for good
            // (every later update is m / ∞ = 0), a model trained on nothing that the pool's rounds refuse.
            try Self.checkFinite(trainer, advice: { divergenceAdvice(train) })
            let heldScores = held.count > 0 ? trainer.model.predict(held.inputs).map(Double.init) : []
            let heldLabels = held.targets.map(Double.init)
            let validationMetrics = held.count > 0 ? ValidationMetrics(labels: heldLabels, scores: heldScores) : nil
            let baseline =
                held.count > 0
                ? ConstantBaseline(
                    trainingLabels: train.targets.map(Double.init), labels: heldLabels, scores: heldScores) : nil
            let run = FitRun(history: history, restoreBest: restoreBest)
            var checkpoint = Checkpoint(
                version: version, model: .mlp(trainer.model), featureSpec: spec,
                metadata: [
                    "trainer": "recpool fit", "dataset": dataset, "seed": "\(seed)", "epochs": "\(history.epochs.count)",
                    "best_epoch": history.bestEpoch.map { "\($0 + 1)" } ?? "",
                    // The epoch whose weights the file holds: the best one, or with --no-restore-best the last, which
                    // `best_epoch` alone did not say (a file of epoch 5's weights read as epoch 3's).
                    "weights_epoch": "\(run.weightsEpoch)",
                    "batch": "\(batch)", "learning_rate": "\(lr)", "weight_decay": "\(weightDecay)", "rows": "\(train.count)",
                ])
            // A matrix's header, when it has one and no specification names the columns: `predict` checks a header
            // against it (columns in another order were scored by position, each value in another feature's place).
            if spec.isEmpty, let names, names.count == trainer.model.inputWidth {
                checkpoint.metadata[Checkpoint.inputColumnsKey] = Checkpoint.inputColumnsValue(names)
            }
            try checkpoint.write(toFile: out)
            if json {
                CommandOutput.printLine(
                    try JSONOutput.encode(
                        FitSummary(
                            checkpoint: out, parameters: trainer.model.parameterCount, version: version,
                            validation: validationMetrics, training: run, constantBaseline: baseline,
                            trainingLabelsVary: ConstantBaseline.nothingToLearn(
                                trainingLabels: train.targets.map(Double.init)) == nil)))
                return
            }
            for line in validationMetrics.map(EvaluationText.lines) ?? [] { CommandOutput.printLine(line) }
            CommandOutput.printLine(run.text)
            if let baseline {
                CommandOutput.printLine(baseline.text)
            } else if let nothing = ConstantBaseline.nothingToLearn(trainingLabels: train.targets.map(Double.init)) {
                // No validation rows to compare on, but labels all alike teach nothing whatever the rows: said anyway.
                CommandOutput.printLine(nothing)
            }
            // The number is the file's (--version), not a registry version: `recpool import` registers the file.
            print("wrote \(out): \(trainer.model.parameterCount) parameters, checkpoint version \(version)")
        } catch {
            throw fail(error)
        }
    }

    /// The training and validation rows, for logs the specification fitted on the training part, and for a matrix
    /// the names of its feature columns (the header without `label`).
    func rows(_ resolved: DatasetResolver.Resolved) throws -> (LabeledData, LabeledData, [UInt8]?, [String]?) {
        switch resolved {
        case .matrix(let path):
            let csv = try NumericCSV.read(path: path, headerRequired: true)
            let data = try csv.labeledData()
            var rng = Xoshiro256(seed: seed)
            let (train, held) = data.split(validationFraction: validation, rng: &rng)
            return (train, held, nil, csv.header?.filter { $0 != "label" })
        case .logs(let split, _, _):
            if validation != Self.defaultValidation { throw CommandFailure(Self.logValidationRefusal, exitCode: .usage) }
            let rows = try split.trainingRows(name: dataset)
            if let warning = split.noPositiveWarning(name: dataset) { CommandOutput.printError(warning) }
            if let note = rows.spec.constantNumericNote { CommandOutput.printError(note) }
            return (rows.train, rows.validation, try rows.spec.encoded(), nil)
        }
    }

    /// What to do about a run on `train` that diverged (``DivergenceAdvice``), naming `--lr` as it was given; computed
    /// only when a run diverged.
    func divergenceAdvice(_ train: LabeledData) -> String {
        DivergenceAdvice.text(
            largestFeature: DivergenceAdvice.largestMagnitude(train.inputs), learningRate: lr)
    }

    /// Refuses a trained model with a weight, a bias or an optimiser moment that is not finite, naming it and what to
    /// do (`advice`, ``DivergenceAdvice``, computed only for a run that diverged).
    static func checkFinite(_ trainer: MLPTrainer, advice: () -> String) throws(NonFiniteResult) {
        for (number, layer) in trainer.model.layers.enumerated() {
            for (name, values) in [("weight", layer.weight.values), ("bias", layer.bias)] {
                if let index = values.firstIndex(where: { !$0.isFinite }) {
                    throw NonFiniteResult(
                        what: "layer \(number + 1) \(name) \(index) of the trained model (\(advice()))",
                        value: Double(values[index]))
                }
            }
        }
        for (name, values) in [("first", trainer.state.firstMoment), ("second", trainer.state.secondMoment)] {
            if let index = values.firstIndex(where: { !$0.isFinite }) {
                throw NonFiniteResult(
                    what: "Adam's \(name) moment \(index) after training (\(advice()))", value: Double(values[index]))
            }
        }
    }

    func parseWidths(_ s: String) throws(ValidationError) -> [Int] {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: " ")) }
        // Each width bounded as a training job's are (1…65536), so a layer's size cannot overflow.
        // As many layers as a training job may ask for (a checkpoint holds 64 layers with the output).
        let most = TrainJobSpec.maximumHiddenLayers
        guard !parts.isEmpty, parts.count <= most, parts.allSatisfy({ (1...65_536).contains($0 ?? 0) }) else {
            throw ValidationError("--hidden must be 1 to \(most) widths of 1…65536 separated by commas, got \"\(s)\"")
        }
        return parts.map { $0! }
    }

    /// A `--feature-spec` file's bytes, once they decode as a feature specification of the matrix's width (a file of
    /// anything else was once embedded as it was, and only `eval` or `export` found out).
    /// A matrix's header (`names`) must be the specification's columns, in order.
    func readFeatureSpec(_ path: String, width: Int, names: [String]?) throws -> [UInt8] {
        let bytes = try Checkpoint.readRawFile(path)
        if let problem = WireJSON.fileKeyProblem(in: bytes) {
            throw CommandFailure("\(path): not a feature specification: \(problem)", exitCode: .badInput)
        }
        let spec: FeatureSpec
        do {
            spec = try FeatureSpec.decode(bytes)
        } catch {
            throw CommandFailure("\(path): not a feature specification: \(error)", exitCode: .badInput)
        }
        guard spec.width == width else {
            throw CommandFailure(
                "\(path): the feature specification makes rows of \(spec.width) columns, the dataset has \(width)",
                exitCode: .badInput)
        }
        if let names, let problem = RowsFile.columnMismatch(names, expected: spec.columns, source: dataset) {
            throw CommandFailure(problem, exitCode: .badInput)
        }
        return bytes
    }
}

/// `recpool fit --json`: the checkpoint written and the model's figures on its validation rows (null without any).
struct FitSummary: Encodable {
    /// Path of the checkpoint.
    var checkpoint: String
    /// Trainable parameters.
    var parameters: Int
    /// The version number written inside the checkpoint (`--version`): the file's, not a registry version.
    var version: UInt64
    /// Figures on the validation rows, as ``EvaluationText/lines(_:)-(ValidationMetrics)`` prints them.
    var validation: ValidationMetrics?
    /// The epochs run and the one whose weights the checkpoint holds.
    var training: FitRun
    /// The model against the constant predictor on the validation rows (null without any).
    var constantBaseline: ConstantBaseline?
    /// Whether the training labels vary (a click and a row without one); false means there was nothing to learn,
    /// with or without validation rows (``ConstantBaseline/trainingLabelsVary`` says the same when there are some).
    var trainingLabelsVary: Bool

    /// Why `validation` and `constant_baseline` are null (``FitRun/noValidationRows``), or nil when they are not.
    var undefined: String? { validation == nil ? FitRun.noValidationRows : nil }

    private enum CodingKeys: String, CodingKey {
        case checkpoint, parameters, version, validation, validationUndefined, training, constantBaseline
        case constantBaselineUndefined, trainingLabelsVary
    }

    /// Encodes every key, writing `null` for missing validation figures with the reason beside each
    /// (`validation_undefined`, `constant_baseline_undefined`).
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checkpoint, forKey: .checkpoint)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(version, forKey: .version)
        try c.encode(validation, forKey: .validation)
        try c.encode(undefined, forKey: .validationUndefined)
        try c.encode(training, forKey: .training)
        try c.encode(constantBaseline, forKey: .constantBaseline)
        try c.encode(constantBaseline == nil ? FitRun.noValidationRows : nil, forKey: .constantBaselineUndefined)
        try c.encode(trainingLabelsVary, forKey: .trainingLabelsVary)
    }
}

/// How a `recpool fit` run ended: the epochs run, the best validation epoch (1-based, null without validation rows)
/// and whether the checkpoint holds its weights.
struct FitRun: Encodable {
    /// Epochs run (fewer than `--epochs` when early stopping ended the run).
    var epochsRun: Int
    /// The 1-based epoch with the lowest validation loss (0: the starting weights, which for a log score every row with
    /// the training click rate), or nil without validation rows.
    var bestEpoch: Int?
    /// Whether early stopping (`--patience`) ended the run.
    var stoppedEarly: Bool
    /// Whether the checkpoint holds the best epoch's weights (`--restore-best`, the default).
    var restoreBest: Bool

    /// The 1-based epoch whose weights the checkpoint holds (0: the starting weights): the best validation epoch with
    /// ``restoreBest``, otherwise (or without validation rows) the last epoch run.
    var weightsEpoch: Int { restoreBest ? bestEpoch ?? epochsRun : epochsRun }

    /// Summarises a trainer's history.
    init(history: TrainingHistory, restoreBest: Bool) {
        epochsRun = history.epochs.count
        bestEpoch = history.bestEpoch.map { $0 + 1 }
        stoppedEarly = history.stoppedEarly
        self.restoreBest = restoreBest
    }

    /// The reason beside every figure of the validation rows when there are none: a split that leaves them empty (a
    /// log of a handful of rows, `--validation 0`).
    static let noValidationRows =
        "no validation rows (the split left none: a log of a few rows, or --validation 0); the last epoch's weights are kept"

    private enum CodingKeys: String, CodingKey { case epochsRun, bestEpoch, bestEpochUndefined, stoppedEarly, restoreBest }

    /// Encodes every key, writing `null` for a missing best epoch with its reason beside it (`best_epoch_undefined`).
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epochsRun, forKey: .epochsRun)
        try c.encode(bestEpoch, forKey: .bestEpoch)
        try c.encode(bestEpoch == nil ? Self.noValidationRows : nil, forKey: .bestEpochUndefined)
        try c.encode(stoppedEarly, forKey: .stoppedEarly)
        try c.encode(restoreBest, forKey: .restoreBest)
    }

    /// One line for people.
    var text: String {
        let ran = "trained \(epochsRun) epoch\(epochsRun == 1 ? "" : "s")" + (stoppedEarly ? " (stopped early)" : "")
        guard let bestEpoch else { return ran + "; no validation rows, the last epoch's weights are kept" }
        let kept =
            bestEpoch == 0
            ? "the starting weights (the constant predictor: the training click rate for every row)"
            : "epoch \(bestEpoch)'s weights"
        return ran + "; best validation epoch \(bestEpoch == 0 ? "0 (no epoch beat the starting weights)" : "\(bestEpoch)")"
            + "; the checkpoint holds " + (restoreBest || bestEpoch == epochsRun ? kept : "the last epoch's weights")
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
