import RecWire

extension JobView {
    /// The warning `recpool job` prints beside a job whose `beats_constant` is 0, worded as `recpool fit` words it, or
    /// nil when it is not 0: there was nothing to learn (every training label alike, by `train_click_rate`), the
    /// comparison cannot tell (validation rows of one label, which leave `auc` undefined: a key with no value), or the
    /// model does not beat the constant predictor.
    ///
    /// "Does not beat" beside a model log-loss below the constant's, on validation rows of one label, contradicted the
    /// job's own figures.
    public var constantWarning: String? {
        guard let metrics, metrics["beats_constant"] == 0 else { return nil }
        let rate = metrics["train_click_rate"] ?? nil
        if let which = Self.nothingToLearn(trainClickRate: rate) {
            return "warning: the model cannot beat the constant predictor: \(which), so there was nothing to learn"
        }
        let rows = (metrics["val_rows"] ?? nil) ?? 0
        if rows > 0, metrics.keys.contains("auc"), (metrics["auc"] ?? nil) == nil {
            return "warning: cannot tell whether the model beats the constant predictor: the validation rows hold one "
                + "label only (a model that scores that label everywhere, having learnt nothing, has the lowest log-loss "
                + "there)"
        }
        // Both label sets vary (a click rate strictly between 0 and 1, an AUC defined) and the model's log-loss is
        // below the constant's, yet it does not beat it: its scores are all alike (`ConstantBaseline.scoresVary`).
        let logLoss = metrics["log_loss"] ?? nil, constant = metrics["constant_log_loss"] ?? nil
        if let rate, rate > 0, rate < 1, let auc = metrics["auc"] ?? nil, auc.isFinite, let logLoss, let constant,
            logLoss < constant * (1 - 1e-6)
        {
            return "warning: the model does not beat the constant predictor: it scores every validation row alike, so "
                + "it is a constant predictor itself and has learnt nothing from the features, whatever its log-loss"
        }
        return "warning: the model does not beat the constant predictor (the training click rate) on validation log-loss"
    }

    /// The text of a `beats_constant` verdict stored as a number: `yes` for 1, `no` for 0, and for a 0 whose training
    /// labels were all alike (`train_click_rate` 0 or 1 among `metrics`) `no (nothing to learn: …)`, which is 0 with or
    /// without validation rows, or whose validation rows hold one label (`auc` present and undefined)
    /// `no (cannot tell: …)`; nil for any other value (not a verdict).
    ///
    /// A bare "no" beside `log_loss=undefined (no validation rows)` read as a comparison lost, where there was nothing
    /// to compare.
    public static func constantVerdict(_ value: Double, among metrics: [String: Double?]) -> String? {
        switch value {
        case 1: return "yes"
        case 0:
            if let which = nothingToLearn(trainClickRate: metrics["train_click_rate"] ?? nil) {
                return "no (nothing to learn: \(which))"
            }
            // Validation rows of one label (their AUC a key with no value): the verdict is 0 though the model's
            // log-loss may be far below the constant's, which a bare "no" beside both figures contradicted.
            let rows = (metrics["val_rows"] ?? nil) ?? 0
            if rows > 0, metrics.keys.contains("auc"), (metrics["auc"] ?? nil) == nil {
                return "no (cannot tell: the validation rows hold one label)"
            }
            return "no"
        default: return nil
        }
    }

    /// Why a training click rate of 0 or 1 left nothing to learn, or nil for any other rate.
    static func nothingToLearn(trainClickRate rate: Double?) -> String? {
        rate == 0 ? "no training row has a click" : rate == 1 ? "every training row has a click" : nil
    }
}
