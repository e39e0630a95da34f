import Foundation
import RecModel

/// The impression log's columns, resolved against its header.
struct LogTable {
    var table: CSVTable
    var schema: DataSchema.Logs
    var nActions: Int
    /// How the log names the catalogue's items.
    var items: ItemIds
    var categorical: [Int]
    var numeric: [Int]
    var affinityColumns: [Int]

    init(_ table: CSVTable, schema: DataSchema.Logs, items: ItemIds, idTexts: [String]) throws(DataError) {
        let nActions = items.count
        let position = { (name: String) in table.header.firstIndex(of: name) ?? Int.max }
        let features = schema.userFeatures.sorted { position($0.name) < position($1.name) }
        guard !features.isEmpty else {
            throw .schema("the schema's [logs.user_features] is empty: name at least one user feature")
        }
        try LogLoader.checkColumns(
            table, named: schema.roles.map(\.column) + features.map(\.name), prefix: schema.affinityPrefix,
            ignore: schema.ignore, section: "logs")
        guard !table.rows.isEmpty else { throw .inconsistent("\(table.path): no rows") }
        self.table = table
        self.schema = schema
        self.nActions = nActions
        self.items = items
        categorical = features.filter { $0.kind == .categorical }.map { position($0.name) }
        numeric = features.filter { $0.kind == .numeric }.map { position($0.name) }
        affinityColumns = []
        if let prefix = schema.affinityPrefix {
            let found = table.header.filter { $0.hasPrefix(prefix) }.count
            guard found == nActions else {
                // Named, as a misspelt one is: the catalogue's items whose column is not in the header (the count
                // alone left the shop to find `aff_A1` among hundreds).
                let header = Set(table.header)
                let missing = (0..<nActions).lazy.map { items.affinityColumn(prefix: prefix, item: $0, ids: idTexts) }
                    .filter { !header.contains($0) }
                let named = Array(missing.prefix(5)).map { "'\($0)'" }.joined(separator: ", ")
                throw .inconsistent(
                    "the catalogue has \(nActions) items but \(table.path) has \(found) affinity columns "
                        + "'\(prefix)K': it needs one per catalogue item"
                        + (named.isEmpty ? "" : " (missing: \(named)\(missing.count > 5 ? ", …" : ""))"))
            }
            for item in 0..<nActions {
                affinityColumns.append(
                    try table.column(items.affinityColumn(prefix: prefix, item: item, ids: idTexts)))
            }
        }
    }

