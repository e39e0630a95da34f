import Foundation
import RecModel
import RecTOML
import TOMLKit

extension DataSchema {
    /// The keys `[logs]` takes (besides the `user_features` table).
    static let logKeys: Set<String> = [
        "timestamp", "item", "position", "click", "reward", "propensity", "dwell", "observed", "retrieval", "session",
        "user", "affinity_prefix", "viewed", "ignore", "user_features",
    ]
    /// The keys `[catalogue]` takes.
    static let catalogueKeys: Set<String> = ["file", "item", "sku", "active", "ignore", "item_features"]

    /// The most bytes a schema may hold: a real one is a few hundred.
    public static let maximumBytes = 1 << 20
    /// The most dots in one key or table header. A schema's deepest key is `[logs.user_features]`; the TOML parser
    /// recurses once per dotted part, and a key of 200,000 parts (a 400 KB upload) overflowed the stack of the thread
    /// that parsed it, killing the broker or the worker.
    public static let maximumKeyDots = 16

    /// Why `text` cannot be a schema before it is parsed (its size, a key nested past ``maximumKeyDots``), or `nil`.
    ///
    /// A dotted key is a run of bare or quoted parts joined by dots (`a.b."c.d"`), in a key of its own, a table header
    /// or an inline table. The scan counts the dots of each such run outside quoted strings and comments, so values
    /// (`0.25`, a date, a dotted string) and comments never count.
    static func shapeProblem(_ text: String) -> String? {
        guard text.utf8.count <= maximumBytes else {
            return "the schema holds \(text.utf8.count) bytes; a schema may hold at most \(maximumBytes)"
        }
        // The TOML parser hands strings over as C strings: a value escaping U+0000 (`"a\u0000b"`) was read cut at it
        // (`"a"`), without a word. No value may hold one (no request or log cell can).
        if let line = TOMLDocument.lineEscapingNUL(in: text) {
            return "line \(line): a string escapes the character U+0000 (\\u0000), which no value may hold"
        }
        let deepest = TOMLDocument.deepestKey(in: text)
        if deepest.dots > maximumKeyDots {
            return "line \(deepest.line): a key or table header nested \(deepest.dots + 1) deep; a schema's keys are at "
                + "most \(maximumKeyDots + 1) parts deep"
        }
        return nil
    }

    /// Reads a schema file.
    /// - Throws: `DataError.schema` naming the file and the problem (unreadable, TOML syntax, a missing role, an
    ///   unknown key or feature kind).
    public static func read(path: String) throws(DataError) -> DataSchema {
        try parse(try readText(path), path: path)
    }

    /// A schema file's text, read as every data file is (a device refused, never read for ever; a pipe read once).
    /// - Throws: `DataError.schema` naming the file and why it cannot be read, or that it is not UTF-8 text.
    public static func readText(_ path: String) throws(DataError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try CSVFile.readBytes(path: path)
        } catch {
            // The reader's error names the path and why ("PATH: cannot read (open): No such file or directory").
            throw .schema("the schema file \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .schema("\(path): the schema file is not UTF-8 text")
        }
        return text
    }

