import Foundation
import RecModel

/// Drafts a ``DataSchema`` from a log's and a catalogue's columns, for a person to review
/// (`recpool data schema --infer FILE`).
///
/// Roles are recognised by name (``acceptedNames``), an unnamed index column is ignored, a numbered column family
/// `PREFIX0…PREFIX(n−1)` with one column per catalogue item (or of counts) is the per-item history
/// (`affinity_prefix`), and every other column is a feature: numeric when every value is a number with more than 10
/// distinct values, else categorical. A required role no column was recognised for is drafted as a placeholder
/// (``placeholderPrefix``) that `DataSchema.parse` refuses, naming it, until a person writes the column's name.
public enum SchemaInference {
    /// The start of a placeholder column name in a draft: the role still needs its column.
    public static let placeholderPrefix = "EDIT ME: "

    /// The column names recognised for each role (case-insensitive, a space or hyphen read as `_`: ``roleKey(_:)``),
    /// in the order they are tried.
    public static let acceptedNames: [(role: String, names: [String])] = [
        ("timestamp", ["timestamp", "time", "date", "datetime", "ts"]),
        ("item", ["item_id", "item", "itemid", "product_id", "sku", "product"]),
        ("position", ["position", "slot", "rank", "pos"]),
        ("click", ["click", "clicked", "clicks"]),
        ("reward", ["reward", "revenue"]),
        ("propensity", ["propensity_score", "propensity", "pscore", "probability", "action_prob"]),
        ("user", ["user_id", "user", "userid", "customer_id"]),
        ("catalogue item", ["item_id", "item", "id", "sku", "product_id"]),
    ]

    /// Columns `recpool logs export` writes that are neither a role nor a feature (the impression's id, the policy
    /// version that served it, its score): a draft of an export ignores them. Its `retrieval` column is the
    /// `retrieval` role.
    public static let exportOnlyColumns = ["impression_id", "policy_version", "score"]

    /// A column name as it is compared with ``acceptedNames``: lower case, spaces and hyphens as underscores, without
    /// the spaces around it (`Item ID` and `item-id` are `item_id`).
    static func roleKey(_ name: String) -> String {
        String(name.trimmingCharacters(in: .whitespaces).lowercased().map { $0 == " " || $0 == "-" ? "_" : $0 })
    }

    /// The names accepted for `role`.
    static func names(_ role: String) -> [String] { acceptedNames.first { $0.role == role }?.names ?? [] }

    /// A draft and the roles it left as placeholders, each with the names that would have been recognised.
    public struct Draft: Sendable {
        /// The drafted schema (placeholders for `unrecognised`).
        public var schema: DataSchema
        /// Roles with no recognised column, such as `item (item_id, item, itemid, product_id)`.
        public var unrecognised: [String]
        /// Numeric user features with a value beyond ±``unitScaleBound`` drafted without `mean` and `scale`, because
        /// their mean or spread lies beyond the ±1e15 a schema may declare: the online policy reads their values
        /// clipped to ±10 unless the shop rescales the column.
        public var unscaled: [String] = []
        /// Columns drafted categorical though every value is a number, with their count of distinct values (3 to 10):
        /// a price or a rating over a small catalogue. Categorical, each value is a column of its own and a value not
        /// in the draft encodes as none of them; a person who knows the column is a quantity declares it numeric.
        public var fewNumbers: [(column: String, distinct: Int)] = []
    }