    /// Row indices in time order: numeric timestamps numerically, ISO 8601 date-times as the instants they name (so
    /// `10:00:00Z` precedes `10:00:00.5Z`, and `11:00+02:00` precedes `10:00Z`); ties keep file order. `instant[row]`
    /// numbers each row's timestamp in that order (rows of one timestamp share a number).
    /// - Throws: `DataError.file(.invalidValue)` naming the first timestamp that is neither a finite number nor an
    ///   ISO 8601 date-time, that is of the other kind than the first row's, or that names its zone when the first
    ///   row's does not (or the reverse: a time without a zone cannot be placed beside one with a zone).
    func timeOrder() throws(DataError) -> (rows: [Int], instant: [Int]) {
        let column = try table.column(schema.timestamp)
        // Spaces and tabs around a timestamp are no part of it, as around a number.
        let texts = table.rows.map { BlankText.trimmed($0[column]) }
        let numbers = texts.map { CSVNumber.double($0).flatMap { $0.isFinite ? $0 : nil } }
        let numeric = numbers[0] != nil
        let instants = numeric ? [] : texts.map(ISO8601Text.instant)
        for row in table.rows.indices {
            let isNumber = numbers[row] != nil
            if isNumber == numeric && numeric { continue }
            if !isNumber && !numeric, let instant = instants[row], let first = instants[0] {
                if instant.hasZone == first.hasZone { continue }
                let (this, that) =
                    instant.hasZone ? ("names its time zone", "does not") : ("names no time zone", "does")
                throw table.invalid(
                    row: row, column: column,
                    reason: "\(this) but line \(table.lines[0])'s timestamp \(that): write every timestamp with a zone "
                        + "(Z or ±hh:mm) or every one without")
            }
            let otherKind = isNumber || ISO8601Text.instant(texts[row]) != nil
            let kinds = numeric ? ("date-time", "number") : ("number", "date-time")
            throw table.invalid(
                row: row, column: column,
                reason: otherKind
                    ? "is a \(kinds.0) but line \(table.lines[0]) has a \(kinds.1): write every timestamp the same way"
                    : ISO8601Text.calendarProblem(texts[row]).map { "is not a valid date-time: \($0)" }
                        ?? "is not a timestamp: write a number (such as Unix seconds) or an ISO 8601 date-time "
                        + "(2024-05-01T10:00:00Z)")
        }
        func ordered<Time: Comparable>(_ times: [Time]) -> (rows: [Int], instant: [Int]) {
            let rows = table.rows.indices.sorted { times[$0] == times[$1] ? $0 < $1 : times[$0] < times[$1] }
            var instant = [Int](repeating: 0, count: rows.count)
            for (k, row) in rows.enumerated().dropFirst() {
                instant[row] = instant[rows[k - 1]] + (times[row] == times[rows[k - 1]] ? 0 : 1)
            }
            return (rows, instant)
        }
        guard numeric else { return ordered(instants.map { $0! }) }
        // Ordered by the exact decimal value, not the Double: Unix nanoseconds (19 digits, as pandas writes int64
        // date-times) are beyond a Double's 53 bits, and distinct instants would become ties left in file order,
        // putting newer rows into training. Decimal holds 38 digits; text it cannot hold (an exponent beyond ±128)
        // falls back to the Double, which orders every timestamp a Double can tell apart.
        let posix = Locale(identifier: "en_US_POSIX")
        let exact = texts.map { Decimal(string: $0, locale: posix) }
        if exact.allSatisfy({ $0 != nil }) { return ordered(exact.map { $0! }) }
        return ordered(numbers.map { $0! })
    }

    /// The engagements a `viewed` field (`item:seconds` pairs joined by `;`) counts, per item, sorted by item: a
    /// view of at least `engagedSeconds` counts `min(seconds / engagedSeconds, 3)` (``FeatureSpec``'s rule).
    /// - Throws: `DataError.file(.invalidValue)` naming the field when a pair is not `row:seconds` with a catalogue
    ///   row and a finite time ≥ 0.
    func viewedHistory(row: Int, column: Int, engagedSeconds: Double) throws(DataError) -> [(Int, Float)] {
        var engagements: [Int: Double] = [:]
        for (item, seconds) in try viewedPairs(row: row, column: column) where seconds >= engagedSeconds {
            engagements[item, default: 0] += min(seconds / engagedSeconds, FeatureSpec.maximumEngagements)
        }
        return engagements.keys.sorted().map { ($0, Float(engagements[$0]!)) }
    }

    /// Every view of a `viewed` field, summed per item, sorted by item: the dwell seconds as a request's `events`
    /// carry them, short views too, which the online policy weighs (``BanditDataset/viewedSeconds``).
    func viewedSeconds(row: Int, column: Int) throws(DataError) -> [(Int, Float)] {
        var seconds: [Int: Double] = [:]
        for (item, time) in try viewedPairs(row: row, column: column) { seconds[item, default: 0] += time }
        return seconds.keys.sorted().map { ($0, Float(seconds[$0]!)) }
    }

