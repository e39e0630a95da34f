import Foundation
import Testing

@testable import RecModel

/// The serving forward pass on reused buffers (``MLP/forward(rows:input:workspace:_:)``, issue #19):
/// the same outputs as the allocating path, whatever the batch shape and however often it is reused.
@Suite("Forward pass on a reused workspace")
struct ForwardWorkspaceTests {
    /// The reference's network and inputs (`scripts/reference/mlp_reference.py`, the golden run's fixture).
    struct Golden: Decodable {
        struct Batch: Decodable {
            var inputs: [Float]
            var targets: [Float]
        }
        var inputWidth: Int
        var hiddenSizes: [Int]
        var initial: [Float]
        var batches: [Batch]
    }

    static func goldenModel() throws -> (MLP, Golden) {
        let golden = try JSONDecoder().decode(Golden.self, from: Fixtures.data("mlp_golden.json"))
        var model = MLP(inputWidth: golden.inputWidth, hiddenSizes: golden.hiddenSizes, seed: 0)
        model.flatParameters = golden.initial
        return (model, golden)
    }

    /// The outputs of the workspace path, copied out.
    static func forward(_ model: MLP, _ values: [Float], rows: Int, _ workspace: inout ForwardWorkspace) -> [Float] {
        values.withUnsafeBufferPointer { input in
            model.forward(rows: rows, input: input, workspace: &workspace) { Array($0) }
        }
    }

    /// The network evaluated in Double from its parameters (``DoubleReference``).
    static func reference(_ model: MLP, _ values: [Float], rows: Int) -> [Double] {
        var x = values.map(Double.init)
        for layer in model.layers {
            x = DoubleReference.dense(
                x: x, rows: rows, w: layer.weight.values.map(Double.init), b: layer.bias.map(Double.init),
                inW: layer.inputWidth, outW: layer.outputWidth, f: layer.activation)
        }
        return x
    }

    @Test("on the golden run's weights and inputs it matches the Double reference and the allocating path")
    func goldenValues() throws {
        let (model, golden) = try Self.goldenModel()
        var workspace = ForwardWorkspace()
        for batch in golden.batches {
            let rows = batch.targets.count
            let got = Self.forward(model, batch.inputs, rows: rows, &workspace)
            let old = model.predict(Matrix(rows: rows, cols: golden.inputWidth, values: batch.inputs))
            let exact = Self.reference(model, batch.inputs, rows: rows)
            #expect(got.count == rows)
            for (index, value) in got.enumerated() {
                #expect(abs(Double(value) - exact[index]) < 1e-6, "row \(index)")
                #expect(abs(value - old[index]) < 1e-6, "row \(index)")
            }
        }
    }

    @Test("every BLAS shape (one row, one output unit, a matrix) agrees with the allocating path", arguments: [1, 2, matrixVectorRows, matrixVectorRows + 1, 64, 300])
    func shapes(rows: Int) {
        let model = MLP(inputWidth: 13, hiddenSizes: [9, 5], seed: 4)
        var rng = Xoshiro256(seed: UInt64(rows))
        let values = (0..<(rows * 13)).map { _ in rng.nextFloat(in: -2, 2) }
        var workspace = ForwardWorkspace()
        let got = Self.forward(model, values, rows: rows, &workspace)
        let old = model.predict(Matrix(rows: rows, cols: 13, values: values))
        #expect(got.count == old.count)
        for (a, b) in zip(got, old) { #expect(abs(a - b) < 1e-6) }
    }

    @Test("reuse across batch shapes gives identical outputs and allocates only when a batch is larger than any before")
    func reuse() {
        let model = MLP(inputWidth: 106, seed: 1)
        var rng = Xoshiro256(seed: 9)
        let big = (0..<(256 * 106)).map { _ in rng.nextFloat(in: -1, 1) }
        let small = Array(big[0..<(32 * 106)])
        var fresh = ForwardWorkspace()
        let expectedSmall = Self.forward(model, small, rows: 32, &fresh)
        var workspace = ForwardWorkspace()
        let first = Self.forward(model, big, rows: 256, &workspace)
        #expect(workspace.allocations == 1)
        for _ in 0..<3 {
            #expect(Self.forward(model, small, rows: 32, &workspace) == expectedSmall)
            #expect(Self.forward(model, big, rows: 256, &workspace) == first)
        }
        #expect(workspace.allocations == 1)
        #expect(workspace.capacityRows == 256 && workspace.capacityWidth == 106)
        // The first 32 rows of the big batch are the small batch: row results do not depend on the batch.
        for (a, b) in zip(first.prefix(32), expectedSmall) { #expect(abs(a - b) < 1e-6) }
    }

    @Test("a batch run block by block equals the allocating path, and reuse allocates nothing more")
    func blocked() {
        let model = MLP(inputWidth: 20, hiddenSizes: [17, 9], seed: 6)
        let rows = 2 * MLP.blockRows + 37
        var rng = Xoshiro256(seed: 11)
        let values = (0..<(rows * 20)).map { _ in rng.nextFloat(in: -1, 1) }
        var workspace = ForwardWorkspace()
        let got = Self.forward(model, values, rows: rows, &workspace)
        let old = model.predict(Matrix(rows: rows, cols: 20, values: values))
        #expect(got.count == rows)
        for (a, b) in zip(got, old) { #expect(abs(a - b) < 1e-6) }
        let allocations = workspace.allocations
        #expect(workspace.capacityRows == MLP.blockRows)
        #expect(Self.forward(model, values, rows: rows, &workspace) == got)
        #expect(workspace.allocations == allocations)
    }

    @Test("zero rows hand an empty output to the body")
    func empty() {
        let model = MLP(inputWidth: 3, seed: 1)
        var workspace = ForwardWorkspace()
        #expect(Self.forward(model, [], rows: 0, &workspace).isEmpty)
    }
}
