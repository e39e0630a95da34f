import RecWire

/// Runs one replica's share of a training round on the compute thread, through ``RoundExecutor``,
/// with the worker's dataset cache.
struct RoundTrainer: Sendable {
    /// Whether this build can run training rounds (and so advertises TRAIN_ROUND).
    static let canTrain = true

    private let cache = TrainingCache()

    func run(assignment: RoundAssignment, state: [UInt8], dataset: [UInt8]?, catalogue: [UInt8]?) -> (RoundReport, [UInt8]) {
        let (report, body) = RoundExecutor.run(
            assignment: assignment, state: state, dataset: dataset, catalogue: catalogue, cache: cache)
        return (report, body)
    }
}
