import Foundation
import RecData
import RecFiles
import RecPolicy

/// `recpool simulate --export-catalogue`: a simulator world's items as a shop's catalogue CSV and schema, so the
/// registry can serve them (`recpool catalogue upload --schema schema.toml`, `recpool-broker --online
/// --online-catalogue latest`) and `recpool simulate --world` the same world's users against it.
enum SimulatorCatalogExport {
    /// Writes `catalogue.csv` (columns `item_id`, `topic_0…`: ``SimulatorCatalog/catalogue(world:)``'s ids and
    /// feature values, each written as the decimal of its exact value so it reads back bit for bit) and
    /// `schema.toml` (its `[catalogue]` section, and `[logs]` naming the world's user features with their values) into `folder`,
    /// creating it.
    /// - Returns: the items and the two paths.
    /// - Throws: ``CommandFailure`` naming the file that could not be written.
    static func write(world: SimulatorWorld, folder: String) throws -> (items: Int, catalogue: String, schema: String) {
        let catalogue = SimulatorCatalog.catalogue(world: world)
        let names = catalogue.encoding.featureNames
        let csvPath = folder + "/catalogue.csv"
        let schemaPath = folder + "/schema.toml"
        var csv = "item_id," + names.joined(separator: ",") + "\n"
        csv.reserveCapacity(catalogue.count * (12 + 24 * names.count))
        for row in 0..<catalogue.count {
            csv += catalogue.ids[row]
            // A Float widened to Double prints the exact value's shortest Double text, which parses back to the
            // same Double and so to the same Float.
            for value in catalogue.row(row) { csv += "," + Double(value).description }
            csv += "\n"
        }
        // Each user feature with its values, as the built-in world's policy knows them: a column per value, where a
        // plain "categorical" would hash the values into 8 shared columns (docs/ONLINE.md, "The policy over a
        // catalogue"). One TOML writer for every schema RecPool writes (`DataSchema.toml()`, which escapes names).
        let layout = DataSchema(
            logs: DataSchema.Logs(
                timestamp: "timestamp", item: "item_id", position: "position", outcome: "click",
                propensity: "propensity",
                userFeatures: SimulatorCatalog.userFeatures(world: world).map {
                    DataSchema.Feature($0.name, .categorical, values: $0.values)
                }),
            catalogue: DataSchema.Catalogue(
                file: "catalogue.csv", item: "item_id", itemFeatures: names.map { DataSchema.Feature($0, .numeric) }))
        let schema =
            "# The simulator world of \(world.config.items) items, \(world.config.topics) topics, seed "
            + "\(world.config.seed)\n# (recpool simulate --export-catalogue). Its users are simulated, so the [logs] "
            + "columns are never read.\n" + layout.toml()
        do {
            try FolderCreation.create(folder)
        } catch {
            // Exit 2, as every file that cannot be written (docs/OPERATIONS.md; `keygen --out` says so too).
            throw CommandFailure("cannot write the catalogue into \(folder): \(error)", exitCode: .badInput)
        }
        try FileProblem.writeAll([(Data(csv.utf8), csvPath), (Data(schema.utf8), schemaPath)])
        return (catalogue.count, csvPath, schemaPath)
    }
}
