import ArgumentParser
import Foundation
import RecConfig
import RecData
import RecTransport

/// `recpool eval --model FILE --dataset obd:random/all [--json] [--report FILE.html]`.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Evaluate a checkpoint on logged data: classification, calibration, ranking and off-policy value, split cold/warm.",
        discussion:
            "The checkpoint must carry the FeatureSpec it was trained with (recpool data features --spec-out, then recpool fit --feature-spec)."
    )

    @Option(help: "The checkpoint file.")
    var model: String

    @Option(help: "obd:POLICY/CAMPAIGN, synthetic:..., or a CSV log (with --schema, or in OBD's layout).")
    var dataset: String

    @Option(help: "A schema (TOML) for a shop's CSV log (docs/YOUR-DATA.md).")
    var schema: String?

    @Option(
        name: .customLong("data-dir"),
        help: "Directory holding obd/ (default: data/ in the current directory or a parent).")
    var dataDirectory: String?

    @Option(help: "Rows to evaluate: test (the newest 30% by time), validation, train or all.")
    var split: String = "test"

    @Option(
        help:
            "Bootstrap resamples for the off-policy intervals, and for the AUC, PR-AUC and log-loss intervals up to 200 (0: no interval).")
    var resamples: Int = 500

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @Option(help: "Also write a self-contained HTML report here.")
    var report: String?

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        try PathName.validate([(dataDirectory, "--data-dir")], what: "a folder")
        // An empty path was read as a file named "" ("cannot open : No such file", after loading the dataset).
        try PathName.validate([(model, "--model"), (schema, "--schema")], what: "a file")
        try DatasetName.validate(dataset)
        try PathOption.validateOutputs([(report, "--report")])
        try PathOption.validateDistinct(
            outputs: [(report, "--report")],
            inputs: [(model, "--model"), (dataset, "--dataset")] + PathOption.schemaInputs(schema))
        try BootstrapResamples.validate(resamples)
        // Checked before the data is read (it was refused only after loading it), and by --print-config.
        guard ["test", "validation", "train", "all"].contains(split) else {
            throw ValidationError("--split must be test, validation, train or all, got '\(split)'")
        }
    }

    func run() async throws {
        var options = try DatasetOptions.parse([dataset])
        options.dataDirectory = dataDirectory
        options.schema = schema
        let parts = try options.logs()
        guard let rows = parts.part(split) else {
            CommandOutput.printError("recpool: --split must be test, validation, train or all")
            throw ExitStatus.usage.exitCode
        }
        let result: EvaluationReport
        do {
            // The decision threshold is chosen on the validation rows whatever the split; with `validation` or `all`
            // they are among the evaluated rows, and a note says the figures at the threshold are optimistic.
            result = try CheckpointEvaluation.evaluate(
                checkpointPath: model, data: rows, validation: parts.validation,
                validationIsEvaluated: split == "validation" || split == "all", resamples: resamples,
                // The oldest rows of `train` and `all` are the training part, which `fit` scored out-of-fold.
                trainingRows: split == "train" || split == "all" ? parts.train.rows : 0)
        } catch {
            if case .nonFiniteScore = error { throw CommandFailure(error.description, exitCode: .notFinite) }
            throw CommandFailure(error.description(command: "eval", checkpoint: model), exitCode: .badInput)
        }
        if let path = report {
            try FileProblem.write(result.html(), to: path)
        }
        if json {
            CommandOutput.printLine(try JSONOutput.encode(result))
            return
        }
        for line in EvaluationText.lines(result) { CommandOutput.printLine(line) }
        if let path = report { CommandOutput.printLine("wrote \(path)") }
    }
}
