import RecModel

/// A shop's item catalogue as serving sees it: items with external ids (SKUs), stable internal indices and one
/// numeric feature row each, of a width that does not depend on the number of items.
///
/// Row `i` is the item whose id is `ids[i]`; its encoded features are `features[i * width ..< (i + 1) * width]`
/// (``ItemEncoding/featureNames`` names the columns). Retiring an item keeps its row and clears `active[i]`, so
/// internal indices never move while a policy, an index or a log refers to them; adding an item appends a row.
///
/// Categorical item features are one-hot over the vocabulary seen when the catalogue was first loaded (a value
/// outside it leaves its block zero); numeric ones are copied as read. The catalogue is a value: the broker's
/// registry (issue 17) versions it, workers receive it by version and SHA-256.
public struct ItemCatalogue: Sendable, Equatable {
    /// How raw item fields become a feature row.
    public private(set) var encoding: ItemEncoding
    /// External item id per row.
    public private(set) var ids: [String]
    /// Encoded features, `count × encoding.width`, row-major.
    public private(set) var features: [Float]
    /// Whether each row may be recommended (false once retired).
    public private(set) var active: [Bool]
    private var indexByID: [String: Int]

    /// Items ever held, retired ones included.
    public var count: Int { ids.count }
    /// Items that may be recommended.
    public var activeCount: Int { active.reduce(0) { $0 + ($1 ? 1 : 0) } }
    /// Feature columns per item.
    public var width: Int { encoding.width }
    /// Rows of the items that may be recommended, ascending.
    public var activeIndices: [Int] { active.indices.filter { active[$0] } }

