import RecModel
import Testing

@testable import RecData

/// eval, data ope --model and export --raw-context read a checkpoint through `CheckpointEvaluation`, which checked the
/// model kind, the spec and the width, but not one output per row (import, predict and export refuse more).
@Suite("Evaluating a checkpoint that is not an interest model")
struct MultiOutputEvaluationTests {
    @Test("an MLP with three outputs per row is refused as not an interest model, naming its outputs")
    func threeOutputs() {
        let mlp = MLP(inputWidth: 2, hiddenSizes: [4], outputWidth: 3, outputActivation: .sigmoid, seed: 1)
        let bytes = Checkpoint(model: .mlp(mlp)).encoded()
        do {
            _ = try CheckpointEvaluation.load(bytes: bytes)
            Issue.record("a 3-output MLP was loaded for evaluation")
        } catch {
            guard case .notAnInterestModel(let kind) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(kind == "3-output MLP")
            #expect(error.description(command: "eval").contains("a 3-output MLP checkpoint cannot be used by eval"))
        }
    }
}
