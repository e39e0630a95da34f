import Foundation
import RecData
import RecTestKit
import Testing

/// `recpool data ope` on OBD's bts/all test rows for each kind of candidate (an action-distribution `.npy`, a
/// checkpoint, a registry version, an online policy version served or named by number), checked against the numpy reference `scripts/reference/ope_obd_reference.py`
/// on the same rows to a relative 1e-9.
@Suite("Off-policy evaluation of a candidate against a numpy reference", .serialized)
struct OffPolicyCandidateTests {
    static let root = ConformanceTests.root
    static let csv = root.appendingPathComponent("data/obd/bts/all/all.csv").path
    static let reference = root.appendingPathComponent("scripts/reference/ope_obd_reference.py").path
    static let python = ConformanceTests.python
    static let ready = python != nil && FileManager.default.fileExists(atPath: csv)

    /// Runs the numpy reference with `arguments`.
    static func reference(_ arguments: [String]) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(python))
        process.arguments = [reference] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    static func ope(_ extra: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
        try runTool(
            "recpool",
            ["data", "ope", "obd:bts/all", "--data-dir", root.appendingPathComponent("data").path, "--split", "test",
             "--resamples", "100"] + extra)
    }

    /// `recpool data ope --json` plus the reference check of its figures.
    static func checked(_ candidate: [String], in dir: URL, actionDist: String? = nil) throws -> [String: Any] {
        let (report, q, pi) = (dir.appendingPathComponent("r.json"), dir.appendingPathComponent("q.npy"),
            dir.appendingPathComponent("pi.npy"))
        let run = try ope(candidate + ["--json", "--rewards-out", q.path, "--policy-out", pi.path])
        #expect(run.code == 0, "\(run.stderr)")
        try run.stdout.write(to: report, atomically: true, encoding: .utf8)
        let check = try reference([
            "check", "--csv", csv, "--split", "test", "--action-dist", actionDist ?? pi.path, "--rewards", q.path,
            "--report", report.path, "--tolerance", "1e-9",
        ])
        #expect(check.code == 0, "\(check.output)")
        #expect(check.output.contains("all figures agree"))
        return try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    /// Every segment's estimator values of a `data ope --json` report, as text (to compare two reports).
    static func figures(_ json: [String: Any]) -> String {
        "\((json["segments"] as? [[String: Any]])?.map { ($0["estimates"] as? [[String: Any]])?.map { $0["value"] as? Double } })"
    }

    /// A fresh ``TemporaryDirectory`` for one test; the caller removes it.
    static func temporary() throws -> URL { try TemporaryDirectory("ope").url }

    @Test(
        "an action-distribution .npy (rows × items × positions) gives DM, IPW, SNIPW, DR, CIs and ESS equal to numpy",
        .enabled(if: ready, "needs data/obd (scripts/fetch-obd) and .venv with numpy"))
    func actionDistribution() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("candidate.npy").path
        let made = try Self.reference(["make-action-dist", "--csv", Self.csv, "--split", "test", "--out", file])
        #expect(made.code == 0, "\(made.output)")
        let json = try Self.checked(["--action-dist", file], in: dir, actionDist: file)
        let segments = try #require(json["segments"] as? [[String: Any]])
        #expect(segments.map { $0["segment"] as? String } == ["all", "cold_start", "warm"])
        for segment in segments {
            #expect(segment["effective_sample_size"] is Double)
            #expect(segment["warnings"] is [String])
            for estimate in try #require(segment["estimates"] as? [[String: Any]]) {
                #expect(estimate["interval"] is [String: Any], "\(estimate)")
            }
        }
        // The warm rows' ESS is about 9: below the stated floor of 100, so it carries a warning.
        let warm = try #require(segments.last?["warnings"] as? [String])
        #expect(warm.contains { $0.contains("below 100") })
        let text = try Self.ope(["--action-dist", file])
        #expect(text.code == 0)
        #expect(text.stdout.contains("ESS ") && text.stdout.contains("warning: effective sample size"))
        #expect(text.stdout.contains("IPW") && text.stdout.contains(" ["))
    }

    @Test(
        "a candidate that never picks the logged item shows SNIPW and ESS as undefined, and a bad file is refused",
        .enabled(if: ready, "needs data/obd (scripts/fetch-obd) and .venv with numpy"))
    func undefinedAndBadFiles() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try SplitDataset(
            OBDLoader.load(OBDSource("bts/all")!, obdDirectory: Self.root.appendingPathComponent("data/obd").path)
        ).test
        var values = [Double](repeating: 0, count: data.rows * data.nActions * data.nPositions)
        for row in 0..<data.rows {
            for slot in 0..<data.nPositions {
                values[((row * data.nActions) + (data.action[row] + 1) % data.nActions) * data.nPositions + slot] = 1
            }
        }
        let never = dir.appendingPathComponent("never.npy")
        try Data(NumpyArray(shape: [data.rows, data.nActions, data.nPositions], values: values).encoded(path: "candidate.npy"))
            .write(to: never)
        let json = try Self.checked(["--action-dist", never.path], in: dir, actionDist: never.path)
        let all = try #require((json["segments"] as? [[String: Any]])?.first)
        #expect(all["effective_sample_size"] is NSNull)
        let snipw = try #require((all["estimates"] as? [[String: Any]])?.first { $0["estimator"] as? String == "snipw" })
        #expect(snipw["value"] is NSNull && snipw["undefined"] is String)
        let text = try Self.ope(["--action-dist", never.path])
        #expect(text.stdout.contains("ESS undefined (every importance weight is 0 (0/0))"))
        #expect(text.stdout.contains("SNIPW  undefined ("))

        let wrong = dir.appendingPathComponent("wrong.npy")
        try Data(NumpyArray(shape: [10, data.nActions, data.nPositions], values: Array(values.prefix(10 * 240)))
            .encoded(path: "wrong.npy")).write(to: wrong)
        let refused = try Self.ope(["--action-dist", wrong.path])
        #expect(refused.code == 2 && refused.stderr.contains("expected (3000, 80, len_list)"), "\(refused.stderr)")
        let garbage = dir.appendingPathComponent("garbage.npy")
        try Data("not numpy".utf8).write(to: garbage)
        let notNumpy = try Self.ope(["--action-dist", garbage.path])
        #expect(notNumpy.code == 2 && notNumpy.stderr.contains("not a .npy file"), "\(notNumpy.stderr)")
    }

    @Test(
        "a checkpoint and the same checkpoint as a registry version give the same figures, equal to numpy",
        .enabled(if: ready, "needs data/obd (scripts/fetch-obd) and .venv with numpy"))
    func checkpointAndRegistryVersion() async throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (features, spec, model) = (dir.appendingPathComponent("train.csv").path,
            dir.appendingPathComponent("spec.json").path, dir.appendingPathComponent("m.ckpt").path)
        let made = try runTool(
            "recpool",
            ["data", "features", "obd:bts/all", "--data-dir", Self.root.appendingPathComponent("data").path,
             "--out", features, "--spec-out", spec, "--split", "train"])
        #expect(made.code == 0, "\(made.stderr)")
        let fit = try runTool(
            // A narrow model: the test checks the estimators, not the model, and scoring every test row × item ×
            // slot with the default d → d → 64 network took half of this test's time.
            "recpool",
            ["fit", "--dataset", features, "--feature-spec", spec, "--out", model, "--epochs", "1", "--hidden", "16,8"])
        #expect(fit.code == 0, "\(fit.stderr)")
        let local = try Self.checked(["--model", model], in: dir)

        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", dir.appendingPathComponent("state").path])
        let imported = try runTool("recpool", ["import", "--broker", cluster.endpoints.frontend, "--model", model])
        #expect(imported.code == 0, "\(imported.stderr)")
        let version = try #require(
            imported.stdout.split(separator: " ").compactMap { UInt64($0.filter(\.isNumber)) }.first,
            "\(imported.stdout)")
        let registry = try Self.checked(
            ["--version", "\(version)", "--broker", cluster.endpoints.frontend], in: dir)
        #expect(Self.figures(local) == Self.figures(registry))
        #expect((registry["policy"] as? String)?.contains("registry version \(version)") == true)
    }

    @Test(
        "a shop's log named by SKUs (catalogue rows out of id order) and without affinity columns checks against numpy",
        .enabled(if: python != nil, "needs .venv with numpy"),
        arguments: ["sku", "numbered", "accented"])
    func shopLogBySKU(_ ids: String) throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Ten items listed in the catalogue in a shuffled order. "sku": named SKU-k, an item is its catalogue row.
        // "numbered": the whole numbers 0…9 written as `4.0`, `07` or `+3` too (an item is its number; the reference
        // script's --items defaulted to OBD's 80 and it failed on `4.0`), with Unix-nanosecond timestamps newest first
        // (beyond a float's 53 bits: distinct instants tied). "accented": `café-k` in the catalogue, written with a
        // combining accent (NFD) in the log, one id to RecData as to Swift.
        let order = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4]
        let catalogueId = { (k: Int) -> String in
            switch ids {
            case "numbered": k == 4 ? "4.0" : k == 7 ? "07" : k == 3 ? "+3" : "\(k)"
            case "accented": "caf\u{E9}-\(k)"
            default: "SKU-\(k)"
            }
        }
        let loggedId = { (k: Int) -> String in
            switch ids {
            case "numbered": "\(k)"
            case "accented": "cafe\u{301}-\(k)"
            default: "SKU-\(k)"
            }
        }
        let catalogue = ["sku,price"] + order.map { "\(catalogueId($0)),\(10 + $0)" }
        var log = ["when,sku,slot,clicked,p_shown,device"]
        for t in 0..<600 {
            let item = (t * 7 + t / 10) % 10
            let when = ids == "numbered" ? "\(1_700_000_000_000_000_000 as Int64 + Int64(600 - t))" : "\(t)"
            log.append("\(when),\(loggedId(item)),\(t % 2 + 1),\(item % 3 == 0 && t % 4 == 0 ? 1 : 0),0.1,\(["ios", "web"][t % 2])")
        }
        let schema = """
            [logs]
            timestamp = "when"
            item = "sku"
            position = "slot"
            click = "clicked"
            propensity = "p_shown"
            [logs.user_features]
            device = "categorical"
            [catalogue]
            file = "items.csv"
            item = "sku"
            [catalogue.item_features]
            price = "numeric"
            """
        let (logPath, schemaPath) = (dir.appendingPathComponent("log.csv").path, dir.appendingPathComponent("shop.toml").path)
        try log.joined(separator: "\n").write(toFile: logPath, atomically: true, encoding: .utf8)
        try catalogue.joined(separator: "\n").write(
            toFile: dir.appendingPathComponent("items.csv").path, atomically: true, encoding: .utf8)
        try schema.write(toFile: schemaPath, atomically: true, encoding: .utf8)
        let (pi, q, report) = (
            dir.appendingPathComponent("pi.npy").path, dir.appendingPathComponent("q.npy").path,
            dir.appendingPathComponent("r.json")
        )
        let made = try Self.reference([
            "make-action-dist", "--csv", logPath, "--schema", schemaPath, "--split", "test", "--out", pi,
        ])
        #expect(made.output.contains("shape (180, 10, 2)"), "\(made.output)")
        #expect(made.code == 0, "\(made.output)")
        let run = try runTool(
            "recpool",
            ["data", "ope", logPath, "--schema", schemaPath, "--split", "test", "--action-dist", pi, "--json",
             "--rewards-out", q, "--resamples", "50"])
        #expect(run.code == 0, "\(run.stderr)")
        try run.stdout.write(to: report, atomically: true, encoding: .utf8)
        let check = try Self.reference([
            "check", "--csv", logPath, "--schema", schemaPath, "--split", "test", "--action-dist", pi, "--rewards", q,
            "--report", report.path, "--tolerance", "1e-9",
        ])
        #expect(check.code == 0 && check.output.contains("all figures agree"), "\(check.output)")
        // A schema with a `user` role: `make-action-dist` reads rows, items and slots only and writes the candidate
        // (it was refused as `check` is, which splits cold from warm rows by affinity columns).
        let withUser = schema.replacingOccurrences(of: "propensity = \"p_shown\"\n", with: "propensity = \"p_shown\"\nuser = \"device\"\n")
        #expect(withUser != schema)
        let userSchema = dir.appendingPathComponent("shop-user.toml").path
        try withUser.write(toFile: userSchema, atomically: true, encoding: .utf8)
        let madeWithUser = try Self.reference([
            "make-action-dist", "--csv", logPath, "--schema", userSchema, "--split", "test", "--out", pi,
        ])
        #expect(madeWithUser.code == 0 && madeWithUser.output.contains("shape (180, 10, 2)"), "\(madeWithUser.output)")
        let checkWithUser = try Self.reference([
            "check", "--csv", logPath, "--schema", userSchema, "--split", "test", "--action-dist", pi, "--rewards", q,
            "--report", report.path,
        ])
        #expect(checkWithUser.code != 0 && checkWithUser.output.contains("has a user role"), "\(checkWithUser.output)")
    }

    @Test("the online policy version a pool serves is a candidate: all four estimators, CIs and the ESS")
    func onlinePolicyVersion() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        try cluster.startBroker(extra: ["--state-dir", dir.appendingPathComponent("state").path, "--online"])
        // The default online catalogue is the items of the simulator world with seed 7 (40 items).
        let run = try runTool(
            "recpool",
            ["data", "ope", "synthetic:users=2000,rows=3000,seed=7", "--online", "--broker", cluster.endpoints.frontend,
             "--resamples", "50", "--json"])
        #expect(run.code == 0, "\(run.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(json["policy"] as? String == "online policy version 1")
        // Only the first-slot rows (a third of the synthetic logs' three slots): there the first-slot distribution
        // and the logged propensities are of the same slot.
        #expect((json["dataset"] as? String)?.hasSuffix(", first slot") == true, "\(json["dataset"] ?? "")")
        let all = try #require((json["segments"] as? [[String: Any]])?.first)
        let firstSlotRows = try DatasetSpecifier(parsing: "synthetic:users=2000,rows=3000,seed=7").load(obdDirectory: "")
            .position.filter { $0 == 0 }.count
        #expect(all["rows"] as? Int == firstSlotRows && firstSlotRows > 0 && firstSlotRows < 3000)
        let ess = try #require(all["effective_sample_size"] as? Double)
        #expect(ess > 0 && ess <= Double(firstSlotRows))
        let estimates = try #require(all["estimates"] as? [[String: Any]])
        #expect(estimates.map { $0["estimator"] as? String } == ["dm", "ipw", "snipw", "dr"])
        #expect(estimates.allSatisfy { $0["value"] is Double && $0["interval"] is [String: Any] })
        // Logs whose catalogue is not the policy's are refused with a message that says so.
        let other = try runTool(
            "recpool",
            ["data", "ope", "synthetic:users=500,items=12,rows=500,seed=7", "--online", "--broker",
             cluster.endpoints.frontend, "--resamples", "0"])
        #expect(other.code == 2 && other.stderr.contains("catalogue has 40 items, the logs 12"), "\(other.stderr)")
        // Another world with as many items (seed 8): matched item for item, it was evaluated as the pool's (IPW 0.0005,
        // exit 0). Its items' features differ from the served ones: refused, saying so.
        let seed8 = try runTool(
            "recpool",
            ["data", "ope", "synthetic:users=1000,rows=3000,seed=8", "--online", "--broker", cluster.endpoints.frontend,
             "--resamples", "0"])
        #expect(
            seed8.code == 2 && seed8.stderr.contains("the logs are another world's than the items online policy version 1 serves"),
            "\(seed8.code) \(seed8.stderr)")
    }

    /// The synthetic logs the online tests evaluate on (the simulator world with seed 7, whose 40 items are the
    /// default online catalogue), written as a shop's CSV log with a schema so that the numpy reference reads the
    /// same rows: a zero-padded numeric timestamp, the logged item, slot, click and propensity, each user feature, and
    /// all-zero affinity columns, one per item (every row cold), for the reference's cold/warm split.
    ///
    /// It also writes `first-slot.csv`, the same log with only the rows of the first slot: the rows `data ope
    /// --online` evaluates on, for the reference.
    static func syntheticShopLog(in dir: URL) throws -> (log: String, schema: String) {
        let data = try DatasetSpecifier(parsing: "synthetic:users=2000,rows=3000,seed=7").load(obdDirectory: "")
        let features = data.userFeatures.names
        let affinity = (0..<data.nActions).map { "affinity_\($0)" }
        let zeros = [String](repeating: "0", count: data.nActions)
        var lines = [(["ts", "item", "slot", "click", "p"] + affinity + features).joined(separator: ",")]
        var firstSlot = [lines[0]]
        for row in 0..<data.rows {
            let values = data.userFeatures.dictionary(row)
            // Zero-padded, so that the reference's text order is the numeric order recpool sorts by.
            let fixed = [String(format: "%06d", row), "\(data.action[row])", "\(data.position[row] + 1)", "\(Int(data.reward[row]))",
                "\(data.pscore[row])"] + zeros
            lines.append((fixed + features.map { values[$0] ?? "" }).joined(separator: ","))
            if data.position[row] == 0 { firstSlot.append(lines[lines.count - 1]) }
        }
        try firstSlot.joined(separator: "\n").write(
            toFile: dir.appendingPathComponent("first-slot.csv").path, atomically: true, encoding: .utf8)
        let items = ["item"] + (0..<data.nActions).map { "\($0)" }
        let schema = """
            [logs]
            timestamp = "ts"
            item = "item"
            position = "slot"
            click = "click"
            propensity = "p"
            affinity_prefix = "affinity_"
            [logs.user_features]
            \(features.map { "\"\($0)\" = \"categorical\"" }.joined(separator: "\n"))
            [catalogue]
            file = "items.csv"
            item = "item"
            """
        let (log, toml) = (dir.appendingPathComponent("logs.csv").path, dir.appendingPathComponent("shop.toml").path)
        try lines.joined(separator: "\n").write(toFile: log, atomically: true, encoding: .utf8)
        try items.joined(separator: "\n").write(
            toFile: dir.appendingPathComponent("items.csv").path, atomically: true, encoding: .utf8)
        try schema.write(toFile: toml, atomically: true, encoding: .utf8)
        return (log, toml)
    }

    /// `recpool data ope LOG --schema SCHEMA --json` for an online candidate, checked by the numpy reference on the
    /// same rows to a relative 1e-9.
    static func checkedOnline(_ candidate: [String], log: String, schema: String, in dir: URL) throws -> [String: Any] {
        let (report, q, pi) = (dir.appendingPathComponent("r.json"), dir.appendingPathComponent("q.npy"),
            dir.appendingPathComponent("pi.npy"))
        let run = try runTool(
            "recpool",
            ["data", "ope", log, "--schema", schema, "--resamples", "50", "--json", "--rewards-out", q.path,
             "--policy-out", pi.path] + candidate)
        #expect(run.code == 0, "\(run.stderr)")
        try run.stdout.write(to: report, atomically: true, encoding: .utf8)
        // `--online` evaluates the first slot's rows only; the reference reads just those.
        let firstSlot = URL(fileURLWithPath: log).deletingLastPathComponent().appendingPathComponent("first-slot.csv")
        let check = try reference([
            "check", "--csv", firstSlot.path, "--schema", schema, "--split", "all", "--action-dist", pi.path,
            "--rewards", q.path, "--report", report.path, "--tolerance", "1e-9",
        ])
        #expect(check.code == 0, "\(check.output)")
        #expect(check.output.contains("all figures agree"))
        return try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    @Test(
        "an online policy version, served or named by number after a second was accepted, has figures equal to numpy's; an unknown version is refused",
        .enabled(if: ready))
    func onlinePolicyVersionByNumber() async throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await OnlineLearningTests.onlinePool(
            cluster, state: dir.appendingPathComponent("state"),
            // No periodic sync: only the one the test asks for may make version 2, however slow the machine.
            extra: ["--online-update-every", "1", "--online-sync-interval-ms", "600000"])
        defer { client.close() }
        let (log, schema) = try Self.syntheticShopLog(in: dir)
        let broker = ["--broker", cluster.endpoints.frontend]
        let first = try Self.checkedOnline(["--online"] + broker, log: log, schema: schema, in: dir)
        #expect(first["policy"] as? String == "online policy version 1")

        // Feedback, then a sync the guard accepts (too few rows to judge): the pool serves version 2.
        let query = Array(#"{"user_features":{"user_feature_0":"u0_01"},"top":3}"#.utf8)
        for _ in 0..<5 {
            let slate = try await client.recommendPolicy(document: query)
            _ = try await client.feedback(impressionId: slate.impressionId, item: slate.items[0].item, click: 1)
        }
        let synced = try await client.onlineSync()
        #expect(synced.version == 2, "\(synced)")
        let served = try Self.checkedOnline(["--online"] + broker, log: log, schema: schema, in: dir)
        #expect(served["policy"] as? String == "online policy version 2")
        let named = try Self.checkedOnline(
            ["--online", "--online-version", "1"] + broker, log: log, schema: schema, in: dir)
        #expect(named["policy"] as? String == "online policy version 1")
        #expect(Self.figures(first) == Self.figures(named))

        let unknown = try runTool(
            "recpool", ["data", "ope", log, "--schema", schema, "--online-version", "99", "--resamples", "0"] + broker)
        #expect(unknown.code != 0 && unknown.stderr.contains("online policy version 99 not found"), "\(unknown.stderr)")

        // A log of the second and third slots only: its slot 2 has rank 0 in the file, and was evaluated as the first
        // slot (an IPW of 0.00013 with a narrow interval, on propensities conditional on the item above).
        let text = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        let lower = [text[0]] + text.dropFirst().filter { $0.split(separator: ",")[2] != "1" }
        let lowerLog = dir.appendingPathComponent("lower-slots.csv").path
        try lower.joined(separator: "\n").write(toFile: lowerLog, atomically: true, encoding: .utf8)
        let refused = try runTool(
            "recpool", ["data", "ope", lowerLog, "--schema", schema, "--online", "--resamples", "0"] + broker)
        #expect(
            refused.code == 2 && refused.stderr.contains("no row was logged in the first slot")
                && refused.stderr.contains("the log's slots are 2, 3"),
            "\(refused.code) \(refused.stderr)")
    }
}