    /// Creates a catalogue from encoded rows.
    /// - Throws: ``DataError/inconsistent(_:)`` when the ids are empty, blank or repeated, the features do not
    ///   have `ids.count × encoding.width` finite values, or `active` has another length.
    public init(encoding: ItemEncoding, ids: [String], features: [Float], active: [Bool]? = nil) throws(DataError) {
        guard !ids.isEmpty else { throw .inconsistent("a catalogue needs at least one item") }
        guard features.count == ids.count * encoding.width else {
            throw .inconsistent(
                "\(ids.count) items × \(encoding.width) features need \(ids.count * encoding.width) values, got \(features.count)")
        }
        if let bad = features.firstIndex(where: { !$0.isFinite }) {
            throw .inconsistent("item \(ids[bad / max(encoding.width, 1)]) has a feature that is not finite")
        }
        var index: [String: Int] = [:]
        for (row, id) in ids.enumerated() {
            guard !id.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw .inconsistent("item \(row) has an empty id")
            }
            guard index.updateValue(row, forKey: id) == nil else {
                throw .inconsistent("item id \(id) appears twice: each id names one item")
            }
        }
        let flags = active ?? [Bool](repeating: true, count: ids.count)
        guard flags.count == ids.count else {
            throw .inconsistent("\(ids.count) items but \(flags.count) active flags")
        }
        self.encoding = encoding
        self.ids = ids
        self.features = features
        self.active = flags
        indexByID = index
    }

    /// The row of an item id, retired or not.
    public func index(of id: String) -> Int? { indexByID[id] }

    /// The same items (ids, rows, active flags and the id lookup, shared) described by other features: `features` is
    /// `count × encoding.width` values, row-major. A policy's reduced catalogue (what its retrieval index embeds) is
    /// built so on every catalogue change; through ``init(encoding:ids:features:active:)`` it checked and hashed every
    /// id again, a third of a worker's CPU for one retire at 100,000 items.
    /// - Throws: ``DataError/inconsistent(_:)`` when the values do not fill `count × width` or one is not finite.
    public func describing(_ encoding: ItemEncoding, features: [Float]) throws(DataError) -> ItemCatalogue {
        guard features.count == ids.count * encoding.width else {
            throw .inconsistent(
                "\(ids.count) items × \(encoding.width) features need \(ids.count * encoding.width) values, got \(features.count)")
        }
        if let bad = features.firstIndex(where: { !$0.isFinite }) {
            throw .inconsistent("item \(ids[bad / max(encoding.width, 1)]) has a feature that is not finite")
        }
        var described = self
        described.encoding = encoding
        described.features = features
        return described
    }

    /// The row of each item as a log read with this catalogue numbers it (``LogLoader``): ids that are exactly the
    /// integers `0..<count` (OBD's layout, in any file order) make item `k` the row whose id is `k`; any other ids
    /// (a shop's SKUs, `1…n`) make item `k` row `k`.
    public var rowsOfLoggedItems: [Int] { Self.rowsOfLoggedItems(ids: ids) }

    /// ``rowsOfLoggedItems`` of a catalogue whose ids in row order are `ids`.
    public static func rowsOfLoggedItems(ids: [String]) -> [Int] { ItemIds.numberedRows(ids) ?? Array(ids.indices) }

    /// The encoded features of row `index`.
    public func row(_ index: Int) -> ArraySlice<Float> {
        features[(index * width)..<((index + 1) * width)]
    }

    /// Adds an item from its raw fields (column name → text, as in the catalogue CSV); the id is read without
    /// surrounding spaces, as the CSV's are.
    /// - Returns: the new item's row.
    /// - Throws: ``DataError/inconsistent(_:)`` when the id is empty or already held (retired ids are not reused),
    ///   or ``DataError/schema(_:)`` when a numeric field is missing or not a finite number.
    @discardableResult
    public mutating func add(id raw: String, fields: [String: String]) throws(DataError) -> Int {
        // Read as the CSV reads an id (``make(_:schema:)``): ` sku-1` is `sku-1`, never a second item beside it.
        let id = raw.trimmingCharacters(in: .whitespaces)
        guard !id.isEmpty else { throw .inconsistent("an item needs an id") }
        if let problem = Self.idProblem(id) { throw .inconsistent(problem) }
        // A catalogue numbered 0…n−1 (OBD's layout: `1.0` and `01` are 1) names item k by the number, whatever its
        // spelling: `add 1` beside `1.0` was a second item 1, after which logs' numbers no longer named the rows.
        if let numbered = ItemIds.numberedRows(ids) {
            if let k = CSVNumber.wholeNumber(id), k >= 0, k < ids.count {
                throw .inconsistent(
                    "item id \(id) is already in the catalogue as '\(ids[numbered[k]])' (its ids are the integers 0…"
                        + "\(ids.count - 1), in any spelling; retired ids are not reused)")
            }
            // Numbered in another order than its rows: logs name items by those numbers, and an id other than the next
            // number would make the catalogue no longer numbered, so that logs' numbers were read as rows.
            if numbered != Array(ids.indices), CSVNumber.wholeNumber(id) != ids.count {
                throw .inconsistent(
                    "the catalogue's ids are the integers 0…\(ids.count - 1) in another order than its rows, and logs name "
                        + "items by those numbers: a new item's id must be \(ids.count) (\(id) would have logs' numbers read as "
                        + "rows, naming other items)")
            }
        }
        if let existing = indexByID.index(forKey: id) {
            let stored = indexByID[existing].key
            let spelling =
                stored.unicodeScalars.elementsEqual(id.unicodeScalars)
                ? ""
                : " as '\(stored)', written with other Unicode code points but canonically equivalent (one id, as NFC "
                    + "compares them)"
            throw .inconsistent("item id \(id) is already in the catalogue\(spelling) (retired ids are not reused)")
        }
        let row = try encoding.encode(fields, item: id)
        indexByID[id] = ids.count
        ids.append(id)
        features.append(contentsOf: row)
        active.append(true)
        return ids.count - 1
    }

    /// Retires an item (its id read without surrounding spaces): its row stays, it is no longer recommended.
    /// - Throws: ``DataError/inconsistent(_:)`` for an unknown or already retired id.
    public mutating func retire(id raw: String) throws(DataError) {
        let id = raw.trimmingCharacters(in: .whitespaces)
        // In a catalogue numbered 0…n−1, a number names its item in any spelling (`1` retires the item written `1.0`).
        let numberedRow = ItemIds.numberedRows(ids).flatMap { numbered in
            CSVNumber.wholeNumber(id).flatMap { $0 >= 0 && $0 < numbered.count ? numbered[$0] : nil }
        }
        guard let row = indexByID[id] ?? numberedRow else {
            // `recommend` prints rows; a row number given where an id belongs gets the id it names.
            if let number = Int(id), number >= 0, number < ids.count {
                throw .inconsistent(
                    "no item \(id) in the catalogue (items are named by id: row \(number), as recommend prints it, is \(ids[number]))")
            }
            throw .inconsistent("no item \(id) in the catalogue")
        }
        guard active[row] else { throw .inconsistent("item \(id) is already retired") }
        active[row] = false
    }
}

/// How raw catalogue fields become an item's feature row: categorical features one-hot over their vocabulary,
/// then numeric features as read.
public struct ItemEncoding: Sendable, Equatable {
    /// A categorical feature and its values, in one-hot order.
    public struct Vocabulary: Sendable, Equatable {
        /// The column name.
        public var name: String
        /// The values, sorted; a value outside them encodes as all zeros.
        public var values: [String]

