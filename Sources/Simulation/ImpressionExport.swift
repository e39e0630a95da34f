import Foundation
import RecData
import RecFiles
import RecModel
import RecWire

/// Writes the broker's impression log as a shop's log with its schema: the data file, the catalogue it refers to
/// (``itemContextFileName``) and a schema file (``schemaFileName``) naming every column's role, all in one folder,
/// so `recpool data describe|ope`, `recpool fit` and `recpool train` read it back with
/// `--schema FOLDER/schema.toml`, and ``LogLoader`` with ``DataSchema/read(path:)``.
///
/// **The data file** has one row per shown item, with obp's columns first: an unnamed index, `timestamp`,
/// `item_id`, `position`, `click`, `observed`, `dwell`, `propensity_score`, `impression_id`, `policy_version`,
/// `viewed`, `score`, `retrieval`, and one column per user feature of the spec (named as in RECOMMEND): its width
/// does not depend on the number of items (no column per item, unlike OBD's `user-item_affinity_K`).
/// - `item_id` is the catalogue row; `position` the slot from 1 (the top);
/// - `observed` is 1 when feedback arrived for that item and 0 when it was shown and nothing was reported;
///   `click` is the reported 0 or 1, and **blank** for an unobserved row (an unknown outcome, not a non-click:
///   the schema's `observed` role makes ``LogLoader`` leave such rows out);
/// - `dwell` is the seconds reported with the feedback, blank when none was;
/// - `propensity_score` is the probability that the logging policy placed that item in that slot given the items
///   above it (what the worker logged; OBD's own files hold a per-position marginal);
/// - `impression_id`, `policy_version`: the impression and the policy version that chose it;
/// - `viewed`: the session's viewed items the request carried (RECOMMEND's `events`), `item:seconds` joined by
///   `;` (blank for none), part of the state the policy saw; the schema's `viewed` role, from which ``LogLoader``
///   builds the user's history (a view of at least ``engagedSeconds`` counts `min(seconds / engagedSeconds, 3)`
///   engagements with its item, as `recommend --events` counts them for a fitted model);
/// - `score`: the policy's score of the item when it drew the slate; `retrieval`: the item index version when the
///   slate was drawn from retrieval's candidates (blank when every active item was a candidate; another policy's
///   probabilities of such a slate cannot be recomputed without the same candidates).
///
/// `timestamp` is the impression's serving time, `YYYY-MM-DD HH:MM:SS.ffffff+00:00` in UTC as in OBD; the rows of
/// an impression share it and keep slot order.
///
/// **The item-context file** (``itemContextFileName``, next to the data file) has an unnamed index, `item_id`
/// (the row), `item_sku` (the catalogue's external id), `active` (0 once retired), `item_feature_0` (continuous)
/// and categorical `item_feature_1…`, derived from the spec's item feature columns in order:
/// - the first column that is not 0/1-valued is `item_feature_0`, verbatim (0 for every item if there is none);
/// - a run of two or more 0/1 columns in which every item has at most one 1 (a one-hot block, such as a categorical
///   feature of an uploaded catalogue) becomes one column whose value is `v` and the hot column's index in the
///   block, or `none` for an item with no 1 in it (an added item whose value the vocabulary lacks);
/// - any other 0/1 column becomes a column of `0` and `1`;
/// - any other continuous column becomes a column of its values, verbatim (numeric in the schema, so its width does
///   not grow with the number of items).
///
/// **The schema file** (``schemaFileName``) is a ``DataSchema`` in the TOML of docs/YOUR-DATA.md: the roles above,
/// each user feature with its kind in the spec, `item_feature_0` and the other continuous item features numeric, the
/// one-hot and 0/1 ones categorical;
/// `viewed` is the `viewed` role; the catalogue's `item_sku` is its `sku` role and `active` its `active` role, so a
/// catalogue uploaded from the export keeps each item's external id and which items are retired; `retrieval` is the
/// `retrieval` role (off-policy evaluation leaves out the rows drawn from a candidate set, whose propensities are
/// conditional on it); `impression_id`, `policy_version` and `score` are listed in `ignore`.
public enum ImpressionExport {
    /// The item-context file's name, written in the data file's directory.
    public static let itemContextFileName = "item_context.csv"
    /// The schema file's name, written in the data file's directory.
    public static let schemaFileName = "schema.toml"
    /// The dwell at which a viewed item counts as an engagement in the affinity columns (seconds; LogLoader's and
    /// `FeatureSpec`'s default).
    public static let engagedSeconds = 10.0
    /// The most engagements one viewed item counts for (`FeatureSpec.maximumEngagements`).
    public static let maximumEngagements = 3.0

