import RecData
import RecModel

/// Validation metrics of a model, as a `RoundReport.metrics` dictionary.
public enum ValidationMetrics {
    /// `val_loss` (the trainer's binary cross-entropy), `auc`, `pr_auc`, `accuracy`, `log_loss` and `val_rows`
    /// on the validation split, the constant predictor's figures (`train_click_rate`, `constant_log_loss`, and
    /// `beats_constant`: 1 when `log_loss` is below `constant_log_loss`, else 0); with cold flags, the same suffixed `_cold` and `_warm` per segment.
    /// Non-finite values are left out (JSON cannot carry them); an empty split gives only `val_rows`.
    public static func compute(model: MLP, split: TrainingSplit) -> [String: Double] {
        let validation = split.validation
        var out: [String: Double] = ["val_rows": Double(validation.count)]
        guard validation.count > 0 else { return out }
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
                guard !rows.isEmpty else { continue }
                add(rows.map { probabilities[$0] }, rows.map { validation.targets[$0] }, suffix: suffix, to: &out)
            }
        }
        return out.filter { $0.value.isFinite }
    }

    private static func add(_ p: [Float], _ y: [Float], suffix: String, to out: inout [String: Double]) {
        let m = ClassificationMetrics(labels: y.map(Double.init), scores: p.map(Double.init))
        // An AUC with one class is undefined and left out, like a non-finite value.
        if let auc = m.rocAUC { out["auc" + suffix] = auc }
        // At OBD's click rates accuracy at 0.5 is the share of non-clicks; PR-AUC says how well clicks rank.
        if let ap = m.averagePrecision { out["pr_auc" + suffix] = ap }
        out["accuracy" + suffix] = m.accuracy
        out["log_loss" + suffix] = m.logLoss
    }
}