    /// Drafts a schema.
    /// - Parameters:
    ///   - log: The impression log.
    ///   - catalogue: The catalogue.
    ///   - catalogueFile: The catalogue's path as the schema should name it (relative to the schema file).
    /// - Returns: The draft; a role no column was recognised for is a placeholder listed in `unrecognised`.
    public static func infer(log: CSVTable, catalogue: CSVTable, catalogueFile: String) -> Draft {
        var rest = log.header
        var unrecognised: [String] = []
        func placeholder(_ role: String, _ names: [String], in file: String) -> String {
            unrecognised.append("\(role) in \(file) (recognised names: \(names.joined(separator: ", ")))")
            return "\(placeholderPrefix)the \(role) column"
        }
        func take(_ candidates: [String]) -> String? {
            for candidate in candidates {
                if let i = rest.firstIndex(where: { Self.roleKey($0) == candidate }) { return rest.remove(at: i) }
            }
            return nil
        }
        func takePrefix(_ prefix: String) -> String? {
            guard let i = rest.firstIndex(where: { $0.lowercased().hasPrefix(prefix) }) else { return nil }
            return rest.remove(at: i)
        }
        let timestamp = take(names("timestamp")) ?? placeholder("timestamp", names("timestamp"), in: log.path)
        let item = take(names("item")) ?? placeholder("item", names("item"), in: log.path)
        let position = take(names("position")) ?? placeholder("position", names("position"), in: log.path)
        let click = take(names("click"))
        let reward = click == nil ? take(names("reward")) : nil
        let outcome =
            click ?? reward ?? placeholder("click (or reward)", names("click") + names("reward"), in: log.path)
        let propensity = take(names("propensity")) ?? placeholder("propensity", names("propensity"), in: log.path)
        let dwell = takePrefix("dwell")
        let observed = rest.firstIndex { $0.lowercased() == "observed" }.map { rest.remove(at: $0) }
        let session = takePrefix("session")
        let user = take(names("user"))
        let affinityPrefix = affinityFamily(in: rest, of: log, itemCount: catalogue.rows.count)
        if let affinityPrefix { rest.removeAll { isFamilyMember($0, prefix: affinityPrefix) } }
        // The history column `recpool logs export` writes (`item:seconds` pairs), not together with a family, and only
        // when its cells are such pairs (a shop's own `viewed` 0/1 column stays a feature).
        let viewedColumn = rest.first { $0.lowercased() == "viewed" && Self.holdsViewedPairs($0, in: log) }
        let viewed = affinityPrefix == nil ? viewedColumn.flatMap { column in take([column.lowercased()]) } : nil
        // The export's bookkeeping columns, ignored only in an export (it has an `impression_id` column): a shop's own
        // `score` is a feature.
        let isExport = rest.contains { $0.lowercased() == "impression_id" }
        // Which rows were drawn from a candidate set (left out by the loader): an export's column of that name.
        let retrieval = isExport ? rest.firstIndex { $0.lowercased() == "retrieval" }.map { rest.remove(at: $0) } : nil
        let exported = isExport ? rest.filter { exportOnlyColumns.contains($0.lowercased()) } : []
        rest.removeAll { exported.contains($0) }
        let ignoredLog = rest.filter(isIndexColumn) + exported
        rest.removeAll(where: isIndexColumn)
        var catalogueRest = catalogue.header
        let catalogueItem: String
        if let idIndex = catalogueRest.firstIndex(where: { names("catalogue item").contains(Self.roleKey($0)) }) {
            catalogueItem = catalogueRest.remove(at: idIndex)
        } else if let skuIndex = catalogueRest.firstIndex(where: {
            Self.roleKey($0) == "item_sku" && Self.holdsIds($0, in: catalogue)
        }) {
            // A catalogue whose only id column is `item_sku` (ids each once): its items are named so, and the draft
            // had a placeholder for the id beside an `item_sku` taken as the SKU of no id.
            catalogueItem = catalogueRest.remove(at: skuIndex)
        } else {
            catalogueItem = placeholder("item id", names("catalogue item"), in: catalogue.path)
        }
        // The export's item context names its SKU and retired flag so: roles, never item features (a retired flag as
        // an input feature, the SKU as a category), when their cells are what the roles take (ids each once; 1/0 or
        // true/false): a shop's own `active` of `yes`/`no` stays a feature the loader reads.
        let sku = catalogueRest.firstIndex { $0.lowercased() == "item_sku" && Self.holdsIds($0, in: catalogue) }
            .map { catalogueRest.remove(at: $0) }
        let active = catalogueRest.firstIndex { $0.lowercased() == "active" && Self.holdsFlags($0, in: catalogue) }
            .map { catalogueRest.remove(at: $0) }
        // A log with no column left for the user features: the schema needs one, and nothing here can name it.
        let userFeatures =
            rest.isEmpty
            ? [DataSchema.Feature(placeholder("user feature", ["any column describing the user"], in: log.path), .categorical)]
            : rest.map { userFeature($0, in: log) }
        let ignoredCatalogue = catalogueRest.filter(isIndexColumn)
        catalogueRest.removeAll(where: isIndexColumn)
        let schema = DataSchema(
            logs: .init(
                timestamp: timestamp, item: item, position: position, outcome: outcome,
                isReward: click == nil && reward != nil, propensity: propensity, dwell: dwell, observed: observed,
                retrieval: retrieval, session: session,
                user: user, affinityPrefix: affinityPrefix, viewed: viewed,
                userFeatures: userFeatures, ignore: ignoredLog),
            catalogue: .init(
                file: catalogueFile, item: catalogueItem, sku: sku, active: active,
                itemFeatures: catalogueRest.map { DataSchema.Feature($0, kind(of: $0, in: catalogue)) },
                ignore: ignoredCatalogue))
        var draft = Draft(schema: schema, unrecognised: unrecognised)
        for feature in userFeatures where feature.kind == .numeric && feature.scale == nil {
            guard let index = log.header.firstIndex(of: feature.name) else { continue }
            let beyond = log.rows.contains { row in
                CSVNumber.double(BlankText.canonical(row[index])).map { $0.isFinite && abs($0) > unitScaleBound } ?? false
            }
            if beyond { draft.unscaled.append(feature.name) }
        }
        for (feature, table) in userFeatures.map({ ($0, log) }) + schema.catalogue.itemFeatures.map({ ($0, catalogue) })
        where feature.kind == .categorical {
            if let distinct = numericDistinctCount(of: feature.name, in: table), distinct >= 3 {
                draft.fewNumbers.append((feature.name, distinct))
            }
        }
        return draft
    }

