import Foundation
import RecData
import RecTestKit
import Testing

/// A numeric field has one reason per cause, the same in a log, a catalogue file and `catalogue add`
/// (docs/DATA.md, "Bad input").
@Suite("Numeric field problems")
struct NumberProblemTests {
    static let schema = DataSchema.Catalogue(
        file: "items.csv", item: "sku", itemFeatures: [.init("category", .categorical), .init("price_eur", .numeric)])

    @Test(
        "catalogue add names the one cause: blank, not a number, not finite, outside a Float's range",
        arguments: [
            ("1,5", "is not a number"), ("", "is blank: a number is needed"), ("  ", "is blank: a number is needed"),
            ("nan", "is not finite"), ("1e39", "is outside a 32-bit float's range (±3.4e38)"),
        ])
    func add(text: String, reason: String) throws {
        let folder = try TemporaryDirectory("numbers")
        defer { folder.remove() }
        let path = folder.file("items.csv").path
        try "sku,category,price_eur\nA-1,shoes,3.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        var catalogue = try ItemCatalogue.load(path: path, schema: Self.schema)
        #expect(throws: DataError.numericField(item: "N", name: "price_eur", text: text, problem: try #require(Self.problem(reason)))) {
            try catalogue.add(id: "N", fields: ["category": "hats", "price_eur": text])
        }
        #expect(
            DataError.numericField(item: "N", name: "price_eur", text: text, problem: try #require(Self.problem(reason)))
                .description == "item N: numeric feature price_eur '\(text)' \(reason)")
        // The same field in the file: the same reason, named by line and column (the upload reads files so too).
        try "sku,category,price_eur\nA-1,shoes,3.5\nN,hats,\"\(text)\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try ItemCatalogue.load(path: path, schema: Self.schema)
        } throws: { error in
            "\(error)".contains("items.csv:3") && "\(error)".contains("'price_eur'") && "\(error)".hasSuffix(reason)
        }
    }

    static func problem(_ reason: String) -> NumberProblem? {
        [NumberProblem.blank, .notANumber, .notFinite, .outsideFloatRange].first { $0.description == reason }
    }

    @Test("a log's number field names the same causes as the catalogue's")
    func logCells() throws {
        let table = try CSVTable.parse(Array("a,b,c,d\n1,x,,1e39\n".utf8), path: "log.csv")
        #expect(throws: DataError.file(.invalidValue(path: "log.csv", line: 2, column: 2, name: "b", text: "x", reason: "is not a number"))) {
            try table.double(row: 0, column: 1)
        }
        #expect { try table.double(row: 0, column: 2) } throws: { "\($0)".contains("is blank: a number is needed") }
        #expect { try table.float(row: 0, column: 3) } throws: { "\($0)".contains("outside a 32-bit float's range") }
        #expect(try table.float(row: 0, column: 0) == 1)
    }
}
