import Foundation
import Testing

@testable import RecData
import RecModel

@Suite("The constant predictor a click model must beat")
struct ConstantBaselineTests {
    @Test("the constant is the training click rate, scored with scikit-learn's log-loss on the validation rows")
    func knownAnswer() {
        // (Scores that vary: a model of one score is a constant predictor itself, `ConstantScoreTests`.)
        let better = ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [1, 0], scores: [0.6, 0.4])
        #expect(better.clickRate == 0.25)
        #expect(abs(better.logLoss - (-(log(0.25) + log(0.75)) / 2)) < 1e-12)
        #expect(abs(better.modelLogLoss - -log(0.6)) < 1e-12)
        #expect(better.beatsConstant)
        #expect(better.text.hasPrefix("beats the constant predictor: validation log-loss 0.5108 vs 0.8370"), "\(better.text)")
    }

    @Test("a model no better than the click rate is reported with a warning")
    func warns() {
        let worse = ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [0, 0, 0, 1], scores: [0.9, 0.1, 0.1, 0.1])
        #expect(!worse.beatsConstant)
        #expect(worse.text.hasPrefix("warning: the model does not beat the constant predictor"))
        let same = ConstantBaseline(trainingLabels: [1, 0], labels: [1, 0], scores: [0.5, 0.5])
        #expect(!same.beatsConstant, "equal is not better")
        // The click rate scored in Float32 (as a checkpoint at its starting weights scores it) ties, whichever way
        // the rounding falls.
        let labels = (0..<1000).map { $0 % 240 == 0 ? 1.0 : 0.0 }
        let rate = 1.0 / 240
        for nudge in [-1.0, 1.0] {
            let rounded = Double(Float(rate).nextUp) + nudge * 1e-9
            let tie = ConstantBaseline(
                trainingLabels: (0..<240).map { $0 == 0 ? 1 : 0 }, labels: labels,
                scores: [Double](repeating: rounded, count: labels.count))
            #expect(!tie.beatsConstant, "\(tie.modelLogLoss) against \(tie.logLoss)")
        }
    }

    /// A training part without a click (or with only clicks): the model starts at the rate held within
    /// [1e-6, 1 − 1e-6], and the baseline scored the unclamped 0 (clipped to 1e-15), so the starting weights "beat"
    /// it, 4.6052 against 11.5129 on 2 clicks in 6 rows.
    @Test("a training part of one label: the model's starting weights tie with the constant, never beat it")
    func oneLabelTrainingPart() {
        let labels: [Double] = [1, 0, 0, 1, 0, 0]
        for training in [[0.0, 0, 0], [1.0, 1, 1], [1.0, 0, 0]] {
            // The scores a model started at the constant gives, from its own forward pass: at a rate of 1 its Float32
            // sigmoid gives 1 − 9.5e-7, not 1 − 1e-6, and the constant scored in Double was 0.3% "better" than the
            // checkpoint that is the constant.
            var trainer = MLPTrainer(model: MLP(inputWidth: 3, seed: 1))
            let started = trainer.startFromConstant(clickRate: training.reduce(0, +) / Double(training.count))
            #expect(started)
            let scores = trainer.model.predict(Matrix(rows: labels.count, cols: 3, values: (0..<18).map { Float($0 % 5) }))
            let baseline = ConstantBaseline(trainingLabels: training, labels: labels, scores: scores.map(Double.init))
            #expect(!baseline.beatsConstant, "\(baseline.text)")
            #expect(baseline.logLoss == baseline.modelLogLoss, "\(baseline.text)")
            #expect(baseline.clickRate == training.reduce(0, +) / 3)
        }
    }

    /// A training part with no click: the model's bias went on falling past the logit of 1e-6 (the constant held
    /// within [1e-6, 1 − 1e-6]), and on validation rows without a click `fit` reported that it beat the constant
    /// (9.4e-7 against 1.0e-6) while warning that it could learn nothing.
    @Test("labels all alike in the training part: never reported as beating the constant, whatever the log-losses")
    func trainingLabelsAlike() {
        let quiet = ConstantBaseline(trainingLabels: [0, 0, 0, 0], labels: [0, 0], scores: [9.4e-7, 9.4e-7])
        #expect(quiet.modelLogLoss < quiet.logLoss * (1 - ConstantBaseline.tieTolerance))
        #expect(!quiet.beatsConstant && !quiet.trainingLabelsVary)
        #expect(quiet.text.hasPrefix("warning: the model cannot beat the constant predictor: no training row has a click"))
        let busy = ConstantBaseline(trainingLabels: [1, 1], labels: [1, 1], scores: [1 - 9e-7, 1 - 9e-7])
        #expect(!busy.beatsConstant && busy.text.contains("every training row has a click"))
        let alike = ConstantBaseline(trainingLabels: [0.25, 0.25], labels: [0, 1], scores: [0.5, 0.5])
        #expect(!alike.beatsConstant && alike.text.contains("every training row has the label 0.2500"))
        let varied = ConstantBaseline(trainingLabels: [0, 1], labels: [0, 1], scores: [0.1, 0.9])
        #expect(varied.beatsConstant && varied.trainingLabelsVary)
    }

    /// Labels in (0, 1) (click probabilities, which MODELS.md allows) counted as 0 or 1 in log-loss while the trainer
    /// and the calibration counted them as themselves.
    /// `fit --lr 1000` on data whose validation part held no click: the diverged model scored 0 everywhere, had
    /// log-loss 0 there, and was reported to beat the constant (0.0000 vs 0.0513), its epoch kept.
    @Test("validation rows of one label cannot tell whether a model beats the constant: never reported as beating it")
    func validationOfOneLabel() {
        let diverged = ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [0, 0, 0], scores: [0, 0, 0])
        #expect(diverged.modelLogLoss < diverged.logLoss && !diverged.validationLabelsVary)
        #expect(!diverged.beatsConstant)
        #expect(diverged.text.hasPrefix("warning: cannot tell whether the model beats the constant predictor"), "\(diverged.text)")
        #expect(ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [1, 0], scores: [0.5, 0.5]).validationLabelsVary)
    }

    @Test("log-loss counts a fractional label as itself, and a 0/1 label exactly as scikit-learn does")
    func softLabels() {
        let soft = ClassificationMetrics.logLoss(labels: [0.3], scores: [0.4])
        #expect(abs(soft - -(0.3 * log(0.4) + 0.7 * log(0.6))) < 1e-15)
        #expect(ClassificationMetrics.logLoss(labels: [1, 0], scores: [0.8, 0.1]) == -(log(0.8) + log(1 - 0.1)) / 2)
        #expect(ClassificationMetrics.logLoss(labels: [1], scores: [0]) == -log(1e-15))
    }

    /// At 4 decimals a model 2e-6 below the constant and one tying it both printed `0.6689 vs 0.6689`, under opposite
    /// verdicts: the figures get the decimals it takes to tell them apart.
    @Test("the two log-losses are printed with enough decimals to differ when they do")
    func decimalsApart() {
        #expect(ConstantBaseline.formatApart(0.66891, 0.66893) == ("0.66891", "0.66893"))
        #expect(ConstantBaseline.formatApart(0.668_912_3, 0.668_914_1) == ("0.668912", "0.668914"))
        #expect(ConstantBaseline.formatApart(0.5, 0.7) == ("0.5000", "0.7000"))
        let tie = ConstantBaseline.formatApart(0.6689, 0.6689)
        #expect(tie.0 == tie.1 && tie.0 == "0.6689")
        #expect(ConstantBaseline.nothingToLearn(trainingLabels: []) == nil)
        #expect(ConstantBaseline.nothingToLearn(trainingLabels: [1, 0]) == nil)
        #expect(ConstantBaseline.nothingToLearn(trainingLabels: [0, 0])?.contains("no training row has a click") == true)
    }
}