    /// The prefix of a numbered column family `PREFIX0…PREFIX(k−1)` (k ≥ 2, every number present once) that is
    /// per-item history: k equals the catalogue's item count, or k ≥ 5 and every value is a non-negative count.
    static func affinityFamily(in columns: [String], of table: CSVTable, itemCount: Int) -> String? {
        var families: [String: Set<Int>] = [:]
        for column in columns {
            let digits = column.reversed().prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count < column.count, let number = Int(String(digits.reversed())) else {
                continue
            }
            families[String(column.dropLast(digits.count)), default: []].insert(number)
        }
        let candidates = families.filter { $0.value.count >= 2 && $0.value == Set(0..<$0.value.count) }
        func isCounts(_ prefix: String) -> Bool {
            columns.filter { isFamilyMember($0, prefix: prefix) }.allSatisfy { column in
                guard let index = table.header.firstIndex(of: column) else { return false }
                return table.rows.allSatisfy { row in
                    CSVNumber.double(row[index]).map { $0 >= 0 && $0.rounded() == $0 } ?? false
                }
            }
        }
        return candidates.keys.sorted().first { candidates[$0]!.count == itemCount }
            ?? candidates.keys.sorted().first { candidates[$0]!.count >= 5 && isCounts($0) }
    }

    /// Whether every non-blank cell of `column` is `ITEM:SECONDS` pairs joined by `;`, as the `viewed` role reads (an
    /// item id holding `;` but no `:` read as the loader joins it).
    static func holdsViewedPairs(_ column: String, in table: CSVTable) -> Bool {
        guard let index = table.header.firstIndex(of: column) else { return false }
        return table.rows.allSatisfy { row in
            let cell = BlankText.trimmed(row[index])
            // An id may hold ';' (`c;d:30`, as the loader reads it): a piece with no ':' at all is joined with the
            // next; every other piece, and the last, must end in `:SECONDS` (`color:red;size:10` is no history).
            let pieces = cell.split(separator: ";", omittingEmptySubsequences: false)
            return cell.isEmpty
                || pieces.indices.allSatisfy { index in
                    let parts = pieces[index].split(separator: ":", omittingEmptySubsequences: false)
                    if parts.count == 1 && index < pieces.count - 1 { return true }
                    return parts.count >= 2 && CSVNumber.double(String(parts[parts.count - 1])) != nil
                }
        }
    }

    /// Whether `column`'s cells are ids, each once and none blank, as the `sku` role reads them.
    static func holdsIds(_ column: String, in table: CSVTable) -> Bool {
        guard let index = table.header.firstIndex(of: column) else { return false }
        let ids = table.rows.map { $0[index].trimmingCharacters(in: .whitespaces) }
        return !ids.contains(where: \.isEmpty) && Set(ids).count == ids.count
    }

    /// Whether `column`'s cells are each `1`, `0`, `true` or `false`, as the `active` role reads them.
    static func holdsFlags(_ column: String, in table: CSVTable) -> Bool {
        guard let index = table.header.firstIndex(of: column) else { return false }
        return table.rows.allSatisfy { ["1", "0", "true", "false"].contains($0[index].trimmingCharacters(in: .whitespaces).lowercased()) }
    }