    /// Parses schema TOML; `path` only labels errors.
    /// - Throws: `DataError.schema`.
    public static func parse(_ text: String, path: String) throws(DataError) -> DataSchema {
        if let problem = shapeProblem(text) { throw .schema("\(path): \(problem)") }
        let root: TOMLTable
        do {
            root = try TOMLDocument.parse(text)
        } catch {
            throw .schema("\(path):\(error.line): \(error.reason)")
        }
        for key in root.keys where key != "logs" && key != "catalogue" {
            throw .schema("\(path): unknown table or key '\(key)' (a schema has [logs] and [catalogue])")
        }
        guard let logs = root["logs"]?.table else { throw .schema("\(path): no [logs] table") }
        guard let catalogue = root["catalogue"]?.table else { throw .schema("\(path): no [catalogue] table") }
        let reader = Reader(path: path)
        try reader.onlyKeys(logs, Self.logKeys, table: "logs")
        try reader.onlyKeys(catalogue, Self.catalogueKeys, table: "catalogue")
        let click = try reader.string(logs, "click", table: "logs", required: false)
        let reward = try reader.string(logs, "reward", table: "logs", required: false)
        guard (click == nil) != (reward == nil) else {
            throw .schema("\(path): [logs] needs exactly one of 'click' (0/1) or 'reward' (a number ≥ 0)")
        }
        let schema = DataSchema(
            logs: Logs(
                timestamp: try reader.required(logs, "timestamp", table: "logs"),
                item: try reader.required(logs, "item", table: "logs"),
                position: try reader.required(logs, "position", table: "logs"),
                outcome: click ?? reward!, isReward: reward != nil,
                propensity: try reader.required(logs, "propensity", table: "logs"),
                dwell: try reader.string(logs, "dwell", table: "logs", required: false),
                observed: try reader.string(logs, "observed", table: "logs", required: false),
                retrieval: try reader.string(logs, "retrieval", table: "logs", required: false),
                session: try reader.string(logs, "session", table: "logs", required: false),
                user: try reader.string(logs, "user", table: "logs", required: false),
                affinityPrefix: try reader.string(logs, "affinity_prefix", table: "logs", required: false),
                viewed: try reader.string(logs, "viewed", table: "logs", required: false),
                userFeatures: try reader.features(logs, "user_features", table: "logs", encodings: true),
                ignore: try reader.strings(logs, "ignore", table: "logs")),
            catalogue: Catalogue(
                file: try reader.required(catalogue, "file", table: "catalogue"),
                item: try reader.required(catalogue, "item", table: "catalogue"),
                sku: try reader.string(catalogue, "sku", table: "catalogue", required: false),
                active: try reader.string(catalogue, "active", table: "catalogue", required: false),
                itemFeatures: try reader.features(catalogue, "item_features", table: "catalogue"),
                ignore: try reader.strings(catalogue, "ignore", table: "catalogue")))
        if schema.logs.viewed != nil && schema.logs.affinityPrefix != nil {
            throw .schema(
                "\(path): [logs] has both 'viewed' and 'affinity_prefix': name the history one way (one column of "
                    + "viewed items, or one column per item)")
        }
        let roles =
            schema.logs.roles.map { ("logs", $0.role, $0.column) } + [("catalogue", "item", schema.catalogue.item)]
            + [("sku", schema.catalogue.sku), ("active", schema.catalogue.active)].compactMap { role, column in
                column.map { ("catalogue", role, $0) }
            }
        for (table, role, column) in roles where column.hasPrefix(SchemaInference.placeholderPrefix) {
            throw .schema(
                "\(path): [\(table)] \(role) = \"\(column)\" is the draft's placeholder: replace it with the name of "
                    + "the column that holds the \(role)")
        }
        let features =
            schema.logs.userFeatures.map { ("logs.user_features", $0.name) }
            + schema.catalogue.itemFeatures.map { ("catalogue.item_features", $0.name) }
        for (table, name) in features where name.hasPrefix(SchemaInference.placeholderPrefix) {
            throw .schema(
                "\(path): [\(table)] \"\(name)\" is the draft's placeholder: replace it with the name of a column of "
                    + "the file that holds a feature")
        }
        return schema
    }

