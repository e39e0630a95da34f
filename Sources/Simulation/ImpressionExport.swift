import Foundation
import RecData
import RecWire

/// Writes the broker's impression log in the Open Bandit Dataset's shape, so that
/// `OBDLoader.load(dataFile:itemContextFile:name:)` and the off-policy tools read it like an OBD source.
///
/// **The data file** has obp's columns: an unnamed index, `timestamp`, `item_id`, `position`, `click`,
/// `propensity_score`, `user_feature_0…` (one per feature of the spec), `user-item_affinity_0…N−1`. There is one
/// row per shown item: `position` is the slot from 1 (the top); `click` is the feedback received for that item, 0
/// when none arrived; `propensity_score` is the probability that the logging policy placed that item in that
/// slot given the items above it (what the worker logged; OBD's own files hold a per-position marginal); the
/// affinities are 0, since the policy serves cold-start users and the log keeps no history. `timestamp` is the
/// impression's serving time, `YYYY-MM-DD HH:MM:SS.ffffff+00:00` in UTC as in OBD; the rows of an impression
/// share it and keep slot order.
///
/// **The item-context file** (``itemContextFileName``, next to the data file) has `item_id`, `item_feature_0`
/// (continuous) and categorical `item_feature_1…`, derived from the spec's item feature columns in order:
/// - the first column that is not 0/1-valued is `item_feature_0`, verbatim (0 for every item if there is none);
/// - a run of 0/1 columns in which every item has exactly one 1 (a one-hot block, such as the simulator
///   catalogue's item id) becomes one column whose value is `v` and the hot column's index in the block;
/// - any other 0/1 column becomes a column of `0` and `1`;
/// - any other continuous column becomes a column whose value is `r`, the value's rank among the items, then
///   `:` and the value (`r07:+0.431250`). The rank is zero-padded, so the lexicographic label encoding OBDLoader
///   applies gives codes in the order of the values, and the exact value stays readable.
public enum ImpressionExport {
    /// The item-context file's name, written in the data file's directory.
    public static let itemContextFileName = "item_context.csv"

    /// Why an export failed.
    public enum ExportError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The log holds no impression, so there is nothing a loader could read.
        case emptyLog
        /// A logged impression is not well formed (or does not fit the spec); the text says why.
        case malformedImpression(id: String, reason: String)
        /// A file could not be written.
        case cannotWrite(path: String, reason: String)