    /// Whether `column` is `prefix` followed by digits only.
    static func isFamilyMember(_ column: String, prefix: String) -> Bool {
        column.hasPrefix(prefix) && column.count > prefix.count
            && column.dropFirst(prefix.count).allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func isIndexColumn(_ name: String) -> Bool { name.isEmpty || name.hasPrefix("Unnamed:") }

    /// The most values a drafted categorical user feature declares (the most frequent ones; every other value
    /// shares one column of the online policy's context).
    public static let draftedValues = 7

    /// A user feature as drafted: its kind and, for a categorical one, its most frequent values (at most
    /// ``draftedValues``, most frequent first, ties by name; blank cells are no value).
    static func userFeature(_ column: String, in table: CSVTable) -> DataSchema.Feature {
        let kind = kind(of: column, in: table)
        if kind == .numeric, let index = table.header.firstIndex(of: column) {
            return numericUserFeature(column, values: table.rows.compactMap { CSVNumber.double(BlankText.canonical($0[index])) })
        }
        guard kind == .categorical, let index = table.header.firstIndex(of: column) else {
            return DataSchema.Feature(column, kind)
        }
        // Read as the loader reads a categorical cell: ` android ` is `android`, and a blank cell no value.
        let cells = table.rows.map { BlankText.canonical($0[index]) }.filter { !$0.isEmpty }
        guard !cells.isEmpty else { return DataSchema.Feature(column, kind) }
        let counts = Dictionary(cells.map { ($0, 1) }, uniquingKeysWith: +)
        let values = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(draftedValues).map(\.key)
        return DataSchema.Feature(column, kind, values: values)
    }

    /// The largest magnitude a numeric user feature is drafted without `mean` and `scale` for: as the catalogue's
    /// item columns (`ItemScaling.unitScaleBound`), a feature near unit scale is read as it is.
    public static let unitScaleBound = 10.0

    /// A numeric user feature as drafted: with `mean` and `scale` (the values' standard deviation to 4 significant
    /// digits, scale 1 for a constant column; their mean to a thousandth of the scale) when a value lies beyond ±``unitScaleBound``, since the
    /// online policy reads a value as `(x − mean) / scale` clipped to ±10 (an age in years, undeclared, read as 10
    /// for every adult); none otherwise.
    public static func numericUserFeature(_ column: String, values: [Double]) -> DataSchema.Feature {
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty, finite.contains(where: { abs($0) > unitScaleBound }) else {
            return DataSchema.Feature(column, .numeric)
        }
        let n = Double(finite.count)
        let mean = finite.reduce(0, +) / n
        let variance = finite.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let deviation = Double(String(format: "%.4g", variance.squareRoot())) ?? variance.squareRoot()
        let scale = deviation > 0 ? deviation : 1
        // The mean to a thousandth of the scale, not to 4 significant digits: a Unix time's mean (1712349464, scale
        // 5727) rounded to 1712000000 put every value 60 scales out, clipped to +10 for everyone.
        let decimals = max(0, min(15, 3 - Int((log10(scale)).rounded(.down))))
        let centre = Double(String(format: "%.\(decimals)f", mean)) ?? mean
        // Beyond what a schema may declare (±1e15, as a request's value): drafted as a plain kind, which parses.
        guard centre.isFinite, scale.isFinite, abs(centre) <= 1e15, scale <= 1e15 else { return DataSchema.Feature(column, .numeric) }
        return DataSchema.Feature(column, .numeric, mean: centre, scale: scale)
    }

    /// How many distinct values `column` holds when every one that is not blank is a finite number; nil when one is
    /// not, or the column is missing or blank throughout.
    static func numericDistinctCount(of column: String, in table: CSVTable) -> Int? {
        guard let index = table.header.firstIndex(of: column) else { return nil }
        var distinct = Set<String>()
        for row in table.rows {
            let text = BlankText.canonical(row[index])
            if text.isEmpty { continue }
            guard let value = CSVNumber.double(text), value.isFinite else { return nil }
            distinct.insert(text)
        }
        return distinct.isEmpty ? nil : distinct.count
    }

    /// Numeric when every value that is not blank parses as a finite number and there are more than 10 distinct values.
    static func kind(of column: String, in table: CSVTable) -> DataSchema.FeatureKind {
        guard let index = table.header.firstIndex(of: column) else { return .categorical }
        var distinct = Set<String>()
        for row in table.rows {
            // A blank cell is a missing value of either kind (the loader reads a blank numeric one as missing).
            let text = BlankText.canonical(row[index])
            if text.isEmpty { continue }
            // A number nearer 0 than any 64-bit float is a number (drafted numeric, so the loader refuses it by name).
            if CSVNumber.underflows(text) {
                distinct.insert(text)
                continue
            }
            guard let value = CSVNumber.double(text), value.isFinite else { return .categorical }
            distinct.insert(text)
        }
        return distinct.count > 10 ? .numeric : .categorical
    }
}
