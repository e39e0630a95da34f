import Testing

@testable import RecModel

/// Widths that pass every per-width check can still ask for more weights than a replica can hold: the model's
/// parameter count is checked before anything is allocated (an allocation of 17 GB aborted `fit`, `bench-model` and
/// the worker).
@Suite("MLP size limit")
struct MLPSizeTests {
    @Test("the parameter count is weights plus biases, layer by layer, and nil on overflow")
    func count() {
        // 3 → 3 → 64 → 1: 3·3+3 + 3·64+64 + 64·1+1.
        #expect(MLP.parameterCount(inputWidth: 3, hiddenSizes: nil) == 12 + 256 + 65)
        #expect(MLP.parameterCount(inputWidth: 3, hiddenSizes: [4]) == 16 + 5)
        #expect(MLP.parameterCount(inputWidth: 3, hiddenSizes: nil) == MLP(inputWidth: 3, seed: 1).parameterCount)
        #expect(MLP.parameterCount(inputWidth: Int.max / 2, hiddenSizes: [4]) == nil)
    }

    @Test(
        "a model over the limit is named with its widths and count; the seed's at the largest width in use is not",
        arguments: [(65_536, nil as [Int]?), (2, [65_536, 65_536]), (8_000, nil)])
    func tooLarge(width: Int, hidden: [Int]?) throws {
        let problem = try #require(MLP.sizeProblem(inputWidth: width, hiddenSizes: hidden))
        #expect(problem.contains("\(width) → ") && problem.contains("more than the 50000000"), "\(problem)")
    }

    @Test("models that RecPool builds today pass")
    func withinLimit() {
        #expect(MLP.sizeProblem(inputWidth: 640, hiddenSizes: nil) == nil)
        #expect(MLP.sizeProblem(inputWidth: 7_000, hiddenSizes: nil) == nil)
        #expect(MLP.sizeProblem(inputWidth: 106, hiddenSizes: [4096, 4096]) == nil)
    }
}
