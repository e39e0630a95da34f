import Foundation
import Testing

@testable import RecModel

/// The python interpreter with onnxruntime, from `RECPOOL_PYTHON` (scripts/test sets it).
private let python = ProcessInfo.processInfo.environment["RECPOOL_PYTHON"]

@Suite("ONNX export")
struct ONNXExportTests {
    @Test("varints encode as protobuf specifies")
    func varints() {
        var w = ProtobufWriter()
        w.varint(1); w.varint(300); w.varint(0)
        #expect(w.bytes == [0x01, 0xAC, 0x02, 0x00])
        var f = ProtobufWriter()
        f.int(1, 8)
        f.string(2, "ab")
        #expect(f.bytes == [0x08, 0x08, 0x12, 0x02, 0x61, 0x62])
    }

    @Test("hidden layers with a sigmoid activation are refused")
    func refusesUnsupported() {
        let layers = [
            Dense(weight: Matrix(rowArrays: [[1]]), bias: [0], activation: .sigmoid),
            Dense(weight: Matrix(rowArrays: [[1]]), bias: [0], activation: .sigmoid),
        ]
        #expect(throws: ONNXExportError.unsupportedActivation(layer: 0, activation: .sigmoid)) {
            try ONNXExport.encode(MLP(layers: layers))
        }
    }

    @Test(
        "onnxruntime runs the exported model and agrees with the Swift forward pass within 1e-5 on 1,000 rows",
        .enabled(if: python != nil, "RECPOOL_PYTHON is unset: run `source scripts/lib/common.sh; recpool_python_env` (scripts/test does)"),
        arguments: [(106, [106, 64], Activation.sigmoid, 1), (7, [5], .identity, 3)])
    func matchesOnnxRuntime(inputWidth: Int, hidden: [Int], output: Activation, outputWidth: Int) throws {
        let mlp = MLP(inputWidth: inputWidth, hiddenSizes: hidden, outputWidth: outputWidth, outputActivation: output, seed: 17)
        var rng = Xoshiro256(seed: 99)
        let rows = 1_000
        let x = Matrix(rows: rows, cols: inputWidth, values: (0..<(rows * inputWidth)).map { _ in rng.nextFloat(in: -2, 2) })
        let want = mlp.forward(x).values

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let modelURL = dir.appendingPathComponent("model.onnx")
        let inURL = dir.appendingPathComponent("x.f32"), outURL = dir.appendingPathComponent("y.f32")
        try Data(ONNXExport.encode(mlp)).write(to: modelURL)
        try x.values.withUnsafeBytes { try Data($0).write(to: inURL) }

        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/reference/onnx_run.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python!)
        process.arguments = [script.path, modelURL.path, inURL.path, "\(inputWidth)", outURL.path]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        process.waitUntilExit()
        let errText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(process.terminationStatus == 0, "onnxruntime failed: \(errText)")

        let data = try Data(contentsOf: outURL)
        let got = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        try #require(got.count == rows * outputWidth)
        let worst = zip(got, want).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5, "largest difference \(worst)")
    }
}
