import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

/// Spaces and tabs around a cell are no part of it, whatever the cell holds: a categorical value and a timestamp are
/// read as an id or a number is (docs/YOUR-DATA.md), in the log, the catalogue and the schema draft.
@Suite("Surrounding white space in a shop's files")
struct SurroundingSpaceTests {
    /// A log of 40 rows whose `device` is `ios` or `android`, each written through `spell`, and whose timestamps are
    /// written through `time`.
    static func log(spell: (String, Int) -> String, time: (Int) -> String = { "\($0)" }) -> String {
        var text = "ts,item,pos,click,prop,device\n"
        for row in 0..<40 {
            text += "\(time(row)),\(row % 3),1,\(row % 5 == 0 ? 1 : 0),0.5,\(spell(row % 2 == 0 ? "ios" : "android", row))\n"
        }
        return text
    }

    /// A vocabulary stored before values were trimmed (a checkpoint fitted on `a, b, c` cells holds ` android`) matched
    /// nothing once input values were trimmed: every such row fell into the unknown bucket, silently.
    @Test("a stored vocabulary entry with surrounding spaces still matches the trimmed value")
    func olderVocabularies() {
        #expect(FeatureSpec.index(of: "android", in: [" android", "ios"]) == 0)
        #expect(FeatureSpec.index(of: "ios", in: [" android", "ios"]) == 1)
        #expect(FeatureSpec.index(of: "linux", in: [" android", "ios"]) == nil)
    }

    @Test("a categorical value with spaces or tabs around it is the same category, not a second one")
    func categoricalValues() throws {
        let plain = try SmallLog.build(
            Self.log { value, _ in value }, userFeatures: ["device": "categorical"], items: 3, name: "plain.csv")
        for pad in [" ", "  ", "\t", " \t"] {
            let spaced = try SmallLog.build(
                Self.log { value, row in row % 3 == 0 ? pad + value + pad : value },
                userFeatures: ["device": "categorical"], items: 3, name: "spaced.csv")
            #expect(spaced.userFeatures.categories == plain.userFeatures.categories)
            #expect(spaced.context == plain.context)
            #expect(spaced.context.columnNames.count == 1, "one dummy column for two devices")
            let spec = try FeatureSpec.fit(on: SplitDataset(spaced).train)
            #expect(spec.userVocabularies == [["android", "ios"]])
            // Served, a spaced value is the trained category.
            #expect(spec.userColumns(["device": pad + "android" + pad]) == spec.userColumns(["device": "android"]))
            #expect(spec.knowsAnyFeature(["device": " ios "]))
        }
        // White space inside a value is part of it.
        #expect(BlankText.canonical(" new york\t") == "new york")
        #expect(BlankText.canonical(" \t ") == "")
    }

    @Test("a timestamp with spaces around it is read, not refused, and orders the rows as without them")
    func timestamps() throws {
        let plain = try SmallLog.build(
            Self.log(spell: { value, _ in value }, time: { "2024-05-01T10:\(String(format: "%02ld", 59 - $0))Z" }),
            userFeatures: ["device": "categorical"], items: 3, name: "plain.csv")
        let spaced = try SmallLog.build(
            Self.log(spell: { value, _ in value }, time: { " 2024-05-01T10:\(String(format: "%02ld", 59 - $0))Z\t" }),
            userFeatures: ["device": "categorical"], items: 3, name: "spaced.csv")
        #expect(spaced.action == plain.action)
        #expect(spaced.reward == plain.reward)
    }

    @Test("a catalogue's categorical value with spaces around it is one column, loaded and added")
    func catalogueValues() throws {
        let schema = DataSchema.Catalogue(
            file: "items.csv", item: "sku", itemFeatures: [.init("category", .categorical), .init("price", .numeric)])
        let folder = try TemporaryDirectory("catalogue")
        defer { folder.remove() }
        let path = folder.file("items.csv").path
        try "sku,category,price\nA-1, shoes ,3.5\nB-2,hats,1\nC-3,shoes\t,2\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        var catalogue = try ItemCatalogue.load(path: path, schema: schema)
        #expect(catalogue.encoding.featureNames == ["category=hats", "category=shoes", "price"])
        #expect(Array(catalogue.row(0)) == [0, 1, 3.5])
        // `catalogue add` on the broker encodes raw fields the same way.
        let row = try catalogue.add(id: "D-4", fields: ["category": "  hats ", "price": " 4 "])
        #expect(Array(catalogue.row(row)) == [1, 0, 4])
    }

    @Test("the schema draft counts a spaced value as the value, and reads a spaced number as a number")
    func inference() throws {
        var log = "timestamp,item_id,position,click,propensity_score,device,age\n"
        for row in 0..<30 {
            let device = row % 2 == 0 ? "ios" : (row % 4 == 1 ? " android " : "android")
            log += "\(row),\(row % 3),1,0,0.5,\(device), \(20 + row) \n"
        }
        let draft = SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "logs.csv"),
            catalogue: try CSVTable.parse(Array("item_id\n0\n1\n2\n".utf8), path: "items.csv"), catalogueFile: "items.csv")
        let device = try #require(draft.schema.logs.userFeatures.first { $0.name == "device" })
        #expect(device.values == ["android", "ios"])
        let age = try #require(draft.schema.logs.userFeatures.first { $0.name == "age" })
        #expect(age.kind == .numeric)
        #expect(draft.fewNumbers.isEmpty)
    }

    /// A helper's case: a 10-item catalogue's `price €` (4.5 to 1450) was drafted categorical with no word, where the
    /// same column over 40 items was drafted numeric.
    @Test("a column of 3 to 10 distinct numbers is drafted categorical and named in the draft's notes")
    func fewNumbers() throws {
        var log = "timestamp,item_id,position,click,propensity_score,device,stars,flag\n"
        for row in 0..<30 { log += "\(row),\(row % 3),1,0,0.5,d\(row % 4),\(row % 5),\(row % 2)\n" }
        let catalogue = "item_id,price €,colour\n0,4.5,red\n1,1450,blue\n2,12,red\n3,,blue\n"
        let draft = SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "logs.csv"),
            catalogue: try CSVTable.parse(Array(catalogue.utf8), path: "items.csv"), catalogueFile: "items.csv")
        #expect(draft.fewNumbers.map(\.column) == ["stars", "price €"])
        #expect(draft.fewNumbers.map(\.distinct) == [5, 3])
        #expect(draft.schema.catalogue.itemFeatures.first { $0.name == "price €" }?.kind == .categorical)
    }
}
