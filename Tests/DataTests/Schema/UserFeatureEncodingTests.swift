import Foundation
import RecData
import RecModel
import Testing

/// A categorical user feature's declared values for the online policy: read from the schema, printed back, drafted
/// from a log, and refused by name when malformed.
@Suite("A schema's categorical user features declare their known values")
struct UserFeatureEncodingTests {
    /// ``ShopFixture/schema`` with `userFeatures` as its `[logs.user_features]` and, when given, `items` as its
    /// `[catalogue.item_features]`.
    static func schema(_ userFeatures: String, items: String? = nil) -> String {
        var text = ShopFixture.schema.replacingOccurrences(
            of: "device = \"categorical\"\nage = \"numeric\"", with: userFeatures)
        if let items {
            text = text.replacingOccurrences(
                of: "brand = \"categorical\"\nprice = \"numeric\"\nprice_band = \"numeric\"", with: items)
        }
        precondition(text != ShopFixture.schema, "ShopFixture.schema no longer holds the lines replaced")
        return text
    }

    @Test("values read from an inline table, beside plain kinds, and print back to the same schema")
    func reads() throws {
        let text = Self.schema(
            """
            segment = { kind = "categorical", values = ["budget", "luxury", "größe \\"x\\""] }
            age = { kind = "numeric" }
            device = "categorical"
            """)
        let schema = try DataSchema.parse(text, path: "shop.toml")
        #expect(
            schema.logs.userFeatures == [
                .init("age", .numeric), .init("device", .categorical),
                .init("segment", .categorical, values: ["budget", "luxury", "größe \"x\""]),
            ])
        #expect(try DataSchema.parse(schema.toml(), path: "again.toml") == schema)
        #expect(schema.toml().contains("segment = { kind = \"categorical\", values = [\"budget\", \"luxury\", "))
    }

    @Test(
        "a malformed declaration is refused naming the file, the feature and the rule",
        arguments: [
            ("age = { kind = \"numeric\", values = [\"a\"] }", "age: values are for a categorical feature"),
            ("age = { kind = \"numeric\", mean = 1, center = 2 }", "age: unknown key 'center'"),
            ("seg = { kind = \"categorical\", mean = 1 }", "seg: mean and scale are for a numeric feature"),
            ("age = { kind = \"numeric\", scale = 0 }", "age: scale must be above 0"),
            ("age = { kind = \"numeric\", scale = -2.5 }", "age: scale must be above 0"),
            ("age = { kind = \"numeric\", mean = \"40\" }", "age: mean must be a finite number"),
            ("age = { kind = \"numeric\", mean = nan }", "age: mean must be a finite number"),
            ("age = { kind = \"numeric\", scale = inf }", "age: scale must be a finite number"),
            ("age = { kind = \"numeric\", mean = 1e16 }", "age: mean 1e+16 is beyond ±1e15"),
            ("age = { kind = \"numeric\", mean = 1, scale = 2, values = [\"x\"] }", "age: values are for a categorical feature"),
            ("age = { values = [\"a\"] }", "age needs kind"),
            ("age = { kind = \"number\" }", "age needs kind"),
            ("seg = { kind = \"categorical\", values = \"a\" }", "seg: values must be an array of strings"),
            ("seg = { kind = \"categorical\", values = [] }", "seg: values holds 0 values"),
            ("seg = { kind = \"categorical\", values = [\"a\", \" \"] }", "seg: values must not be blank"),
            ("seg = { kind = \"categorical\", values = [\"a\", 2] }", "seg: values must be strings (write a number as text"),
            ("seg = { kind = \"categorical\", values = [\"a\", \"b\", \"a\"] }", "seg: values lists \"a\" twice"),
            // Two spellings of one value as it is read (without the spaces and tabs around it): a dead policy column.
            ("seg = { kind = \"categorical\", values = [\"ios\", \" ios\"] }", "seg: values lists \"ios\" twice (as \"ios\" and \" ios\")"),
            ("seg = { kind = \"categorical\", values = [\"a\\u0000b\"] }", "escapes the character U+0000"),
            ("seg = 3", "seg must be \"categorical\" or \"numeric\", or a table"),
        ])
    func refused(_ feature: String, _ expected: String) {
        #expect {
            _ = try DataSchema.parse(Self.schema(feature), path: "shop.toml")
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains("shop.toml")
        }
    }

    @Test("a numeric feature's mean and scale read from an inline table and print back; near unit scale none is drafted")
    func numericStandardisation() throws {
        let text = Self.schema(
            """
            age = { kind = "numeric", mean = 38.5, scale = 12 }
            income = { kind = "numeric", scale = 1e-3 }
            device = "categorical"
            """)
        let schema = try DataSchema.parse(text, path: "shop.toml")
        #expect(
            schema.logs.userFeatures == [
                .init("age", .numeric, mean: 38.5, scale: 12), .init("device", .categorical),
                .init("income", .numeric, scale: 0.001),
            ])
        #expect(try DataSchema.parse(schema.toml(), path: "again.toml") == schema)
        #expect(schema.toml().contains("age = { kind = \"numeric\", mean = 38.5, scale = 12.0 }"))
        #expect(SchemaInference.numericUserFeature("score", values: [0.1, -3, 9.5]) == .init("score", .numeric))
        #expect(SchemaInference.numericUserFeature("stock", values: [50, 50, 50]) == .init("stock", .numeric, mean: 50, scale: 1))
        // A large mean with a small spread keeps the digits that matter: a "last seen" Unix time drafted with mean
        // 1712000000 read every user 60 scales out, clipped to +10.
        let seen = SchemaInference.numericUserFeature("last_seen", values: [1_712_340_000, 1_712_350_000, 1_712_360_000])
        #expect(seen.mean == 1_712_350_000 && seen.scale == 8165, "\(seen)")
        // A 16-digit account number's mean is beyond what a schema may declare: drafted plain, so the draft parses.
        #expect(
            SchemaInference.numericUserFeature("account_no", values: [4_001_000_000_000_000, 4_001_000_000_000_500])
                == .init("account_no", .numeric))
    }

    @Test("more values than a feature may declare are refused, saying the limit")
    func tooManyValues() {
        let values = (0...DataSchema.Feature.maximumValues).map { "\"v\($0)\"" }.joined(separator: ", ")
        #expect {
            _ = try DataSchema.parse(Self.schema("seg = { kind = \"categorical\", values = [\(values)] }"), path: "s.toml")
        } throws: { error in
            "\(error)".contains("holds \(DataSchema.Feature.maximumValues + 1) values; give 1 to \(DataSchema.Feature.maximumValues)")
        }
    }

    @Test("an item feature declares no encoding: the catalogue fits its own")
    func itemFeaturesTakeKindsOnly() {
        #expect {
            _ = try DataSchema.parse(
                Self.schema("age = \"numeric\"", items: "brand = { kind = \"categorical\", values = [\"a\"] }"),
                path: "shop.toml")
        } throws: { error in
            "\(error)".contains("[catalogue.item_features] brand must be \"categorical\" or \"numeric\"")
                && !"\(error)".contains("or a table")
        }
    }

    @Test("a draft declares a categorical feature's most frequent values, and a numeric one beyond ±10 its mean and scale")
    func drafted() throws {
        var rows = ["ts,sku,slot,clicked,propensity,segment,age,device"]
        // segment: 9 values, s0 most frequent (10 rows) down to s8 (2 rows); a blank cell is no value.
        var n = 0
        for (k, count) in [10, 9, 8, 7, 6, 5, 4, 3, 2].enumerated() {
            for _ in 0..<count {
                rows.append("\(n),0,1,0,0.5,s\(k),\(20 + n % 12),\(n % 2 == 0 ? "ios" : "web")")
                n += 1
            }
        }
        rows.append("\(n),0,1,0,0.5,,,ios")
        let draft = try Self.draft(logRows: rows)
        let features = Dictionary(uniqueKeysWithValues: draft.schema.logs.userFeatures.map { ($0.name, $0) })
        #expect(features["segment"]?.values == (0..<SchemaInference.draftedValues).map { "s\($0)" })
        #expect(features["device"]?.values == ["ios", "web"])
        // Ages 20–31 lie beyond ±10: drafted with their mean and standard deviation (4 significant digits), as the
        // online policy reads a value as (x − mean) / scale clipped to ±10.
        #expect(features["age"] == DataSchema.Feature("age", .numeric, mean: 25.167, scale: 3.436))
        // The draft parses back as it was drafted (a TOML table's keys come back sorted).
        let again = try DataSchema.parse(draft.schema.toml(), path: "shop.toml").logs.userFeatures
        #expect(again == draft.schema.logs.userFeatures.sorted { $0.name < $1.name })
        #expect(draft.unscaled.isEmpty)
    }

    /// A numeric column of values near 1e38 was drafted as plain `numeric` with no word: the online policy then read
    /// every value clipped to ±10, what `mean` and `scale` exist to prevent.
    @Test("a numeric column beyond ±10 drafted without mean and scale (past ±1e15) is listed for a note")
    func unscaledListed() throws {
        var rows = ["ts,sku,slot,clicked,propensity,huge,small"]
        for n in 0..<40 { rows.append("\(n),0,1,0,0.5,\(Double(n % 12 + 1) * 2.5e37),\(Double(n % 12) / 4)") }
        let draft = try Self.draft(logRows: rows)
        let features = Dictionary(uniqueKeysWithValues: draft.schema.logs.userFeatures.map { ($0.name, $0) })
        #expect(features["huge"] == DataSchema.Feature("huge", .numeric))
        #expect(features["small"] == DataSchema.Feature("small", .numeric))
        #expect(draft.unscaled == ["huge"])
    }

    /// The draft `data schema --infer` makes of a log of `logRows` (header first) beside a one-item catalogue, read
    /// from files as the command reads them.
    static func draft(logRows: [String]) throws -> SchemaInference.Draft {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("draft-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try logRows.joined(separator: "\n").write(toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        try "sku,price\n0,1.5\n".write(toFile: folder + "/items.csv", atomically: true, encoding: .utf8)
        return SchemaInference.infer(
            log: try CSVTable.read(path: folder + "/logs.csv"), catalogue: try CSVTable.read(path: folder + "/items.csv"),
            catalogueFile: "items.csv")
    }
}
