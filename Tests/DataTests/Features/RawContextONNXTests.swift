import Foundation
import RecModel
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
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
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
        let json = try #require(JSONSerialization.jsonObject(with: stdout) as? [String: Any], "\(stderr)")
        return try #require(json["scores"] as? [Double])
    }

    /// Every item for a few users (known, unknown and missing feature values) with and without views, through the
    /// ONNX graph and through `Recommender` (whose scores are the model's, with the viewed-item rule).
    static func compare(spec: FeatureSpec, network: MLP, users: [[String: String]]) throws {
        let model = try spec.onnxModel(network: network)
        let recommender = Recommender(spec: spec, scorer: CheckpointEvaluation.scorer(network))
        let viewSets: [[ViewEvent]] = [
            [], [ViewEvent(item: 1, seconds: 30)],
            [ViewEvent(item: 2, seconds: 12), ViewEvent(item: 5, seconds: 600), ViewEvent(item: 2, seconds: 4)],
        ]
        var cases: [String: [Any]] = [:]
        var expected: [Double] = []
        for user in users {
            for views in viewSets {
                let reply = try recommender.recommend(
                    RecommendQuery(userFeatures: user, events: views, top: spec.itemCount))
                #expect(reply.source == .model)
                let byItem = Dictionary(uniqueKeysWithValues: reply.items.map { ($0.item, $0.score) })
                let padded = views + [ViewEvent(item: 0, seconds: 0)]  // padding: a zero-second view counts nothing
                for item in 0..<spec.itemCount {
                    cases["user_features", default: []].append(spec.userFeatureNames.map { user[$0] ?? "" })
                    cases["item", default: []].append(item)
                    cases["position", default: []].append(0)
                    cases["event_item", default: []].append(
                        (padded + Array(repeating: ViewEvent(item: 0, seconds: 0), count: 4 - padded.count))
                            .map(\.item))
                    cases["event_seconds", default: []].append(
                        (padded + Array(repeating: ViewEvent(item: 0, seconds: 0), count: 4 - padded.count))
                            .map(\.seconds))
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
        let train = Self.fixture.split().train
        let spec = try FeatureSpec.fit(on: train)
        let network = MLP(inputWidth: spec.width, hiddenSizes: [16, 8], seed: 9)
        let known = train.userFeatures.dictionary(3)
        var unknown = known
        unknown[spec.userFeatureNames[1]] = "never-seen"
        var missing = known
        missing[spec.userFeatureNames[0]] = nil
        try Self.compare(spec: spec, network: network, users: [known, unknown, missing])
    }

    @Test(
        "an old spec (z-scored affinity) and the basic feature set export and agree too",
        .enabled(if: python != nil, "needs RECPOOL_PYTHON or .venv with onnxruntime (scripts/requirements.txt)"))
    func otherEncodings() throws {
        let train = Self.fixture.split().train
        let user = [train.userFeatures.dictionary(5)]
        let old = try FeatureSpec.fit(on: train, eventEncoding: .affinityZScore)
        try Self.compare(spec: old, network: MLP(inputWidth: old.width, hiddenSizes: [8], seed: 2), users: user)
        let basic = try FeatureSpec.fit(on: train, featureSet: .basic)
        try Self.compare(spec: basic, network: MLP(inputWidth: basic.width, hiddenSizes: [8], seed: 3), users: user)
        #expect(throws: ONNXExportError.widthMismatch(spec: basic.width, model: 7)) {
            try basic.onnxModel(network: MLP(inputWidth: 7, seed: 1))
        }
    }
}
