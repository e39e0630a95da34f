import Foundation
import RecModel

/// The constant predictor a click model must beat: every row scored with the training click rate (held within
/// [1e-6, 1 − 1e-6], and rounded as the model started at it scores every row: ``MLPTrainer/startingScore(clickRate:)``).
/// A model whose validation log-loss is not below this one's has learnt nothing the click rate does not already say.
///
/// Log-loss is scikit-learn's `log_loss` (``ClassificationMetrics/logLoss(labels:scores:)``), so the two figures are
/// comparable with every other log-loss RecPool prints.
public struct ConstantBaseline: Sendable, Codable, Equatable {
    /// The training rows' click rate `Σ y / n` (the constant's score), in [0, 1].
    public var clickRate: Double
    /// The constant's log-loss on the validation rows.
    public var logLoss: Double
    /// The model's log-loss on the same rows.
    public var modelLogLoss: Double
    /// Whether the model's log-loss is below the constant's by more than ``tieTolerance`` of it: a model that scores
    /// the click rate itself (a checkpoint that kept its starting weights, whose Float32 sigmoid rounds the rate) ties.
    public var beatsConstant: Bool
    /// Whether the training labels vary (at least two distinct values: a click and a row without one). Labels all
    /// alike (no click, or every row clicked) teach a model nothing the constant does not already say, so
    /// ``beatsConstant`` is false then whatever the log-losses are: on validation rows of the same one label, a model
    /// whose bias kept drifting past the constant held within [1e-6, 1 − 1e-6] scored a lower log-loss than it,
    /// having learnt nothing.
    public var trainingLabelsVary: Bool
    /// Whether the validation labels vary. On validation rows of one label (no click among them) a model pushed towards
    /// that label scores a lower log-loss than the constant without having learnt anything (a diverged model scoring 0
    /// everywhere had log-loss 0 and was reported to beat it), so ``beatsConstant`` is false then and ``text`` says the
    /// comparison cannot tell.
    public var validationLabelsVary: Bool
    /// Whether the model's validation scores vary (at least two distinct values). A model that scores every row alike
    /// is itself a constant predictor: a dead network (`--hidden 1,1,1` whose units never fire) that happened to output
    /// a rate nearer the validation rows' than the training rate's "beat" the constant, having learnt nothing, so
    /// ``beatsConstant`` is false then and ``text`` says why. Decoded as true from a document written before it.
    public var scoresVary: Bool

    /// The relative margin below which two log-losses tie (1e-6: far above Float32 rounding of a rate's score, far
    /// below any difference a model makes).
    public static let tieTolerance = 1e-6

    /// Scores the constant on `labels` and compares it with the model's `scores` on the same rows.
    /// - Parameters:
    ///   - trainingLabels: 0/1 labels of the training rows (the constant is their mean; 0 rows give 0).
    ///   - labels: 0/1 labels of the validation rows.
    ///   - scores: the model's click probability for each validation row.
    public init(trainingLabels: [Double], labels: [Double], scores: [Double]) {
        let rate = trainingLabels.isEmpty ? 0 : trainingLabels.reduce(0, +) / Double(trainingLabels.count)
        clickRate = rate
        // The constant the model starts from (the rate within [1e-6, 1 − 1e-6]): scored unclamped, a training part
        // with no click gave the constant a log-loss of 34.5 per click, and the starting weights "beat" it.
        let constant = MLPTrainer.startingScore(clickRate: rate)
        logLoss = ClassificationMetrics.logLoss(labels: labels, scores: Array(repeating: constant, count: labels.count))
        modelLogLoss = ClassificationMetrics.logLoss(labels: labels, scores: scores)
        trainingLabelsVary = trainingLabels.contains { $0 != trainingLabels.first }
        validationLabelsVary = labels.contains { $0 != labels.first }
        scoresVary = scores.contains { $0 != scores.first }
        beatsConstant =
            trainingLabelsVary && validationLabelsVary && scoresVary
            && modelLogLoss < logLoss * (1 - Self.tieTolerance)
    }

