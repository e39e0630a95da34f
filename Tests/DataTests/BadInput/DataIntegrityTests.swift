import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

/// Inputs that were taken and scored silently wrong: an OBD file with a feature column missing or renamed, a feature
/// specification whose statistics no fit gives, and a blank category that became a category of its own.
@Suite("Data inputs that are not what they claim are refused or read as missing")
struct DataIntegrityTests {
    static let fixture = Paths.fixtures + "/obd/random/men"

    /// The fixture's log and catalogue with `edit` applied to the log's header (or the catalogue's), written to a
    /// fresh folder: returns the log's path.
    static func edited(in folder: TemporaryDirectory, log: (inout [[String]]) -> Void = { _ in },
                       catalogue: (inout [[String]]) -> Void = { _ in }) throws -> String {
        func rows(_ path: String) throws -> [[String]] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
                $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            }
        }
        func write(_ rows: [[String]], _ name: String) throws {
            try (rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n")
                .write(to: folder.file(name), atomically: true, encoding: .utf8)
        }
        var logRows = try rows(fixture + "/men.csv")
        var catalogueRows = try rows(fixture + "/item_context.csv")
        log(&logRows)
        catalogue(&catalogueRows)
        try write(logRows, "men.csv")
        try write(catalogueRows, "item_context.csv")
        return folder.file("men.csv").path
    }

    /// Drops column `name` from every row.
    static func drop(_ name: String) -> (inout [[String]]) -> Void {
        { rows in
            guard let index = rows[0].firstIndex(of: name) else { return }
            for r in rows.indices { rows[r].remove(at: index) }
        }
    }

    /// Renames column `name` in the header.
    static func rename(_ name: String, to new: String) -> (inout [[String]]) -> Void {
        { rows in rows[0] = rows[0].map { $0 == name ? new : $0 } }
    }

    @Test(
        "an OBD-layout file with a user or item feature column left out or renamed is refused, naming it",
        arguments: [
            ("log", "drop user_feature_1", "no \"user_feature_1\" column"),
            ("log", "rename user_feature_2 user_feature_x", "'user_feature_x' is not numbered"),
            ("log", "rename user_feature_0 user_feature_00", "'user_feature_00' is not numbered"),
            ("log", "rename user_feature_1 user_feature_7", "no \"user_feature_1\" column"),
            ("catalogue", "drop item_feature_2", "no \"item_feature_2\" column"),
            ("catalogue", "rename item_feature_0 item_feature_9", "no \"item_feature_0\" column"),
        ])
    func obdFeatureColumns(_ file: String, _ change: String, _ says: String) async throws {
        try await withTemporaryDirectory("obd-columns") { folder in
            let words = change.split(separator: " ").map(String.init)
            let edit = words[0] == "drop" ? Self.drop(words[1]) : Self.rename(words[1], to: words[2])
            let path =
                file == "log" ? try Self.edited(in: folder, log: edit) : try Self.edited(in: folder, catalogue: edit)
            // Both readers of a file in OBD's layout: the dataset specifier and the schema-less detection.
            #expect(throws: DataError.self) {
                _ = try OBDLoader.load(dataFile: path, itemContextFile: folder.file("item_context.csv").path, name: path)
            }
            #expect {
                _ = try DatasetResolver(obdDirectory: folder.path).resolve(path)
            } throws: { error in
                "\(error)".contains(says)
            }
        }
    }

    @Test("the published dataset's sources need all four user and item feature columns")
    func obdNamedSourceNeedsFour() async throws {
        try await withTemporaryDirectory("obd-four") { folder in
            let path = try Self.edited(in: folder, log: Self.drop("user_feature_3"))
            // A file of one's own in OBD's layout may have three user features …
            let three = try OBDLoader.load(
                dataFile: path, itemContextFile: folder.file("item_context.csv").path, name: path)
            #expect(three.userFeatures.names == ["user_feature_0", "user_feature_1", "user_feature_2"])
            // … the published dataset has four, and `obd:` says which is missing.
            let tree = folder.file("obd/random/men")
            try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: path, toPath: tree.appendingPathComponent("men.csv").path)
            try FileManager.default.copyItem(
                atPath: folder.file("item_context.csv").path,
                toPath: tree.appendingPathComponent("item_context.csv").path)
            #expect {
                _ = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: folder.file("obd").path)
            } throws: { error in
                "\(error)".contains("no \"user_feature_3\" column")
            }
        }
        // The untouched fixture still loads with its four.
        let data = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        #expect(data.userFeatures.names.count == 4)
    }

    @Test(
        "a feature specification with a statistic no fit gives is refused on decode, naming it",
        arguments: [
            ("negative std", "itemContinuousScaling has mean"), ("zero std", "affinityScaling has mean"),
            ("negative popularity", "popularity[3] is -0.1"),
            ("negative engagedSeconds", "engagedSeconds is -5"), ("zero engagedSeconds", "engagedSeconds is 0"),
            ("negative smoothing", "popularitySmoothing is -1"),
            ("vocabulary out of order", "is not in order or names a category twice"),
            ("vocabulary repeats", "is not in order or names a category twice"),
            // Statistics and values the spec standardises itself, beyond what a float32 model input holds: an exported
            // graph scored NaN for every item (or for the one item) while `eval` refused the same checkpoint.
            ("mean beyond float32", "itemContinuousScaling has mean 1e+308, beyond a 32-bit float's range"),
            ("cross-rate mean beyond float32", "crossRates[0].scaling has mean 1e+308"),
            ("item value beyond the bound", "itemContinuous[2] is 3e+38, which itemContinuousScaling"),
            ("cross-rate lifts beyond the bound", "crossRates[0].scaling (mean"),
            ("std beyond float32", "itemContinuousScaling has std 1e+308, beyond a 32-bit float's range"),
        ])
    func specStatistics(_ change: String, _ says: String) throws {
        let data = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        var spec = try FeatureSpec.fit(on: SplitDataset(data).train)
        #expect(spec.shapeProblem == nil)
        switch change {
        case "negative std": spec.itemContinuousScaling.std = -0.5
        case "zero std": spec.affinityScaling.std = 0
        case "negative popularity": spec.popularity[3] = -0.1
        case "negative engagedSeconds": spec.engagedSeconds = -5
        case "zero engagedSeconds": spec.engagedSeconds = 0
        case "negative smoothing": spec.popularitySmoothing = -1
        case "vocabulary out of order": spec.userVocabularies[0].swapAt(0, 1)
        case "mean beyond float32": spec.itemContinuousScaling.mean = 1e308
        case "cross-rate mean beyond float32": spec.crossRates![0].scaling.mean = 1e308
        case "item value beyond the bound": spec.itemContinuous[2] = 3e38
        case "cross-rate lifts beyond the bound": spec.crossRates![0].scaling.std = 1e-20
        case "std beyond float32": spec.itemContinuousScaling.std = 1e308
        default: spec.userVocabularies[0][1] = spec.userVocabularies[0][0]
        }
        let bytes = Array(try JSONEncoder().encode(spec))
        #expect {
            _ = try FeatureSpec.decode(bytes)
        } throws: { error in
            guard case FeatureSpecError.malformed(let why) = error else { return false }
            return why.contains(says)
        }
        #expect(throws: FeatureSpecError.self) { _ = try spec.encoded() }
    }

    @Test("valid JSON whose number does not fit its field is named as such, never as 'not JSON'")
    func specNumberThatDoesNotFit() throws {
        let data = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        let bytes = try FeatureSpec.fit(on: SplitDataset(data).train).encoded()
        var object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        object["version"] = 2.5
        #expect {
            _ = try FeatureSpec.decode(Array(try JSONSerialization.data(withJSONObject: object)))
        } throws: { error in
            "\(error)".contains("a value does not fit its field")
        }
        #expect(throws: FeatureSpecError.malformed("not JSON")) { _ = try FeatureSpec.decode(Array("{\"a\":".utf8)) }
    }

    @Test("a blank category (white space only) is missing, as an empty cell is, never a category of its own")
    func blankCategory() throws {
        func log(_ blank: String) -> String {
            var text = "ts,item,pos,click,prop,device\n"
            for row in 0..<40 {
                let device = row % 4 == 3 ? blank : (row % 2 == 0 ? "ios" : "android")
                text += "\(row),\(row % 3),1,\(row % 5 == 0 ? 1 : 0),0.5,\(device)\n"
            }
            return text
        }
        let empty = try SmallLog.build(log(""), userFeatures: ["device": "categorical"], items: 3, name: "empty.csv")
        for blank in [" ", "   ", "\t"] {
            let spaced = try SmallLog.build(
                log(blank), userFeatures: ["device": "categorical"], items: 3, name: "spaced.csv")
            #expect(spaced.userFeatures.categories == empty.userFeatures.categories)
            #expect(spaced.context == empty.context)
            let spec = try FeatureSpec.fit(on: SplitDataset(spaced).train)
            #expect(spec.userVocabularies == [["android", "ios"]])
            // Served, the blank value is the unknown bucket, as a request that leaves the feature out.
            #expect(spec.userColumns(["device": blank]) == spec.userColumns([:]))
        }
    }

    /// A catalogue of 70,000 items whose `model` column has one value per item failed only after the fit, as "the
    /// feature specification cannot be written: … itemCategoryCodes is not itemCount rows …", naming neither.
    @Test("a categorical item feature with more values than a spec encodes is refused at fit, naming it and the limit")
    func tooManyItemCategories() throws {
        let items = FeatureSpec.maximumCategoryCardinality + 1
        var log = "ts,item,pos,click,prop,device\n"
        for row in 0..<40 { log += "\(row),\(row * 997 % items),1,\(row % 5 == 0 ? 1 : 0),0.5,d\(row % 2)\n" }
        var catalogue = "item,model\n"
        catalogue.reserveCapacity(items * 16)
        for item in 0..<items { catalogue += "\(item),m\(item)\n" }
        let toml = """
            [logs]
            timestamp = "ts"
            item = "item"
            position = "pos"
            click = "click"
            propensity = "prop"

            [logs.user_features]
            device = "categorical"

            [catalogue]
            file = "cat.csv"
            item = "item"

            [catalogue.item_features]
            model = "categorical"

            """
        let data = try LogLoader.build(
            log: CSVTable.parse(Array(log.utf8), path: "log.csv"),
            catalogue: CSVTable.parse(Array(catalogue.utf8), path: "cat.csv"),
            schema: try DataSchema.parse(toml, path: "wide.toml"), name: "log.csv")
        let error = #expect(throws: FeatureSpecError.self) { _ = try FeatureSpec.fit(on: SplitDataset(data).train) }
        #expect(error == .tooManyCategories(feature: "model", values: items, limit: FeatureSpec.maximumCategoryCardinality))
        #expect("\(error.map { "\($0)" } ?? "")".contains("'model' has 65537 distinct values, more than the 65536"))
    }

    @Test("a numeric user feature blank on every training row is refused by name, never scaled as 0 ± 1")
    func numericFeatureWithoutTrainingValues() throws {
        var text = "ts,item,pos,click,prop,age\n"
        // The training part (the oldest rows) has no age; the newest rows do.
        for row in 0..<100 { text += "\(row),\(row % 3),1,\(row % 5 == 0 ? 1 : 0),0.5,\(row >= 70 ? "\(20 + row % 40)" : "")\n" }
        let data = try SmallLog.build(text, userFeatures: ["age": "numeric"], items: 3, name: "ages.csv")
        #expect(throws: FeatureSpecError.noTrainingValues(feature: "age")) {
            _ = try FeatureSpec.fit(on: SplitDataset(data).train)
        }
        #expect("\(FeatureSpecError.noTrainingValues(feature: "age"))".contains("'age' is blank on every training row"))
        // With one value in the training part the feature is fitted on it.
        let some = text.replacingOccurrences(of: "\n3,0,1,0,0.5,\n", with: "\n3,0,1,0,0.5,33\n")
        #expect(some != text)
        let fitted = try FeatureSpec.fit(
            on: SplitDataset(try SmallLog.build(some, userFeatures: ["age": "numeric"], items: 3, name: "ages.csv")).train)
        #expect(fitted.userNumericScalings?.first?.mean == 33)
    }

    @Test("a blank item feature value is one value, whether empty or white space, in the catalogue and the log")
    func blankItemCategory() throws {
        let schema = try DataSchema.parse(
            """
            [logs]
            timestamp = "ts"
            item = "item"
            position = "pos"
            click = "click"
            propensity = "prop"
            [logs.user_features]
            device = "categorical"
            [catalogue]
            file = "cat.csv"
            item = "item"
            [catalogue.item_features]
            colour = "categorical"
            """, path: "blank.toml")
        let text = "item,colour\nA,red\nB, \nC,\nD,red\n"
        let catalogue = try ItemCatalogue.make(CSVTable.parse(Array(text.utf8), path: "cat.csv"), schema: schema.catalogue)
        #expect(catalogue.encoding.categorical.map(\.values) == [["", "red"]])
        #expect(catalogue.row(1) == catalogue.row(2))
        var log = "ts,item,pos,click,prop,device\n"
        for t in 0..<20 { log += "\(t),\(["A", "B", "C", "D"][t % 4]),1,\(t % 3 == 0 ? 1 : 0),0.25,ios\n" }
        let data = try LogLoader.build(
            log: CSVTable.parse(Array(log.utf8), path: "log.csv"), catalogue: CSVTable.parse(Array(text.utf8), path: "cat.csv"),
            schema: schema, name: "log.csv")
        #expect(data.actionContext.row(1) == data.actionContext.row(2))
        #expect(data.actionContext.row(0) == data.actionContext.row(3))
    }

    @Test("a spec fitted before on a reward log (popularity above 1) still decodes: checkpoints of it keep scoring")
    func olderRewardSpecDecodes() throws {
        let data = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        var spec = try FeatureSpec.fit(on: SplitDataset(data).train)
        spec.popularity[0] = 83.33
        spec.popularity[1] = 2
        #expect(try FeatureSpec.decode(spec.encoded()) == spec)
        // Its cold-start answer scores every item as a probability (the broker refuses a score above 1, so every
        // cold-start request was INTERNAL), in the popularity's order.
        let recommender = Recommender(spec: spec) { rows, width in [Float](repeating: 0.5, count: rows.count / width) }
        let answer = try recommender.recommend(RecommendQuery(userFeatures: [:], top: 3))
        #expect(answer.source == .coldStartFallback)
        #expect(answer.items.prefix(2).map(\.item) == [0, 1], "\(answer.items)")
        #expect(answer.items.allSatisfy { (0...1).contains($0.score) }, "\(answer.items)")
    }

    @Test("a reward log's popularity prior is a click rate in [0, 1], counted as the model's targets are")
    func rewardPopularity() throws {
        var text = "ts,item,pos,reward,prop,device\n"
        for row in 0..<60 { text += "\(row),\(row % 2),1,\(row % 3 == 0 ? 250 : 0),0.5,ios\n" }
        let data = try SmallLog.build(
            text, outcome: "reward", userFeatures: ["device": "categorical"], items: 2, name: "reward.csv")
        let spec = try FeatureSpec.fit(on: SplitDataset(data).train)
        #expect(spec.popularity.allSatisfy { (0...1).contains($0) })
        #expect(spec.shapeProblem == nil)
    }
}
