import ArgumentParser
import RecModel

/// `recpool export`: converts a checkpoint's network to another format.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model checkpoint (ONNX, IR 8, opset 13).")

    @Option(help: "The checkpoint to export.") var model: String
    @Option(help: "Output format; only `onnx`.") var format: String = "onnx"
    @Option(help: "Where to write the exported model.") var out: String

    func validate() throws {
        guard format == "onnx" else { throw ValidationError("unknown format \"\(format)\" (supported: onnx)") }
    }

    func run() throws {
        do {
            let checkpoint = try Checkpoint.read(fromFile: model)
            let bytes = try ONNXExport.encode(checkpoint.model.network)
            try Checkpoint.writeRawFile(bytes, to: out)
            print("wrote \(out): \(bytes.count) bytes")
        } catch {
            throw fail(error)
        }
    }
}
