import ArgumentParser
import Crypto
import RecConfig
import RecData
import RecModel

/// `recpool predict`: scores CSV rows with a checkpoint, locally.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score rows with a model checkpoint.",
        discussion: """
            --input is a CSV file of numeric feature columns (a header row is optional; a `label` \
            column is ignored; with a checkpoint that carries a feature specification, or that `fit` trained on \
            a matrix with a header, a header must name its columns in order) or JSON rows ([[…], …] or {"rows": [[…], …]}), as `recpool score` \
            reads them; - is stdin. Prints one score per line, or with --json \
            {"model_version": null, "checkpoint_version": N, "checkpoint_sha256": HEX, "scores": [...]}: \
            a local file is no registry version (model_version is always null here), checkpoint_version \
            is only the number written inside the file (`fit --version`; 0 for a job's), and \
            checkpoint_sha256 names the model (`recpool models --json` lists each registered \
            version's). A row whose score is not finite (its values overflow inside the model) is an \
            error naming the row (exit 6); nothing is printed then.
            """)

    @Option(help: "The checkpoint to load.") var model: String
    @Option(help: "CSV (optional header; a `label` column is ignored) or JSON rows to score; - for stdin.")
    var input: String
    @Flag(help: "Print JSON.") var json = false

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        try PathName.validate(
            [(model, "--model"), (input, "--input")], what: "a file (--input: or - for standard input)")
    }

    func run() throws {
        do {
            let (bytes, checkpoint) = try Checkpoint.decodeFile(model)
            // A DQN scores every item of a session per row (one output per item), not one score per row.
            guard case .mlp = checkpoint.model else {
                throw CommandFailure(
                    "\(model): \(CheckpointEvaluationError.notAnInterestModel(kind: "DQN").description(command: "predict"))",
                    exitCode: .badInput)
            }
            // As `import` refuses it: an interest model gives one score per row.
            if let problem = checkpoint.interestModelProblem {
                throw CommandFailure("\(model): \(problem)", exitCode: .badInput)
            }
            let network = checkpoint.model.network
            // As `import`, `eval` and a worker refuse it: a specification that does not decode (or is another width)
            // is a damaged checkpoint, never read as "no specification", which would skip the header check below.
            if let problem = FeatureSpec.servingProblem(checkpoint.featureSpec, inputWidth: network.inputWidth) {
                throw CommandFailure("\(model): \(problem)", exitCode: .badInput)
            }
            let (values, names) = try RowsFile.readNamed(input)
            // A header is checked against the checkpoint's feature specification: columns in another order would
            // be scored by position, each feature in another one's place. First, so a column of another width is
            // named (a `Label` column, which only as `label` is left out), not only counted.
            if let names, !checkpoint.featureSpec.isEmpty, let spec = try? FeatureSpec.decode(checkpoint.featureSpec),  // checked above
                let problem = RowsFile.columnMismatch(names, expected: spec.columns, source: input)
            {
                throw CommandFailure(problem, exitCode: .badInput)
            }
            // A model fitted on a feature matrix records the matrix's header: a header naming other columns, or these
            // in another order, is refused as a specification's is.
            if let names, checkpoint.featureSpec.isEmpty, let columns = try checkpoint.inputColumns(),
                let problem = RowsFile.columnMismatch(
                    names, expected: columns, source: input, against: "the model's training columns")
            {
                throw CommandFailure(problem, exitCode: .badInput)
            }
            guard values[0].count == network.inputWidth else {
                throw CSVError.wrongWidth(path: input, expected: network.inputWidth, found: values[0].count)
            }
            let rows = Matrix(rows: values.count, cols: network.inputWidth, values: values.flatMap { $0 })
            let scores = network.predict(rows)
            try ScoreOutput.check(scores, rows: rows.rows, source: input)
            if json {
                print(
                    try JSONOutput.encode(
                        PredictOutput(
                            checkpointVersion: checkpoint.version,
                            checkpointSha256: DatasetUpload.hex(SHA256.hash(data: bytes)), scores: scores)))
            } else {
                for s in scores { print(s) }
            }
        } catch {
            throw fail(error)
        }
    }
}

/// The `--json` shape of `recpool predict`. A checkpoint file is not a registry version: the number a file holds is
/// whatever its writer chose (`fit --version`, 0 for a job's checkpoint, and a pulled file keeps it), so it is
/// printed only as `checkpoint_version`, `model_version` is always null, and the file's SHA-256 is what names the
/// model (the registry lists it beside each version).
struct PredictOutput: Encodable {
    /// Always nil (null): predict knows no registry.
    var modelVersion: UInt64? = nil
    /// The version number written inside the checkpoint file.
    var checkpointVersion: UInt64
    /// The hex SHA-256 of the checkpoint file's bytes.
    var checkpointSha256: String
    /// One score per row.
    var scores: [Float]
}