/// A model scoring every validation row alike is a constant predictor itself.
@Suite("The constant predictor: a model of one score")
struct ConstantScoreTests {
    /// A helper's job: `--hidden 1,1,1` whose units never fire scored 0.5012 everywhere, nearer the validation rows'
    /// rate than the training rate, and was reported to beat the constant.
    @Test("scores all alike never beat the constant, whatever the log-losses, and the text says why")
    func deadNetwork() throws {
        let dead = ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [1, 0, 1, 0], scores: [0.5, 0.5, 0.5, 0.5])
        #expect(dead.modelLogLoss < dead.logLoss && !dead.scoresVary && !dead.beatsConstant)
        #expect(dead.text.contains("it scores every validation row alike"), "\(dead.text)")
        let varying = ConstantBaseline(trainingLabels: [1, 0, 0, 0], labels: [1, 0, 1, 0], scores: [0.6, 0.4, 0.6, 0.4])
        #expect(varying.scoresVary && varying.beatsConstant)
        // A document written before the field reads it as true.
        let old = #"{"clickRate":0.25,"logLoss":0.7,"modelLogLoss":0.6,"beatsConstant":true,"trainingLabelsVary":true,"validationLabelsVary":true}"#
        let decoded = try JSONDecoder().decode(ConstantBaseline.self, from: Data(old.utf8))
        #expect(decoded.scoresVary && decoded.beatsConstant)
    }
}