        /// Creates a vocabulary.
        public init(name: String, values: [String]) {
            self.name = name
            self.values = values
        }
    }

    /// Categorical features, in column order.
    public let categorical: [Vocabulary]
    /// Numeric feature names, in column order.
    public let numeric: [String]

    /// Creates an encoding.
    public init(categorical: [Vocabulary], numeric: [String]) {
        self.categorical = categorical
        self.numeric = numeric
    }

    /// Encoded columns: `name=value` for each categorical value, then the numeric names.
    public var featureNames: [String] {
        categorical.flatMap { v in v.values.map { "\(v.name)=\($0)" } } + numeric
    }

    /// Feature columns per item.
    public var width: Int { categorical.reduce(0) { $0 + $1.values.count } + numeric.count }

    /// A numeric field's value as the model holds it: a `Float` that is finite, or `nil` when the text is not a number,
    /// not finite, or outside a 32-bit float's range (`1e39` is a finite `Double` but an infinite `Float`).
    public static func number(_ text: String) -> Float? { try? NumberProblem.float(text) }

    /// The feature row of one item's raw fields.
    /// - Throws: ``DataError/schema(_:)`` naming the item and field when a numeric field is missing, or
    ///   ``DataError/numericField(item:name:text:problem:)`` with its one cause (``NumberProblem``: blank, not a
    ///   number, not finite, outside a 32-bit float's range). A missing categorical field encodes as all zeros.
    public func encode(_ fields: [String: String], item: String) throws(DataError) -> [Float] {
        var row: [Float] = []
        row.reserveCapacity(width)
        for vocabulary in categorical {
            var block = [Float](repeating: 0, count: vocabulary.values.count)
            // A blank value (white space only) is the empty one, as the catalogue file's blank cells are read.
            // A vocabulary stored before values were trimmed (` red` of an earlier catalogue version) still matches.
            if let value = fields[vocabulary.name].map(BlankText.canonical),
                let slot = vocabulary.values.firstIndex(of: value)
                    ?? vocabulary.values.firstIndex(where: { BlankText.canonical($0) == value })
            {
                block[slot] = 1
            }
            row.append(contentsOf: block)
        }
        for name in numeric {
            guard let text = fields[name] else { throw .schema("item \(item): numeric feature \(name) is missing") }
            do throws(NumberProblem) {
                row.append(try NumberProblem.float(text))
            } catch {
                throw .numericField(item: item, name: name, text: text, problem: error)
            }
        }
        return row
    }
}

extension ItemCatalogue {
    /// Reads a catalogue CSV with the roles of a schema's `[catalogue]` section. Item ids are any non-empty text,
    /// each once; categorical vocabularies are the sorted values found in the file.
    /// - Parameter path: The CSV (already resolved against the schema's folder).
    /// - Throws: ``DataError`` naming the file, line and column of the first bad field, a missing column, or a
    ///   repeated id.
    public static func load(path: String, schema: DataSchema.Catalogue) throws(DataError) -> ItemCatalogue {
        try make(CSVTable.read(path: path), schema: schema)
    }

    /// The most columns an item's encoded features may have (numeric columns plus one per categorical value): the
    /// catalogue holds items × width floats, and the online policy's item projection width × item_dims.
    public static let maximumWidth = 4_096

