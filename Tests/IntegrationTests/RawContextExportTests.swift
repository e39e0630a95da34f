import Foundation
import RecData
import Testing

/// `recpool export --raw-context`: the exported graph, run in onnxruntime on raw context, scores like local
/// scoring with the checkpoint (`Recommender`, which the worker's RECOMMEND runs) within 1e-5.
@Suite("ONNX export from raw context", .serialized)
struct RawContextExportTests {
    static let root = OffPolicyCandidateTests.root
    static let python = OffPolicyCandidateTests.python

    /// Runs a Python program (`arguments` after the interpreter) and returns its standard output as JSON.
    static func pythonJSON(_ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(python))
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(stderr)")
        return try #require((try? JSONSerialization.jsonObject(with: data)) as? [String: Any], "\(stderr)")
    }

    /// Exports `checkpoint` with `--raw-context` and checks that onnxruntime scores every item for each of `users`
    /// (with and without views) as `Recommender` does when it answers from the model, within 1e-5, and that the model's metadata names the inputs
    /// and the user columns in the spec's order. A missing numeric user feature is sent as null (NaN).
    static func exportAndCompare(_ checkpoint: String, in dir: URL, users: [[String: String]]) throws {
        let onnx = dir.appendingPathComponent("m.onnx").path
        let export = try runTool(
            "recpool", ["export", "--model", checkpoint, "--format", "onnx", "--raw-context", "--out", onnx])
        #expect(export.code == 0 && export.stdout.contains("raw context"), "\(export.stderr)")

        let (model, spec) = try CheckpointEvaluation.load(checkpoint)
        let recommender = Recommender(spec: spec, scorer: CheckpointEvaluation.scorer(model.model.network))
        var cases: [String: [Any]] = [:]
        var expected: [Double] = []
        for user in users {
            for views in [
                [ViewEvent(item: 0, seconds: 0), ViewEvent(item: 0, seconds: 0)],
                [ViewEvent(item: 3, seconds: 30), ViewEvent(item: 1, seconds: 15)],
            ] {
                let reply = try recommender.recommend(
                    RecommendQuery(userFeatures: user, events: views, top: min(spec.itemCount, 1_000)))
                // A user with no signal gets the popularity prior, a serving rule outside the model's graph.
                guard reply.source == .model else { continue }
                for item in reply.items {
                    cases["user_features", default: []].append(spec.userFeatureNames.map { user[$0] ?? "" })
                    cases["user_numeric", default: []].append(
                        (spec.userNumericNames ?? []).map {
                            user[$0].flatMap(Double.init).map { $0 as Any } ?? NSNull()
                        })
                    cases["item", default: []].append(item.item)
                    cases["position", default: []].append(0)
                    cases["event_item", default: []].append(views.map(\.item))
                    cases["event_seconds", default: []].append(views.map(\.seconds))
                    expected.append(item.score)
                }
            }
        }
        try JSONSerialization.data(withJSONObject: cases).write(to: dir.appendingPathComponent("cases.json"))
        let scored = try pythonJSON([
            root.appendingPathComponent("scripts/reference/onnx_raw_context.py").path, onnx,
            dir.appendingPathComponent("cases.json").path,
        ])
        let scores = try #require(scored["scores"] as? [Double])
        #expect(scores.count == expected.count && !expected.isEmpty)
        let worst = zip(scores, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "largest difference \(worst)")

        // The views' items and seconds of other widths (or another batch) are refused by the runtime: they were
        // broadcast against each other, and `[[1, 2]]` with `[[30]]` scored as neither view list.
        let mismatched = try pythonJSON([
            "-c",
            """
            import json, sys, numpy as np, onnxruntime as ort
            s = ort.InferenceSession(sys.argv[1]); c = json.load(open(sys.argv[2]))
            types = {"tensor(string)": object, "tensor(double)": np.float64, "tensor(int64)": np.int64}
            declared = {i.name: types[i.type] for i in s.get_inputs()}
            base = {k: np.array(v[:1], dtype=declared[k]) for k, v in c.items() if k in declared}
            def refused(change):
                try:
                    s.run(None, {**base, **{k: np.array(v, dtype=declared[k]) for k, v in change.items()}})
                    return False
                except Exception:
                    return True
            print(json.dumps({"refused": [refused({"event_item": [[1, 2]], "event_seconds": [[30.0]]}),
                                          refused({"event_item": [[1]], "event_seconds": [[30.0, 30.0]]}),
                                          refused({"event_item": [[1], [2]], "event_seconds": [[30.0], [30.0]]}),
                                          refused({"event_item": [[1]], "event_seconds": [[30.0]]})]}))
            """, onnx, dir.appendingPathComponent("cases.json").path,
        ])
        #expect(mismatched["refused"] as? [Bool] == [true, true, true, false], "\(mismatched)")

        let metadata = try pythonJSON([
            "-c",
            "import json, sys, onnxruntime as ort; "
                + "print(json.dumps(ort.InferenceSession(sys.argv[1]).get_modelmeta().custom_metadata_map))", onnx,
        ])
        let names = { (key: String) in
            (metadata[key] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }
        }
        #expect(names("recpool.user_features") == spec.userFeatureNames)
        #expect(names("recpool.user_numeric") == (spec.userNumericNames ?? []))
        #expect(metadata["recpool.feature_spec_version"] as? String == "\(spec.version)")
        #expect(metadata["recpool.width"] as? String == "\(spec.width)")
        let inputs =
            (spec.userNumericNames == nil ? ["user_features"] : ["user_features", "user_numeric"])
            + ["item", "position", "event_item", "event_seconds"]
        #expect(metadata["recpool.inputs"] as? String == inputs.joined(separator: ","))
        #expect((metadata["recpool.missing"] as? String)?.contains("NaN") == true)
    }

    @Test(
        "a trained checkpoint exported with its transform scores raw context as recommend does",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime"))
    func exported() throws {
        let dir = try OffPolicyCandidateTests.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        let dataset = "synthetic:users=500,items=8,seed=3"
        #expect(
            try runTool("recpool", ["data", "features", dataset, "--out", path("t.csv"), "--spec-out", path("s.json")])
                .code == 0)
        let fit = try runTool(
            "recpool",
            [
                "fit", "--dataset", path("t.csv"), "--feature-spec", path("s.json"), "--out", path("m.ckpt"),
                "--epochs", "2",
            ])
        #expect(fit.code == 0, "\(fit.stderr)")
        let spec = try CheckpointEvaluation.load(path("m.ckpt")).1
        try Self.exportAndCompare(
            path("m.ckpt"), in: dir, users: [Dictionary(uniqueKeysWithValues: spec.userFeatureNames.map { ($0, "0") })])
        // A checkpoint without a feature spec cannot be exported from raw context: a typed refusal, exit 2.
        let bare = try runTool(
            "recpool", ["fit", "--dataset", path("t.csv"), "--out", path("bare.ckpt"), "--epochs", "1"])
        #expect(bare.code == 0)
        let refused = try runTool(
            "recpool", ["export", "--model", path("bare.ckpt"), "--raw-context", "--out", path("bare.onnx")])
        #expect(refused.code == 2 && refused.stderr.contains("feature spec"), "\(refused.stderr)")
    }

    @Test(
        "a shop's 30,000-item catalogue exports a model of a few MB (no item × item table) that scores as recommend",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime"))
    func largeCatalogue() throws {
        // The graph held two itemCount × itemCount float tables (a similarity and an identity): 3.6 GB each here, a
        // model protobuf cannot hold (onnxruntime refused it) written with exit 0; at 100,000 items the export
        // aborted allocating 40 GB.
        let dir = try OffPolicyCandidateTests.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        let items = 30_000
        var log = ["ts,sku,slot,clicked,p,device"]
        for t in 0..<600 {
            log.append("\(t),SKU-\(t * 7_919 % items),\(t % 3),\(t % 4 == 0 ? 1 : 0),0.001,\(["ios", "web"][t % 2])")
        }
        let catalogue = ["sku,brand,price"] + (0..<items).map { "SKU-\($0),b\($0 % 40),\(5 + $0 % 97).5" }
        let schema = """
            [logs]
            timestamp = "ts"
            item = "sku"
            position = "slot"
            click = "clicked"
            propensity = "p"
            [logs.user_features]
            device = "categorical"
            [catalogue]
            file = "catalogue.csv"
            item = "sku"
            [catalogue.item_features]
            brand = "categorical"
            price = "numeric"
            """
        try log.joined(separator: "\n").write(toFile: path("logs.csv"), atomically: true, encoding: .utf8)
        try catalogue.joined(separator: "\n").write(toFile: path("catalogue.csv"), atomically: true, encoding: .utf8)
        try schema.write(toFile: path("shop.toml"), atomically: true, encoding: .utf8)
        let fit = try runTool(
            "recpool",
            ["fit", "--dataset", path("logs.csv"), "--schema", path("shop.toml"), "--out", path("m.ckpt"), "--epochs", "1"])
        #expect(fit.code == 0, "\(fit.stderr)")
        #expect(try CheckpointEvaluation.load(path("m.ckpt")).1.itemCount == items)
        try Self.exportAndCompare(path("m.ckpt"), in: dir, users: [["device": "ios"], ["device": "tablet"]])
        let bytes = try #require(
            try FileManager.default.attributesOfItem(atPath: path("m.onnx"))[.size] as? Int)
        #expect(bytes < 32 << 20, "\(bytes) bytes for \(items) items")
        // A negative item or viewed item is no catalogue row: Gather read it from the end (item -1 scored as the last
        // item, a view of -30000 as one of item 0). The score is NaN instead.
        let checked = try Self.pythonJSON([
            "-c",
            """
            import json, math, sys, numpy as np, onnxruntime as ort
            s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
            def score(item, views):
                feeds = {"user_features": np.array([["ios"]], dtype=object), "item": np.array([item], dtype=np.int64),
                         "position": np.array([0], dtype=np.int64),
                         "event_item": np.array([[v for v, _ in views]], dtype=np.int64),
                         "event_seconds": np.array([[t for _, t in views]], dtype=np.float64)}
                return float(s.run(["score"], {k: v for k, v in feeds.items() if k in {i.name for i in s.get_inputs()}})[0].reshape(-1)[0])
            print(json.dumps({"valid": math.isfinite(score(5, [(3, 30.0)])), "item": math.isnan(score(-1, [(3, 30.0)])),
                              "view": math.isnan(score(5, [(-30000, 30.0)]))}))
            """,
            path("m.onnx"),
        ])
        #expect(checked["valid"] as? Bool == true && checked["item"] as? Bool == true && checked["view"] as? Bool == true, "\(checked)")
    }

    @Test(
        "a shop's checkpoint with numeric user features and several numeric item features exports and scores as recommend",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime"))
    func numericShop() throws {
        let dir = try OffPolicyCandidateTests.temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        var log = ["ts,sku,slot,clicked,p,device,basket_value,visits"]
        for t in 0..<400 {
            log.append(
                "\(1_000 + t),\(t % 6),\(t % 3 + 1),\(t * 7 % 5 == 0 ? 1 : 0),0.2,\(["ios", "android", "web"][t % 3]),"
                    + "\(20 + (t * 37) % 200).5,\(t % 9)")
        }
        let catalogue =
            ["sku,brand,price,weight,rating"]
            + (0..<6).map { "\($0),b\($0 % 2),\(10 + 3 * $0).5,\(0.5 + Double($0) * 0.25),\($0 * 3 % 5)" }
        let schema = """
            [logs]
            timestamp = "ts"
            item = "sku"
            position = "slot"
            click = "clicked"
            propensity = "p"
            [logs.user_features]
            device = "categorical"
            basket_value = "numeric"
            visits = "numeric"
            [catalogue]
            file = "catalogue.csv"
            item = "sku"
            [catalogue.item_features]
            brand = "categorical"
            price = "numeric"
            weight = "numeric"
            rating = "numeric"
            """
        try log.joined(separator: "\n").write(toFile: path("logs.csv"), atomically: true, encoding: .utf8)
        try catalogue.joined(separator: "\n").write(toFile: path("catalogue.csv"), atomically: true, encoding: .utf8)
        try schema.write(toFile: path("shop.toml"), atomically: true, encoding: .utf8)
        let fit = try runTool(
            "recpool",
            [
                "fit", "--dataset", path("logs.csv"), "--schema", path("shop.toml"), "--out", path("m.ckpt"),
                "--epochs", "2",
            ])
        #expect(fit.code == 0, "\(fit.stderr)")
        let spec = try CheckpointEvaluation.load(path("m.ckpt")).1
        #expect(
            spec.userNumericNames == ["basket_value", "visits"] && spec.itemNumericExtraNames == ["weight", "rating"])
        try Self.exportAndCompare(
            path("m.ckpt"), in: dir,
            users: [
                ["device": "ios", "basket_value": "120.5", "visits": "3"],  // known values
                ["device": "tablet", "basket_value": "9000"],  // unseen device, out-of-range and missing numbers
                ["device": "web"],  // every numeric feature missing
            ])
    }
}