    private enum CodingKeys: String, CodingKey {
        case clickRate, logLoss, modelLogLoss, beatsConstant, trainingLabelsVary, validationLabelsVary, scoresVary
    }

    /// Decodes; `scoresVary` absent (a document from before it) reads as true.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clickRate = try c.decode(Double.self, forKey: .clickRate)
        logLoss = try c.decode(Double.self, forKey: .logLoss)
        modelLogLoss = try c.decode(Double.self, forKey: .modelLogLoss)
        beatsConstant = try c.decode(Bool.self, forKey: .beatsConstant)
        trainingLabelsVary = try c.decode(Bool.self, forKey: .trainingLabelsVary)
        validationLabelsVary = try c.decode(Bool.self, forKey: .validationLabelsVary)
        scoresVary = try c.decodeIfPresent(Bool.self, forKey: .scoresVary) ?? true
    }

    /// One line for people: both log-losses, and a warning when the model does not beat the constant.
    ///
    /// The two log-losses are printed with as many decimals as it takes to tell them apart (4 at least, 12 at most):
    /// at 4, a model 2e-6 below the constant and one that ties it both printed `0.6689 vs 0.6689`, under opposite
    /// verdicts.
    public var text: String {
        let (model, constant) = Self.formatApart(modelLogLoss, logLoss)
        let figures =
            "validation log-loss \(model) vs \(constant) for the constant predictor "
            + "(the training click rate \(Self.format(clickRate)))"
        if let nothing = Self.nothingToLearn(clickRate: clickRate, labelsVary: trainingLabelsVary) {
            return nothing + ": " + figures
        }
        if !validationLabelsVary {
            return "warning: cannot tell whether the model beats the constant predictor: the validation rows hold "
                + "\(modelLogLoss.isFinite && logLoss.isFinite ? "one label only" : "no rows to compare") (a model that scores "
                + "that label everywhere, having learnt nothing, has the lowest log-loss there): \(figures)"
        }
        if !scoresVary {
            return "warning: the model does not beat the constant predictor: it scores every validation row alike, "
                + "so it is a constant predictor itself and has learnt nothing from the features: \(figures)"
        }
        return beatsConstant
            ? "beats the constant predictor: \(figures)"
            : "warning: the model does not beat the constant predictor: \(figures)"
    }

    /// The warning for training labels all alike, whatever rows a model is validated on (also none), or nil when
    /// they vary: `warning: the model cannot beat the constant predictor: no training row has a click, so there was
    /// nothing to learn`.
    /// - Parameter trainingLabels: the training rows' 0/1 labels (none: nil, there is nothing to say of them).
    public static func nothingToLearn(trainingLabels: [Double]) -> String? {
        guard let first = trainingLabels.first else { return nil }
        let vary = trainingLabels.contains { $0 != first }
        return nothingToLearn(clickRate: trainingLabels.reduce(0, +) / Double(trainingLabels.count), labelsVary: vary)
    }

    static func nothingToLearn(clickRate: Double, labelsVary: Bool) -> String? {
        guard !labelsVary else { return nil }
        let which =
            clickRate == 0 ? "no training row has a click" : clickRate == 1 ? "every training row has a click"
            : "every training row has the label \(Self.format(clickRate))"
        return "warning: the model cannot beat the constant predictor: \(which), so there was nothing to learn"
    }

    static func format(_ x: Double) -> String {
        x.isFinite ? String(format: "%.4f", x) : "n/a"
    }

    /// `a` and `b` with the fewest decimals from 4 to 12 at which their texts differ; equal values (a tie) at 4, and
    /// values that differ beyond the 12th decimal at 12.
    static func formatApart(_ a: Double, _ b: Double) -> (String, String) {
        guard a.isFinite, b.isFinite else { return (format(a), format(b)) }
        var digits = 4
        while digits < 12, String(format: "%.\(digits)f", a) == String(format: "%.\(digits)f", b), a != b { digits += 1 }
        return (String(format: "%.\(digits)f", a), String(format: "%.\(digits)f", b))
    }
}
