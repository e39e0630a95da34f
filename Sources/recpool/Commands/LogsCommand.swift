import ArgumentParser
import RecSimulation
import RecTransport

/// `recpool logs export`: the impression log as a shop's log with its catalogue and schema.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Work with the broker's impression log.", subcommands: [LogsExportCommand.self])
}

/// `recpool logs export --out FILE.csv`.
struct LogsExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract:
            "Export the impression log with its feedback as CSV, plus item_context.csv and schema.toml next to it.",
        discussion: """
            One row per shown item: click = the feedback received, blank with observed = 0 when none arrived (an \
            unknown outcome, not a non-click); dwell = the seconds reported with it; propensity_score = the logged \
            probability of that item in that slot. The output folder is created. The files load back with \
            `--schema FOLDER/schema.toml` in `recpool data`, `fit` and `train`, which leave unobserved rows out; \
            docs/ONLINE.md describes the columns.
            """)

    @OptionGroup var connection: BrokerOptions

    @Option(help: "The data file to write (item_context.csv and schema.toml are written in the same folder, created if needed).")
    var out: String

    @Option(help: "Impressions per CONTROL request.")
    var pageSize = 1000

    @Flag(
        help: """
            Print one JSON object: {data_file, item_context_file, schema_file, impressions, rows, feedback_rows, \
            unobserved_rows, dwell_rows, clicks, skipped_impressions, earlier_lineage_impressions}.
            """)
    var json = false

    func validate() throws {
        // The broker's page limit (CONTROL `impressions`, `limit` 1…10000), checked before anything is sent.
        guard (1...10_000).contains(pageSize) else {
            throw ValidationError("--page-size must be 1…10000 (the broker's page limit), got \(pageSize)")
        }
        try PathOption.validateOutputs([(out, "--out")], createsFolder: true)
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let (rows, spec, earlierLineage) = try await client.allImpressions(pageSize: pageSize)
            guard let spec else {
                throw CommandFailure("the broker sent no policy spec: is it running with --online?")
            }
            var summary: ImpressionExport.Summary
            do throws(ImpressionExport.ExportError) {
                if rows.isEmpty && earlierLineage > 0 { throw .onlyEarlierLineage(impressions: earlierLineage) }
                summary = try ImpressionExport.write(rows, spec: spec, dataFile: out)
            } catch {
                throw CommandFailure(error.description, exitCode: .badInput)
            }
            summary.earlierLineageImpressions = earlierLineage
            if json {
                CommandOutput.printLine(try JSONOutput.encode(summary))
            } else {
                var line =
                    "wrote \(summary.rows) rows (\(summary.impressions) impressions, \(summary.feedbackRows) with "
                    + "feedback, \(summary.unobservedRows) unobserved, \(summary.dwellRows) with dwell, "
                    + "\(summary.clicks) clicks) to \(summary.dataFile), \(summary.itemContextFile) and "
                line += summary.schemaFile
                if summary.skippedImpressions > 0 {
                    line += "; left out \(summary.skippedImpressions) impressions that show items beyond the served "
                    line += "catalogue's rows (served with a catalogue version of more items; serve it with --online-catalogue "
                    line += "to export them)"
                }
                if summary.earlierLineageImpressions > 0 {
                    line += "; left out \(summary.earlierLineageImpressions) impressions an earlier lineage logged "
                    line += "(a policy over another catalogue, whose item rows the served one numbers otherwise, or over "
                    line += "another encoding of the user features, such as a numeric feature's mean and scale)"
                }
                CommandOutput.printLine(line)
            }
        }
    }
}
