import Foundation

@testable import RecData

/// A log built in memory for a test: its CSV text, the roles of `[logs]` (`ts`, `item`, `pos`, `prop` always; the
/// outcome role and any others given), its user features and a catalogue of item ids `0..<items`.
enum SmallLog {
    /// Parses `text` (header included) with the schema those roles make, as `LogLoader` reads a shop's files.
    /// - Parameters:
    ///   - outcome: `click` or `reward`, read from the column of that name.
    ///   - roles: further `[logs]` roles as `role = "column"` (such as `observed` → `obs`).
    ///   - userFeatures: `[logs.user_features]`, name → kind, in order.
    static func build(
        _ text: String, outcome: String = "click", roles: KeyValuePairs<String, String> = [:],
        userFeatures: KeyValuePairs<String, String>, items: Int, name: String
    ) throws -> BanditDataset {
        var toml = "[logs]\ntimestamp = \"ts\"\nitem = \"item\"\nposition = \"pos\"\n\(outcome) = \"\(outcome)\"\n"
        toml += "propensity = \"prop\"\n"
        for (role, column) in roles { toml += "\(role) = \"\(column)\"\n" }
        toml += "\n[logs.user_features]\n"
        for (feature, kind) in userFeatures { toml += "\(feature) = \"\(kind)\"\n" }
        toml += "\n[catalogue]\nfile = \"cat.csv\"\nitem = \"item\"\n"
        let catalogue = "item\n" + (0..<items).map { "\($0)\n" }.joined()
        return try LogLoader.build(
            log: CSVTable.parse(Array(text.utf8), path: name),
            catalogue: CSVTable.parse(Array(catalogue.utf8), path: "cat.csv"),
            schema: try DataSchema.parse(toml, path: "small.toml"), name: name)
    }
}
