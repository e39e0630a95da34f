import Foundation
@testable import RecData
import RecTestKit
import Testing

/// The shop fixture with its log or catalogue edited, and the error each edit must give.
@Suite("A shop's bad data is refused by name, and a checkpoint's features are checked against the data")
struct SchemaBadInputTests {
    /// Writes the fixture, applies `edit` to the log's lines and `editItems` to the catalogue's, and returns the
    /// loader's error text (or nil when it loads).
    func loadError(
        schema: String = ShopFixture.schema, log edit: (inout [String]) -> Void = { _ in },
        items editItems: (inout [String]) -> Void = { _ in }
    ) throws -> String? {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        try Self.editLines(folder + "/logs.csv", edit)
        try Self.editLines(folder + "/items.csv", editItems)
        try schema.write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        do {
            _ = try DatasetResolver(obdDirectory: "").logs(folder + "/logs.csv", schemaPath: folder + "/shop.toml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test(
        "a schema nested past its depth or past its size is refused by name before the TOML parser sees it",
        arguments: ["dotted key", "table header", "size"])
    func schemaShape(_ label: String) throws {
        let (text, words) =
            switch label {
            case "dotted key": ("a" + String(repeating: ".a", count: 200_000) + " = 1", "nested 200001 deep")
            case "table header": ("[" + String(repeating: "a.", count: 200_000) + "b]", "nested 200001 deep")
            default: ("[logs]\n# " + String(repeating: "x", count: 1 << 20), "may hold at most 1048576")
            }
        do {
            _ = try DataSchema.parse(text, path: "deep.toml")
            Issue.record("\(label): parsed")
        } catch {
            #expect(error.description.contains(words), "\(error.description.prefix(200))")
            #expect(error.description.contains("deep.toml"), "\(error.description.prefix(200))")
        }
        // The real schema's keys, dotted as deep as a schema needs, still parse; so do comments and values with
        // many dots (a date, decimals, a dotted string), which are no keys.
        #expect(DataSchema.shapeProblem(ShopFixture.schema) == nil)
        let dotted = String(repeating: "0.5, ", count: 40)
        let harmless = "# v1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19\nx = [" + dotted + "]\ny = \""
            + String(repeating: "a.", count: 40) + "\"\n[logs]\nfile = 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.csv'"
        #expect(DataSchema.shapeProblem(harmless) == nil)
        let quotedParts = String(repeating: "\"a\".", count: 30) + "b = 1"
        #expect(DataSchema.shapeProblem(quotedParts)?.contains("nested 31 deep") == true)
        let inline = "x = { " + String(repeating: "a.", count: 30) + "b = 1 }"
        #expect(DataSchema.shapeProblem(inline)?.contains("nested 31 deep") == true)
    }

    /// Rewrites a file's lines with `change`.
    static func editLines(_ path: String, _ change: (inout [String]) -> Void) throws {
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        change(&lines)
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Replaces field `column` (0-based) of log line `line` (1-based, the header is line 1).
    static func setField(_ lines: inout [String], line: Int, column: Int, to value: String) {
        var fields = lines[line - 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        fields[column] = value
        lines[line - 1] = fields.joined(separator: ",")
    }

    @Test("a viewed column reads item:seconds pairs; a bad pair is refused by name; viewed with affinity_prefix is refused")
    func viewedColumn() throws {
        let viewed = ShopFixture.schema.replacingOccurrences(of: "ignore = [\"note\"]", with: "viewed = \"note\"")
        // The fixture's `note` holds `n<t>`: not ROW:SECONDS pairs.
        let bad = try #require(try loadError(schema: viewed))
        #expect(bad.contains("'note'") && bad.contains("ITEM:SECONDS"), "\(bad)")
        let pairs = try loadError(schema: viewed) { lines in
            for line in 2...lines.count { Self.setField(&lines, line: line, column: 0, to: line % 2 == 0 ? "1:25.0;3:4" : "") }
        }
        #expect(pairs == nil, "\(pairs ?? "")")
        let outside = try #require(
            try loadError(schema: viewed) { lines in
                for line in 2...lines.count { Self.setField(&lines, line: line, column: 0, to: "") }
                Self.setField(&lines, line: 4, column: 0, to: "5:12")
            })
        #expect(outside.contains("logs.csv:4") && outside.contains("'5:12'"), "\(outside)")
        // Each fault is named: an id the catalogue lacks, seconds that are negative or not a number.
        #expect(outside.contains("'5' is not an item id of the catalogue"), "\(outside)")
        // Above 1e9 too: a RECOMMEND's view of that length is refused, and the log trains the state it is served in.
        for (field, says) in [
            ("1:-3", "the seconds '-3' are not a number of 0 to 1e9"), ("1:nan", "the seconds 'nan'"),
            ("1:1e20", "the seconds '1e20' are not a number of 0 to 1e9"),
        ] {
            let seconds = try #require(
                try loadError(schema: viewed) { lines in
                    for line in 2...lines.count { Self.setField(&lines, line: line, column: 0, to: "") }
                    Self.setField(&lines, line: 4, column: 0, to: field)
                })
            #expect(seconds.contains("logs.csv:4") && seconds.contains(says), "\(seconds)")
        }
        let both = viewed.replacingOccurrences(of: "viewed = \"note\"", with: "viewed = \"note\"\naffinity_prefix = \"a_\"")
        let conflict = try #require(try loadError(schema: both))
        #expect(conflict.contains("both 'viewed' and 'affinity_prefix'"), "\(conflict)")
    }

    /// A dwell of 1e20 s was taken from a log while FEEDBACK refuses any above 1e9 (an exported log would not read
    /// as the one it came from).
    @Test("a dwell column's value above 1e9 seconds, or negative, is refused naming file:line and column")
    func dwellBounded() throws {
        for (value, says) in [("1e20", "is not a dwell time of 0 to 1e9 seconds"), ("-2", "is a negative dwell time")] {
            let error = try #require(try loadError { lines in Self.setField(&lines, line: 5, column: 7, to: value) })
            #expect(error.contains("logs.csv:5") && error.contains("seconds") && error.contains(says), "\(error)")
        }
        #expect(try loadError { lines in Self.setField(&lines, line: 5, column: 7, to: "1e9") } == nil)
    }

    @Test("a timestamp that is neither a number nor an ISO 8601 date-time is refused naming file:line and column")
    func badTimestamp() throws {
        let error = try #require(try loadError(log: { Self.setField(&$0, line: 5, column: 1, to: "yesterday") }))
        #expect(
            error.contains("logs.csv:5") && error.contains("'ts'") && error.contains("'yesterday' is not a timestamp"))
        let mixed = try #require(
            try loadError(log: { Self.setField(&$0, line: 7, column: 1, to: "2024-05-01T10:00:00Z") }))
        #expect(mixed.contains("logs.csv:7") && mixed.contains("is a date-time but line 2 has a number"))
    }

