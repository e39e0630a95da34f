import ArgumentParser
import Foundation
import RecConfig
import RecData
import RecTransport

/// `recpool data describe DATASET [--json]`: rows, clicks, items, positions, feature widths and segments.
struct DataDescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Print a dataset's rows, clicks, items, positions and feature widths.")

    @OptionGroup var options: DatasetOptions

    @Flag(help: "Print one JSON object (keys rows, unobserved_rows, clicks, items, positions, context_width, ...).")
    var json = false

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func run() async throws {
        let started = Date()
        let data = try options.logs()
        let loadSeconds = Date().timeIntervalSince(started)
        let d = DatasetDescription(data)
        if json {
            CommandOutput.printLine(try JSONOutput.encode(d))
            return
        }
        let pct = { (v: Double) in String(format: "%.3f%%", 100 * v) }
        let segmentCTR = { (v: Double?) in v.map(pct) ?? "undefined (no rows)" }
        let featureWidths =
            if let basic = d.basicFeatureWidth, let extended = d.extendedFeatureWidth {
                "basic \(basic), extended \(extended)"
            } else {
                "undefined (\(d.featureWidthsUndefined ?? "no feature specification"))"
            }
        CommandOutput.printLine(
            """
            \(d.name)
              rows            \(d.rows) (train \(d.trainRows) / validation \(d.validationRows) / test \(d.testRows) by time, loaded in \(String(format: "%.2f", loadSeconds)) s)
              clicks          \(d.clicks) rows with reward > 0 (CTR \(pct(d.ctr))); mean reward \(String(format: "%.4f", d.meanReward))
              items           \(d.items)
              positions       \(d.positions)
              context width   \(d.contextWidth) (obp one-hot, first category dropped); action context \(d.actionContextWidth)
              feature widths  \(featureWidths)
              cold start      \(CountText.of(d.coldStartRows, "row")) (\(pct(Double(d.coldStartRows) / Double(max(d.rows, 1))))), CTR \(segmentCTR(d.coldStartCTR))
              warm            \(CountText.of(d.warmRows, "row")), CTR \(segmentCTR(d.warmCTR))
              pscore          \(figureText(d.pscoreMin, "%.6g")) … \(figureText(d.pscoreMax, "%.6g"))
            """)
        if d.unobservedRows > 0 {
            CommandOutput.printLine(
                "  unobserved      \(d.unobservedRows) rows left out (observed = 0: shown without feedback, not non-clicks)")
        }
        if d.repeatedRows > 0, let note = data.all.repeatedRowsNote {
            CommandOutput.printLine("  repeated rows   \(note)")
        }
        if d.conditionalRows > 0 {
            CommandOutput.printLine(
                "  candidate sets  \(d.conditionalRows) rows drawn from a candidate set (`retrieval`): left out of "
                    + "off-policy evaluation, their propensities being conditional on it")
        }
        // What fit and train would say about the training part, said here too (and in --json).
        if let warning = d.trainingWarning { CommandOutput.printLine("  \(warning)") }
    }
}
