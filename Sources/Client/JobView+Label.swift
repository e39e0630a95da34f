import Foundation
import RecWire

extension JobView {
    /// What a completed job's metrics describe: the last round's state, or (restore_best) an earlier round's, the one
    /// whose stored metrics they are (the last round then keeps its own, on its line).
    public var registeredModelLabel: String {
        guard let rounds = rounds, let last = rounds.last else { return "validation of the registered model:" }
        if last.metrics == metrics { return "validation of the final model (= last round's):" }
        if let best = rounds.last(where: { $0.metrics == metrics }) {
            // A round that validated better than the registered state: its stored state could not be read when the
            // job resumed (damaged, quarantined), so the best readable one was registered. Said so, never "best".
            func loss(_ metrics: MetricValues?) -> Double? { (metrics?["val_loss"] ?? nil).flatMap { $0.isFinite ? $0 : nil } }
            if let registered = loss(metrics),
                let better = rounds.filter({ (loss($0.metrics) ?? .infinity) < registered }).min(by: {
                    (loss($0.metrics) ?? .infinity, $0.round) < (loss($1.metrics) ?? .infinity, $1.round)
                })
            {
                return "validation of the registered model (the state after round \(best.round); round \(better.round) "
                    + "validated better, val_loss \(String(format: "%.5f", loss(better.metrics) ?? 0)), but its stored state "
                    + "could not be read when the job resumed (the broker's log names it), so the best state left was "
                    + "registered):"
            }
            return "validation of the registered model (the state after round \(best.round), which validated best; "
                + "the checkpoint is that state, not the last round's):"
        }
        return "validation of the registered model (an earlier round's state, which validated best):"
    }

    /// What a job's metrics describe, as `recpool job` labels them: the registered model's (``registeredModelLabel``)
    /// once it has a version, else the newest round measured (`validation (the state after round 10):`, named when the
    /// rounds are listed: beside `round 11/113` the figures are round 10's), else `validation:`.
    public var metricsLabel: String {
        if modelVersion != nil { return registeredModelLabel }
        guard let round = rounds?.last(where: { $0.metrics != nil && $0.metrics == metrics })?.round else {
            return "validation:"
        }
        return "validation (the state after round \(round)):"
    }
}
