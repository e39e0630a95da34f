import ArgumentParser
import Foundation
import RecConfig
import RecData
import RecModel
import RecTransport
import RecWire

/// `recpool data features DATASET --out train.csv --spec-out spec.json`: fits a FeatureSpec on the training split
/// and writes a numeric CSV (features + `label`) that `recpool fit` trains on, so that the checkpoint carries the
/// exact spec serving will apply.
struct DataFeaturesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Fit a FeatureSpec on the training split and write model-ready features with a label column.",
        discussion: """
            Typical use: recpool data features obd:random/all --out train.csv --spec-out spec.json; \
            recpool fit --dataset train.csv --feature-spec spec.json --out model.ckpt.
            """)

    @OptionGroup var options: DatasetOptions

    @Option(help: "Which rows to write: train (the oldest 60%), validation (the next 10%), test (the newest 30%) or all.")
    var split: String = "train"

    @Option(name: .customLong("feature-set"), help: "basic or extended (the MLP's input; default: extended).")
    var featureSet: String?

    @Option(help: "Apply this existing spec (JSON) instead of fitting one.")
    var spec: String?

    @Option(name: .customLong("spec-out"), help: "Write the fitted spec (JSON) here.")
    var specOut: String?

    @Option(help: "Where to write the CSV.")
    var out: String

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        try PathOption.validateOutputs([(out, "--out"), (specOut, "--spec-out")])
        try PathOption.validateDistinct(
            outputs: [(out, "--out"), (specOut, "--spec-out")],
            inputs: [(options.dataset, "--dataset"), (spec, "--spec")] + PathOption.schemaInputs(options.schema))
        // A spec carries its own feature set: a --feature-set beside it was silently ignored.
        if spec != nil && featureSet != nil {
            throw ValidationError("--feature-set does not go with --spec: the spec's own feature set is applied")
        }
        // Checked before the data is read (it was refused only after loading it), and by --print-config.
        guard ["train", "validation", "test", "all"].contains(split) else {
            throw ValidationError("--split must be train, validation, test or all, got '\(split)'")
        }
        if let featureSet, FeatureSpec.FeatureSet(rawValue: featureSet) == nil {
            throw ValidationError("--feature-set must be basic or extended, got '\(featureSet)'")
        }
    }

    func run() async throws {
        let parts = try options.logs()
        let data = parts.all
        var train = parts.train
        var validation = parts.validation
        var test = parts.test
        guard var rows = parts.part(split) else {
            CommandOutput.printError("recpool: --split must be train, validation, test or all")
            throw ExitStatus.usage.exitCode
        }
        let fitted: FeatureSpec
        do {
            if let path = spec {
                let bytes = try FileProblem.read(path)
                if let problem = WireJSON.fileKeyProblem(in: bytes) {
                    throw CommandFailure("\(path): not a feature specification: \(problem)", exitCode: .badInput)
                }
                fitted = try FeatureSpec.decode(bytes)
                do {
                    // A given spec numbers positions by its training log's slots: this log's are read as those.
                    // Only the parts the split reads: `--split test` was refused for a slot only the training part held.
                    rows = try CheckpointEvaluation.aligned(rows, to: fitted)
                    if split == "all" {
                        train = try CheckpointEvaluation.aligned(train, to: fitted)
                        validation = try CheckpointEvaluation.aligned(validation, to: fitted)
                        test = try CheckpointEvaluation.aligned(test, to: fitted)
                    }
                    try CheckpointEvaluation.check(spec: fitted, data: rows)
                } catch {
                    throw CommandFailure("\(path): \(error.description)", exitCode: .badInput)
                }
            } else {
                guard let set = FeatureSpec.FeatureSet(rawValue: featureSet ?? "extended") else {
                    CommandOutput.printError("recpool: --feature-set must be basic or extended")
                    throw ExitStatus.usage.exitCode
                }
                fitted = try FeatureSpec.fit(on: train, featureSet: set)
                if let note = fitted.constantNumericNote { CommandOutput.printError(note) }
                // Rows the spec just fitted would refuse with `--spec` (and serving refuses): never written.
                do {
                    try CheckpointEvaluation.check(spec: fitted, data: rows, catalogue: false)
                } catch {
                    throw CommandFailure("\(error.description); nothing was written", exitCode: .badInput)
                }
            }
            // The training part's cross rates are out-of-fold, as `fit` trains on them (`trainingMatrix`; on rows the
            // spec was not fitted on it is `matrix`).
            let matrix: FeatureMatrix
            switch split {
            case "train": matrix = fitted.trainingMatrix(rows)
            case "all":
                let blocks = [fitted.trainingMatrix(train), fitted.matrix(validation), fitted.matrix(test)]
                matrix = FeatureMatrix(
                    rows: rows.rows, columnNames: fitted.columns, values: blocks.flatMap(\.values))
            default: matrix = fitted.matrix(rows)
            }
            var text =
                // Each name as one CSV field, quoted where it must be: `fit` and `predict` compare the header with
                // the specification's names exactly, so a name is never rewritten.
                fitted.columns.map(CSVFile.field).joined(separator: ",") + ",label\n"
            text.reserveCapacity(matrix.rows * (matrix.columns * 3 + 4))
            for row in 0..<matrix.rows {
                for (column, value) in matrix.row(row).enumerated() {
                    // A raw value far outside the training spread z-scores past Float's range: refused by name,
                    // never written as `inf` for `fit` to trip over later.
                    guard value.isFinite else {
                        throw CommandFailure(
                            "row \(row) of the \(split) split: column \(fitted.columns[column]) is not a finite number "
                                + "(\(value)) after scaling by the training statistics; nothing was written",
                            exitCode: .badInput)
                    }
                    text += value == 0 ? "0," : "\(value),"
                }
                text += rows.reward[row] > 0 ? "1\n" : "0\n"
            }
            // Written once every row is known to be finite: a refused row left the spec written beside "nothing was
            // written". The matrix first, then its spec.
            let specBytes = try specOut.map { _ in Data(try fitted.encoded()) }
            try FileProblem.writeAll([(Data(text.utf8), out)] + (specOut.flatMap { path in specBytes.map { [($0, path)] } } ?? []))
        } catch let error as ExitCode {
            throw error
        } catch {
            throw ExitStatus.report(error)
        }
        CommandOutput.printLine(
            "wrote \(out): \(rows.rows) rows × \(fitted.width) features + label (\(split) split of \(data.name))")
    }
}
