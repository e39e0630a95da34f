import ArgumentParser
import RecConfig
import RecData
import RecModel

/// `recpool export`: converts a checkpoint's network to another format.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model checkpoint (ONNX, IR 8, opset 13).",
        discussion: """
            By default the graph is the MLP alone (input: feature rows). With --raw-context it starts from raw \
            context instead, with the checkpoint's feature transform inside: inputs user_features (strings), \
            user_numeric (float64, NaN when missing), item, position, event_item and event_seconds (float64); output score, as \
            `recpool recommend` scores. The model's metadata names the inputs and the user columns in order \
            (docs/MODELS.md). A spec with a column the graph cannot write is refused (exit 2), never exported broken.
            """)

    @Option(help: "The checkpoint to export.") var model: String
    @Option(help: "Output format; only `onnx`.") var format: String = "onnx"
    @Option(help: "Where to write the exported model.") var out: String
    @Flag(
        name: .customLong("raw-context"),
        help: "Include the feature transform (one-hot, scaling, events): the model scores raw context.")
    var rawContext = false

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        try PathOption.validateOutputs([(out, "--out")])
        try PathOption.validateDistinct(outputs: [(out, "--out")], inputs: [(model, "--model")])
        guard format == "onnx" else { throw ValidationError("unknown format \"\(format)\" (supported: onnx)") }
    }

    func run() throws {
        do {
            let bytes: [UInt8]
            var inputs = ""
            if rawContext {
                let (checkpoint, spec): (Checkpoint, FeatureSpec)
                do {
                    (checkpoint, spec) = try CheckpointEvaluation.load(model)
                } catch {
                    throw CommandFailure(error.description(command: "export --raw-context", checkpoint: model), exitCode: .badInput)
                }
                do {
                    bytes = try spec.onnxModel(network: checkpoint.model.network)
                } catch {
                    throw CommandFailure("\(model): \(error.description)", exitCode: .badInput)
                }
                // The column order of each input (also in the model's metadata_props, docs/MODELS.md).
                var described: [String] = []
                if !spec.userFeatureNames.isEmpty {
                    described.append(
                        "user_features [\(spec.userFeatureNames.joined(separator: ", "))] (strings, in this order)")
                }
                if let numeric = spec.userNumericNames, !numeric.isEmpty {
                    described.append(
                        "user_numeric [\(numeric.joined(separator: ", "))] (float64, in this order; NaN when missing)")
                }
                described.append("item, position, event_item, event_seconds (float64); output: score")
                inputs = "\ninputs: " + described.joined(separator: ", ")
            } else {
                let checkpoint = try Checkpoint.read(fromFile: model)
                // An interest model's graph promises `[batch, 1]` (docs/MODELS.md), as `import` requires.
                if case .mlp = checkpoint.model, let problem = checkpoint.interestModelProblem {
                    throw CommandFailure("\(model): \(problem)", exitCode: .badInput)
                }
                // A feature specification that does not decode, or of another width, is a checkpoint every other
                // command refuses (predict, eval, import, a worker): its graph was written all the same.
                if let problem = FeatureSpec.servingProblem(
                    checkpoint.featureSpec, inputWidth: checkpoint.model.network.inputWidth)
                {
                    throw CommandFailure("\(model): \(problem)", exitCode: .badInput)
                }
                do {
                    bytes = try ONNXExport.encode(checkpoint.model.network)
                } catch {
                    // A model the graph cannot express (a sigmoid hidden layer) is the file's problem: exit 2 naming
                    // it, as every other refusal here, not exit 1 with no path.
                    throw CommandFailure("\(model): \(error.description)", exitCode: .badInput)
                }
            }
            try Checkpoint.writeRawFile(bytes, to: out)
            print("wrote \(out): \(bytes.count) bytes\(rawContext ? " (raw context: feature transform included)" : "")\(inputs)")
        } catch {
            throw fail(error)
        }
    }
}