extension OffPolicyCandidateTests {
    /// The reference YOUR-DATA.md step 6 offers for a shop's schema read every row: with an `observed` column it
    /// failed on an unobserved row's blank click, and with a `retrieval` column it wrote an action distribution of
    /// more rows than `data ope` evaluates (which it then refused) and failed its own check.
    @Test(
        "the numpy reference leaves out unobserved rows and rows drawn from a candidate set, as data ope does",
        .enabled(if: python != nil, "needs .venv with numpy"))
    func referenceReadsObservedAndRetrieval() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        var log = "ts,sku,slot,clicked,p,seen,retrieval,device\n"
        for i in 0..<300 {
            let unobserved = i % 7 == 3
            let click = unobserved ? (i % 2 == 0 ? "" : "0") : "\(i % 5 == 0 || i % 11 == 0 ? 1 : 0)"
            log += "\(1_000 + i),S\(i % 4),\(1 + i % 2),\(click),0.25,\(unobserved ? 0 : 1),"
                + "\(i % 6 == 1 ? "request" : ""),\(i % 3 == 0 ? "phone" : "desk")\n"
        }
        let path = dir.appendingPathComponent("log.csv").path
        try log.write(toFile: path, atomically: true, encoding: .utf8)
        try "sku,price\nS0,1\nS1,2\nS2,3\nS3,4\n".write(
            to: dir.appendingPathComponent("items.csv"), atomically: true, encoding: .utf8)
        let schema = dir.appendingPathComponent("shop.toml").path
        try """
            [logs]
            timestamp = "ts"
            item = "sku"
            position = "slot"
            click = "clicked"
            propensity = "p"
            observed = "seen"
            retrieval = "retrieval"

            [logs.user_features]
            device = "categorical"

            [catalogue]
            file = "items.csv"
            item = "sku"

            [catalogue.item_features]
            price = "numeric"

            """.write(toFile: schema, atomically: true, encoding: .utf8)
        let made = dir.appendingPathComponent("made.npy").path
        let make = try Self.reference(
            ["make-action-dist", "--csv", path, "--schema", schema, "--split", "test", "--seed", "1", "--out", made])
        #expect(make.code == 0, "\(make.output)")
        let taken = try runTool(
            "recpool", ["data", "ope", path, "--schema", schema, "--split", "test", "--action-dist", made, "--json"])
        #expect(taken.code == 0, "\(taken.stderr)")

        let (report, q, pi) = (dir.appendingPathComponent("r.json"), dir.appendingPathComponent("q.npy"),
            dir.appendingPathComponent("pi.npy"))
        let run = try runTool(
            "recpool",
            ["data", "ope", path, "--schema", schema, "--split", "test", "--policy", "uniform", "--json",
             "--rewards-out", q.path, "--policy-out", pi.path, "--resamples", "0"])
        #expect(run.code == 0, "\(run.stderr)")
        try run.stdout.write(to: report, atomically: true, encoding: .utf8)
        let check = try Self.reference([
            "check", "--csv", path, "--schema", schema, "--split", "test", "--action-dist", pi.path, "--rewards", q.path,
            "--report", report.path, "--tolerance", "1e-9",
        ])
        #expect(check.code == 0 && check.output.contains("all figures agree"), "\(check.output)")
    }
}