    @Test("a reward above 1e9 is refused naming the file, line and column; 1e9 loads (sums stay finite)")
    func rewardBound() throws {
        let schema = ShopFixture.schema.replacingOccurrences(of: #"click = "clicked""#, with: #"reward = "clicked""#)
        for value in ["2e18", "1.7e308", "1000000001"] {
            let text = try #require(try loadError(schema: schema, log: { Self.setField(&$0, line: 4, column: 4, to: value) }))
            #expect(text.contains("logs.csv:4") && text.contains("is above 1e9"), "\(text)")
        }
        #expect(try loadError(schema: schema, log: { Self.setField(&$0, line: 4, column: 4, to: "1e9") }) == nil)
    }

    @Test("a number a Double holds but a Float does not (1e39) is refused naming the file, line and column")
    func beyondFloatRange() throws {
        let age = try #require(try loadError(log: { Self.setField(&$0, line: 5, column: 9, to: "1e39") }))
        #expect(age.contains("logs.csv:5") && age.contains("'age'") && age.contains("32-bit float"), "\(age)")
        let price = try #require(try loadError(items: { Self.setField(&$0, line: 3, column: 2, to: "-4e38") }))
        #expect(price.contains("items.csv:3") && price.contains("'price'") && price.contains("32-bit float"), "\(price)")
        // The largest finite Float still loads.
        #expect(try loadError(log: { Self.setField(&$0, line: 5, column: 9, to: "3.4e38") }) == nil)
    }

    @Test(
        "ISO 8601 date-times of the forms logs write are timestamps; malformed ones are not",
        arguments: [
            ("2019-11-24 00:00:14.386364+00:00", true), ("2024-05-01T10:00:00Z", true), ("2024-05-01", true),
            ("2024-05-01T10:00", true), ("2024-05-01T10:00:00+0200", true), ("2024-13-01", false),
            ("2024-05-01T25:00:00Z", false), ("yesterday", false), ("2024-05-01T10:00:00Zx", false), ("", false),
        ])
    func iso8601(_ text: String, _ accepted: Bool) {
        #expect(ISO8601Text.isDateTime(text) == accepted)
    }

    @Test("a header that names a column twice is refused naming the column and both positions")
    func duplicateHeader() throws {
        let error = try #require(
            try loadError(log: { lines in
                lines[0] += ",device"
                for i in 1..<lines.count { lines[i] += ",ios" }
            }))
        #expect(error.contains("'device' twice (columns 9 and 11)"))
    }

