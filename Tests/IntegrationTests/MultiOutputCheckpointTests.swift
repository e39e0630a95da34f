import Foundation
import RecModel
import RecTestKit
import Testing

/// An MLP checkpoint with three outputs per row: `import` refused it, while `predict` printed "got 6 scores" for
/// two rows and `export` wrote a graph of shape `[batch, 3]` where MODELS.md promises `[batch, 1]`.
@Suite("Checkpoints that are not interest models")
struct MultiOutputCheckpointTests {
    @Test("predict and export refuse an MLP with more than one output per row, naming it (exit 2)")
    func refused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-multi-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("three.ckpt").path
        let mlp = MLP(inputWidth: 2, hiddenSizes: [4], outputWidth: 3, outputActivation: .sigmoid, seed: 1)
        try Data(Checkpoint(model: .mlp(mlp)).encoded()).write(to: URL(fileURLWithPath: model))
        let rows = folder.appendingPathComponent("rows.csv").path
        try Data("1,2\n3,4\n".utf8).write(to: URL(fileURLWithPath: rows))
        let predict = try runTool("recpool", ["predict", "--model", model, "--input", rows])
        #expect(predict.code == 2 && predict.stderr.contains("gives 3 outputs per row"), "\(predict.stderr)")
        let export = try runTool("recpool", ["export", "--model", model, "--out", folder.appendingPathComponent("m.onnx").path])
        #expect(export.code == 2 && export.stderr.contains("gives 3 outputs per row"), "\(export.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("m.onnx").path))
    }

    /// A sigmoid hidden layer, which the ONNX graph cannot express, was refused with exit 1 and no file named.
    @Test("export refuses a layer the graph cannot express naming the file (exit 2)")
    func sigmoidHiddenLayer() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-sigmoid-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("sigmoid.ckpt").path
        var rng = Xoshiro256(seed: 3)
        let mlp = MLP(layers: [
            Dense(inputWidth: 2, outputWidth: 3, activation: .sigmoid, rng: &rng),
            Dense(inputWidth: 3, outputWidth: 1, activation: .sigmoid, rng: &rng),
        ])
        try Data(Checkpoint(model: .mlp(mlp)).encoded()).write(to: URL(fileURLWithPath: model))
        let out = folder.appendingPathComponent("m.onnx").path
        let export = try runTool("recpool", ["export", "--model", model, "--out", out])
        #expect(
            export.code == 2 && export.stderr.contains("\(model): cannot export layer 0 with activation sigmoid"),
            "\(export.code) \(export.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
