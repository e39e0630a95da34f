import RecData
import RecModel
import RecWire

/// Validation metrics of a model, as a `RoundReport.metrics` dictionary.
public enum ValidationMetrics {
    /// `val_loss` (the trainer's binary cross-entropy), `auc`, `pr_auc`, `accuracy`, `log_loss` and `val_rows`
    /// on the validation split, the constant predictor's figures (`train_click_rate`, `constant_log_loss`, and
    /// `beats_constant`: 1 when `log_loss` is below `constant_log_loss`, else 0; also 0 without validation rows when the
    /// training labels are all alike, as nothing could be learnt); with cold flags, the same suffixed
    /// `_cold` and `_warm` per segment (all undefined for a segment with no row).
    /// A figure that is undefined on these rows (an AUC with one class, a PR-AUC without a click, a value that is
    /// not finite) keeps its key with the value nil (`null` in JSON, `undefined` in text), as `recpool fit` and
    /// `recpool eval` report it; an empty split gives `val_rows` 0 and every other key with no value (and, with cold
    /// flags, `val_rows_cold` and `val_rows_warm` 0), as docs/TRAINING.md says.
    public static func compute(model: MLP, split: TrainingSplit) -> MetricValues {
        let validation = split.validation
        var out: MetricValues = ["val_rows": Double(validation.count)]
        guard validation.count > 0 else {
            // No validation row: every figure of those rows is undefined, and listed with no value (`out[k] = nil`
            // would remove it). The training click rate is the training rows' and stays defined while there are any.
            for name in ["val_loss", "constant_log_loss", "beats_constant"] + segmentFigures {
                out.updateValue(nil, forKey: name)
            }
            let trainingRows = split.train.count
            let rate = trainingRows > 0 ? Double(split.train.targets.reduce(0, +)) / Double(trainingRows) : nil
            out.updateValue(rate.flatMap { $0.isFinite ? $0 : nil }, forKey: "train_click_rate")
            // Training labels all alike leave nothing to learn whatever rows the model is judged on: `beats_constant`
            // is 0 then, as with validation rows, so `recpool job` says so (it said nothing without validation rows).
            if ConstantBaseline.nothingToLearn(trainingLabels: split.train.targets.map(Double.init)) != nil {
                out["beats_constant"] = 0
            }
            if split.validationCold != nil {
                for suffix in ["_cold", "_warm"] {
                    out["val_rows" + suffix] = 0
                    for name in segmentFigures { out.updateValue(nil, forKey: name + suffix) }
                }
            }
            return out
        }
        let trainer = MLPTrainer(model: model)
        let probabilities = model.predict(validation.inputs)
        out["val_loss"] = Double(trainer.evaluateLoss(validation))
        add(probabilities, validation.targets, suffix: "", to: &out)
        // The constant predictor (the training click rate) on the same rows: a model must beat its log-loss.
        let constant = ConstantBaseline(
            trainingLabels: split.train.targets.map(Double.init), labels: validation.targets.map(Double.init),
            scores: probabilities.map(Double.init))
        out["train_click_rate"] = constant.clickRate
        out["constant_log_loss"] = constant.logLoss
        out["beats_constant"] = constant.beatsConstant ? 1 : 0
        if let cold = split.validationCold, cold.count == validation.count {
            for (suffix, wanted) in [("_cold", true), ("_warm", false)] {
                let rows = cold.indices.filter { cold[$0] == wanted }
                out["val_rows" + suffix] = Double(rows.count)
                guard !rows.isEmpty else {
                    // No row of this segment: its figures are undefined, listed with no value.
                    for name in segmentFigures {
                        out.updateValue(nil, forKey: name + suffix)
                    }
                    continue
                }
                add(rows.map { probabilities[$0] }, rows.map { validation.targets[$0] }, suffix: suffix, to: &out)
            }
        }
        return out.mapValues { $0.flatMap { $0.isFinite ? $0 : nil } }
    }

    /// The figures computed per segment (with no suffix, `_cold` and `_warm`).
    static let segmentFigures = ["auc", "pr_auc", "accuracy", "log_loss"]

    private static func add(_ p: [Float], _ y: [Float], suffix: String, to out: inout MetricValues) {
        let m = ClassificationMetrics(labels: y.map(Double.init), scores: p.map(Double.init))
        // An AUC with one class is undefined: the key stays, with no value (`out[k] = nil` would remove it).
        out.updateValue(m.rocAUC, forKey: "auc" + suffix)
        // At OBD's click rates accuracy at 0.5 is the share of non-clicks; PR-AUC says how well clicks rank.
        out.updateValue(m.averagePrecision, forKey: "pr_auc" + suffix)
        out["accuracy" + suffix] = m.accuracy
        out["log_loss" + suffix] = m.logLoss
    }
}
