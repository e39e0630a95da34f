import ArgumentParser
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
            item, position, event_item and event_seconds; output score, as `recpool recommend` scores \
            (docs/MODELS.md).
            """)

    @Option(help: "The checkpoint to export.") var model: String
    @Option(help: "Output format; only `onnx`.") var format: String = "onnx"
    @Option(help: "Where to write the exported model.") var out: String
    @Flag(
        name: .customLong("raw-context"),
        help: "Include the feature transform (one-hot, scaling, events): the model scores raw context.")
    var rawContext = false

    func validate() throws {
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
                    throw CommandFailure(error.description, exitCode: .badInput)
                }
                // The graph has inputs for categorical user features only (FeatureSpec+ONNX.swift): a spec with
                // numeric ones would give a graph narrower than the network, which fails only when it is run.
                let numeric = (spec.userNumericNames ?? []) + (spec.itemNumericExtraNames ?? [])
                guard numeric.isEmpty else {
                    throw CommandFailure(
                        "--raw-context cannot export numeric features yet (\(numeric.joined(separator: ", "))): "
                            + "export without --raw-context and build the feature rows with `recpool data features`",
                        exitCode: .badInput)
                }
                bytes = try spec.onnxModel(network: checkpoint.model.network)
                inputs = "\ninputs: user_features [\(spec.userFeatureNames.joined(separator: ", "))] (strings, in this order), "
                    + "item, position, event_item, event_seconds; output: score"
            } else {
                bytes = try ONNXExport.encode(try Checkpoint.read(fromFile: model).model.network)
            }
            try Checkpoint.writeRawFile(bytes, to: out)
            print("wrote \(out): \(bytes.count) bytes\(rawContext ? " (raw context: feature transform included)" : "")\(inputs)")
        } catch {
            throw fail(error)
        }
    }
}
