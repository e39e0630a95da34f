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

    /// `--gamma 0.999999999` passed the check on the Double and trained and stored γ = 1.0 (a 32-bit float).
    @Test("a γ that is 1 as a 32-bit float is refused, naming the rounding", arguments: [0.999999999, 0.99999999])
    func gammaRoundingToOne(gamma: Double) {
        var spec = TrainJobSpec(model: "dqn", dataset: "synthetic:users=100")
        spec.gamma = gamma
        #expect(spec.problem?.contains("rounds to 1") == true, "\(spec.problem ?? "nil")")
        spec.gamma = Double(Float(1).nextDown)
        #expect(spec.problem == nil)
        spec.gamma = 1
        #expect(spec.problem == "gamma must be in [0, 1)")
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

    /// `"hidden": []` was refused as "hidden sizes must be 1…65536", naming no size out of range.
    @Test("an empty hidden list is refused as empty; a width out of range is named")
    func hiddenEmptyOrOutOfRange() {
        let empty = TrainJobSpec(dataset: "synthetic:users=100", hidden: []).problem
        #expect(empty?.hasPrefix("hidden lists no layer") == true, "\(empty ?? "nil")")
        #expect(TrainJobSpec(dataset: "synthetic:users=100", hidden: [64, 0]).problem == "hidden sizes must be 1…65536, not 0")
        #expect(TrainJobSpec(dataset: "synthetic:users=100", hidden: [65_537]).problem == "hidden sizes must be 1…65536, not 65537")
    }

    /// A faulty worker's `"metrics": {}` was stored as the round's metrics and printed by `recpool job --json` as `{}`.
    @Test("a round report whose metrics are an empty object is invalid; null and named figures are not")
    func emptyRoundMetrics() {
        func report(_ metrics: MetricValues?) -> RoundReport {
            RoundReport(
                job: "job-1", round: 2, shard: 0, samples: 64, loss: 0.5, receivedStateSHA: "cafe", metrics: metrics,
                epoch: 1, step: 10, totalSteps: 30, datasetSHA: "ab", error: nil)
        }
        #expect(report([:]).problem?.hasPrefix("metrics is an empty object") == true)
        #expect(report(nil).problem == nil)
        #expect(report(["val_rows": 10, "auc": nil]).problem == nil)
    }

    /// `recpool train --hidden 65536,65536` was accepted and failed on the worker ("model larger than 50000000
    /// parameters"): a model larger than any worker builds, whatever the dataset's width, is refused at submission.
    @Test("hidden layers too large for any dataset's width are refused naming the smallest count")
    func hiddenTooLarge() {
        let spec = TrainJobSpec(dataset: "synthetic:users=100", hidden: [65_536, 65_536])
        let expected = 65_536 + 65_536 + 65_536 * 65_536 + 65_536 + 65_536 + 1
        #expect(TrainJobSpec.minimumParameters(hidden: [65_536, 65_536]) == expected)
        #expect(
            spec.problem == "hidden 65536,65536 makes a model of at least \(expected) parameters (with a single input "
                + "feature), more than the 50000000 RecPool builds")
        #expect(TrainJobSpec(dataset: "synthetic:users=100", hidden: [8_000, 8_000]).problem?.hasPrefix("hidden 8000,8000") == true)
        #expect(TrainJobSpec(dataset: "synthetic:users=100", hidden: [7_000, 7_000]).problem == nil)
    }

    /// A round error that is not about missing files was blamed on them, and the dataset sent again.
    @Test("only the not-cached error reads as missing files")
    func missingFilesClassification() {
        #expect(RoundReport.isMissingFiles("unknown dataset: sha256:ab is not cached on this worker (never sent, or dropped)"))
        #expect(!RoundReport.isMissingFiles("invalid assignment: the model for width 3 is larger than 50000000 parameters"))
        #expect(!RoundReport.isMissingFiles("bad dataset: sha256:ab: no \"p\" column in the header"))
        #expect(!RoundReport.isMissingFiles("training diverged: loss is nan"))
    }
}
