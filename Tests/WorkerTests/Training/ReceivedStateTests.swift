import RecModel
import Testing

@testable import Worker

/// A TRAIN_ROUND whose received state held a NaN was reported "training diverged … try a lower learning rate" (the
/// worker never trained), and a final round wrote a checkpoint no reader accepts, with an AUC computed from NaN
/// predictions. A state that is not finite numbers is a bad state, named as one.
@Suite("Training: a received state must be finite")
struct ReceivedStateTests {
    @Test("a NaN or infinity in any vector of a received state is a bad state naming the vector and the index")
    func nonFinite() throws {
        let initial = TrainingState.initial(inputWidth: 3, hiddenSizes: [4], seed: 1)
        #expect(throws: Never.self) { try TrainingState(pack: initial.pack, inputWidth: 3, hiddenSizes: [4]) }
        for (vector, value) in [(0, Float.nan), (1, .infinity), (2, -.infinity)] {
            var pack = initial.pack
            pack.vectors[vector].values[7] = value
            let name = pack.vectors[vector].name
            let error = #expect(throws: TrainingError.self) {
                try TrainingState(pack: pack, inputWidth: 3, hiddenSizes: [4])
            }
            #expect(error == .badState("vector \"\(name)\" holds \(value) at index 7: a state is finite numbers"))
        }
    }
}