        /// A one-line message for people.
        public var description: String {
            switch self {
            case .emptyLog: "the impression log is empty: nothing to export"
            case .malformedImpression(let id, let reason): "impression \(id) cannot be exported: \(reason)"
            case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
            }
        }
    }

    /// What an export wrote. JSON keys: `data_file`, `item_context_file`, `impressions`, `rows`, `feedback_rows`,
    /// `clicks`.
    public struct Summary: Codable, Sendable, Equatable {
        /// The data file's path.
        public var dataFile: String
        /// The item-context file's path.
        public var itemContextFile: String
        /// Impressions exported.
        public var impressions: Int
        /// Rows (shown items) written.
        public var rows: Int
        /// Rows that had feedback.
        public var feedbackRows: Int
        /// Rows with a click.
        public var clicks: Int

        enum CodingKeys: String, CodingKey {
            case impressions, rows, clicks
            case dataFile = "data_file", itemContextFile = "item_context_file", feedbackRows = "feedback_rows"
        }
    }

    /// The path of the item-context file that goes with `dataFile`.
    public static func itemContextPath(nextTo dataFile: String) -> String {
        URL(fileURLWithPath: dataFile).deletingLastPathComponent().appendingPathComponent(itemContextFileName).path
    }

    /// Writes the data file and the item-context file next to it, creating their directory if needed.
    /// - Throws: ``ExportError``.
    public static func write(_ impressions: [LoggedImpression], spec: OnlinePolicySpec, dataFile: String)
        throws(ExportError) -> Summary
    {
        let (data, summary) = try dataCSV(impressions, spec: spec)
        let itemFile = itemContextPath(nextTo: dataFile)
        // `--out export/impressions.csv` creates `export/`, as the docs show.
        let directory = URL(fileURLWithPath: dataFile).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: directory, reason: error.localizedDescription)
        }
        for (path, text) in [(dataFile, data), (itemFile, itemContextCSV(spec: spec))] {
            do {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw .cannotWrite(path: path, reason: error.localizedDescription)
            }
        }
        return Summary(
            dataFile: dataFile, itemContextFile: itemFile, impressions: impressions.count, rows: summary.rows,
            feedbackRows: summary.feedbackRows, clicks: summary.clicks)
    }

    /// The data file's text, and its row counts.
    /// - Throws: ``ExportError/emptyLog`` or ``ExportError/malformedImpression(id:reason:)``.
    public static func dataCSV(_ impressions: [LoggedImpression], spec: OnlinePolicySpec) throws(ExportError)
        -> (text: String, summary: (rows: Int, feedbackRows: Int, clicks: Int))
    {
        guard !impressions.isEmpty else { throw .emptyLog }
        let featureNames = spec.userFeatures.map(\.name)
        var header = ["", "timestamp", "item_id", "position", "click", "propensity_score"] + featureNames
        header += (0..<spec.itemCount).map { "user-item_affinity_\($0)" }
        let affinity = [String](repeating: "0.0", count: spec.itemCount).joined(separator: ",")
        var lines = [header.joined(separator: ",")]
        var rows = 0
        var feedbackRows = 0
        var clicks = 0
        for logged in impressions {
            let record = logged.record
            if let problem = record.problem { throw .malformedImpression(id: record.impressionId, reason: problem) }
            // A propensity the off-policy loader would refuse (its importance weight overflows) stops the export
            // here, naming the impression, rather than producing a log `recpool data ope` cannot read.
            if let tiny = record.propensities.first(where: { $0 < BanditDataset.minimumPropensity }) {
                throw .malformedImpression(
                    id: record.impressionId,
                    reason: "propensity \(tiny) is below the smallest usable propensity \(BanditDataset.minimumPropensity)")
            }
            if let unknown = record.userFeatures.keys.sorted().first(where: { !featureNames.contains($0) }) {
                throw .malformedImpression(id: record.impressionId, reason: "unknown user feature '\(unknown)'")
            }
            let timestamp = formatTimestamp(ms: record.createdMs)
            let features = featureNames.map { csvField(record.userFeatures[$0] ?? "") }.joined(separator: ",")
            for (slot, item) in record.slate.enumerated() {
                guard item >= 0 && item < spec.itemCount else {
                    throw .malformedImpression(id: record.impressionId, reason: "item \(item) is not in the catalogue")
                }
                let click = logged.clicks[String(item)]
                if let click, click != 0 && click != 1 {
                    throw .malformedImpression(
                        id: record.impressionId, reason: "click \(click) for item \(item) is not 0 or 1")
                }
                if click != nil { feedbackRows += 1 }
                clicks += click ?? 0
                lines.append(
                    "\(rows),\(timestamp),\(item),\(slot + 1),\(click ?? 0),\(record.propensities[slot]),\(features),\(affinity)"
                )
                rows += 1
            }
        }
        return (lines.joined(separator: "\n") + "\n", (rows, feedbackRows, clicks))
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00:00` (UTC) for ms since the Unix epoch.
    static func formatTimestamp(ms: UInt64) -> String {
        let seconds = Int64(ms / 1000)
        let days = seconds / 86_400
        let secondOfDay = Int(seconds % 86_400)
        // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return String(
            format: "%04lld-%02lld-%02lld %02d:%02d:%02d.%06llu+00:00", year, month, day, secondOfDay / 3600,
            secondOfDay / 60 % 60, secondOfDay % 60, (ms % 1000) * 1000)
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
