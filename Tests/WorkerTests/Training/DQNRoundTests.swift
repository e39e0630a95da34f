import Foundation
import RecModel
import RecWire
import Testing
import Worker

@Suite("DQN rounds")
struct DQNRoundTests {
    static let spec = TrainJobSpec(
        model: "dqn", dataset: "synthetic:users=60,items=5,seed=3", epochs: 1, batch: 8, lr: 0.001, hidden: [16],
        workers: 2, syncEvery: 20, seed: 9, validation: 0)

    func round(
        _ r: Int, shard: Int, from: Int, state: [UInt8], cache: TrainingCache, evaluate: Bool = false,
        finalize: Bool = false
    ) -> (report: RoundReport, body: [UInt8]) {
        let a = TrainingFixtures.assignment(
            Self.spec, round: r, shard: shard, shards: 2, fromStep: from, steps: finalize ? 0 : 20, state: state,
            evaluate: evaluate, finalize: finalize, included: false)
        return RoundExecutor.run(assignment: a, state: state, dataset: nil, cache: cache)
    }

    @Test("Two replicas act in their own simulators, average to one state, and resume from it identically")
    func replicasAverage() throws {
        let workers = [TrainingCache(), TrainingCache()]
        let first = [0, 1].map { round(1, shard: $0, from: 0, state: [], cache: workers[$0]) }
        for r in first { #expect(r.report.error == nil, "\(r.report.error ?? "")") }
        #expect(first.map(\.report.samples) == [20, 20])
        #expect(first.map(\.report.totalSteps) == [60, 60])
        #expect(first[0].body != first[1].body)  // different environments, different experience

        // The same shard on another worker with no cached replica computes the same bytes.
        #expect(round(1, shard: 1, from: 0, state: [], cache: TrainingCache()).body == first[1].body)

        let average = try TrainingFixtures.average(first)
        let second = [0, 1].map { round(2, shard: $0, from: 20, state: average, cache: workers[$0], evaluate: true) }
        #expect(second[0].report.receivedStateSHA == sha256Hex(average))
        #expect(second[1].report.receivedStateSHA == sha256Hex(average))
        let metrics = try #require(second[0].report.metrics)
        #expect(metrics == second[1].report.metrics)  // same averaged network, same evaluation episodes
        #expect(metrics["ctr"] != nil && metrics["reward"] != nil)
        #expect(second.map(\.report.step) == [40, 40])
        #expect(second.allSatisfy { ($0.report.loss ?? 0) > 0 })  // the replay buffers filled: gradient steps ran

        let final = round(
            3, shard: 0, from: 40, state: try TrainingFixtures.average(second), cache: workers[0], finalize: true)
        let checkpoint = try Checkpoint(decoding: final.body)
        guard case .dqn(let model) = checkpoint.model else {
            Issue.record("not a DQN checkpoint")
            return
        }
        #expect(model.network.network.outputWidth == 5)
    }

    @Test("a round with no gradient step (the replay buffer below a batch) reports no loss, null on the wire, not 0")
    func noGradientStepNoLoss() throws {
        // Learning starts once the buffer holds a batch (8 transitions): a 5-step round takes no gradient step.
        let a = TrainingFixtures.assignment(
            Self.spec, round: 1, shard: 0, shards: 2, fromStep: 0, steps: 5, state: [], evaluate: false,
            finalize: false, included: false)
        let result = RoundExecutor.run(assignment: a, state: [], dataset: nil, cache: TrainingCache())
        #expect(result.report.error == nil && result.report.samples == 5 && !result.body.isEmpty)
        #expect(result.report.loss == nil)
        #expect(result.report.problem == nil)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(WireJSON.encode(result.report))) as? [String: Any])
        #expect(object.keys.contains("loss") && object["loss"] is NSNull)
        #expect(try WireJSON.decode(RoundReport.self, from: WireJSON.encode(result.report)) == result.report)
        // The next round on the same replica crosses the batch: gradient steps run and a loss is measured.
        let next = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(
                Self.spec, round: 2, shard: 0, shards: 2, fromStep: 5, steps: 20, state: result.body, evaluate: false,
                finalize: false, included: false),
            state: result.body, dataset: nil, cache: TrainingCache())
        #expect(next.report.error == nil && (next.report.loss ?? -1) > 0)
    }
}
