import RecModel
import RecWire
import Testing
@testable import Worker

@Suite("Local SGD rounds")
struct LocalSGDEquivalenceTests {
    @Test(
        "One replica in rounds of H steps, through the pack and the broker's mean, equals fit bit for bit",
        arguments: [1, 7, 50, 1000])
    func singleReplicaMatchesFit(h: Int) throws {
        let spec = TrainingFixtures.spec(syncEvery: h)
        let cache = TrainingCache()
        var state: [UInt8] = []
        var step = 0
        var round = 1
        var samples = 0
        var total = -1
        while total < 0 || step < total {
            let a = TrainingFixtures.assignment(
                spec, round: round, fromStep: step, steps: h, state: state, evaluate: true, included: round == 1)
            let result = RoundExecutor.run(
                assignment: a, state: state, dataset: round == 1 ? TrainingFixtures.bytes : nil, cache: cache)
            #expect(result.report.error == nil)
            #expect(result.report.receivedStateSHA == sha256Hex(state))
            #expect(result.report.metrics?["val_loss"] != nil)  // evaluating must not disturb training
            state = try TrainingFixtures.average([result])
            total = result.report.totalSteps
            samples += result.report.samples
            #expect(result.report.step == min(step + h, total))
            step = result.report.step
            round += 1
        }
        let reference = try TrainingFixtures.reference(spec)
        let trained = try ParameterPack(decoding: state)
        #expect(trained["params"] == reference.model.flatParameters)
        #expect(trained["adam.m"] == reference.state.firstMoment)
        #expect(trained["adam.v"] == reference.state.secondMoment)
        #expect(trained.step == UInt64(reference.state.step))
        #expect(total == 3 * 11)  // 203 rows, 40 validate, 163 train: ⌈163/16⌉ = 11 steps per epoch
        #expect(samples == 3 * 163)

        let final = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(
                spec, round: round, fromStep: step, steps: 0, state: state, finalize: true, included: false),
            state: state, dataset: nil, cache: cache)
        #expect(final.report.error == nil)
        let checkpoint = try Checkpoint(decoding: final.body)
        #expect(checkpoint.model == .mlp(reference.model))
        #expect(checkpoint.metadata["job"] == "job-1")
        // The round whose state it holds: the last one here (restore_best may send an earlier round's state).
        #expect(checkpoint.metadata["weights_round"] == "\(round - 1)")
        #expect(checkpoint.metadata["adam_step"] == "\(total)")
        let metrics = try #require(final.report.metrics)
        for key in ["val_loss", "auc", "accuracy", "log_loss"] { #expect(metrics[key] != nil, "missing \(key)") }
        #expect(try #require(metrics["auc"] ?? nil) > 0.8)
        let loss = try #require(metrics["val_loss"] ?? nil)
        #expect(abs(loss - Double(reference.evaluateLoss(splitValidation(spec)))) < 1e-6)
    }

    @Test("the round of a replica's step count: the starting state is round 0, a short last round counts as one")
    func roundOfStep() {
        #expect(RoundExecutor.round(ofStep: 0, syncEvery: 7) == 0)
        #expect(RoundExecutor.round(ofStep: 7, syncEvery: 7) == 1)
        #expect(RoundExecutor.round(ofStep: 8, syncEvery: 7) == 2)
        #expect(RoundExecutor.round(ofStep: 33, syncEvery: 1000) == 1)
        #expect(RoundExecutor.round(ofStep: 33, syncEvery: 1) == 33)
    }

    @Test("Two shards averaged once give every replica the same bytes, and the next round sees the same SHA")
    func twoShardsAverageIdentically() throws {
        let spec = TrainingFixtures.spec(workers: 2)
        let results = [0, 1].map { shard in
            RoundExecutor.run(
                assignment: TrainingFixtures.assignment(spec, shard: shard, shards: 2, steps: 7),
                state: [], dataset: TrainingFixtures.bytes, cache: TrainingCache())
        }
        #expect(results.allSatisfy { $0.report.error == nil })
        #expect(results[0].body != results[1].body)  // different rows, different packs
        #expect(results.map(\.report.samples) == [82 + 16, 81 + 16])  // a whole epoch (6 steps), then one batch
        #expect(results.map(\.report.totalSteps) == [3 * 6, 3 * 6])  // 82 and 81 rows
        let average = try TrainingFixtures.average(results)
        #expect(try TrainingFixtures.average(results) == average)  // any broker replica computes the same mean
        let second = [0, 1].map { shard in
            RoundExecutor.run(
                assignment: TrainingFixtures.assignment(
                    spec, round: 2, shard: shard, shards: 2, fromStep: 7, steps: 7, state: average, evaluate: true),
                state: average, dataset: TrainingFixtures.bytes, cache: TrainingCache())
        }
        #expect(second[0].report.receivedStateSHA == sha256Hex(average))
        #expect(second[0].report.receivedStateSHA == second[1].report.receivedStateSHA)
        #expect(second[0].report.metrics == second[1].report.metrics)  // same state, same validation rows
        let pack = try ParameterPack(decoding: average)
        #expect(pack.step == 7)
    }

    @Test(
        "A shard's round is a pure function: fresh or warm caches, any process, the same bytes", arguments: [0, 1, 2])
    func roundIsPure(shard: Int) throws {
        let spec = TrainingFixtures.spec(workers: 3)
        let warm = TrainingCache()
        _ = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, shard: (shard + 1) % 3, shards: 3, steps: 3),
            state: [], dataset: TrainingFixtures.bytes, cache: warm)
        let a = TrainingFixtures.assignment(spec, shard: shard, shards: 3, fromStep: 2, steps: 9)
        let first = RoundExecutor.run(assignment: a, state: [], dataset: TrainingFixtures.bytes, cache: TrainingCache())
        let second = RoundExecutor.run(assignment: a, state: [], dataset: TrainingFixtures.bytes, cache: warm)
        #expect(first.report.error == nil)
        #expect(first.report == second.report)
        #expect(first.body == second.body)
    }

    @Test("Resuming from step k equals running straight through, across epoch boundaries", arguments: [(0, 1), (1, 2)])
    func resumeEqualsStraightThrough(shard: Int, shards: Int) throws {
        let spec = TrainingFixtures.spec(workers: shards)
        let cache = TrainingCache()
        func round(from: Int, steps: Int, state: [UInt8]) -> (report: RoundReport, body: [UInt8]) {
            RoundExecutor.run(
                assignment: TrainingFixtures.assignment(
                    spec, shard: shard, shards: shards, fromStep: from, steps: steps, state: state),
                state: state, dataset: TrainingFixtures.bytes, cache: cache)
        }
        let straight = round(from: 0, steps: 30, state: [])
        let first = round(from: 0, steps: 13, state: [])
        let rest = round(from: 13, steps: 17, state: first.body)
        #expect(straight.report.error == nil && rest.report.error == nil)
        #expect(rest.body == straight.body)
        #expect(rest.report.step == straight.report.step)
        #expect(first.report.samples + rest.report.samples == straight.report.samples)
    }

    /// The validation rows `fit` holds out.
    func splitValidation(_ spec: TrainJobSpec) -> LabeledData {
        TrainingSplit(
            data: try! NumericCSV.parse(
                String(decoding: TrainingFixtures.bytes, as: UTF8.self), path: "x", headerRequired: true
            )
            .labeledData(),
            validationFraction: spec.validation, seed: spec.seed
        ).validation
    }
}
