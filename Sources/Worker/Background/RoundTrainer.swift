import Shared

/// Runs one replica's share of a training round. The local-SGD kernel lands with the worker-side
/// training work; until then this worker does not advertise TRAIN_ROUND, so it is never asked.
struct RoundTrainer: Sendable {
    /// Whether this build can run training rounds (and so advertises TRAIN_ROUND).
    static let canTrain = false

    func run(assignment: RoundAssignment, state: [UInt8], dataset: [UInt8]?) -> (RoundReport, [UInt8]) {
        let report = RoundReport(
            job: assignment.job, round: assignment.round, shard: assignment.shard, samples: 0, loss: 0,
            receivedStateSHA: "", metrics: nil, epoch: 0, step: assignment.fromStep, totalSteps: 0, datasetSHA: "",
            error: "this worker build cannot train")
        return (report, [])
    }
}
