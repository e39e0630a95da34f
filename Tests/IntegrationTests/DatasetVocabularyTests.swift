import Foundation
import RecData
import RecModel
import RecTestKit
import Testing

/// `--dataset` means one thing in every command: `fit`, `train`, `eval` and `data describe|features|ope` accept the
/// same names and print the same split by time for the same data (the committed OBD fixture, 400 rows, as a
/// built-in name and as a shop's log with renamed user features and a schema).
@Suite("One dataset vocabulary across the commands", .serialized)
struct DatasetVocabularyTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let fixtures = root + "/Tests/DataTests/Fixtures"
    static let splitLine = "split by time: train 240 / validation 40 / test 120"

    /// The fixture's `random/men` with `user_feature_0/1` renamed `device` and `region`, its catalogue, and the
    /// schema `recpool data schema --infer` drafts for them.
    /// The folder is a fresh ``TemporaryDirectory`` labelled `tag`; the caller removes it.
    static func shop(_ tag: String = "vocabulary") throws -> String {
        let folder = try TemporaryDirectory(tag).path
        let text = try String(contentsOfFile: fixtures + "/obd/random/men/men.csv", encoding: .utf8)
        let header = text.prefix { $0 != "\n" }
        let renamed = header.replacingOccurrences(of: "user_feature_0", with: "device")
            .replacingOccurrences(of: "user_feature_1", with: "region")
        try (renamed + text.dropFirst(header.count)).write(
            toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            atPath: fixtures + "/obd/random/men/item_context.csv", toPath: folder + "/catalogue.csv")
        let drafted = try runTool(
            "recpool",
            [
                "data", "schema", "--infer", folder + "/logs.csv", "--catalogue", folder + "/catalogue.csv", "--out",
                folder + "/shop.toml",
            ])
        #expect(drafted.code == 0, "\(drafted.stderr)")
        return folder
    }

    @Test("fit, train, eval and data describe|features|ope print the same split for a built-in name and a shop's log")
    func sameSplitEverywhere() throws {
        let folder = try Self.shop()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let datasets: [[String]] = [
            ["obd:random/men", "--data-dir", Self.fixtures],
            [folder + "/logs.csv", "--schema", folder + "/shop.toml"],
        ]
        for (index, dataset) in datasets.enumerated() {
            let name = dataset[0]
            let rest = Array(dataset.dropFirst())
            let model = folder + "/m\(index).ckpt"
            let runs: [(String, [String])] = [
                ("data describe", ["data", "describe", name] + rest),
                ("data features", ["data", "features", name, "--out", folder + "/f\(index).csv"] + rest),
                ("data ope", ["data", "ope", name, "--resamples", "20"] + rest),
                ("fit", ["fit", "--dataset", name, "--epochs", "1", "--hidden", "4", "--out", model] + rest),
                ("eval", ["eval", "--model", model, "--dataset", name, "--resamples", "20"] + rest),
            ]
            for (label, arguments) in runs {
                let run = try runTool("recpool", arguments)
                #expect(run.code == 0, "\(label) \(name): exit \(run.code)\n\(run.stderr)")
                #expect(run.stderr.contains(Self.splitLine), "\(label) \(name) printed:\n\(run.stderr)")
            }
            // fit trained on the training part only and embedded the specification fitted on it.
            let checkpoint = try Checkpoint(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: model))))
            #expect(checkpoint.metadata["rows"] == "240", "\(checkpoint.metadata)")
            let spec = try FeatureSpec.decode(checkpoint.featureSpec)
            #expect(spec.width == checkpoint.model.network.inputWidth)
            // train resolves the same way before it talks to a broker (none listens here: it then fails).
            let train = try runTool(
                "recpool",
                ["train", "--dataset", name, "--broker", "tcp://127.0.0.1:9", "--timeout-ms", "300"] + rest)
            #expect(train.stderr.contains(Self.splitLine), "train \(name) printed:\n\(train.stderr)")
        }
    }

    @Test(
        "a CSV that is neither OBD's layout nor a feature matrix is refused by every command, which says to pass --schema"
    )
    func ambiguousFileNeedsSchema() throws {
        let folder = try Self.shop()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for arguments in [
            ["data", "describe", folder + "/logs.csv"],
            ["fit", "--dataset", folder + "/logs.csv", "--out", folder + "/x"],
            ["train", "--dataset", folder + "/logs.csv", "--broker", "tcp://127.0.0.1:9", "--timeout-ms", "300"],
        ] {
            let run = try runTool("recpool", arguments)
            #expect(run.code == 64, "\(arguments): exit \(run.code)")  // a usage error (ExitStatus.usage)
            #expect(run.stderr.contains("--schema") && run.stderr.contains("data schema --infer"), "\(run.stderr)")
        }
    }

    @Test("data describe|features|ope take --dataset NAME as well as NAME; both or neither is a usage error naming it")
    func datasetFlag() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-datasetflag-\(getpid())")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let rest = ["--data-dir", Self.fixtures]
        for (label, extra) in [
            ("describe", [String]()), ("features", ["--out", folder + "/f.csv"]), ("ope", ["--resamples", "20"]),
        ] {
            let flag = try runTool("recpool", ["data", label, "--dataset", "obd:random/men"] + extra + rest)
            let positional = try runTool("recpool", ["data", label, "obd:random/men"] + extra + rest)
            #expect(flag.code == 0 && flag.stderr.contains(Self.splitLine), "data \(label): \(flag.stderr)")
            // `describe` prints how long loading took; everything else must be the same.
            func untimed(_ text: String) -> String {
                text.replacingOccurrences(of: #"loaded in [0-9.]+ s"#, with: "loaded in … s", options: .regularExpression)
            }
            #expect(
                untimed(flag.stdout) == untimed(positional.stdout), "data \(label) --dataset and positional differ")
            let both = try runTool(
                "recpool", ["data", label, "obd:random/men", "--dataset", "obd:random/all"] + extra + rest)
            let neither = try runTool("recpool", ["data", label] + extra + rest)
            for (name, run) in [("both", both), ("neither", neither)] {
                #expect(run.code == 64, "data \(label) with \(name): exit \(run.code)")
                #expect(run.stderr.contains("--dataset"), "data \(label) with \(name): \(run.stderr)")
            }
        }
    }
}
