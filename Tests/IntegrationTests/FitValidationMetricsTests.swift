import Foundation
import RecModel
import Testing

/// `recpool fit` on logs reports its validation rows the way `eval` reports a segment: AUC, PR-AUC, log-loss, ECE,
/// precision, recall and F1 at 0.5 and at the max-F1 threshold chosen on those rows, and a warning when they hold
/// too few clicks, in text and with the same figures in `--json`.
@Suite("recpool fit's validation metrics", .serialized)
struct FitValidationMetricsTests {
    @Test("fit on OBD's fixture prints the validation metrics, the chosen threshold and a few-clicks warning")
    func validationMetrics() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-fitmetrics-\(getpid())")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let base = [
            "fit", "--dataset", "obd:random/men", "--data-dir", DatasetVocabularyTests.fixtures, "--epochs", "1",
            "--hidden", "4", "--out", folder + "/m.ckpt",
        ]
        let text = try runTool("recpool", base)
        #expect(text.code == 0, "\(text.stderr)")
        for line in [
            "validation: 40 rows", "    AUC ", "    PR-AUC ", "    log-loss ", "   ECE ", "    at 0.5 ", "precision ",
            "recall ", "F1 ", "  threshold ", "warning: only ", "wrote ", "trained 1 epoch; best validation epoch ",
            "for the constant predictor (the training click rate ",
        ] {
            #expect(text.stdout.contains(line), "missing \"\(line)\" in:\n\(text.stdout)")
        }
        #expect(!text.stdout.contains("f1@0.5"))

        let json = try runTool("recpool", base + ["--json"])
        #expect(json.code == 0, "\(json.stderr)")
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(
            Set(object.keys) == [
                "checkpoint", "parameters", "version", "validation", "validation_undefined", "training",
                "constant_baseline", "constant_baseline_undefined", "training_labels_vary",
            ])
        // With validation rows every reason is null.
        #expect(object["validation_undefined"] is NSNull && object["constant_baseline_undefined"] is NSNull)
        let training = try #require(object["training"] as? [String: Any])
        #expect(Set(training.keys) == ["epochs_run", "best_epoch", "best_epoch_undefined", "stopped_early", "restore_best"])
        // The best epoch is 1, or 0 when epoch 1 did not beat the starting weights (the constant predictor), as the text
        // says (this fixture's validation part holds one click).
        let best = try #require(training["best_epoch"] as? Int)
        #expect(training["epochs_run"] as? Int == 1 && (best == 0 || best == 1) && training["best_epoch_undefined"] is NSNull)
        #expect(text.stdout.contains("trained 1 epoch; best validation epoch \(best)"))
        // The file says which epoch's weights it holds: the best (restored), or the last with --no-restore-best, where
        // `best_epoch` alone read as the epoch of its weights.
        let saved = try Checkpoint.read(fromFile: folder + "/m.ckpt")
        #expect(saved.metadata["best_epoch"] == "\(best)" && saved.metadata["weights_epoch"] == "\(best)", "\(saved.metadata)")
        let lastRun = try runTool(
            "recpool",
            [
                "fit", "--dataset", "obd:random/men", "--data-dir", DatasetVocabularyTests.fixtures, "--epochs", "2",
                "--patience", "0", "--hidden", "4", "--no-restore-best", "--out", folder + "/last.ckpt",
            ])
        #expect(lastRun.code == 0, "\(lastRun.stderr)")
        #expect(try Checkpoint.read(fromFile: folder + "/last.ckpt").metadata["weights_epoch"] == "2")
        // The starting weights are a candidate, so their loss is printed as epoch 0's, and the kept epoch is the one with
        // the lowest val_loss printed (the starting weights' was not shown, and an epoch above them looked better).
        let losses = try Self.validationLosses(json.stderr)
        #expect(losses.keys.sorted() == [0, 1], "\(json.stderr)")
        #expect(losses.sorted { $0.key < $1.key }.min { $0.value < $1.value }?.key == best, "\(losses)")
        let constant = try #require(object["constant_baseline"] as? [String: Any])
        #expect(Set(constant.keys) == ["click_rate", "log_loss", "model_log_loss", "beats_constant", "training_labels_vary", "validation_labels_vary", "scores_vary"])
        #expect(constant["training_labels_vary"] as? Bool == true)
        let modelLoss = try #require(constant["model_log_loss"] as? Double)
        let constantLoss = try #require(constant["log_loss"] as? Double)
        let beats = modelLoss < constantLoss * (1 - 1e-6)  // ConstantBaseline.tieTolerance
        #expect(constant["beats_constant"] as? Bool == beats)
        // One flag in the text says which side of the constant the model is on, as the JSON does.
        #expect(text.stdout.contains("warning: the model does not beat the constant predictor") == !beats)
        let validation = try #require(object["validation"] as? [String: Any])
        #expect(
            Set(validation.keys)
                == [
                    "rows", "clicks", "classification", "threshold", "at_chosen_threshold", "calibration", "warnings",
                    "threshold_undefined", "at_chosen_threshold_undefined",
                ])
        #expect(validation["rows"] as? Int == 40)
        let classification = try #require(validation["classification"] as? [String: Any])
        for key in ["roc_auc", "average_precision", "log_loss", "precision", "recall", "f1", "threshold"] {
            #expect(classification.keys.contains(key), "\(key) missing from \(classification.keys)")
        }
        #expect(classification["threshold"] as? Double == 0.5)
        #expect((validation["calibration"] as? [String: Any])?["ece"] is Double)
        let clicks = try #require(validation["clicks"] as? Int)
        // A threshold (and the figures at it) exists exactly when the validation rows hold a click.
        #expect((validation["threshold"] is NSNull) == (clicks == 0))
        #expect((validation["at_chosen_threshold"] is NSNull) == (clicks == 0))
        let warnings = try #require(validation["warnings"] as? [String])
        #expect(warnings.count == 1 && warnings[0].contains("only \(clicks) clicks"), "\(warnings)")
    }
    @Test("a feature matrix's model starts at the constant predictor too: --epochs 0 writes exactly the constant")
    func featureMatrixStartsAtConstant() throws {
        let temporary = try TemporaryDirectory("fit-matrix-constant")
        defer { temporary.remove() }
        let csv = temporary.url.appendingPathComponent("f.csv").path
        let spec = temporary.url.appendingPathComponent("f.json").path
        let features = try runTool(
            "recpool", ["data", "features", "synthetic:users=500,rows=3000,seed=3", "--out", csv, "--spec-out", spec])
        #expect(features.code == 0, "\(features.stderr)")
        let fit = try runTool(
            "recpool",
            ["fit", "--dataset", csv, "--feature-spec", spec, "--epochs", "0", "--out",
             temporary.url.appendingPathComponent("m.ckpt").path, "--json"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as? [String: Any])
        let training = try #require(object["training"] as? [String: Any])
        #expect(training["epochs_run"] as? Int == 0 && training["best_epoch"] as? Int == 0, "\(training)")
        #expect(try Self.validationLosses(fit.stderr).keys.sorted() == [0], "\(fit.stderr)")
        let said = try runTool(
            "recpool",
            ["fit", "--dataset", csv, "--feature-spec", spec, "--epochs", "0", "--out",
             temporary.url.appendingPathComponent("m2.ckpt").path])
        #expect(said.stdout.contains("the checkpoint holds the starting weights (the constant predictor"), "\(said.stdout)")
        let constant = try #require(object["constant_baseline"] as? [String: Any])
        let model = try #require(constant["model_log_loss"] as? Double)
        let reference = try #require(constant["log_loss"] as? Double)
        // Random output weights gave 0.78 against the constant's 0.137 on such data.
        #expect(abs(model - reference) < 1e-6, "model \(model), constant \(reference)")
    }

    /// The `val_loss` of each epoch line `fit` prints on standard error (`epoch 0 (the starting weights, …): val_loss x`,
    /// `epoch k: loss y val_loss x`), by epoch.
    static func validationLosses(_ stderr: String) throws -> [Int: Double] {
        var losses: [Int: Double] = [:]
        for line in stderr.split(separator: "\n") where line.hasPrefix("epoch ") {
            let words = line.split(separator: " ")
            guard let at = words.firstIndex(of: "val_loss"), at + 1 < words.count else { continue }
            let epoch = try #require(Int(words[1].trimmingCharacters(in: CharacterSet(charactersIn: ":"))), "\(line)")
            losses[epoch] = try #require(Double(words[at + 1]), "\(line)")
        }
        return losses
    }
}
