import ArgumentParser
import Foundation
import RecData
import RecTransport
import RecWire

/// `recpool data schema --infer LOG.csv [--catalogue items.csv]`: drafts a schema for a shop's logs, for review;
/// `recpool data schema --check shop.toml LOG.csv`: reads the log with it and prints what each column became.
struct DataSchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Draft a schema (TOML) for a shop's impression log and catalogue, or check one against the files.",
        discussion: """
            --infer prints a draft: roles recognised by column name, every other column a user feature (numeric \
            when it holds more than 10 distinct numbers, else categorical). Review it, then pass it as --schema to \
            fit, train, eval, loadtest and data describe|features|ope (docs/YOUR-DATA.md).
            """)

    @Option(help: "Draft a schema for this impression log CSV.")
    var infer: String

    @Option(help: "The catalogue CSV (default: item_context.csv beside the log).")
    var catalogue: String?

    @Option(help: "Write the draft here instead of standard output.")
    var out: String?

    func run() async throws {
        let catalogueFile =
            catalogue
            ?? URL(fileURLWithPath: infer).deletingLastPathComponent().appendingPathComponent("item_context.csv").path
        let schema = try DatasetOptions.reporting(infer) { () throws(DataError) in
            let log = try CSVTable.read(path: infer)
            let items = try CSVTable.read(path: catalogueFile)
            // The schema names its catalogue relative to where the schema is written.
            let base = URL(fileURLWithPath: out ?? "./schema.toml").deletingLastPathComponent().standardized.path
            let full = URL(fileURLWithPath: catalogueFile).standardized.path
            let relative = full.hasPrefix(base + "/") ? String(full.dropFirst(base.count + 1)) : full
            return try SchemaInference.infer(log: log, catalogue: items, catalogueFile: relative)
        }
        let text =
            "# Drafted by recpool data schema --infer \(infer); review the roles and feature kinds.\n" + schema.toml()
        if let out {
            do { try text.write(toFile: out, atomically: true, encoding: .utf8) } catch {
                throw CommandFailure("cannot write \(out): \(error)", exitCode: .badInput)
            }
            CommandOutput.printLine(
                "wrote \(out): \(schema.logs.userFeatures.count) user features, \(schema.catalogue.itemFeatures.count) item features"
            )
        } else {
            CommandOutput.printLine(String(text.dropLast()))
        }
    }
}
