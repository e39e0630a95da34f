import Foundation
import RecData
import RecTestKit
import Testing

@Suite("A shop's data: schema, resolver and the split by time")
struct SchemaTests {
    @Test("a schema reads from TOML and prints back to the same schema")
    func roundTrip() throws {
        let schema = try DataSchema.parse(ShopFixture.schema, path: "shop.toml")
        #expect(schema.logs.userFeatures == [.init("age", .numeric), .init("device", .categorical)])
        #expect(schema.logs.user == "visitor" && schema.logs.dwell == "seconds" && !schema.logs.isReward)
        #expect(try DataSchema.parse(schema.toml(), path: "again.toml") == schema)
        let obd = DataSchema.openBanditDataset()
        #expect(try DataSchema.parse(obd.toml(), path: "obd.toml") == obd)
    }

    @Test(
        "a malformed schema is an error naming the problem",
        arguments: [
            ("[logs]\nitem = \"a\"", "no [catalogue]"),
            (
                ShopFixture.schema.replacingOccurrences(of: "clicked\"", with: "clicked\"\nreward = \"r\""),
                "exactly one of"
            ),
            (
                ShopFixture.schema.replacingOccurrences(
                    of: "\"numeric\"\n[catalogue]", with: "\"number\"\n[catalogue]"), "age must be"
            ),
            (ShopFixture.schema.replacingOccurrences(of: "user = ", with: "users = "), "unknown key 'users'"),
            (ShopFixture.schema + "\n[extra]\na = 1", "unknown table or key 'extra'"),
            (ShopFixture.schema.replacingOccurrences(of: "timestamp = \"ts\"\n", with: ""), "no 'timestamp'"),
        ])
    func malformed(_ text: String, _ expected: String) {
        #expect {
            _ = try DataSchema.parse(text, path: "shop.toml")
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains("shop.toml")
        }
    }

    @Test("a column with no role, or a role's missing column, is an error that names it")
    func everyColumnIsUsedOrIgnored() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path, extraLogColumn: true)
        let resolver = DatasetResolver(obdDirectory: "")
        #expect(throws: DataError.self) {
            try resolver.resolve(folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        }
        do {
            _ = try resolver.resolve(folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        } catch {
            #expect(error.description.contains("'stray'") && error.description.contains("ignore"))
        }
        let temporary2 = try TemporaryDirectory("data")
        defer { temporary2.remove() }
        let clean = try ShopFixture.write(in: temporary2.path)
        try ShopFixture.schema.replacingOccurrences(of: "device = ", with: "platform = ").write(
            toFile: clean + "/shop.toml", atomically: true, encoding: .utf8)
        #expect(throws: DataError.file(.missingColumn(path: clean + "/logs.csv", name: "platform"))) {
            try resolver.resolve(clean + "/logs.csv", schemaPath: clean + "/shop.toml")
        }
    }

    @Test("the split by time is 60/10/30 and its test part is obp's last 30%")
    func splitSizes() {
        #expect(DatasetSplit.standard.sizes(rows: 10_000) == .init(train: 6_000, validation: 1_000, test: 3_000))
        #expect(DatasetSplit.standard.sizes(rows: 100) == .init(train: 60, validation: 10, test: 30))
        for rows in [1, 2, 3, 7, 11, 999, 12_345] {
            let s = DatasetSplit.standard.sizes(rows: rows)
            #expect(s.train + s.validation + s.test == rows && s.train >= 0 && s.validation >= 0)
            #expect(s.test == rows - Int(Int32(Double(rows) * 0.7)))
        }
        #expect(
            DatasetSplit.standard.sizes(rows: 10_000).description
                == "split by time: train 6000 / validation 1000 / test 3000")
    }

    @Test("a shop's log is sorted by time, numeric features are z-scored, history comes from the user's clicks")
    func shopLog() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        guard
            case .logs(let split, let kind, let files) = try DatasetResolver(obdDirectory: "").resolve(
                folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        else { Issue.record("not read as logs"); return }
        #expect(kind == .shopLogs && files?.catalogue == folder + "/items.csv")
        let data = split.all
        #expect(data.rows == 100 && data.nActions == 5 && data.nPositions == 3)
        #expect(data.userNumeric.columnNames == ["age"] && data.userFeatures.names == ["device"])
        #expect(data.actionContext.columnNames == ["brand", "price", "price_band"] && data.itemNumericColumns == 2)
        // Row 0 is time 1000 (t = 0): sku 0, slot 1 → position 0, clicked (0 % 7 == 0).
        #expect(data.action[0] == 0 && data.position[0] == 0 && data.reward[0] == 1)
        // u0 clicked sku 0 at t = 0 and t = 70: from t = 10 on, the user's history holds item 0.
        #expect(data.isCold(0) && data.affinity.value(10, 0) == 1)
        let spec = try FeatureSpec.fit(on: split.train)
        #expect(spec.userNumericNames == ["age"] && spec.itemNumericExtraNames == ["price_band"])
        #expect(spec.version == 4)
        #expect(try FeatureSpec.decode(spec.encoded()) == spec)
        // Version 2 marks any field an older build would ignore: the interest event encoding (the default) too.
        let obdLike = try SplitDataset(ShopFixture.obdLike()).train
        #expect(try FeatureSpec.fit(on: obdLike, itemIdEncoding: nil).version == 2)
        #expect(try FeatureSpec.fit(on: obdLike).version == 4)
        #expect(try FeatureSpec.fit(on: obdLike, crossRates: false).version == 3)
        #expect(try FeatureSpec.fit(on: obdLike, eventEncoding: .affinityZScore).version == 1)
        #expect(spec.columns.contains("age") && spec.columns.contains("price_band"))
        let matrix = spec.matrix(split.train)
        let age = spec.columns.firstIndex(of: "age")!
        let mean = (0..<matrix.rows).reduce(0.0) { $0 + Double(matrix[$1, age]) } / Double(matrix.rows)
        #expect(abs(mean) < 1e-5)
        // Serving reads the numeric feature from the query's strings, as training did.
        let served = spec.candidateRows(
            userFeatures: split.train.userFeatures.dictionary(5).merging(["age": "\(split.train.userNumeric[5, 0])"]) {
                a, _ in a
            },
            affinity: Dictionary(
                uniqueKeysWithValues: split.train.affinity.entries(5).map { ($0.column, Double($0.value)) }),
            items: [split.train.action[5]], position: split.train.position[5])
        #expect(Array(matrix.row(5)) == served)
        // A numeric feature that is not a number is refused by name, never read as the mean.
        let recommender = Recommender(spec: spec) { rows, width in [Float](repeating: 0.5, count: rows.count / width) }
        #expect(throws: RecommendError.notNumeric(feature: "age", value: "old")) {
            try recommender.recommend(RecommendQuery(userFeatures: ["device": "ios", "age": "old"]))
        }
        // Finite as a Double but not as the model's Float, or absurdly far out: refused, never scored as NaN.
        for far in ["1e39", "1e308", "-1e300", "1e20"] {
            #expect(throws: RecommendError.notNumeric(feature: "age", value: far)) {
                try recommender.recommend(RecommendQuery(userFeatures: ["device": "ios", "age": far]))
            }
        }
        #expect("\(RecommendError.notNumeric(feature: "age", value: "1e39"))".contains("standard deviations"))
        // A large real value (an age in seconds) is scored, not refused.
        #expect(try recommender.recommend(RecommendQuery(userFeatures: ["device": "ios", "age": "9e8"])).items.count == 5)
        #expect(
            try recommender.recommend(RecommendQuery(userFeatures: ["device": "ios", "age": "31"])).items.count == 5)
        // A blank value is missing, as the log's blank cell is (the training mean): scored as if it were left out,
        // never refused (a shop front end forwards its log's fields as they are).
        let absent = try recommender.recommend(RecommendQuery(userFeatures: ["device": "ios"]))
        for blank in ["", " ", "\t"] {
            let served = try recommender.recommend(RecommendQuery(userFeatures: ["device": "ios", "age": blank]))
            #expect(served.items == absent.items)
        }
    }

    @Test("no test row reaches training: the spec and the training rows come from the oldest 60% only")
    func noLeakage() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        let (split, _) = try DatasetResolver(obdDirectory: "").logs(
            folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        #expect(split.sizes == .init(train: 60, validation: 10, test: 30))
        let rows = try split.trainingRows()
        #expect(rows.train.count == 60 && rows.validation.count == 10)
        // `late` appears only in the newest rows (the test part): the spec must not know it.
        #expect(rows.spec.userVocabularies[0] == ["android", "ios", "web"])
        #expect(!rows.spec.columns.contains("device=late"))
        #expect(split.test.userFeatures.categories[0].contains("late"))
        let testRowOfLate = (0..<split.test.rows).first { split.test.userFeatures.value($0, 0) == "late" }!
        #expect(!rows.spec.knowsAnyFeature(["device": split.test.userFeatures.value(testRowOfLate, 0)]))
    }

    @Test("one detection decides a schema-less CSV's kind, and ambiguity says to pass --schema")
    func detection() throws {
        #expect(
            try DatasetResolver.detect(
                header: ["", "timestamp", "item_id", "position", "click", "propensity_score", "user_feature_0"],
                path: "a.csv") == .openBanditLayout)
        #expect(try DatasetResolver.detect(header: ["x", "y", "label"], path: "m.csv") == .featureMatrix)
        let renamed = ["", "timestamp", "item_id", "position", "click", "propensity_score", "device", "user_feature_1"]
        for header in [
            ["ts", "sku", "device"], renamed,
            ["timestamp", "item_id", "position", "click", "propensity_score", "user_feature_0", "label"],
        ] {
            #expect {
                try DatasetResolver.detect(header: header, path: "shop.csv")
            } throws: { "\($0)".contains("--schema") && "\($0)".contains("data schema --infer shop.csv") }
        }
        #expect(throws: DataError.self) {
            try DatasetResolver(obdDirectory: "").resolve("obd:random/all", schemaPath: "shop.toml")
        }
    }

    @Test("OBD's layout with renamed user features, read through an inferred schema, gives OBD's dataset")
    func renamedOBD() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = temporary.path
        let source = Paths.fixtures + "/obd/random/men"
        var text = try String(contentsOfFile: source + "/men.csv", encoding: .utf8)
        let header = text.prefix { $0 != "\n" }
        let renamed = header.replacingOccurrences(of: "user_feature_0", with: "device")
            .replacingOccurrences(of: "user_feature_1", with: "region")
        text = renamed + text.dropFirst(header.count)
        try text.write(toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: source + "/item_context.csv", toPath: folder + "/catalogue.csv")
        let schema = try SchemaInference.infer(
            log: CSVTable.read(path: folder + "/logs.csv"), catalogue: CSVTable.read(path: folder + "/catalogue.csv"),
            catalogueFile: "catalogue.csv"
        ).schema
        #expect(schema.logs.userFeatures.map(\.name) == ["device", "region", "user_feature_2", "user_feature_3"])
        #expect(schema.logs.userFeatures.allSatisfy { $0.kind == .categorical })
        #expect(schema.logs.affinityPrefix == "user-item_affinity_" && schema.logs.ignore == [""])
        try schema.toml().write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        let (shop, kind) = try DatasetResolver(obdDirectory: "").logs(
            folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        let obd = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        #expect(kind == .shopLogs)
        #expect(shop.all.context.columns == obd.context.columns && shop.all.action == obd.action)
        #expect(shop.all.actionContext.values == obd.actionContext.values && shop.all.reward == obd.reward)
        #expect(try FeatureSpec.fit(on: shop.train).width == FeatureSpec.fit(on: SplitDataset(obd).train).width)
    }
}