    /// Why an export failed.
    public enum ExportError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The log holds no impression, so there is nothing a loader could read.
        case emptyLog
        /// Every impression of the log was logged by an earlier lineage (a policy over another catalogue), which the
        /// broker leaves out (``ImpressionPage/earlierLineage``).
        case onlyEarlierLineage(impressions: Int)
        /// Every impression shows or names an item beyond the served catalogue's rows (an item added in a catalogue
        /// version the broker no longer serves, after a restart onto an older one).
        case beyondCatalogue(impressions: Int, items: Int)
        /// A logged impression is not well formed (or does not fit the spec); the text says why.
        case malformedImpression(id: String, reason: String)
        /// The output folder could not be created.
        case cannotCreateFolder(path: String, reason: String)
        /// A file could not be written.
        case cannotWrite(path: String, reason: String)

        /// A one-line message for people.
        public var description: String {
            switch self {
            case .emptyLog: "the impression log is empty: nothing to export"
            case .onlyEarlierLineage(let impressions):
                "each of the \(impressions) logged impressions was served by an earlier lineage (a policy over another "
                    + "catalogue, whose item rows the served one numbers otherwise, or over another encoding of the user "
                    + "features, such as a numeric feature's mean and scale), so none is exported; this lineage has "
                    + "logged none yet"
            case .beyondCatalogue(let impressions, let items):
                "each of the \(impressions) impressions names an item beyond the served catalogue's \(items) rows; "
                    + "serve the catalogue version they were served with (`--online-catalogue`) to export them"
            case .malformedImpression(let id, let reason): "impression \(id) cannot be exported: \(reason)"
            case .cannotCreateFolder(let path, let reason): "cannot create the output folder \(path): \(reason)"
            case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
            }
        }
    }

    /// What an export wrote. JSON keys: `data_file`, `item_context_file`, `schema_file`, `impressions`, `rows`,
    /// `feedback_rows`, `unobserved_rows`, `dwell_rows`, `clicks`, `skipped_impressions`.
    public struct Summary: Codable, Sendable, Equatable {
        /// The data file's path.
        public var dataFile: String
        /// The item-context file's path.
        public var itemContextFile: String
        /// The schema file's path.
        public var schemaFile: String
        /// Impressions exported.
        public var impressions: Int
        /// Rows (shown items) written.
        public var rows: Int
        /// Rows that had feedback (`observed` 1).
        public var feedbackRows: Int
        /// Rows shown with no feedback (`observed` 0, `click` blank).
        public var unobservedRows: Int
        /// Rows whose feedback reported a dwell time.
        public var dwellRows: Int
        /// Rows with a click.
        public var clicks: Int
        /// Impressions left out because they show or name an item beyond the served catalogue's rows (see
        /// ``Counts/skippedImpressions``); not counted in `impressions`.
        public var skippedImpressions: Int = 0
        /// Impressions the broker left out because an earlier lineage logged them (a policy over another catalogue,
        /// whose item rows the served catalogue does not name: ``ImpressionPage/earlierLineage``); not counted in
        /// `impressions`.
        public var earlierLineageImpressions: Int = 0

        enum CodingKeys: String, CodingKey {
            case impressions, rows, clicks
            case dataFile = "data_file", itemContextFile = "item_context_file", schemaFile = "schema_file"
            case feedbackRows = "feedback_rows", unobservedRows = "unobserved_rows", dwellRows = "dwell_rows"
            case skippedImpressions = "skipped_impressions"
            case earlierLineageImpressions = "earlier_lineage_impressions"
        }
    }

    /// Row counts of a data file.
    public struct Counts: Sendable, Equatable {
        /// Rows written.
        public var rows = 0
        /// Rows with feedback.
        public var feedbackRows = 0
        /// Rows without feedback.
        public var unobservedRows = 0
        /// Rows with a reported dwell.
        public var dwellRows = 0
        /// Rows with a click.
        public var clicks = 0
        /// Impressions left out: each shows or names (as viewed) an item at a row the served catalogue does not
        /// hold. Catalogue rows never move, so such an impression was served with a later catalogue version than
        /// the one the broker serves now (it was restarted onto an older one), and the exported item context could
        /// not describe its items.
        public var skippedImpressions = 0

        /// Creates counts.
        public init(
            rows: Int = 0, feedbackRows: Int = 0, unobservedRows: Int = 0, dwellRows: Int = 0, clicks: Int = 0,
            skippedImpressions: Int = 0
        ) {
            self.skippedImpressions = skippedImpressions
            self.rows = rows
            self.feedbackRows = feedbackRows
            self.unobservedRows = unobservedRows
            self.dwellRows = dwellRows
            self.clicks = clicks
        }
    }

    /// The path of the item-context file that goes with `dataFile`: in its folder as written, made absolute.
    public static func itemContextPath(nextTo dataFile: String) -> String {
        absolute(inFolder(of: dataFile, itemContextFileName))
    }

    /// The path of the schema file that goes with `dataFile`: in its folder as written, made absolute.
    public static func schemaPath(nextTo dataFile: String) -> String {
        absolute(inFolder(of: dataFile, schemaFileName))
    }

    /// The folder `dataFile` lies in, as written (`lnk/../q` for `lnk/../q/z.csv`), `.` for a bare name. Never tidied as
    /// text: URL made `lnk/../q` `./q`, while the system writes the log under the link's target, so the three files
    /// were split between two folders and the summary named a log that did not exist.
    static func folder(of dataFile: String) -> String {
        guard let slash = dataFile.lastIndex(of: "/") else { return "." }
        return slash == dataFile.startIndex ? "/" : String(dataFile[..<slash])
    }

    /// `name` in the folder of `dataFile`, as written.
    static func inFolder(of dataFile: String, _ name: String) -> String {
        let folder = folder(of: dataFile)
        return folder == "." ? name : folder == "/" ? "/" + name : folder + "/" + name
    }

    /// `path` made absolute from the working directory, not tidied.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Writes the data file, and the item-context and schema files next to it, creating their folder (and its
    /// parents) if needed.
    /// - Throws: ``ExportError``: ``ExportError/cannotCreateFolder(path:reason:)`` when the folder cannot be
    ///   created (a file is in the way, no permission), ``ExportError/cannotWrite(path:reason:)`` for a file that
    ///   cannot be written, and when `dataFile` names a folder or is named as the item-context or schema file.
    public static func write(_ impressions: [LoggedImpression], spec: OnlinePolicySpec, dataFile: String)
        throws(ExportError) -> Summary
    {
        let itemFile = itemContextPath(nextTo: dataFile)
        let schemaFile = schemaPath(nextTo: dataFile)
        var isDirectory: ObjCBool = false
        if dataFile.hasSuffix("/") || FileManager.default.fileExists(atPath: dataFile, isDirectory: &isDirectory) && isDirectory.boolValue {
            throw .cannotWrite(path: dataFile, reason: "it names a folder; name the log file in it, e.g. \(dataFile.hasSuffix("/") ? dataFile : dataFile + "/")impressions.csv")
        }
        // Three files are written side by side: a device or pipe would take the log and leave the other two in its
        // folder (`--out /dev/null` wrote /dev/schema.toml).
        // stat, not FileManager's attributes, which describe a symbolic link itself (`/dev/stdout` is one).
        var info = stat()
        if stat(dataFile, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            throw .cannotWrite(
                path: dataFile, reason: "it is not a regular file; the export writes the log, item_context.csv and "
                    + "schema.toml side by side, so name a file in a folder, e.g. export/impressions.csv")
        }
        let name = URL(fileURLWithPath: dataFile).lastPathComponent
        guard name != itemContextFileName && name != schemaFileName else {
            throw .cannotWrite(
                path: dataFile, reason: "\(name) is the name of the file written next to the log; name the log otherwise, e.g. impressions.csv")
        }
        let (data, counts) = try dataCSV(impressions, spec: spec)
        // The folder as written, not as URL tidies it: `../a/../b` is `../b` to URL, which leaves `../a` uncreated
        // for the write that follows the path as written.
        let directory = folder(of: dataFile)
        do {
            try FolderCreation.create(directory)
        } catch {
            // The folder itself in the way says so plainly; a parent in the way, or one that cannot be written, is named.
            let plain = error.path == directory && error.operation == FolderCreation.fileInTheWayOperation
            throw .cannotCreateFolder(path: directory, reason: plain ? "a file of that name is in the way" : error.description)
        }
        // The two files written next to the log are checked before anything is written: a folder where one goes left
        // a new log beside an older export's catalogue and schema, and the command failed.
        for path in [itemFile, schemaFile] where stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
            throw .cannotWrite(
                path: path, reason: "it is not a regular file (a folder?); the export writes the log, "
                    + "\(itemContextFileName) and \(schemaFileName) side by side, so nothing was written")
        }
        let files = [
            (dataFile, data), (itemFile, itemContextCSV(spec: spec)),
            (schemaFile, schema(spec: spec, dataFileName: URL(fileURLWithPath: dataFile).lastPathComponent).toml()),
        ]
        for (path, text) in files {
            do {
                try AtomicFile.write(Array(text.utf8), to: path)
            } catch {
                throw .cannotWrite(path: path, reason: "\(error)")
            }
        }
        return Summary(
            // Absolute, as the other two are: one summary names all three files the same way.
            dataFile: absolute(dataFile.hasPrefix("./") ? String(dataFile.dropFirst(2)) : dataFile),
            itemContextFile: itemFile, schemaFile: schemaFile,
            impressions: impressions.count - counts.skippedImpressions,
            rows: counts.rows, feedbackRows: counts.feedbackRows, unobservedRows: counts.unobservedRows,
            dwellRows: counts.dwellRows, clicks: counts.clicks, skippedImpressions: counts.skippedImpressions)
    }

    /// The columns of the data file that no schema role reads (kept for people and other tools).
    public static let carriedLogColumns = ["", "impression_id", "policy_version", "score"]
    /// The columns of the item-context file that no schema role reads.
    public static let carriedItemColumns = [""]

    /// The schema of an export of `spec`'s log: the roles of the data file's columns and of the item-context file
    /// (see the type's documentation).
    public static func schema(spec: OnlinePolicySpec, dataFileName: String = "impressions.csv") -> DataSchema {
        let itemColumns = itemColumns(spec.itemFeatures)
        func isContinuous(_ column: ItemColumn) -> Bool { if case .continuous = column.kind { true } else { false } }
        // The columns after item_feature_0, in the order the item-context file writes them.
        let first = itemColumns.firstIndex(where: isContinuous)
        let rest = itemColumns.indices.filter { $0 != first }
        let itemFeatures =
            [DataSchema.Feature("item_feature_0", .numeric)]
            + rest.enumerated().map { k, c in
                DataSchema.Feature("item_feature_\(k + 1)", isContinuous(itemColumns[c]) ? .numeric : .categorical)
            }
        return DataSchema(
            logs: .init(
                timestamp: "timestamp", item: "item_id", position: "position", outcome: "click",
                propensity: "propensity_score", dwell: "dwell", observed: "observed", retrieval: "retrieval",
                viewed: "viewed",
                userFeatures: spec.userFeatures.map(userFeature), ignore: carriedLogColumns),
            catalogue: .init(
                file: itemContextFileName, item: "item_id", sku: "item_sku", active: "active", itemFeatures: itemFeatures,
                ignore: carriedItemColumns))
    }

    /// A user feature of the export's schema, with a categorical feature's known values (the policy's vocabulary),
    /// so a catalogue uploaded with this schema is served with the same user columns.
    static func userFeature(_ feature: UserFeatureSpec) -> DataSchema.Feature {
        switch feature.kind {
        case .categorical:
            return DataSchema.Feature(feature.name, .categorical, values: feature.values.isEmpty ? nil : feature.values)
        case .numeric:
            // The policy's standardisation, so the schema uploaded again reads the feature as this policy did.
            return DataSchema.Feature(
                feature.name, .numeric, mean: feature.mean == 0 ? nil : feature.mean,
                scale: feature.scale == 1 ? nil : feature.scale)
        }
    }

    /// The data file's text, and its row counts. An impression that shows or names an item beyond the catalogue's
    /// rows is left out and counted (``Counts/skippedImpressions``).
    /// - Throws: ``ExportError/emptyLog``, ``ExportError/beyondCatalogue(impressions:items:)`` when every
    ///   impression is left out, or ``ExportError/malformedImpression(id:reason:)``.
    public static func dataCSV(_ impressions: [LoggedImpression], spec: OnlinePolicySpec) throws(ExportError)
        -> (text: String, summary: Counts)
    {
        guard !impressions.isEmpty else { throw .emptyLog }
        let featureNames = spec.userFeatures.map(\.name)
        let fixed = ImpressionLogColumns.fixed
        if let clash = featureNames.first(where: { fixed.contains($0) }) {
            throw .malformedImpression(
                id: impressions[0].record.impressionId,
                reason: "user feature '\(clash)' has the name of an exported column: rename it in the schema")
        }
        let header = fixed + featureNames.map(csvField)
        var lines = [header.joined(separator: ",")]
        var counts = Counts()
        for logged in impressions {
            let record = logged.record
            if let problem = record.problem { throw .malformedImpression(id: record.impressionId, reason: problem) }
            if record.slate.contains(where: { $0 >= spec.itemCount }) || record.viewed.contains(where: { $0.item >= spec.itemCount }) {
                counts.skippedImpressions += 1
                continue
            }
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
            if let item = logged.clicks.keys.sorted().first(where: { key in !record.slate.contains { String($0) == key } }) {
                throw .malformedImpression(id: record.impressionId, reason: "feedback for item \(item), which it did not show")
            }
            let timestamp = formatTimestamp(ms: record.createdMs)
            let features = featureNames.map { csvField(record.userFeatures[$0] ?? "") }.joined(separator: ",")
            for view in record.viewed {
                guard view.item >= 0 && view.item < spec.itemCount, ViewEvent.admits(seconds: view.seconds) else {
                    throw .malformedImpression(
                        id: record.impressionId, reason: "viewed item \(view.item) (\(view.seconds) s) is not valid")
                }
            }
            // `+ 0` writes a dwell of −0 (a client's `-0.0`, as stored) as 0: a time is never signed.
            let viewed = record.viewed.map { "\($0.item):\($0.seconds + 0)" }.joined(separator: ";")
            let session = "\(csvField(record.impressionId)),\(record.version),\(viewed)"
            let retrieval = csvField(record.retrieval ?? "")
            for (slot, item) in record.slate.enumerated() {
                guard item >= 0 && item < spec.itemCount else {
                    throw .malformedImpression(id: record.impressionId, reason: "item \(item) is not in the catalogue")
                }
                let click = logged.clicks[String(item)]
                if let click, click != 0 && click != 1 {
                    throw .malformedImpression(
                        id: record.impressionId, reason: "click \(click) for item \(item) is not 0 or 1")
                }
                let dwell = logged.dwell[String(item)]
                if let dwell, !(dwell.isFinite && dwell >= 0) {
                    throw .malformedImpression(
                        id: record.impressionId, reason: "dwell \(dwell) for item \(item) is not a time ≥ 0")
                }
                if click != nil { counts.feedbackRows += 1 } else { counts.unobservedRows += 1 }
                if dwell != nil { counts.dwellRows += 1 }
                counts.clicks += click ?? 0
                let outcome = click.map { "\($0),1" } ?? ",0"
                lines.append(
                    "\(counts.rows),\(timestamp),\(item),\(slot + 1),\(outcome),\(dwell.map { "\($0 + 0)" } ?? ""),"
                        + "\(record.propensities[slot]),\(session),\(record.scores[slot]),\(retrieval),\(features)")
                counts.rows += 1
            }
        }
        guard counts.skippedImpressions < impressions.count else {
            throw .beyondCatalogue(impressions: impressions.count, items: spec.itemCount)
        }
        return (lines.joined(separator: "\n") + "\n", counts)
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
            format: "%04lld-%02lld-%02lld %02ld:%02ld:%02ld.%06llu+00:00", year, month, day, secondOfDay / 3600,
            secondOfDay / 60 % 60, secondOfDay % 60, (ms % 1000) * 1000)
    }

    /// A CSV field as the one reader reads it back (``CSVFile/field(_:)``).
    static func csvField(_ text: String) -> String { CSVFile.field(text) }
}