    /// The schema as TOML text, in the layout `parse` reads (what `recpool data schema --infer` prints).
    public func toml() -> String {
        // A TOML basic string (TOML 1.0, "String"): `"` and `\` escaped, and every control character (U+0000–U+001F,
        // U+007F) as an escape, which a basic string may not hold raw.
        func quoted(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                    out += String(format: "\\u%04X", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        // A bare key is ASCII letters, digits, `_` and `-` only (TOML 1.0, "Keys"); any other name (`größe`) is quoted.
        func key(_ s: String) -> String {
            !s.isEmpty && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
                ? s : quoted(s)
        }
        var lines = ["[logs]"]
        for (role, column) in logs.roles { lines.append("\(role) = \(quoted(column))") }
        if let prefix = logs.affinityPrefix { lines.append("affinity_prefix = \(quoted(prefix))") }
        lines.append("ignore = [\(logs.ignore.map(quoted).joined(separator: ", "))]")
        lines.append("")
        lines.append("[logs.user_features]")
        for f in logs.userFeatures {
            if f.kind == .numeric, f.mean != nil || f.scale != nil {
                // Written as the shortest text that reads back as the same double (`description`), never rounded.
                let declared = [f.mean.map { "mean = \($0)" }, f.scale.map { "scale = \($0)" }].compactMap { $0 }
                lines.append("\(key(f.name)) = { kind = \"numeric\", \(declared.joined(separator: ", ")) }")
                continue
            }
            lines.append(
                f.values.map { "\(key(f.name)) = { kind = \"\(f.kind.rawValue)\", values = [\($0.map(quoted).joined(separator: ", "))] }" }
                    ?? "\(key(f.name)) = \"\(f.kind.rawValue)\"")
        }
        lines.append("")
        lines.append("[catalogue]")
        lines.append("file = \(quoted(catalogue.file))")
        lines.append("item = \(quoted(catalogue.item))")
        if let sku = catalogue.sku { lines.append("sku = \(quoted(sku))") }
        if let active = catalogue.active { lines.append("active = \(quoted(active))") }
        lines.append("ignore = [\(catalogue.ignore.map(quoted).joined(separator: ", "))]")
        lines.append("")
        lines.append("[catalogue.item_features]")
        for f in catalogue.itemFeatures { lines.append("\(key(f.name)) = \"\(f.kind.rawValue)\"") }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Typed access to a schema's TOML tables, naming the file and key in every error.
private struct Reader {
    var path: String

    func onlyKeys(_ table: TOMLTable, _ known: Set<String>, table name: String) throws(DataError) {
        for key in table.keys.sorted() where !known.contains(key) {
            throw .schema(
                "\(path): unknown key '\(key)' in [\(name)] (it takes \(known.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ table: TOMLTable, _ key: String, table name: String, required: Bool) throws(DataError) -> String? {
        guard let value = table[key] else {
            if required { throw .schema("\(path): [\(name)] has no '\(key)'") }
            return nil
        }
        guard let text = value.string else {
            throw .schema("\(path): [\(name)] \(key) must be a column name (a string)")
        }
        return text
    }

    func required(_ table: TOMLTable, _ key: String, table name: String) throws(DataError) -> String {
        try string(table, key, table: name, required: true)!
    }

    func strings(_ table: TOMLTable, _ key: String, table name: String) throws(DataError) -> [String] {
        guard let value = table[key] else { return [] }
        guard let array = value.array else {
            throw .schema("\(path): [\(name)] \(key) must be an array of column names")
        }
        var out: [String] = []
        for item in array {
            guard let text = item.string else {
                throw .schema("\(path): [\(name)] \(key) holds a value that is not a string")
            }
            out.append(text)
        }
        return out
    }

    /// The features of `[name.key]`: each `column = "categorical"` or `"numeric"`, or (`encodings`: user features)
    /// an inline table `{ kind = "categorical", values = [...] }`.
    func features(_ table: TOMLTable, _ key: String, table name: String, encodings: Bool = false) throws(DataError)
        -> [DataSchema.Feature]
    {
        guard let value = table[key] else { return [] }
        guard let features = value.table else { throw .schema("\(path): [\(name).\(key)] must be a table") }
        let kinds = "\"categorical\" or \"numeric\""
        var out: [DataSchema.Feature] = []
        for column in features.keys.sorted() {
            let at = "\(path): [\(name).\(key)] \(column)"
            if let text = features[column]?.string {
                guard let kind = DataSchema.FeatureKind(rawValue: text) else { throw .schema("\(at) must be \(kinds)") }
                out.append(DataSchema.Feature(column, kind))
                continue
            }
            guard encodings, let declared = features[column]?.table else {
                throw .schema(
                    "\(at) must be \(kinds)"
                        + (encodings ? ", or a table such as { kind = \"categorical\", values = [\"a\", \"b\"] }" : ""))
            }
            out.append(try feature(column, declared, at: at))
        }
        return out
    }

    /// A user feature declared as a table: its kind and, for a categorical one, its known `values`; for a numeric
    /// one, its `mean` and `scale` (a finite number, and one above 0).
    private func feature(_ column: String, _ declared: TOMLTable, at: String) throws(DataError) -> DataSchema.Feature {
        for key in declared.keys.sorted() where !["kind", "values", "mean", "scale"].contains(key) {
            throw .schema("\(at): unknown key '\(key)' (it takes kind, values for a categorical one, mean and scale for a numeric one)")
        }
        guard let text = declared["kind"]?.string, let kind = DataSchema.FeatureKind(rawValue: text) else {
            throw .schema("\(at) needs kind = \"categorical\" or \"numeric\"")
        }
        if kind == .numeric, declared["values"] != nil {
            throw .schema("\(at): values are for a categorical feature (a numeric one is read as a number)")
        }
        if declared["mean"] != nil || declared["scale"] != nil {
            guard kind == .numeric else {
                throw .schema("\(at): mean and scale are for a numeric feature (a categorical one is one-hot)")
            }
            func number(_ key: String) throws(DataError) -> Double? {
                guard let value = declared[key] else { return nil }
                guard let x = value.double ?? value.int.map(Double.init), x.isFinite else {
                    throw .schema("\(at): \(key) must be a finite number, in the feature's own units")
                }
                // Within ±1e15, as a request's numeric value is: a standardised value stays representable.
                guard abs(x) <= 1e15 else { throw .schema("\(at): \(key) \(x) is beyond ±1e15") }
                return x
            }
            let mean = try number("mean")
            let scale = try number("scale")
            if let scale, !(scale >= 1e-15) {
                throw .schema("\(at): scale must be above 0 (at least 1e-15): a value is read as (x − mean) / scale")
            }
            return DataSchema.Feature(column, kind, mean: mean, scale: scale)
        }
        guard let given = declared["values"] else { return DataSchema.Feature(column, kind) }
        guard kind == .categorical else {
            throw .schema("\(at): values are for a categorical feature (a numeric one is read as a number)")
        }
        guard let array = given.array else {
            throw .schema("\(at): values must be an array of strings (the feature's known values)")
        }
        var values: [String] = []
        for item in array {
            guard let value = item.string else {
                throw .schema("\(at): values must be strings (write a number as text: \"1\", not 1)")
            }
            // Blank as every reader of a cell calls it (`BlankText`), so a value `data schema --infer` wrote loads back.
            guard !BlankText.isBlank(value) else {
                throw .schema("\(at): values must not be blank (a blank cell is a missing value)")
            }
            // No request can carry it (a served value holding U+0000 is refused: the impression log keeps it).
            guard !value.unicodeScalars.contains("\u{0}") else {
                throw .schema("\(at): a value holds the character U+0000, which no request or log cell may hold")
            }
            values.append(value)
        }
        guard (1...DataSchema.Feature.maximumValues).contains(values.count) else {
            throw .schema(
                "\(at): values holds \(values.count) values; give 1 to \(DataSchema.Feature.maximumValues) (the "
                    + "most frequent; every other value shares one column)")
        }
        // Compared as they are read (`BlankText.canonical`: without the spaces and tabs around them): `" ios"` is `ios`,
        // and a second spelling of one value was a policy column no request could set.
        let read = values.map(BlankText.canonical)
        if let repeated = read.indices.first(where: { read[..<$0].contains(read[$0]) }) {
            let first = read.firstIndex(of: read[repeated])!
            let spellings = values[first] == values[repeated] ? "" : " (as \"\(values[first])\" and \"\(values[repeated])\")"
            throw .schema("\(at): values lists \"\(read[repeated])\" twice\(spellings): a value is read without the spaces and tabs around it")
        }
        return DataSchema.Feature(column, kind, values: values)
    }
}
