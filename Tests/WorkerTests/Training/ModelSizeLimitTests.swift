import RecModel
import RecWire
import Testing

@testable import Worker

/// The wire's bound on a job's model (checked at submission) and the models' own (checked on the worker) are one.
@Suite("Model size limits")
struct ModelSizeLimitTests {
    @Test("a train spec's parameter bound is the one MLP builds and the worker checks")
    func oneBound() {
        #expect(TrainJobSpec.maximumParameters == MLP.maximumParameters)
        #expect(RoundExecutor.maximumParameters == MLP.maximumParameters)
        // The lower bound the spec checks never exceeds the real count at any width.
        for hidden in [[64], [7_000, 7_000], [1, 65_536]] {
            #expect(
                TrainJobSpec.minimumParameters(hidden: hidden)
                    == MLP.parameterCount(inputWidth: 1, hiddenSizes: hidden))
        }
    }

    /// The worker's error for missing files is the one the broker resends for.
    @Test("the worker's not-cached error reads as missing files to the broker")
    func notCachedIsMissingFiles() {
        #expect(RoundReport.isMissingFiles(RoundExecutor.notCached("sha256:ab").description))
    }
}