    /// ``load(path:schema:)`` on a table already read.
    public static func make(_ table: CSVTable, schema: DataSchema.Catalogue) throws(DataError) -> ItemCatalogue {
        try LogLoader.checkColumns(
            table, named: schema.roleColumns, prefix: nil, ignore: schema.ignore, section: "catalogue")
        guard !table.rows.isEmpty else { throw .inconsistent("\(table.path): no items") }
        let itemColumn = try table.column(schema.item)
        // With a `sku` role the item is named by its SKU, and row k is the item logs number k.
        let idColumn = try schema.sku.map { name throws(DataError) in try table.column(name) } ?? itemColumn
        try checkRoleColumns(table, schema: schema)
        let order = try rowOrder(table, schema: schema, itemColumn: itemColumn)
        let activeColumn = try schema.active.map { name throws(DataError) in try table.column(name) }
        var vocabularies: [ItemEncoding.Vocabulary] = []
        var numeric: [String] = []
        for feature in schema.itemFeatures {
            let column = try table.column(feature.name)
            if feature.kind == .categorical {
                vocabularies.append(
                    .init(name: feature.name, values: Set(table.rows.map { BlankText.canonical($0[column]) }).sorted()))
            } else {
                numeric.append(feature.name)
            }
        }
        let encoding = ItemEncoding(categorical: vocabularies, numeric: numeric)
        // Each categorical value is a column of every item's row: bound the width before any row is written, so a
        // column of unique values (an id, a title) is refused by name instead of costing items × items floats.
        if encoding.width > Self.maximumWidth {
            let widest = vocabularies.max { $0.values.count < $1.values.count }
            throw .inconsistent(
                "\(table.path): the item features would be \(encoding.width) columns wide, more than "
                    + "\(Self.maximumWidth)"
                    + (widest.map { ": categorical column '\($0.name)' has \($0.values.count) distinct values "
                        + "(a column of near-unique values is an id or text, not a category: ignore it)" } ?? ""))
        }
        var ids: [String] = []
        var values: [Float] = []
        var flags: [Bool] = []
        var seen: [String: Int] = [:]
        for row in order {
            if let activeColumn {
                let text = table.rows[row][activeColumn].trimmingCharacters(in: .whitespaces).lowercased()
                guard let flag = ["1": true, "true": true, "0": false, "false": false][text] else {
                    throw table.invalid(row: row, column: activeColumn, reason: "is not 1 or 0 (true or false)")
                }
                flags.append(flag)
            }
            let id = table.rows[row][idColumn].trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty else { throw table.invalid(row: row, column: idColumn, reason: "is an empty item id") }
            if let problem = Self.idProblem(id) { throw table.invalid(row: row, column: idColumn, reason: problem) }
            if let first = seen.updateValue(row, forKey: id) {
                throw table.invalid(
                    row: row, column: idColumn,
                    reason: ItemIds.repeated(
                        id, first: table.rows[first][idColumn].trimmingCharacters(in: .whitespaces),
                        line: table.lines[first]))
            }
            var fields: [String: String] = [:]
            for (column, name) in table.header.enumerated() { fields[name] = table.rows[row][column] }
            do throws(DataError) {
                values.append(contentsOf: try encoding.encode(fields, item: id))
            } catch {
                // The field's own cause (blank, not a number, not finite, beyond a Float), named by line and column
                // as the log loader names it.
                guard case .numericField(_, let name, _, let problem) = error, let column = try? table.column(name) else {
                    throw error
                }
                throw table.invalid(row: row, column: column, reason: problem.description)
            }
            ids.append(id)
        }
        return try ItemCatalogue(encoding: encoding, ids: ids, features: values, active: activeColumn == nil ? nil : flags)
    }

    /// Checks the `sku` and `active` columns as an upload reads them, for every reader of a catalogue file (the
    /// upload, and the log loader, which uses neither column but must not take a file the upload refuses): each SKU
    /// non-blank, free of control characters and given once; each `active` field 1, 0, true or false.
    /// - Throws: ``DataError`` naming the file, line and column.
    public static func checkRoleColumns(_ table: CSVTable, schema: DataSchema.Catalogue) throws(DataError) {
        if let active = schema.active {
            let column = try table.column(active)
            for row in table.rows.indices {
                let text = table.rows[row][column].trimmingCharacters(in: .whitespaces).lowercased()
                guard ["1", "0", "true", "false"].contains(text) else {
                    throw table.invalid(row: row, column: column, reason: "is not 1 or 0 (true or false)")
                }
            }
        }
        if let sku = schema.sku {
            let column = try table.column(sku)
            var seen: [String: Int] = [:]
            for row in table.rows.indices {
                let id = table.rows[row][column].trimmingCharacters(in: .whitespaces)
                guard !id.isEmpty else { throw table.invalid(row: row, column: column, reason: "is an empty item id") }
                if let problem = idProblem(id) { throw table.invalid(row: row, column: column, reason: problem) }
                if let first = seen.updateValue(row, forKey: id) {
                    throw table.invalid(
                        row: row, column: column,
                        reason: ItemIds.repeated(
                            id, first: table.rows[first][column].trimmingCharacters(in: .whitespaces),
                            line: table.lines[first]))
                }
            }
        }
    }

