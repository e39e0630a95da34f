import Foundation
import RecData
import RecModel
import RecTestKit
import Testing

/// Faults a reviewer found in the data commands, each run as a user would: bad input is a typed error naming the
/// problem (never a trap), and an undefined figure is null with its reason (never 0, never NaN).
@Suite("Data commands: bad input and undefined figures", .serialized)
struct DataFaultTests {
    /// Writes `text` to `name` in `folder` and returns its path.
    static func write(_ text: String, _ name: String, in folder: TemporaryDirectory) throws -> String {
        let path = folder.file(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a matrix whose header is not the feature specification's columns in order is refused by fit and predict")
    func columnsInSpecificationOrder() throws {
        let temporary = try TemporaryDirectory("data-fault-columns")
        defer { temporary.remove() }
        let features = temporary.file("feat.csv").path
        let specFile = temporary.file("spec.json").path
        let written = try runTool(
            "recpool",
            ["data", "features", "synthetic:users=100,rows=600,seed=3", "--split", "test", "--out", features, "--spec-out", specFile])
        #expect(written.code == 0, "\(written.stderr)")
        let lines = try String(contentsOfFile: features, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        // Every feature column in reverse order, the label last, as a shop's hand-made file might hold them.
        let reversed = lines.map { ($0.dropLast().reversed() + [$0.last!]).joined(separator: ",") }.joined(separator: "\n") + "\n"
        let reversedFile = try Self.write(reversed, "reversed.csv", in: temporary)
        let model = temporary.file("m.ckpt").path
        let refused = try runTool(
            "recpool", ["fit", "--dataset", reversedFile, "--feature-spec", specFile, "--out", model, "--epochs", "1"])
        #expect(
            refused.code == 2 && refused.stderr.contains("header column 1 is 'history_item_continuous'")
                && refused.stderr.contains("in its order"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model))
        // A specification file with a key written twice is refused naming the key, by fit and by data features: the
        // decoder would keep one of the two silently.
        let specText = try String(contentsOfFile: specFile, encoding: .utf8)
        #expect(specText.hasPrefix("{"))
        let doubled = try Self.write(#"{"version": 1, "# + specText.dropFirst(), "doubled.json", in: temporary)
        let refusedDoubled = try runTool(
            "recpool", ["fit", "--dataset", features, "--feature-spec", doubled, "--out", model, "--epochs", "1"])
        #expect(
            refusedDoubled.code == 2 && refusedDoubled.stderr.contains("the key `version` appears twice in one object"),
            "\(refusedDoubled.stderr)")
        let refusedFeatures = try runTool(
            "recpool",
            ["data", "features", "synthetic:users=100,rows=600,seed=3", "--spec", doubled, "--out", temporary.file("f2.csv").path])
        #expect(
            refusedFeatures.code == 2 && refusedFeatures.stderr.contains("the key `version` appears twice in one object"),
            "\(refusedFeatures.stderr)")
        let fit = try runTool("recpool", ["fit", "--dataset", features, "--feature-spec", specFile, "--out", model, "--epochs", "1"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let rows = lines.prefix(3).map { $0.dropLast().joined(separator: ",") }.joined(separator: "\n") + "\n"
        let reversedRows = lines.prefix(3).map { $0.dropLast().reversed().joined(separator: ",") }.joined(separator: "\n") + "\n"
        let scored = try runTool("recpool", ["predict", "--model", model, "--input", try Self.write(rows, "rows.csv", in: temporary)])
        #expect(scored.code == 0 && scored.stdout.split(separator: "\n").count == 2, "\(scored.stderr)")
        let misordered = try runTool(
            "recpool", ["predict", "--model", model, "--input", try Self.write(reversedRows, "rrows.csv", in: temporary)])
        #expect(misordered.code == 2 && misordered.stderr.contains("header column 1 is"), "\(misordered.stderr)")
        #expect(misordered.stdout.isEmpty)
        // Rows without a header are read by position, as before.
        let unnamed = lines[1...2].map { $0.dropLast().joined(separator: ",") }.joined(separator: "\n") + "\n"
        let byPosition = try runTool("recpool", ["predict", "--model", model, "--input", try Self.write(unnamed, "u.csv", in: temporary)])
        #expect(byPosition.code == 0 && byPosition.stdout == scored.stdout, "\(byPosition.stderr)")
        // A checkpoint whose feature specification is damaged (valid checksum, spec bytes not JSON) is refused as
        // `import`, `eval` and a worker refuse it, not read as one without a specification that skips the check.
        var damaged = try Checkpoint(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: model))))
        damaged.featureSpec = Array("garbage".utf8)
        let damagedModel = temporary.file("damaged.ckpt").path
        try Data(damaged.encoded()).write(to: URL(fileURLWithPath: damagedModel))
        let refusedSpec = try runTool(
            "recpool", ["predict", "--model", damagedModel, "--input", try Self.write(reversedRows, "d.csv", in: temporary)])
        #expect(
            refusedSpec.code == 2 && refusedSpec.stderr.contains("its feature specification does not decode"),
            "\(refusedSpec.code) \(refusedSpec.stderr)")
        // Plain `export` wrote an ONNX graph of it (exit 0); it is refused as every other command refuses it, and
        // writes nothing.
        let onnx = temporary.file("damaged.onnx").path
        let exported = try runTool("recpool", ["export", "--model", damagedModel, "--out", onnx])
        #expect(exported.code == 2 && exported.stderr.contains("\(damagedModel): its feature specification does not decode"), "\(exported.code) \(exported.stderr)")
        #expect(!FileManager.default.fileExists(atPath: onnx))
        // `eval` names the checkpoint it refuses, as `predict` does.
        let evaluated = try runTool("recpool", ["eval", "--model", damagedModel, "--dataset", "synthetic:users=100,rows=600,seed=3"])
        #expect(evaluated.code == 2 && evaluated.stderr.contains("\(damagedModel): invalid feature spec"), "\(evaluated.code) \(evaluated.stderr)")
    }

    /// Features of 3e38 overflow Adam's second moment at any learning rate: the pool's round refused the run ("try a
    /// lower lr") while `fit` exited 0 with weights that every later step left frozen.
    /// A helper's case: a model fitted on `a,b,label` scored `b,a` rows by position, each value in the other's place,
    /// and took a header of names it never had, without a word.
    @Test("a model fitted on a matrix with a header records its columns; predict refuses rows named otherwise")
    func matrixColumnsRecorded() throws {
        let temporary = try TemporaryDirectory("data-fault-matrix-columns")
        defer { temporary.remove() }
        var text = "a,b,label\n"
        for i in 0..<40 { text += "\(Double(i % 7) / 7),\(Double(i % 5) / 5),\(i % 2)\n" }
        let data = try Self.write(text, "fm.csv", in: temporary)
        let model = temporary.file("fm.ckpt").path
        let fit = try runTool("recpool", ["fit", "--dataset", data, "--epochs", "1", "--out", model])
        #expect(fit.code == 0, "\(fit.stderr)")
        let checkpoint = try Checkpoint(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: model))))
        #expect(try checkpoint.inputColumns() == ["a", "b"])
        let named = try runTool("recpool", ["predict", "--model", model, "--input", try Self.write("a,b\n0.1,0.9\n", "p1.csv", in: temporary)])
        let bare = try runTool("recpool", ["predict", "--model", model, "--input", try Self.write("0.1,0.9\n", "p2.csv", in: temporary)])
        #expect(named.code == 0 && bare.code == 0 && named.stdout == bare.stdout, "\(named.stderr) \(bare.stderr)")
        for (header, says) in [
            ("b,a", "header column 1 is 'b', but column 1 of the model's training columns is 'a' ('b' is column 2 there)"),
            ("x,y", "header column 1 is 'x', but column 1 of the model's training columns is 'a' ('x' is not named there)"),
            ("a,b,c", "the header names 3 feature columns, the model's training columns 2 (not in the model's training columns: 'c')"),
        ] {
            let values = header.split(separator: ",").map { _ in "0.5" }.joined(separator: ",")
            let refused = try runTool(
                "recpool", ["predict", "--model", model, "--input", try Self.write("\(header)\n\(values)\n", "h.csv", in: temporary)])
            #expect(refused.code == 2 && refused.stderr.contains(says) && refused.stdout.isEmpty, "\(header): \(refused.stderr)")
        }
        // A damaged record is named, never read as "no names" (which would skip the check).
        var damaged = checkpoint
        damaged.metadata[Checkpoint.inputColumnsKey] = "[\"a\"]"
        #expect(throws: CheckpointError.self) { try damaged.inputColumns() }
        let damagedModel = temporary.file("damaged.ckpt").path
        try Data(damaged.encoded()).write(to: URL(fileURLWithPath: damagedModel))
        let refusedDamaged = try runTool("recpool", ["predict", "--model", damagedModel, "--input", temporary.file("p1.csv").path])
        // Refused on read, naming the file, by every reader (the registry imported it and a worker served it).
        #expect(
            refusedDamaged.code == 2 && refusedDamaged.stderr.contains("metadata input_columns")
                && refusedDamaged.stderr.contains(damagedModel), "\(refusedDamaged.stderr)")
        #expect(throws: CheckpointError.self) { try Checkpoint(decoding: damaged.encoded()) }
        let imported = try runTool("recpool", ["import", "--model", damagedModel, "--broker", "tcp://127.0.0.1:9"])
        #expect(imported.code == 2 && imported.stderr.contains(damagedModel), "\(imported.stderr)")
    }

    @Test("fit refuses a run whose optimiser state overflowed, pointing at the features, not the learning rate")
    func hugeFeatures() throws {
        let temporary = try TemporaryDirectory("data-fault-huge")
        defer { temporary.remove() }
        var text = "f0,f1,label\n"
        for i in 0..<60 { text += "\([3e38, -3e38, 1e37][i % 3]),0.\(i % 10),\(i % 2)\n" }
        let data = try Self.write(text, "huge.csv", in: temporary)
        let fit = try runTool("recpool", ["fit", "--dataset", data, "--out", temporary.file("h.ckpt").path, "--epochs", "2"])
        #expect(fit.code == 6, "\(fit.code) \(fit.stderr)")
        #expect(fit.stderr.contains("scale or standardise the features") && !fit.stderr.contains("try a lower"), "\(fit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: temporary.file("h.ckpt").path))
    }

    /// `fit --out FIFO` trained and then blocked for ever in open(2), with no message, when no process read the FIFO.
    @Test("fit --out naming a FIFO no process reads exits 2 after the pipe wait, naming it")
    func fitIntoAnUnreadFIFO() throws {
        let temporary = try TemporaryDirectory("data-fault-fifo")
        defer { temporary.remove() }
        let fifo = temporary.file("model.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let fit = try runTool(
            "recpool", ["fit", "--dataset", "synthetic:users=100,rows=600,seed=3", "--out", fifo, "--epochs", "1"])
        #expect(fit.code == 2, "\(fit.code) \(fit.stderr)")
        #expect(fit.stderr.contains("cannot open \(fifo): it is a pipe (FIFO) and no process opened it for reading"), "\(fit.stderr)")
    }

    /// `data ope --rewards-out r.npy --policy-out FIFO` exited 2 after the pipe wait with r.npy written beside the refusal.
    @Test("data ope whose second output is a FIFO no process reads writes neither output")
    func opeOutputsAllOrNothing() throws {
        let temporary = try TemporaryDirectory("data-fault-ope-fifo")
        defer { temporary.remove() }
        let fifo = temporary.file("policy.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let rewards = temporary.file("rewards.npy").path
        let ope = try runTool(
            "recpool",
            ["data", "ope", "synthetic:users=100,seed=1", "--resamples", "10", "--rewards-out", rewards, "--policy-out", fifo])
        #expect(ope.code == 2, "\(ope.code) \(ope.stderr)")
        #expect(ope.stderr.contains("no process opened it for reading"), "\(ope.stderr)")
        #expect(!FileManager.default.fileExists(atPath: rewards), "the first output was left beside the refusal")
    }

    @Test("fit on a file with no feature column exits 2 naming the problem, never a trap in Dense")
    func fitWithoutFeatures() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let data = try Self.write("label\n1\n0\n", "fm0.csv", in: temporary)
        let fit = try runTool("recpool", ["fit", "--dataset", data, "--out", temporary.file("x.ckpt").path])
        #expect(fit.code == 2 && fit.stderr.contains("has no rows or no feature columns"), "\(fit.code) \(fit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: temporary.file("x.ckpt").path))
    }

    @Test("a matrix with two label columns is refused naming the column, never trained with the target as a feature")
    func duplicateLabel() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let rows = (0..<20).map { i in "\(Double(i) / 20),\(i % 2),\(i % 2)" }.joined(separator: "\n")
        let data = try Self.write("a,label,label\n" + rows + "\n", "leak.csv", in: temporary)
        let fit = try runTool("recpool", ["fit", "--dataset", data, "--out", temporary.file("x.ckpt").path])
        #expect(
            fit.code == 2 && fit.stderr.contains("names column 'label' twice (columns 2 and 3)"),
            "\(fit.code) \(fit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: temporary.file("x.ckpt").path))
    }

    @Test("data schema --infer on a header naming a column twice is refused naming it, never drafted twice")
    func inferDuplicate() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let log = try Self.write(
            "ts,item,pos,click,propensity,x,x\n1,0,0,0,0.5,a,b\n2,1,0,1,0.5,a,c\n", "dup.csv", in: temporary)
        let items = try Self.write("item_id,colour\n0,red\n1,blue\n", "items.csv", in: temporary)
        let out = temporary.file("dup.toml").path
        let run = try runTool("recpool", ["data", "schema", "--infer", log, "--catalogue", items, "--out", out])
        #expect(run.code == 2 && run.stderr.contains("names column 'x' twice (columns 6 and 7)"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// A shop's log of 100 rows whose rewards are revenue (0, 0.3, 2.5, 7: three rows in four a click, mean reward
    /// 2.45), with no user history (every row cold start, so the warm segment has no rows), its catalogue and schema.
    static func revenueLog(in folder: TemporaryDirectory) throws -> (log: String, schema: String) {
        let rewards = ["0", "0.3", "2.5", "7"]
        var log = "ts,item,pos,rew,prop,u0,u1\n"
        for i in 0..<100 {
            let user = "\(i % 5 == 0 ? "a" : "b"),\(Double(i % 7) / 7)"
            log += "\(i),\(i % 3),\((i / 3) % 2),\(rewards[i % 4]),0.25,\(user)\n"
        }
        _ = try write("item,f0,f1\n0,0.1,x\n1,0.5,y\n2,0.9,x\n", "cat.csv", in: folder)
        let schema = try write(
            """
            [logs]
            timestamp = "ts"
            item = "item"
            position = "pos"
            reward = "rew"
            propensity = "prop"

            [logs.user_features]
            u0 = "categorical"
            u1 = "numeric"

            [catalogue]
            file = "cat.csv"
            item = "item"

            [catalogue.item_features]
            f0 = "numeric"
            f1 = "categorical"

            """, "rew.toml", in: folder)
        return (try write(log, "rew.csv", in: folder), schema)
    }

    /// The value is refused before it is scaled: more than 1e15 training standard deviations from the mean, as
    /// serving refuses it (it was refused after scaling, as a column that is not a finite number).
    @Test("data features refuses a value that scales past Float's range, naming row and feature, never writing inf")
    func featuresRefuseNonFinite() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        // u1 alternates 0 and 1e-10 (a standard deviation of 5e-11) and is 1e30 on the newest row, in the test split:
        // a Float, but 2e40 standard deviations from the training mean.
        var log = "ts,item,pos,rew,prop,u0,u1\n"
        for i in 0..<100 {
            log += "\(i),\(i % 3),0,\(i % 4 == 0 ? 1 : 0),0.25,a,\(i == 99 ? "1e30" : i % 2 == 1 ? "1e-10" : "0")\n"
        }
        let (_, schema) = try Self.revenueLog(in: temporary)
        let data = try Self.write(log, "huge.csv", in: temporary)
        let out = temporary.file("f.csv").path
        let run = try runTool(
            "recpool", ["data", "features", data, "--schema", schema, "--split", "test", "--feature-set", "basic", "--out", out])
        #expect(run.code == 2, "\(run.code) \(run.stderr)")
        #expect(
            run.stderr.contains("huge.csv[test] row 29 (0-based): numeric user feature 'u1' is 1e+30, more than 1e15")
                && run.stderr.contains("nothing was written"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Parses one JSON object.
    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test("data ope on revenue: DM and DR are defined, q.npy is finite and in reward units")
    func revenueOffPolicy() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let (log, schema) = try Self.revenueLog(in: temporary)
        let q = temporary.file("q.npy").path
        let run = try runTool(
            "recpool", ["data", "ope", log, "--schema", schema, "--rewards-out", q, "--resamples", "20", "--json"])
        #expect(run.code == 0, "\(run.stderr)")
        let report = try Self.object(run.stdout)
        let all = try #require((report["segments"] as? [[String: Any]])?.first)
        let estimates = try #require(all["estimates"] as? [[String: Any]])
        for name in ["dm", "dr"] {
            let figure = try #require(estimates.first { $0["estimator"] as? String == name })
            #expect(figure["value"] is Double && figure["undefined"] is NSNull, "\(name): \(figure)")
        }
        let values = try NumpyArray.read(path: q).values
        #expect(values.count == 300 && values.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 7 })
        #expect(values.contains { $0 > 1 }, "estimates are scaled back to reward units")
    }

    /// A split with no rows (a 5-row log's validation part) was refused as if every row had been drawn from a
    /// candidate set ("its `retrieval` column"), with no such column in the schema; eval reports it `no rows`.
    @Test("data ope on a split with no rows reports every estimate undefined (no rows), as eval does")
    func offPolicyOnAnEmptySplit() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let (_, schema) = try Self.revenueLog(in: temporary)
        var log = "ts,item,pos,rew,prop,u0,u1\n"
        for i in 0..<5 { log += "\(i),\(i % 3),0,\(i % 2),0.25,a,0.5\n" }
        let path = try Self.write(log, "five.csv", in: temporary)
        let policy = temporary.file("pi.npy").path
        let run = try runTool(
            "recpool", ["data", "ope", path, "--schema", schema, "--split", "validation", "--policy-out", policy, "--json"])
        #expect(run.code == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("candidate set"), "\(run.stderr)")
        let report = try Self.object(run.stdout)
        let all = try #require((report["segments"] as? [[String: Any]])?.first)
        let estimates = try #require(all["estimates"] as? [[String: Any]])
        #expect(estimates.count == 4 && estimates.allSatisfy { $0["undefined"] as? String == "no rows" && $0["value"] is NSNull })
        #expect(try NumpyArray.read(path: policy).shape.first == 0)
    }

    @Test("data describe counts a click as a reward above 0 and prints the mean reward apart from the CTR")
    func revenueDescribe() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let (log, schema) = try Self.revenueLog(in: temporary)
        let text = try runTool("recpool", ["data", "describe", log, "--schema", schema])
        #expect(text.code == 0, "\(text.stderr)")
        let line = "clicks          75 rows with reward > 0 (CTR 75.000%); mean reward 2.4500"
        #expect(text.stdout.contains(line), "\(text.stdout)")
        let json = try Self.object(
            try runTool("recpool", ["data", "describe", log, "--schema", schema, "--json"]).stdout)
        #expect(json["clicks"] as? Int == 75 && json["ctr"] as? Double == 0.75)
        #expect(abs((json["mean_reward"] as? Double ?? 0) - 2.45) < 1e-9)
    }

    @Test("eval on revenue: clicks are rewards above 0, ECE at most 1, three segments, undefined figures with reasons")
    func revenueEval() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let (log, schema) = try Self.revenueLog(in: temporary)
        let model = temporary.file("m.ckpt").path
        let fit = try runTool(
            "recpool", ["fit", "--dataset", log, "--schema", schema, "--out", model, "--epochs", "2", "--hidden", "4"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let html = temporary.file("e.html").path
        let base = ["eval", "--model", model, "--dataset", log, "--schema", schema, "--resamples", "0"]
        let run = try runTool("recpool", base + ["--split", "validation", "--json", "--report", html])
        #expect(run.code == 0, "\(run.stderr)")
        let report = try Self.object(run.stdout)
        let segments = try #require(report["segments"] as? [[String: Any]])
        #expect(segments.map { $0["segment"] as? String } == ["all", "cold_start", "warm"])
        let all = segments[0]
        // The validation part is rows 60…69: rewards 0, 0.3, 2.5, 7 repeating, so 7 of its 10 rows are clicks.
        #expect(all["rows"] as? Int == 10 && all["clicks"] as? Int == 7, "\(all)")
        #expect(all["intervals"] is NSNull && all["intervals_undefined"] as? String == "no resamples (--resamples 0)")
        let ece = try #require((all["calibration"] as? [String: Any])?["ece"] as? Double)
        #expect(ece >= 0 && ece <= 1)
        let classification = try #require(all["classification"] as? [String: Any])
        for name in ["precision", "recall", "f1"] {
            let defined = classification[name] is Double
            #expect(defined == (classification[name + "_undefined"] is NSNull), "\(name): \(classification)")
        }
        let warm = segments[2]
        #expect(warm["rows"] as? Int == 0 && warm["undefined"] as? String == "no rows")
        #expect(warm["classification"] is NSNull && warm["calibration"] is NSNull && warm["mean_reward"] is NSNull)
        let notes = try #require(report["notes"] as? [String])
        #expect(notes.contains { $0.contains("chosen on the validation rows, which are among the evaluated rows") })
        #expect(!notes.contains { $0.contains("no validation rows") })

        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<td>warm</td><td>0</td><td>0</td><td colspan=\"7\">undefined (no rows)</td>"))
        #expect(!page.contains("undefined [undefined, undefined]") && !page.contains("[undefined"))
        #expect(page.contains("ranked clicks"))

        let text = try runTool("recpool", base + ["--split", "train"])
        #expect(text.code == 0, "\(text.stderr)")
        #expect(text.stdout.contains("(no intervals: no resamples (--resamples 0))"), "\(text.stdout)")
        #expect(text.stdout.contains("  warm: 0 rows: every figure undefined (no rows)"))
        #expect(text.stdout.contains("on 10 validation rows"), "\(text.stdout)")
        #expect(!text.stdout.contains("no validation rows") && !text.stdout.contains("rows rows"))
    }

    /// A user feature named like a column the specification makes: `data features` wrote a matrix with two `label`
    /// columns, which `fit` refused, and a model fitted from the log could not be given a header by `predict`.
    @Test("a feature named like a generated column (label, has_history) is refused naming it, before a file is written")
    func collidingFeatureNames() throws {
        let temporary = try TemporaryDirectory("data-fault-collide")
        defer { temporary.remove() }
        let (log, schema) = try Self.revenueLog(in: temporary)
        for name in ["label", "has_history"] {
            let text = try String(contentsOfFile: schema, encoding: .utf8).replacingOccurrences(of: "u1 = ", with: "\(name) = ")
            let renamed = try Self.write(text, "\(name).toml", in: temporary)
            let logText = try String(contentsOfFile: log, encoding: .utf8).replacingOccurrences(of: ",u1\n", with: ",\(name)\n")
            let renamedLog = try Self.write(logText, "\(name).csv", in: temporary)
            let out = temporary.file("\(name)-f.csv").path
            let features = try runTool(
                "recpool", ["data", "features", renamedLog, "--schema", renamed, "--feature-set", "extended", "--out", out])
            #expect(
                features.code != 0 && features.stderr.contains("the feature columns would hold '\(name)'"),
                "\(name): \(features.code) \(features.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test("a DQN checkpoint is refused by predict, eval and data ope naming the command and the model it needs")
    func dqnCheckpoint() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        let (log, schema) = try Self.revenueLog(in: temporary)
        let path = temporary.file("dqn.ckpt").path
        try Checkpoint(
            model: .dqn(
                DQNModel(
                    network: QNetwork(stateWidth: 65, form: .actionOutputs(actionCount: 40), hiddenSizes: [8], seed: 2),
                    gamma: 0.9))
        ).write(toFile: path)
        let rows = try Self.write((0..<65).map { _ in "0.5" }.joined(separator: ",") + "\n", "r65.csv", in: temporary)
        for (command, arguments) in [
            ("predict", ["predict", "--model", path, "--input", rows]),
            ("eval", ["eval", "--model", path, "--dataset", log, "--schema", schema]),
            ("data ope", ["data", "ope", log, "--schema", schema, "--model", path]),
        ] {
            let run = try runTool("recpool", arguments)
            #expect(
                run.code == 2
                    && run.stderr.contains(
                        "a DQN checkpoint cannot be used by \(command); it needs an interest model (MLP)"),
                "\(command): \(run.code) \(run.stderr)")
        }
        // `import --promote` is refused before it connects (no broker here): the import was stored and the promotion
        // refused, with advice to promote "once the cause is fixed", which a DQN never is.
        let promoted = try runTool("recpool", ["import", "--model", path, "--promote", "--broker", "tcp://127.0.0.1:9"])
        // Its advice was "import it without --promote to keep it in the registry", which the broker refuses too.
        #expect(
            promoted.code == 2 && promoted.stderr.contains("--promote:")
                && promoted.stderr.contains("only as a version it already holds")
                && !promoted.stderr.contains("import it without --promote"), "\(promoted.stderr)")
        // Without --promote the broker refuses it: named as the file (exit 2), not as a bare BAD_REQUEST (exit 11).
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", temporary.file("state").path])
        let imported = try runTool("recpool", ["import", "--model", path, "--broker", cluster.endpoints.frontend])
        #expect(
            imported.code == 2 && imported.stderr.contains("\(path): import needs a checkpoint a scoring replica can serve")
                && imported.stderr.contains("DQN"), "\(imported.code) \(imported.stderr)")
    }

    /// A helper's case: `pull` of an imported `fit --version 5` file gave a file `eval` calls "checkpoint version 5",
    /// while the registry's version 5 was another model; MODELS.md said a pulled file says 0.
    @Test("pull names the version written inside an imported file when it is not the registry's")
    func pullNamesTheFilesOwnNumber() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        var csv = "a,b,label\n"
        for i in 0..<60 { csv += "\(Float(i % 10) / 10),\(Float(i % 7) / 7),\(i % 3 == 0 ? 1 : 0)\n" }
        let data = try Self.write(csv, "train.csv", in: temporary)
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", temporary.file("state").path])
        let broker = cluster.endpoints.frontend
        for (seed, written) in [("1", "1"), ("2", "5")] {
            let model = temporary.file("m\(written).ckpt").path
            let fit = try runTool(
                "recpool", ["fit", "--dataset", data, "--out", model, "--epochs", "1", "--seed", seed, "--version", written])
            #expect(fit.code == 0, "\(fit.stderr)")
            #expect(try runTool("recpool", ["import", "--model", model, "--broker", broker]).code == 0)
        }
        let own = try runTool("recpool", ["pull", "1", "--out", temporary.file("p1.ckpt").path, "--broker", broker])
        #expect(own.code == 0 && !own.stdout.contains("the file itself says"), "\(own.stdout)\(own.stderr)")
        let other = try runTool("recpool", ["pull", "2", "--out", temporary.file("p2.ckpt").path, "--broker", broker])
        #expect(
            other.code == 0 && other.stdout.contains("wrote version 2 to")
                && other.stdout.contains("the file itself says version 5, the number it was written with, not the registry's"),
            "\(other.stdout)\(other.stderr)")
    }

    /// `predict` read CSV only and said "no data rows" for JSON rows, which `score` takes: both now read rows the same
    /// way, and the commands that read CSV only (`fit` on a CSV file) say that the file is JSON.
    @Test("predict reads JSON rows as score does, with the same scores as CSV; fit given JSON says it reads CSV only")
    func predictReadsJSONRows() throws {
        let temporary = try TemporaryDirectory("data-fault")
        defer { temporary.remove() }
        var csv = "a,b,label\n"
        for i in 0..<120 { csv += "\(Float(i % 10) / 10),\(Float(i % 7) / 7),\(i % 3 == 0 ? 1 : 0)\n" }
        let data = try Self.write(csv, "train.csv", in: temporary)
        let model = temporary.file("m.ckpt").path
        let fit = try runTool("recpool", ["fit", "--dataset", data, "--out", model, "--epochs", "1"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let fromCSV = try runTool(
            "recpool", ["predict", "--model", model, "--input", try Self.write("0.1,0.2\n0.9,0.8\n", "r.csv", in: temporary)])
        #expect(fromCSV.code == 0, "\(fromCSV.stderr)")
        for json in ["[[0.1, 0.2], [0.9, 0.8]]", #"{"rows": [[0.1, 0.2], [0.9, 0.8]]}"#] {
            let fromJSON = try runTool(
                "recpool", ["predict", "--model", model, "--input", try Self.write(json, "r.json", in: temporary)])
            #expect(fromJSON.code == 0 && fromJSON.stdout == fromCSV.stdout, "\(fromJSON.stderr)")
            #expect(fromJSON.stdout.split(separator: "\n").count == 2)
        }
        // A CSV whose header starts with a bracket is CSV, not JSON; JSON that is not rows says what it lacks. (Scored
        // with the model less its recorded columns `a,b`, which the header `[a],[b]` does not name.)
        var unnamed = try Checkpoint(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: model))))
        unnamed.metadata[Checkpoint.inputColumnsKey] = nil
        let unnamedModel = temporary.file("unnamed.ckpt").path
        try Data(unnamed.encoded()).write(to: URL(fileURLWithPath: unnamedModel))
        let bracketed = try runTool(
            "recpool",
            ["predict", "--model", unnamedModel, "--input", try Self.write("[a],[b]\n0.1,0.2\n0.9,0.8\n", "b.csv", in: temporary)])
        #expect(bracketed.code == 0 && bracketed.stdout == fromCSV.stdout, "\(bracketed.stderr)")
        for (text, says) in [
            (#"{"a": 1}"#, #"no "rows" key"#), ("[[1, 2], [3,", "not valid JSON"),
            ("[a],[b]\n", "not valid JSON, and read as CSV it has no data rows"),
            // A value that is not a number is named as JSON spells it, never by the decoder's sentence.
            // A string is quoted as it was written (`"1"` was "a string"); an extra key beside `rows` is refused.
            ("[[0.1, null]]", #":1:2: not a number: "null""#), (#"[[0.1, "x"]]"#, #":1:2: not a number: "x""#),
            (#"[["1", 0.1]]"#, #":1:1: not a number: "1""#), ("[[true, 0.1]]", #":1:1: not a number: "true""#),
            (#"{"rows": [[0.1, 0.2]], "foo": 1}"#, #"unknown key "foo", not "rows""#),
            // A number beyond a Double's range is valid JSON: named with its row and column, on one line or several.
            ("[[0.1, 1e400]]", #":1:2: not a finite number: "1e400""#),
            ("{\"rows\": [[0.1, 0.2],\n [-1e999, 0.3]]}", #":2:1: not a finite number: "-1e999""#),
            // Finite, but past a 32-bit float's range: said so, not called "not a finite number".
            ("[[0.1, 1e39]]", #":1:2: "1e+39" is beyond a 32-bit float's range"#),
            // Nearer 0 than the smallest double: valid JSON Foundation refused as "not valid JSON"; a CSV's said "not a
            // number". Rows of no value went to the broker as a 1×0 tensor, the file unnamed.
            ("[[0.1, 1e-400]]", #":1:2: "1e-400" is nearer 0 than the smallest 64-bit float"#),
            ("a,b\n0.1,1e-400\n", #":2:2: "1e-400" is nearer 0 than the smallest 64-bit float"#),
            ("[[]]", "its rows hold no value: a row needs at least one feature"),
            ("label\n1\n", "has no rows or no feature columns: its only column is 'label'"),
            // Foundation keeps one of two `rows` keys silently and takes a trailing comma: both refused, named.
            (#"{"rows": [[9, 9]], "rows": [[0.1, 0.2]]}"#, "the key `rows` appears twice in one object"),
            ("[[0.1, 0.2], [0.3, 0.4],]", "a comma before a closing bracket (a trailing comma) at byte 23"),
        ] {
            let run = try runTool(
                "recpool", ["predict", "--model", model, "--input", try Self.write(text, "bad.json", in: temporary)])
            #expect(
                run.code == 2 && run.stderr.contains(says) && !run.stderr.contains("DecodingError")
                    && !run.stderr.contains("Cannot get value"), "\(run.stderr)")
        }
        let wide = try runTool(
            "recpool", ["predict", "--model", model, "--input", try Self.write("[[1, 2, 3]]", "w.json", in: temporary)])
        #expect(wide.code == 2 && wide.stderr.contains("rows have 3 feature columns, the model expects 2"), "\(wide.stderr)")
        let jsonAsData = try Self.write("[[0.1, 0.2, 1]]\n", "rows-as.csv", in: temporary)
        let refused = try runTool("recpool", ["fit", "--dataset", jsonAsData, "--out", temporary.file("x.ckpt").path])
        #expect(
            refused.code == 2 && refused.stderr.contains("this is JSON, and this input is read as CSV only"),
            "\(refused.code) \(refused.stderr)")
    }
}
