import RecWire
import Testing

@testable import RecClient

/// Which state a completed job's registered metrics describe, as `recpool job` labels them.
@Suite("Client: the label of a completed job's registered model")
struct JobLabelTests {
    static func job(rounds: [(Int, Double)], registered: Double) -> JobView {
        JobView(
            job: "job-2", state: "completed", model: "mlp", round: rounds.count, totalRounds: rounds.count, epoch: 1,
            step: 1, loss: 0.1, metrics: ["val_loss": registered], modelVersion: 2, error: nil, createdAt: 0, updatedAt: 0,
            spec: nil,
            rounds: rounds.map {
                JobView.Round(round: $0.0, loss: 0.1, samples: 1, replicas: 1, metrics: ["val_loss": $0.1], seconds: 0)
            })
    }

    @Test("the last round, or the round that validated best")
    func bestOrLast() {
        #expect(Self.job(rounds: [(1, 0.3), (2, 0.2)], registered: 0.2).registeredModelLabel.contains("final model"))
        let best = Self.job(rounds: [(1, 0.3), (2, 0.1), (3, 0.2)], registered: 0.1).registeredModelLabel
        #expect(best.contains("the state after round 2, which validated best"), "\(best)")
    }

    /// A helper's cancelled job: "round 11/113, … validation: val_loss 0.3835" showed round 10's figures unlabelled.
    @Test("a job without a version names the round its figures are of")
    func runningJobNamesItsRound() {
        var job = Self.job(rounds: [(9, 0.4), (10, 0.3835)], registered: 0.3835)
        job.modelVersion = nil
        job.state = "cancelled"
        #expect(job.metricsLabel == "validation (the state after round 10):")
        job.rounds = nil
        #expect(job.metricsLabel == "validation:")
    }

    /// The best round's stored state was damaged when the job resumed: the best readable state was registered, and
    /// the label said it "validated best" although round 12 validated lower.
    @Test("a round that validated better than the registered state is named, never called best")
    func betterRoundLost() {
        let label = Self.job(rounds: [(12, 0.10102), (66, 0.10196), (67, 0.1030)], registered: 0.10196)
            .registeredModelLabel
        #expect(!label.contains("which validated best"), "\(label)")
        #expect(
            label.contains("the state after round 66; round 12 validated better, val_loss 0.10102, but its stored state "
                + "could not be read"), "\(label)")
    }
}

/// The warning beside a job whose `beats_constant` is 0.
@Suite("Client: a job's constant-predictor warning")
struct JobConstantWarningTests {
    static func job(_ metrics: MetricValues) -> JobView {
        JobView(
            job: "job-3", state: "completed", model: "mlp", round: 1, totalRounds: 1, epoch: 1, step: 1, loss: 0.1,
            metrics: metrics, modelVersion: 2, error: nil, createdAt: 0, updatedAt: 0, spec: nil, rounds: [])
    }

    /// A helper's job: 3 clicks in 300 rows, none among the 60 validation rows; log-loss 0.0091 against the
    /// constant's 0.0126 was followed by "does not beat the constant predictor".
    @Test("validation rows of one label (auc undefined) say the comparison cannot tell, not that the model loses")
    func oneLabelCannotTell() {
        let metrics: MetricValues = [
            "beats_constant": 0, "log_loss": 0.0091, "constant_log_loss": 0.0126, "train_click_rate": 0.0125,
            "val_rows": 60, "auc": nil,
        ]
        #expect(metrics.keys.contains("auc"))
        let oneLabel = Self.job(metrics).constantWarning
        #expect(oneLabel?.hasPrefix("warning: cannot tell whether the model beats the constant predictor") == true)
        let loses = Self.job([
            "beats_constant": 0, "log_loss": 0.2, "constant_log_loss": 0.1, "train_click_rate": 0.1, "val_rows": 60,
            "auc": 0.55,
        ]).constantWarning
        #expect(loses?.contains("does not beat the constant predictor") == true)
        #expect(Self.job(["beats_constant": 0, "train_click_rate": 0]).constantWarning?.contains("nothing to learn") == true)
        #expect(Self.job(["beats_constant": 1, "auc": 0.7]).constantWarning == nil)
        // A reviewer's job: `--hidden 1,1,1` scoring every row alike, log-loss 0.4570 below the constant's 0.4584.
        let alike = Self.job([
            "beats_constant": 0, "log_loss": 0.4570, "constant_log_loss": 0.4584, "train_click_rate": 0.2,
            "val_rows": 120, "auc": 0.5,
        ]).constantWarning
        #expect(alike?.contains("it scores every validation row alike") == true, "\(alike ?? "")")
    }

    /// A helper's job with no validation rows and no training click: `recpool models` printed
    /// `log_loss=undefined (no validation rows) … beats_constant=no`, which read as a comparison lost.
    @Test("a verdict of 0 with every training label alike says there was nothing to learn; 1 and 0 read yes and no")
    func verdictText() {
        let none: [String: Double?] = ["val_rows": 0, "log_loss": nil, "train_click_rate": 0]
        #expect(JobView.constantVerdict(0, among: none) == "no (nothing to learn: no training row has a click)")
        #expect(
            JobView.constantVerdict(0, among: ["train_click_rate": 1]) == "no (nothing to learn: every training row has a click)")
        #expect(JobView.constantVerdict(0, among: ["train_click_rate": 0.2, "val_rows": 60]) == "no")
        #expect(JobView.constantVerdict(0, among: [:]) == "no")
        #expect(JobView.constantVerdict(1, among: ["train_click_rate": 0.2]) == "yes")
        #expect(JobView.constantVerdict(0.5, among: [:]) == nil)
        // A reviewer's job: every validation row a non-click, log-loss 0.0102 against the constant's 0.7288.
        let oneLabel: [String: Double?] = [
            "val_rows": 40, "auc": nil, "log_loss": 0.0102, "constant_log_loss": 0.7288, "train_click_rate": 0.3,
        ]
        #expect(JobView.constantVerdict(0, among: oneLabel) == "no (cannot tell: the validation rows hold one label)")
    }
}
