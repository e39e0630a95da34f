import ArgumentParser
import Foundation
import RecConfig
import RecData
import RecTransport
import RecWire

/// `recpool data schema --infer LOG.csv [--catalogue items.csv]`: drafts a schema for a shop's logs, for review;
/// `recpool data schema --check shop.toml LOG.csv`: reads the log with it and prints what each column became.
struct DataSchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract:
            "Draft a schema (TOML) for a shop's impression log and catalogue; check one with `recpool data describe LOG --schema FILE`.",
        discussion: """
            --infer prints a draft: roles recognised by column name, a numbered column family with one column per \
            catalogue item as the history (affinity_prefix), every other column a user feature (numeric when it \
            holds more than 10 distinct numbers, else categorical). A role with no recognised column is an \
            "EDIT ME" placeholder that every command refuses until you name its column; standard error lists the \
            names that are recognised. [catalogue] file is written relative to the schema file (--out's folder). Review it, then pass it as --schema to \
            fit, train, eval, loadtest and data describe|features|ope (docs/YOUR-DATA.md).
            """)

    @Option(help: "Draft a schema for this impression log CSV.")
    var infer: String

    @Option(help: "The catalogue CSV (default: item_context.csv beside the log).")
    var catalogue: String?

    @Option(help: "Write the draft here instead of standard output.")
    var out: String?

    /// `table`, when it holds at least one row under its header.
    /// - Throws: `DataError.file(.empty)` naming the file when it holds only a header, as for an empty file.
    static func withRows(_ table: CSVTable) throws(DataError) -> CSVTable {
        guard !table.rows.isEmpty else { throw .file(.empty(path: table.path)) }
        return table
    }

    /// `target`'s path relative to the folder `base` (with `..` steps), or its absolute path when they share no
    /// folder but the root.
    static func relativePath(of target: URL, from base: URL) -> String {
        let to = target.pathComponents
        let from = base.pathComponents
        var common = 0
        while common < min(to.count, from.count) && to[common] == from[common] { common += 1 }
        guard common > 1 else { return target.path }
        return (Array(repeating: "..", count: from.count - common) + to[common...]).joined(separator: "/")
    }

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        // An empty --infer resolved its default catalogue to the parent folder's and was refused as "no catalogue".
        try PathName.validate([(infer, "--infer"), (catalogue, "--catalogue")], what: "a CSV file")
        try PathOption.validateOutputs([(out, "--out")])
        try PathOption.validateDistinct(outputs: [(out, "--out")], inputs: [(infer, "--infer"), (catalogue, "--catalogue")])
    }

    func run() async throws {
        let catalogueFile =
            catalogue
            ?? URL(fileURLWithPath: infer).deletingLastPathComponent().appendingPathComponent("item_context.csv").path
        // The log first: a folder or an unreadable log was reported as a missing catalogue beside it.
        let log = try DatasetOptions.reporting(infer) { () throws(DataError) in
            // A draft's kinds come from the values: a header alone gave every column a guess from nothing (a
            // propensity "categorical"), which `data describe` then refused as a log of no rows.
            try Self.withRows(CSVTable.read(path: infer))
        }
        if catalogue == nil, !FileManager.default.fileExists(atPath: catalogueFile) {
            throw CommandFailure(
                "no catalogue: \(catalogueFile) (the default, beside the log) does not exist; pass the shop's item CSV "
                    + "with --catalogue FILE", exitCode: .badInput)
        }
        let draft = try DatasetOptions.reporting(infer) { () throws(DataError) in
            let items = try Self.withRows(CSVTable.read(path: catalogueFile))
            // The loader reads the catalogue relative to the schema file: name it relative to where the draft goes.
            let base = URL(fileURLWithPath: out ?? "schema.toml").deletingLastPathComponent().standardized
            let relative = Self.relativePath(of: URL(fileURLWithPath: catalogueFile).standardized, from: base)
            return SchemaInference.infer(log: log, catalogue: items, catalogueFile: relative)
        }
        let schema = draft.schema
        var header = "# Drafted by recpool data schema --infer \(infer); review the roles and feature kinds.\n"
        if out == nil {
            header +=
                "# [catalogue] file is relative to the schema file: this draft names it from the current directory, "
                + "so save it here or edit the path.\n"
        }
        for role in draft.unrecognised {
            header +=
                "# No column recognised as the \(role): replace its \"\(SchemaInference.placeholderPrefix)…\" value "
                + "with the column's name, and take that column out of the features.\n"
        }
        // A numeric column beyond ±10 whose mean or spread passes what a schema may declare gets no mean and scale:
        // said, not left for the online policy to clip every value to ±10 in silence.
        let unscaled = draft.unscaled.map {
            "numeric user feature '\($0)' holds values beyond ±10 but its mean or spread lies beyond the ±1e15 a schema "
                + "may declare, so no mean and scale are drafted: the online policy reads its values clipped to ±10; "
                + "rescale the column (another unit) and draft again"
        }
        // A column of a few numbers (a price over ten items) is drafted categorical: said, since a quantity read as
        // categories learns nothing across values and encodes a value not in the draft as none of them.
        let fewNumbers = draft.fewNumbers.map {
            "'\($0.column)' holds only numbers but \($0.distinct) distinct values (numeric needs more than 10), so it is "
                + "drafted categorical: one column per value, and a value not listed encodes as none; if it is a "
                + "quantity, declare it numeric"
        }
        for note in unscaled + fewNumbers { header += "# Note: \(note).\n" }
        let text = header + schema.toml()
        for role in draft.unrecognised {
            CommandOutput.printError(
                "recpool: no column recognised as the \(role); the draft holds a placeholder to edit")
        }
        for note in unscaled + fewNumbers { CommandOutput.printError("recpool: note: \(note)") }
        if let out {
            try FileProblem.write(text, to: out)
            CommandOutput.printLine(
                "wrote \(out): \(schema.logs.userFeatures.count) user features, \(schema.catalogue.itemFeatures.count) item features"
            )
        } else {
            CommandOutput.printLine(String(text.dropLast()))
        }
    }
}