    @Test("item ids: a log naming no catalogue item, a repeated or blank catalogue id, each named with its rule")
    func itemIDs() throws {
        // A catalogue id that is not 0..n−1 makes the ids names (rows by file order): the log's "1" then names nothing.
        let range = try #require(try loadError(items: { Self.setField(&$0, line: 3, column: 0, to: "999") }))
        #expect(range.contains("logs.csv:") && range.contains("'1' is not an item id of the catalogue"), "\(range)")
        let text = try #require(try loadError(items: { Self.setField(&$0, line: 2, column: 0, to: "SKU-0000") }))
        #expect(text.contains("'0' is not an item id of the catalogue") && text.contains("docs/YOUR-DATA.md"), "\(text)")
        let repeated = try #require(try loadError(items: { Self.setField(&$0, line: 3, column: 0, to: "0") }))
        #expect(repeated.contains("items.csv:3") && repeated.contains("is item '0' again (first at line 2)"), "\(repeated)")
        // Two ids that look the same and are one id to Swift (canonically equivalent: é precomposed, and e + U+0301).
        let equivalent = try #require(
            try loadError(items: {
                Self.setField(&$0, line: 2, column: 0, to: "caf\u{E9}")
                Self.setField(&$0, line: 3, column: 0, to: "cafe\u{301}")
            }))
        #expect(
            equivalent.contains("items.csv:3") && equivalent.contains("first at line 2, written with other Unicode code points")
                && equivalent.contains("canonically equivalent"), "\(equivalent)")
        let blank = try #require(try loadError(items: { Self.setField(&$0, line: 4, column: 0, to: " ") }))
        #expect(blank.contains("items.csv:4") && blank.contains("is blank: every item needs an id"), "\(blank)")
        let logged = try #require(try loadError(log: { Self.setField(&$0, line: 4, column: 2, to: "7") }))
        #expect(
            logged.contains("logs.csv:4")
                && logged.contains("'7' is out of range: the catalogue's item ids are the integers 0..4"), "\(logged)")
    }

    @Test("a catalogue with more items than the log's affinity columns says both counts")
    func affinityCount() throws {
        let schema = ShopFixture.schema.replacingOccurrences(
            of: "user = \"visitor\"\n", with: "affinity_prefix = \"past_\"\n"
        )
        .replacingOccurrences(of: "ignore = [\"note\"]", with: "ignore = [\"note\", \"visitor\"]")
        let error = try #require(
            try loadError(
                schema: schema,
                log: { lines in
                    lines[0] += (0..<4).map { ",past_\($0)" }.joined()
                    for i in 1..<lines.count { lines[i] += ",0,1,0,2" }
                }))
        #expect(error.contains("the catalogue has 5 items but") && error.contains("has 4 affinity columns 'past_K'"))
        // The missing one is named, not only counted.
        #expect(error.contains("(missing: 'past_"), "\(error)")
    }

    @Test("a blank categorical value is missing: it is no category, and encodes as an unseen value does")
    func blankCategorical() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        // Line 80 holds time 1,021: an old row, in the training split.
        try Self.editLines(folder + "/logs.csv") { Self.setField(&$0, line: 80, column: 8, to: "") }
        let (parts, _) = try DatasetResolver(obdDirectory: "").logs(
            folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        let spec = try FeatureSpec.fit(on: parts.train)
        let device = try #require(spec.userFeatureNames.firstIndex(of: "device"))
        #expect(spec.userVocabularies[device] == ["android", "ios", "web"])
        #expect(spec.userColumns(["device": ""]) == spec.userColumns(["device": "never-seen"]))
    }

    @Test("a blank user id is an anonymous visit: no row gets the history of other blank rows")
    func blankUser() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        try Self.editLines(folder + "/logs.csv") { lines in
            for line in 2...lines.count { Self.setField(&lines, line: line, column: 6, to: "") }
        }
        let (parts, _) = try DatasetResolver(obdDirectory: "").logs(
            folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        #expect((0..<parts.all.rows).allSatisfy(parts.all.isCold))
    }

    @Test("a checkpoint's spec meets data without its features: a typed error names the missing and extra ones")
    func specAgainstData() throws {
        let resolver = DatasetResolver(obdDirectory: "")
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        let (shop, _) = try resolver.logs(folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        let spec = try FeatureSpec.fit(on: shop.train)
        try CheckpointEvaluation.check(spec: spec, data: shop.test)
        // The same log read without its numeric feature `age`.
        try ShopFixture.schema.replacingOccurrences(of: "age = \"numeric\"\n", with: "")
            .replacingOccurrences(of: "ignore = [\"note\"]", with: "ignore = [\"note\", \"age\"]")
            .write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        let (noAge, _) = try resolver.logs(folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        #expect(throws: CheckpointEvaluationError.self) { try CheckpointEvaluation.check(spec: spec, data: noAge.test) }
        do { try CheckpointEvaluation.check(spec: spec, data: noAge.test) } catch {
            guard case .datasetMismatch(_, let expected, let problems) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(problems == ["missing numeric user features age"] && expected == ["device", "age"])
        }
        // OBD's user features are not the shop's, and its catalogue is another size.
        let obd = try ShopFixture.obdLike()
        let obdSpec = try FeatureSpec.fit(on: obd)
        var sameSize = shop.all
        sameSize.nActions = obd.nActions
        #expect(throws: CheckpointEvaluationError.self) {
            try CheckpointEvaluation.check(spec: obdSpec, data: sameSize)
        }
        do { try CheckpointEvaluation.check(spec: obdSpec, data: sameSize) } catch {
            #expect(error.description.contains("missing categorical user features user_feature_0"))
            #expect(error.description.contains("extra categorical user features device"))
            #expect(error.description.contains("extra numeric user features age"))
        }
        #expect(throws: CheckpointEvaluationError.self) {
            try CheckpointEvaluation.check(spec: obdSpec, data: shop.all)
        }
        var morePositions = shop.all
        morePositions.nPositions = spec.positionCount + 1
        #expect(throws: CheckpointEvaluationError.self) {
            try CheckpointEvaluation.check(spec: spec, data: morePositions)
        }
    }

    @Test("a log or catalogue whose header names a column twice is refused when read, before a draft names it twice")
    func duplicateHeaderBeforeDraft() throws {
        for (bytes, column) in [("ts,x,x\n1,a,b\n", "x"), ("item_id,colour,colour\n0,red,blue\n", "colour")] {
            #expect(throws: DataError.file(.duplicateColumn(path: "f.csv", name: column, first: 2, second: 3))) {
                try CSVTable.parse(Array(bytes.utf8), path: "f.csv")
            }
        }
    }

    @Test("a draft keeps unrecognised roles as placeholders the loader refuses by name, and finds a numbered history")
    func draftWithPlaceholders() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        try Self.editLines(folder + "/logs.csv") { lines in
            lines[0] += (0..<5).map { ",past_clicks_\($0)" }.joined()
            for i in 1..<lines.count { lines[i] += ",0,1,0,2,0" }
        }
        let draft = SchemaInference.infer(
            log: try CSVTable.read(path: folder + "/logs.csv"),
            catalogue: try CSVTable.read(path: folder + "/items.csv"),
            catalogueFile: "items.csv")
        #expect(draft.schema.logs.affinityPrefix == "past_clicks_")
        #expect(!draft.schema.logs.userFeatures.contains { $0.name.hasPrefix("past_clicks_") })
        #expect(draft.schema.logs.timestamp == "ts" && draft.schema.logs.outcome == "clicked")
        #expect(draft.schema.logs.item == "sku" && draft.schema.catalogue.item == "sku")
        #expect(draft.schema.logs.propensity == SchemaInference.placeholderPrefix + "the propensity column")
        #expect(draft.unrecognised.count == 1)
        #expect(
            draft.unrecognised[0].contains("propensity in")
                && draft.unrecognised[0].contains("propensity_score, propensity, pscore"))
        #expect {
            _ = try DataSchema.parse(draft.schema.toml(), path: "draft.toml")
        } throws: { error in
            "\(error)".contains(
                "draft.toml: [logs] propensity = \"EDIT ME: the propensity column\" is the draft's placeholder")
        }
    }
    @Test("a log with no column left for user features drafts a placeholder feature the loader refuses by name")
    func draftWithoutUserFeatures() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let log = temporary.path + "/l.csv"
        let items = temporary.path + "/items.csv"
        try "timestamp,item_id,position,click,propensity_score\n2020-01-01 00:00:00,0,0,1,0.5\n".write(
            toFile: log, atomically: true, encoding: .utf8)
        try "item_id,item_feature_0\n0,1.5\n1,2.5\n".write(toFile: items, atomically: true, encoding: .utf8)
        let draft = SchemaInference.infer(
            log: try CSVTable.read(path: log), catalogue: try CSVTable.read(path: items), catalogueFile: "items.csv")
        #expect(draft.schema.logs.userFeatures.map(\.name) == [SchemaInference.placeholderPrefix + "the user feature column"])
        #expect(draft.unrecognised.count == 1 && draft.unrecognised[0].hasPrefix("user feature in"))
        #expect {
            _ = try DataSchema.parse(draft.schema.toml(), path: "draft.toml")
        } throws: { error in
            "\(error)".contains("EDIT ME: the user feature column") && "\(error)".contains("placeholder")
        }
    }
}