    /// The file rows in catalogue-row order: file order, or, with a `sku` role and an `item` column that holds the
    /// integers `0..<n` (a log's numbering, as `recpool logs export` writes it), ascending item number, so that the
    /// row of item k is k. The `item` column is then checked as the ids are: non-blank, each value once.
    private static func rowOrder(
        _ table: CSVTable, schema: DataSchema.Catalogue, itemColumn: Int
    ) throws(DataError) -> [Int] {
        guard schema.sku != nil else { return Array(table.rows.indices) }
        let texts = table.rows.map { $0[itemColumn].trimmingCharacters(in: .whitespaces) }
        var seen: [String: Int] = [:]
        for (row, text) in texts.enumerated() {
            guard !text.isEmpty else { throw table.invalid(row: row, column: itemColumn, reason: "is an empty item") }
            if let first = seen.updateValue(row, forKey: text) {
                throw table.invalid(
                    row: row, column: itemColumn,
                    reason: ItemIds.repeated(text, first: texts[first], line: table.lines[first], what: "item"))
            }
        }
        return ItemIds.numberedRows(texts) ?? Array(table.rows.indices)
    }
}

extension ItemCatalogue {
    /// The longest item id, in UTF-8 bytes: a SKU or a URL fits, and an id always fits the CONTROL document that
    /// retires it.
    public static let maximumIdBytes = 1_024

    /// Why `id` cannot be an item id, or nil: it is longer than ``maximumIdBytes``, or it holds a control character (a newline, a carriage return left by a
    /// CRLF file, NUL) or an invisible format character (Unicode category Cf: a word joiner U+2060, a zero-width
    /// joiner U+200D, a soft hyphen U+00AD, a byte-order mark U+FEFF inside the text, a bidirectional override
    /// U+202E). Ids are printed in logs and tables and matched by `retire`; an invisible character would make a
    /// second, unreachable item beside the one meant (`0` and `0` + U+2060 were two items that print alike).
    public static func idProblem(_ id: String) -> String? {
        if id.utf8.count > maximumIdBytes {
            // Named by its start: an id of a megabyte could be stored and served, but no CONTROL document (1 MiB) could
            // retire it, and every table printed it whole.
            return "item id \(String(id.prefix(40)).debugDescription)… is \(id.utf8.count) bytes long, more than the "
                + "\(maximumIdBytes) bytes an item id may hold"
        }
        return idCharacterProblem(id)
    }

    /// Why `id` cannot name an item, whatever its length, or nil: a control or invisible format character
    /// (``idProblem(_:)``). A retire takes ids as long as earlier builds stored (they had no length limit).
    public static func idCharacterProblem(_ id: String) -> String? {
        guard let scalar = id.unicodeScalars.first(where: {
            $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
        }) else { return nil }
        let digits = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+\(String(repeating: "0", count: max(0, 4 - digits.count)))\(digits)"
        let kind = scalar.properties.generalCategory == .control ? "the control character" : "the invisible format character"
        let shown = String(String.UnicodeScalarView(id.unicodeScalars.map { scalar in
            let category = scalar.properties.generalCategory
            return category == .control || category == .format ? "?" : scalar
        }))
        return "item id \(shown.debugDescription) (? marking it) holds \(kind) \(code)"
    }
}

extension ItemCatalogue {
    /// Summary statistics of one numeric item column over the items that may be recommended (every item when none
    /// may): what a policy standardises the column with.
    public struct ColumnStatistics: Sendable, Equatable {
        /// The column's index in a feature row (numeric columns follow the one-hot blocks).
        public var column: Int
        /// The column's name in the schema.
        public var name: String
        /// The mean.
        public var mean: Double
        /// The population standard deviation (0 for a constant column).
        public var standardDeviation: Double
        /// The largest `|x|`.
        public var maximumMagnitude: Double
    }

    /// Mean, standard deviation and largest magnitude of each numeric column, in schema order (one pass per column,
    /// in `Double`); empty when the catalogue has no numeric column or no item.
    public var numericColumnStatistics: [ColumnStatistics] {
        guard count > 0 else { return [] }
        let rows = active.contains(true) ? (0..<count).filter { active[$0] } : Array(0..<count)
        let numericStart = width - encoding.numeric.count
        return encoding.numeric.enumerated().map { offset, name in
            let column = numericStart + offset
            var sum = 0.0
            var largest = 0.0
            for row in rows {
                let x = Double(features[row * width + column])
                sum += x
                largest = max(largest, abs(x))
            }
            let mean = sum / Double(rows.count)
            var squares = 0.0
            for row in rows {
                let d = Double(features[row * width + column]) - mean
                squares += d * d
            }
            return ColumnStatistics(
                column: column, name: name, mean: mean, standardDeviation: (squares / Double(rows.count)).squareRoot(),
                maximumMagnitude: largest)
        }
    }
}
