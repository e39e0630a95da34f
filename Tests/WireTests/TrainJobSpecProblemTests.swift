import Testing

@testable import RecWire

/// A training spec that could only train nothing is refused before it runs.
@Suite("Training specs that could train nothing")
struct TrainJobSpecProblemTests {
    @Test("a learning rate that is 0 as a 32-bit float is refused", arguments: [1e-300, 1e-60, 1e-39])
    func tinyRate(lr: Double) {
        let spec = TrainJobSpec(dataset: "synthetic:users=100", lr: lr)
        #expect(spec.problem?.contains("lr must be at least") == true, "\(spec.problem ?? "nil")")
        #expect(TrainJobSpec(dataset: "synthetic:users=100", lr: 1e-30).problem == nil)
    }

    @Test("a DQN batch larger than its replay buffer is refused: no step could ever run")
    func replaySmallerThanBatch() {
        var spec = TrainJobSpec(model: "dqn", dataset: "synthetic:users=100", batch: 65_536)
        #expect(spec.problem?.contains("larger than the replay buffer") == true, "\(spec.problem ?? "nil")")
        spec.batch = 32
        spec.replayCapacity = 1
        #expect(spec.problem?.contains("replay_capacity 1") == true)
        spec.replayCapacity = 32
        #expect(spec.problem == nil)
        // An MLP's batch is not bounded by a replay buffer.
        #expect(TrainJobSpec(dataset: "synthetic:users=100", batch: 65_536).problem == nil)
    }
}
