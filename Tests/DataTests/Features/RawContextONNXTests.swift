import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

/// The ONNX export with the feature transform, run in onnxruntime on raw context
/// (`scripts/reference/onnx_raw_context.py`), scores like `Recommender` within 1e-5.
@Suite("ONNX from raw features")
struct RawContextONNXTests {
    /// `RECPOOL_PYTHON`, else the repository's `.venv` (it needs onnxruntime and numpy).
    static let python: String? = {
        if let configured = ProcessInfo.processInfo.environment["RECPOOL_PYTHON"] { return configured }
        let venv = Paths.repoRoot + "/.venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }()

    /// Scores `cases` with the model in onnxruntime.
    static func onnxScores(model: [UInt8], cases: [String: Any]) throws -> [Double] {
        try #require(runONNX(model: model, cases: cases)["scores"] as? [Double])
    }

    /// Runs `model` on `cases` in onnxruntime and returns the script's JSON (`scores`, or `features` for a
    /// transform-only model).
    static func runONNX(model: [UInt8], cases: [String: Any]) throws -> [String: Any] {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let dir = temporary.path
        try Data(model).write(to: URL(fileURLWithPath: dir + "/m.onnx"))
        try JSONSerialization.data(withJSONObject: cases).write(to: URL(fileURLWithPath: dir + "/cases.json"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(python))
        process.arguments = [
            Paths.repoRoot + "/scripts/reference/onnx_raw_context.py", dir + "/m.onnx", dir + "/cases.json",
        ]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(stderr)")
        return try #require(JSONSerialization.jsonObject(with: stdout) as? [String: Any], "\(stderr)")
    }

    /// The inputs of one candidate row: the user's raw values in the metadata's column order (a missing numeric
    /// value is sent as null, i.e. NaN), the item at slot 0 and the views padded to 4.
    static func appendCase(
        _ cases: inout [String: [Any]], spec: FeatureSpec, user: [String: String], item: Int, views: [ViewEvent]
    ) {
        let padded = views + Array(repeating: ViewEvent(item: 0, seconds: 0), count: 4 - views.count)
        cases["user_features", default: []].append(spec.userFeatureNames.map { user[$0] ?? "" })
        cases["user_numeric", default: []].append(
            (spec.userNumericNames ?? []).map { user[$0].flatMap(Double.init).map { $0 as Any } ?? NSNull() })
        cases["item", default: []].append(item)
        cases["position", default: []].append(0)
        cases["event_item", default: []].append(padded.map(\.item))
        cases["event_seconds", default: []].append(padded.map(\.seconds))
    }

    /// View histories over a catalogue of `items`: none, one long view, and short, long and repeated views.
    static func viewSets(items: Int) -> [[ViewEvent]] {
        [
            [], [ViewEvent(item: 1 % items, seconds: 30)],
            [
                ViewEvent(item: 2 % items, seconds: 12), ViewEvent(item: 5 % items, seconds: 600),
                ViewEvent(item: 2 % items, seconds: 4),
            ],
        ]
    }

    /// Every item for a few users (known, unknown and missing feature values) with and without views, through the
    /// ONNX graph and through `Recommender` (whose scores are the model's, with the viewed-item rule).
    static func compare(
        spec: FeatureSpec, network: MLP, users: [[String: String]], views viewSets: [[ViewEvent]]? = nil
    ) throws {
        let model = try spec.onnxModel(network: network)
        let recommender = Recommender(spec: spec, scorer: CheckpointEvaluation.scorer(network))
        var cases: [String: [Any]] = [:]
        var expected: [Double] = []
        for user in users {
            for views in viewSets ?? Self.viewSets(items: spec.itemCount) {
                let reply = try recommender.recommend(
                    RecommendQuery(userFeatures: user, events: views, top: spec.itemCount))
                #expect(reply.source == .model)
                let byItem = Dictionary(uniqueKeysWithValues: reply.items.map { ($0.item, $0.score) })
                for item in 0..<spec.itemCount {
                    appendCase(&cases, spec: spec, user: user, item: item, views: views)
                    expected.append(byItem[item]!)
                }
            }
        }
        let scores = try onnxScores(model: model, cases: cases)
        #expect(scores.count == expected.count)
        let worst = zip(scores, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "largest difference \(worst)")
    }

    static let fixture = try! OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")

    @Test(
        "onnxruntime turns raw context into Recommender's score within 1e-5 (interest encoding)",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"))
    func interest() throws {
        let train = SplitDataset(Self.fixture).train
        let spec = try FeatureSpec.fit(on: train)
        #expect(spec.version == 4 && spec.hasCrossRates)  // the target-encoded crosses' lookups are in the graph
        let network = MLP(inputWidth: spec.width, hiddenSizes: [16, 8], seed: 9)
        let known = train.userFeatures.dictionary(3)
        var unknown = known
        unknown[spec.userFeatureNames[1]] = "never-seen"
        var missing = known
        missing[spec.userFeatureNames[0]] = nil
        try Self.compare(spec: spec, network: network, users: [known, unknown, missing])
    }

    @Test(
        "old specs (z-scored affinity; the version-2 item one-hot) and the basic feature set export and agree too",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"))
    func otherEncodings() throws {
        let train = SplitDataset(Self.fixture).train
        let user = [train.userFeatures.dictionary(5)]
        let old = try FeatureSpec.fit(on: train, eventEncoding: .affinityZScore)
        try Self.compare(spec: old, network: MLP(inputWidth: old.width, hiddenSizes: [8], seed: 2), users: user)
        let oneHot = try FeatureSpec.fit(on: train, itemIdEncoding: nil)  // version 2: item one-hot
        #expect(oneHot.version == 2)
        try Self.compare(spec: oneHot, network: MLP(inputWidth: oneHot.width, hiddenSizes: [8], seed: 4), users: user)
        let hashedCrosses = try FeatureSpec.fit(on: train, crossBuckets: 512)  // version 3: hashed cross buckets
        #expect(hashedCrosses.version == 3 && !hashedCrosses.hasCrossRates)
        try Self.compare(
            spec: hashedCrosses, network: MLP(inputWidth: hashedCrosses.width, hiddenSizes: [8], seed: 6), users: user)
        let basic = try FeatureSpec.fit(on: train, featureSet: .basic)
        try Self.compare(spec: basic, network: MLP(inputWidth: basic.width, hiddenSizes: [8], seed: 3), users: user)
        #expect(throws: ONNXExportError.widthMismatch(spec: basic.width, model: 7)) {
            try basic.onnxModel(network: MLP(inputWidth: 7, seed: 1))
        }
    }

    /// A shop's spec (ShopFixture: categorical `device`, numeric `age`, item `brand`, numeric `price` and
    /// `price_band`) with one more numeric user feature (`income`) and one more numeric item feature (`weight`), so
    /// that there are several of each, fitted with `eventEncoding` and `featureSet`.
    static func shopSpec(_ featureSet: FeatureSpec.FeatureSet, _ encoding: FeatureSpec.EventEncoding) throws
        -> FeatureSpec
    {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        guard
            case .logs(let split, _, _) = try DatasetResolver(obdDirectory: "").resolve(
                folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        else { throw ONNXExportError.inconsistentSpec("the shop fixture did not read as logs") }
        var spec = try FeatureSpec.fit(on: split.train, featureSet: featureSet, eventEncoding: encoding)
        #expect(spec.userNumericNames == ["age"] && spec.itemNumericExtraNames == ["price_band"])
        spec.userNumericNames! += ["income"]
        spec.userNumericScalings! += [FeatureSpec.ZScore(fitting: [30_000, 50_000, 90_000])]
        spec.itemNumericExtraNames! += ["weight"]
        spec.itemNumericExtraScalings! += [FeatureSpec.ZScore(fitting: [0.5, 2, 4])]
        for item in 0..<spec.itemCount { spec.itemNumericExtra![item] += [Double(item) * 0.75 + 0.25] }
        spec.columns = spec.columnNames()
        return spec
    }

    /// Users of the shop spec: known values; an unseen device and one missing numeric value (sent as NaN); all
    /// numeric values missing; a missing device with numbers far outside the training range. (`Recommender` refuses
    /// a numeric value that is not a number, so the graph never has to score one.)
    static let shopUsers: [[String: String]] = [
        ["device": "ios", "age": "31", "income": "52000"],
        ["device": "tablet", "income": "41000.5"],
        ["device": "web"],
        ["age": "95", "income": "1e6"],
    ]

    @Test(
        "numeric user features and several numeric item features: onnxruntime agrees with Recommender within 1e-5",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"),
        arguments: [
            (FeatureSpec.FeatureSet.extended, FeatureSpec.EventEncoding.interest), (.extended, .affinityZScore),
            (.basic, .interest),
        ])
    func numericFeatures(_ featureSet: FeatureSpec.FeatureSet, _ encoding: FeatureSpec.EventEncoding) throws {
        let spec = try Self.shopSpec(featureSet, encoding)
        try Self.compare(
            spec: spec, network: MLP(inputWidth: spec.width, hiddenSizes: [8, 4], seed: 5), users: Self.shopUsers)
    }

    /// The graph scaled a numeric user feature in float32: a value near ±3.4e38 minus the training mean overflowed to
    /// ±infinity and the score was NaN (for a value the training log held), a nanosecond timestamp lost its last
    /// digits, and a view 1 ulp shorter than `engagedSeconds` rounded up to it and counted as engaged. The inputs and
    /// the scaling are float64 now, as in `Recommender`.
    @Test(
        "values near a float's limits, nanosecond timestamps and a view just under the engaged time score as Recommender does",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"),
        arguments: [FeatureSpec.EventEncoding.interest, .affinityZScore])
    func float64Inputs(_ encoding: FeatureSpec.EventEncoding) throws {
        var spec = try Self.shopSpec(.extended, encoding)
        spec.userNumericNames! += ["huge", "stamp"]
        spec.userNumericScalings! += [
            FeatureSpec.ZScore(fitting: [3.4e38, 3.4e38, 3.4e38, -3.4e38]),
            FeatureSpec.ZScore(fitting: [1_714_550_400_000_000_000, 1_714_550_400_000_004_096, 1_714_550_400_000_008_192]),
        ]
        spec.columns = spec.columnNames()
        let users: [[String: String]] = [
            ["device": "ios", "age": "31", "income": "52000", "huge": "-3.4e38", "stamp": "1714550400000000000"],
            ["device": "web", "huge": "3.4e38", "stamp": "1714550400000008192"],
        ]
        let below = spec.engagedSeconds.nextDown
        #expect(Float(below) == Float(spec.engagedSeconds))
        let views = [[], [ViewEvent(item: 1, seconds: below)], [ViewEvent(item: 2, seconds: below), ViewEvent(item: 1, seconds: 30)]]
        try Self.compare(
            spec: spec, network: MLP(inputWidth: spec.width, hiddenSizes: [8, 4], seed: 5), users: users, views: views)
    }

    /// A numeric user feature constant in training (every row 7) is 0 on every served row, whatever the request's
    /// value (`ZScore.constant`), and so is a constant shown-item affinity; the graph masks the column as the
    /// transform does.
    @Test(
        "a numeric feature constant in training is 0 in the graph as in Recommender's transform, whatever the value",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"),
        arguments: [FeatureSpec.EventEncoding.interest, .affinityZScore])
    func constantNumericFeature(_ encoding: FeatureSpec.EventEncoding) throws {
        var spec = try Self.shopSpec(.extended, encoding)
        spec.userNumericNames! += ["tenure"]
        let constant = FeatureSpec.ZScore(fitting: [7, 7, 7])
        #expect(constant.constant == true)
        spec.userNumericScalings! += [constant]
        if encoding == .affinityZScore { spec.affinityScaling = FeatureSpec.ZScore(fitting: [0, 0, 0]) }
        spec.columns = spec.columnNames()
        let index = try #require(spec.userNumericNames?.firstIndex(of: "tenure"))
        let users = Self.shopUsers.enumerated().map { index, user in
            user.merging(["tenure": ["7", "12", "-3e5", "7.5"][index]]) { _, new in new }
        }
        for user in users { #expect(spec.userNumericValues(user)[index] == 0, "\(user)") }
        try Self.compare(
            spec: spec, network: MLP(inputWidth: spec.width, hiddenSizes: [8, 4], seed: 5), users: users)
    }

    /// A value holding `é` decomposed in training (`e` + U+0301) and composed in a request (U+00E9): training's codes
    /// call them one category, the served transform called the composed one unknown, and so did the graph.
    @Test(
        "a category in either Unicode form is the same column in Recommender's transform and in the graph",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"))
    func unicodeForms() throws {
        var spec = try Self.shopSpec(.extended, .interest)
        let device = try #require(spec.userFeatureNames.firstIndex(of: "device"))
        let decomposed = "we\u{301}b"
        let web = try #require(spec.userVocabularies[device].firstIndex(of: "web"))
        spec.userVocabularies[device][web] = decomposed
        spec.userVocabularies[device].sort(by: CategoricalColumns.precedes)
        let composed = ["device": "w\u{E9}b", "age": "40"]
        let asTrained = ["device": decomposed, "age": "40"]
        #expect(spec.userColumns(composed) == spec.userColumns(asTrained))
        #expect(spec.userColumns(composed) != spec.userColumns(["device": "never-seen", "age": "40"]))
        try Self.compare(
            spec: spec, network: MLP(inputWidth: spec.width, hiddenSizes: [8, 4], seed: 5), users: [composed, asTrained])
    }

    @Test(
        "the graph writes every column of the spec, value for value, as candidateRows does",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"),
        arguments: [
            (FeatureSpec.FeatureSet.extended, FeatureSpec.EventEncoding.interest), (.extended, .affinityZScore),
            (.basic, .interest),
        ])
    func everyColumn(_ featureSet: FeatureSpec.FeatureSet, _ encoding: FeatureSpec.EventEncoding) throws {
        let spec = try Self.shopSpec(featureSet, encoding)
        var cases: [String: [Any]] = [:]
        var expected: [[Float]] = []
        for user in Self.shopUsers {
            for views in Self.viewSets(items: spec.itemCount) {
                let rows = spec.candidateRows(
                    userFeatures: user, affinity: spec.affinity(from: views), items: Array(0..<spec.itemCount),
                    position: 0)
                for item in 0..<spec.itemCount {
                    Self.appendCase(&cases, spec: spec, user: user, item: item, views: views)
                    expected.append(Array(rows[(item * spec.width)..<((item + 1) * spec.width)]))
                }
            }
        }
        let json = try Self.runONNX(model: try spec.onnxTransformModel(), cases: cases)
        let features = try #require(json["features"] as? [[Double]])
        #expect(features.count == expected.count)
        for (row, (graph, swift)) in zip(features, expected).enumerated() {
            #expect(graph.count == spec.width && graph.count == spec.columnNames().count)
            let worst = zip(graph, swift).map { abs($0 - Double($1)) }.enumerated().max { $0.element < $1.element }
            #expect((worst?.element ?? 0) <= 1e-5, "row \(row): column \(spec.columns[worst?.offset ?? 0])")
        }
    }

    @Test("a model past protobuf's 2 GiB is refused before its tables are built, naming the largest one")
    func refusesModelsProtobufCannotHold() throws {
        var huge = try Self.shopSpec(.extended, .interest)
        // The arrays stay small: the size check runs first, so no table of 600 million items is ever allocated.
        huge.itemCount = 600_000_000
        do {
            _ = try huge.onnxTransformModel()
            Issue.record("a 600-million-item model was exported")
        } catch {
            guard case .tooLarge(let bytes, let limit, let largest) = error else {
                Issue.record("expected tooLarge, got \(error)")
                return
            }
            #expect(bytes > limit && limit < Int(Int32.max))
            #expect(largest.hasPrefix("the item table (600000000 items"), "\(largest)")
            #expect(error.description.contains("onnxruntime could not load it"))
        }
    }

    @Test("a spec the graph cannot write completely is refused with an error naming the column, never exported")
    func refusesIncompleteGraph() throws {
        var future = try Self.shopSpec(.extended, .interest)
        future.columns.append("a_future_field")
        let network = MLP(inputWidth: future.width, hiddenSizes: [4], seed: 1)
        #expect(
            throws: ONNXExportError.transformIncomplete(
                column: "a_future_field", graph: future.width - 1, spec: future.width)
        ) { try future.onnxModel(network: network) }
        var inconsistent = try Self.shopSpec(.extended, .interest)
        inconsistent.userNumericScalings!.removeLast()
        #expect(throws: ONNXExportError.inconsistentSpec("userNumericScalings does not match userNumericNames")) {
            try inconsistent.onnxModel(network: MLP(inputWidth: inconsistent.width, hiddenSizes: [4], seed: 1))
        }
    }
}
