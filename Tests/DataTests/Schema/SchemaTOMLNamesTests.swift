import Foundation
import Testing

@testable import RecData

/// `recpool data schema --infer` writes TOML that reads back whatever the shop's column names are: a name that is not
/// an ASCII bare key (`größe`) is quoted, and one holding a quote, a backslash or a control character is escaped.
@Suite("A drafted schema reads back with any column name")
struct SchemaTOMLNamesTests {
    /// `text` as one quoted CSV field.
    static func quoted(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// The draft of `log` (a CSV's text) over a two-item catalogue.
    static func draft(_ log: String) throws -> SchemaInference.Draft {
        SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "u.csv"),
            catalogue: try CSVTable.parse(Array("item_id,item_feature_0\n0,1.5\n1,2.5\n".utf8), path: "c.csv"),
            catalogueFile: "c.csv")
    }

    @Test(
        "the drafted schema parses back to the same user feature names",
        arguments: ["größe", "catégorie", "größe-2", "multi\nline", "tab\there", "quo\"te", "back\\slash", "bell\u{7}", "a b"])
    func roundTrip(name: String) throws {
        let log = "timestamp,item_id,position,click,propensity_score,\(Self.quoted(name))\n1,0,1,0,0.5,a\n2,1,1,1,0.5,b\n"
        let draft = try Self.draft(log)
        #expect(draft.schema.logs.userFeatures.map(\.name) == [name])
        let text = draft.schema.toml()
        let back = try DataSchema.parse(text, path: "u.toml")
        #expect(back.logs.userFeatures.map(\.name) == [name], "\(text)")
        #expect(back.logs.userFeatures.map(\.kind) == draft.schema.logs.userFeatures.map(\.kind))
    }

    /// `data schema --infer` kept `"\u{200B}"` (a zero-width space: no white space to `BlankText`) as a value, and
    /// the schema reader called it blank (Foundation's white space on Linux) and refused the draft it had just written.
    @Test(
        "a drafted schema's categorical values read back, whatever characters they hold",
        arguments: ["\u{200B}", "\u{FEFF}", "\u{180E}", "\u{2060}", "x\u{A0}", "\u{3000}x", "quo\"te", "back\\slash", "🙂"])
    func valuesRoundTrip(value: String) throws {
        let log = "timestamp,item_id,position,click,propensity_score,uf0\n1,0,1,0,0.5,a\n2,1,1,1,0.5,\(Self.quoted(value))\n"
        let draft = try Self.draft(log)
        let drafted = try #require(draft.schema.logs.userFeatures.first)
        let text = draft.schema.toml()
        let back = try DataSchema.parse(text, path: "u.toml")
        #expect(back.logs.userFeatures.first?.values == drafted.values, "\(text)")
    }
}