    /// The `(item, seconds)` pairs of a `viewed` field, in order.
    /// - Throws: `DataError.file(.invalidValue)` naming the field when a pair is not `row:seconds` with a catalogue
    ///   row and a finite time ≥ 0.
    private func viewedPairs(row: Int, column: Int) throws(DataError) -> [(Int, Double)] {
        let text = table.rows[row][column].trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return [] }
        var pairs: [(Int, Double)] = []
        let pieces = text.split(separator: ";", omittingEmptySubsequences: false)
        var next = 0
        while next < pieces.count {
            var pair = pieces[next]
            next += 1
            // An item id may hold ';' too (`c;d`, which `c;d:30` names): a piece that names no item is joined with the
            // pieces after it, up to ``viewedIdPieces`` in all, while the join names one.
            if resolvedItem(pair) == nil {
                var joined = String(pair)
                for end in next..<min(pieces.count, next + Self.viewedIdPieces - 1) {
                    joined += ";" + pieces[end]
                    if resolvedItem(Substring(joined)) != nil {
                        pair = Substring(joined)
                        next = end + 1
                        break
                    }
                }
            }
            // An item id may itself hold ':' (SKU:123): the seconds are after the last one.
            let parts = pair.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 2 else {
                throw table.invalid(
                    row: row, column: column,
                    reason: "holds '\(pair)': write viewed items as ITEM:SECONDS pairs joined by ';' (an item id of "
                        + "the catalogue, seconds ≥ 0)")
            }
            let id = parts.dropLast().joined(separator: ":")
            guard let item = items.item(named: Substring(id)) else {
                throw table.invalid(
                    row: row, column: column, reason: "holds '\(pair)': '\(id)' is not an item id of the catalogue")
            }
            // The bound a RECOMMEND's view has (`ViewEvent.admits`): a log's history trains and warm-starts the state a
            // request's history is served in, and one of 1e20 s was taken here and refused there.
            guard let seconds = CSVNumber.double(String(parts[parts.count - 1])), ViewEvent.admits(seconds: seconds) else {
                throw table.invalid(
                    row: row, column: column,
                    reason: "holds '\(pair)': the seconds '\(parts[parts.count - 1])' are not a number of 0 to 1e9")
            }
            pairs.append((item, seconds))
        }
        return pairs
    }

    /// How many `;`-separated pieces of a `viewed` field one item id may span (an id holding up to 15 `;`): the bound
    /// keeps a malformed field's parse linear.
    static let viewedIdPieces = 16

    /// The item a `viewed` pair (`ITEM:SECONDS`) names, or nil when it has no `:` or its id names no catalogue item.
    private func resolvedItem(_ pair: Substring) -> Int? {
        guard let colon = pair.lastIndex(of: ":") else { return nil }
        return items.item(named: pair[..<colon])
    }

    /// A row's logging propensity: a probability in (0, 1], and at least ``BanditDataset/minimumPropensity``.
    private func propensity(row: Int, column: Int) throws(DataError) -> Double {
        let propensity = try table.double(row: row, column: column)
        guard propensity > 0 && propensity <= 1 else {
            throw table.invalid(row: row, column: column, reason: "is not a probability in (0, 1]")
        }
        guard propensity >= BanditDataset.minimumPropensity else {
            throw table.invalid(
                row: row, column: column,
                reason:
                    "is below the smallest usable propensity \(BanditDataset.minimumPropensity) (its importance weight would overflow)"
            )
        }
        return propensity
    }

    func dataset(items: ItemTable, name: String, engagedSeconds: Double) throws(DataError) -> BanditDataset {
        let itemColumn = try table.column(schema.item)
        let positionColumn = try table.column(schema.position)
        let outcomeColumn = try table.column(schema.outcome)
        let pscoreColumn = try table.column(schema.propensity)
        let dwellColumn = try schema.dwell.map { name throws(DataError) in try table.column(name) }
        let observedColumn = try schema.observed.map { name throws(DataError) in try table.column(name) }
        let retrievalColumn = try schema.retrieval.map { name throws(DataError) in try table.column(name) }
        let userColumn = try schema.user.map { name throws(DataError) in try table.column(name) }
        let viewedColumn = try schema.viewed.map { name throws(DataError) in try table.column(name) }
        let (timeOrdered, instant) = try timeOrder()
        // The rows kept, in time order: with an `observed` column, a shown item whose feedback never arrived has no
        // outcome, so it is left out (it is not a non-click).
        var order: [Int] = []
        order.reserveCapacity(timeOrdered.count)
        for row in timeOrdered {
            guard let observedColumn else {
                order.append(row)
                continue
            }
            // Read as the click is (a whole number: `1.0` and `0.0` as well as `1` and `0`, never `1e-400`).
            let flag = CSVNumber.wholeNumber(table.rows[row][observedColumn])
            guard flag == 0 || flag == 1 else {
                throw table.invalid(row: row, column: observedColumn, reason: "is not 0 or 1 (whether the outcome was observed)")
            }
            if flag == 1 {
                order.append(row)
            } else {
                // Left out, but still a shown impression: only its outcome may be blank. An item the catalogue lacks,
                // a slot or a propensity that is not one is a damaged export, refused as on any other row, and so is
                // an outcome that is written but could not be one (a click of 7).
                _ = try self.items.item(table, row: row, column: itemColumn)
                _ = try table.integer(row: row, column: positionColumn)
                _ = try propensity(row: row, column: pscoreColumn)
                if !BlankText.isBlank(table.rows[row][outcomeColumn]) {
                    let outcome = try table.double(row: row, column: outcomeColumn)
                    if schema.isReward ? !(0...LogLoader.maximumReward).contains(outcome) : !(outcome == 0 || outcome == 1) {
                        throw table.invalid(
                            row: row, column: outcomeColumn,
                            reason: "is not \(schema.isReward ? "a reward of 0 to 1e9" : "0 or 1") (or blank, as an unobserved row's may be)")
                    }
                }
            }
        }
        guard !order.isEmpty else {
            throw .inconsistent("\(table.path): every row is unobserved (observed = 0): no outcome to learn from")
        }
        var action: [Int] = []
        var rawPosition: [Int] = []
        var reward: [Double] = []
        var pscore: [Double] = []
        var affinity = SparseRows()
        var viewedRows = SparseRows()
        var numericValues: [Float] = []
        var numericRaw: [Double] = []
        var history: [String: [Int: Float]] = [:]
        // Engagements of the current timestamp: they enter the history once a later timestamp is reached, so no row
        // sees an outcome of its own instant (the other items of its own slate), whatever the file's order.
        var engagedNow: [(user: String, item: Int)] = []
        var currentInstant = -1
        for row in order {
            if instant[row] != currentInstant {
                for (user, item) in engagedNow { history[user, default: [:]][item, default: 0] += 1 }
                engagedNow.removeAll(keepingCapacity: true)
                currentInstant = instant[row]
            }
            let item = try self.items.item(table, row: row, column: itemColumn)
            let outcome = try table.double(row: row, column: outcomeColumn)
            if schema.isReward {
                guard outcome >= 0 else { throw table.invalid(row: row, column: outcomeColumn, reason: "is negative") }
                guard outcome <= LogLoader.maximumReward else {
                    throw table.invalid(
                        row: row, column: outcomeColumn,
                        reason: "is above 1e9: a reward is a count or an amount, and sums of larger ones overflow")
                }
            } else {
                // From the text: a click of `0.99999999999999999` or `1e-400` is damaged, not a rounded 1 or 0.
                let click = CSVNumber.wholeNumber(table.rows[row][outcomeColumn])
                guard click == 0 || click == 1 else {
                    throw table.invalid(row: row, column: outcomeColumn, reason: "is not 0 or 1")
                }
            }
            let propensity = try propensity(row: row, column: pscoreColumn)
            // A blank dwell was not reported.
            let dwell = try dwellColumn.flatMap { column throws(DataError) -> Double? in
                BlankText.isBlank(table.rows[row][column])
                    ? nil : try table.double(row: row, column: column)
            }
            // FEEDBACK's bound (`dwell_seconds` 0…1e9), so an exported log and the log it was exported from read alike.
            if let dwell, let dwellColumn, !ViewEvent.admits(seconds: dwell) {
                throw table.invalid(
                    row: row, column: dwellColumn,
                    reason: dwell < 0 ? "is a negative dwell time" : "is not a dwell time of 0 to 1e9 seconds")
            }
            action.append(item)
            rawPosition.append(try table.integer(row: row, column: positionColumn))
            reward.append(outcome)
            pscore.append(propensity)
            for column in numeric {
                // A blank cell is a missing value (a request that left the feature out: `recpool logs export` writes
                // it blank): NaN as read, which the feature specification scores as the training mean; the context
                // holds the column's mean (below).
                if BlankText.isBlank(table.rows[row][column]) {
                    numericValues.append(.nan)
                    numericRaw.append(.nan)
                    continue
                }
                // Refused beyond a 32-bit float's range (the context holds it so); the spec reads it as read.
                numericValues.append(try table.float(row: row, column: column))
                numericRaw.append(try table.double(row: row, column: column))
            }
            if !affinityColumns.isEmpty {
                var entries: [(Int, Float)] = []
                for (item, column) in affinityColumns.enumerated() {
                    let value = try table.float(row: row, column: column)
                    // Past engagements are counted: a negative one would make a cold user warm with an anti-history.
                    guard value >= 0 else {
                        throw table.invalid(
                            row: row, column: column, reason: "is negative: a count of past engagements is 0 or more")
                    }
                    if value != 0 { entries.append((item, value)) }
                }
                affinity.append(entries)
            } else if let viewedColumn {
                affinity.append(try viewedHistory(row: row, column: viewedColumn, engagedSeconds: engagedSeconds))
                viewedRows.append(try viewedSeconds(row: row, column: viewedColumn))
            } else if let userColumn, !BlankText.isBlank(table.rows[row][userColumn]) {
                // A blank user id is an anonymous visit: no history, and none recorded. Spaces and tabs around an id
                // are no part of it (` u1 ` is `u1`), as around an item id.
                let user = BlankText.trimmed(table.rows[row][userColumn])
                let past = history[user] ?? [:]
                affinity.append(past.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                if outcome > 0 || (dwell ?? 0) >= engagedSeconds { engagedNow.append((user, item)) }
            } else {
                affinity.append([])
            }
        }
        let ranks = Dictionary(uniqueKeysWithValues: Set(rawPosition).sorted().enumerated().map { ($1, $0) })
        // The context holds a missing numeric value as its column's mean over the rows that have one (0 when none
        // does), so no NaN reaches obp's context, the reward models or `data describe`.
        if numericValues.contains(where: \.isNaN) {
            for c in numeric.indices {
                let present = stride(from: c, to: numericValues.count, by: numeric.count).map { numericValues[$0] }
                    .filter { !$0.isNaN }
                let mean = present.isEmpty ? 0 : Float(present.reduce(0.0) { $0 + Double($1) } / Double(present.count))
                for k in stride(from: c, to: numericValues.count, by: numeric.count) where numericValues[k].isNaN {
                    numericValues[k] = mean
                }
            }
        }
        // A blank categorical value (white space only) is missing, as an empty cell is: never a category of its own;
        // spaces and tabs around a value are no part of it (` android ` is `android`), as around a number or an id.
        let users = CategoricalColumns(
            names: categorical.map { table.header[$0] },
            rows: order.map { r in categorical.map { BlankText.canonical(table.rows[r][$0]) } })
        let userNumeric = FeatureMatrix(
            rows: order.count, columnNames: numeric.map { table.header[$0] }, values: numericValues)
        var context = users.dummiesDroppingFirst()
        if categorical.isEmpty {
            context = userNumeric
        } else if !numeric.isEmpty {
            var values: [Float] = []
            for row in 0..<order.count { values += context.row(row) + userNumeric.row(row) }
            context = FeatureMatrix(
                rows: order.count, columnNames: context.columnNames + userNumeric.columnNames, values: values)
        }
        var dataset = BanditDataset(
            name: name, nActions: nActions, nPositions: ranks.count, action: action,
            position: rawPosition.map { ranks[$0]! }, reward: reward, pscore: pscore, userFeatures: users,
            context: context, actionContext: items.actionContext, affinity: affinity, userNumeric: userNumeric,
            userNumericRaw: numericRaw, itemNumericColumns: items.numericColumns)
        dataset.unobservedRows = timeOrdered.count - order.count
        (dataset.repeatedRows, dataset.firstRepeatedLine) = Self.repeatedRows(table)
        dataset.positionValues = ranks.sorted { $0.value < $1.value }.map(\.key)
        // A slate drawn from a candidate set: its propensity is conditional on a set the log does not hold, so
        // off-policy evaluation leaves the row out (an estimate over it is biased, silently); its click is a label.
        if let retrievalColumn {
            let flags = order.map { !BlankText.isBlank(table.rows[$0][retrievalColumn]) }
            if flags.contains(true) { dataset.conditional = flags }
        }
        dataset.itemIds = items.servedIds
        if affinityColumns.isEmpty && viewedColumn != nil { dataset.viewedSeconds = viewedRows }
        return dataset
    }
}
