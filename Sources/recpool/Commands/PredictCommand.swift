import ArgumentParser
import RecModel

/// `recpool predict`: scores CSV rows with a checkpoint, locally.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score rows with a model checkpoint.",
        discussion: """
            ROWS is a CSV file of numeric feature columns (a header row is optional; a `label` \
            column is ignored). Prints one score per line, or with --json \
            {"model_version": N, "scores": [...]}. A row whose score is not finite (its values overflow \
            inside the model) is an error naming the row (exit 6); nothing is printed then.
            """)

    @Option(help: "The checkpoint to load.") var model: String
    @Option(help: "CSV rows to score.") var input: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        do {
            let checkpoint = try Checkpoint.read(fromFile: model)
            // A DQN scores every item of a session per row (one output per item), not one score per row.
            guard case .mlp = checkpoint.model else {
                throw CommandFailure(
                    "\(model): a DQN checkpoint cannot be used by predict; it needs an interest model (MLP)",
                    exitCode: .badInput)
            }
            let network = checkpoint.model.network
            let rows = try NumericCSV.read(path: input).features(width: network.inputWidth)
            let scores = network.predict(rows)
            try ScoreOutput.check(scores, rows: rows.rows, source: input)
            if json {
                print(try JSONOutput.encode(ScoreOutput(modelVersion: checkpoint.version, scores: scores)))
            } else {
                for s in scores { print(s) }
            }
        } catch {
            throw fail(error)
        }
    }
}
