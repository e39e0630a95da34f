import Foundation
import RecModel
import RecWire

/// Reads feature rows from CSV (``NumericCSV`` on the one reader, ``CSVFile``: an optional header line, then numbers)
/// or JSON (an array of arrays, or an object with a `rows` array) when the whole text is JSON; a file that starts
/// with a bracket but is not JSON is read as CSV (a header `[a],[b]`), and said as JSON when it is not CSV either. A header column named `label` is dropped. `-` is
/// stdin. Every problem is a ``CSVError`` naming the file and, where there is one, the line (JSON: the row) and column.
enum RowsFile {
    /// The rows of `path`, at least one, all of one width, every value finite.
    static func read(_ path: String) throws(CSVError) -> [[Float]] {
        try readNamed(path).rows
    }

    /// The rows of `path`, and the names of their columns when the file is CSV with a header (a `label` column left
    /// out of both); JSON rows have no names.
    static func readNamed(_ path: String) throws(CSVError) -> (rows: [[Float]], names: [String]?) {
        var bytes: [UInt8]
        if path == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            bytes = try CSVFile.readBytes(path: path)
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        let first = bytes.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }
        let rows: [[Float]]
        var names: [String]? = nil
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") {
            if CSVFile.holdsJSON(String(decoding: bytes, as: UTF8.self)) || WireJSON.outOfRangeNumber(in: bytes) != nil {
                rows = try json(Data(bytes), path: path)
            } else {
                // Not JSON: CSV whose header starts with a bracket (`[a],[b]`), or JSON gone wrong (truncated, say).
                do {
                    (rows, names) = try csv(bytes, path: path)
                } catch .empty {
                    throw .badJSON(
                        path: path,
                        reason: "expected [[…], …] or {\"rows\": [[…], …]}: not valid JSON, and read as CSV it has no data rows")
                } catch {
                    rows = try json(Data(bytes), path: path)
                }
            }
        } else {
            (rows, names) = try csv(bytes, path: path)
        }
        guard !rows.isEmpty else { throw .empty(path: path) }
        // Rows of no value (`[[]]`, or a CSV of a `label` column alone) went to the broker as a 1×0 tensor and came
        // back as "tensor of 1×0 is empty", naming no file.
        if rows[0].isEmpty {
            if names != nil { throw .noFeatureColumns(path: path, label: "label") }
            throw .badJSON(path: path, reason: "its rows hold no value: a row needs at least one feature")
        }
        return (rows, names)
    }

    /// The two JSON shapes rows may come in.
    private enum JSONRows: Decodable {
        case rows([[Double]])

        private struct Wrapped: Decodable { var rows: [[Double]] }

        /// How the decoder's error for a key other than `rows` begins.
        static let unknownKeyPrefix = "unknown key \""

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            // An object is read as {"rows": …}; anything else as the rows themselves. Either way a value that is
            // not a number fails with a coding path that names its row and column.
            if let object = try? container.decode([String: JSONValue].self) {
                // Only `rows`: another key (`"feature_names"`, a misspelt option) was dropped without a word.
                if object["rows"] != nil, let other = object.keys.sorted().first(where: { $0 != "rows" }) {
                    throw DecodingError.dataCorrupted(
                        .init(codingPath: [], debugDescription: "\(Self.unknownKeyPrefix)\(other)\""))
                }
                self = .rows(try container.decode(Wrapped.self).rows)
            } else {
                self = .rows(try container.decode([[Double]].self))
            }
        }
    }

    /// Any JSON value, to tell an array of rows from an object when reporting an error.
    private struct JSONValue: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    /// Rows from JSON, decoded with `JSONDecoder` (numbers only: `true`, `"1"` or `null` is an error naming its row
    /// and column, and so is a number too large for a float).
    private static func json(_ data: Data, path: String) throws(CSVError) -> [[Float]] {
        // Foundation's decoder keeps one of two `rows` keys silently, and takes a trailing comma.
        if let problem = WireJSON.fileKeyProblem(in: Array(data)) {
            throw .badJSON(path: path, reason: problem)
        }
        let decoded: [[Double]]
        do {
            guard case .rows(let rows) = try JSONDecoder().decode(JSONRows.self, from: data) else { return [] }
            decoded = rows
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let indices = context.codingPath.compactMap(\.intValue)
            guard indices.count >= 2 else {
                throw .badJSON(path: path, reason: "expected [[…], …] or {\"rows\": [[…], …]}")
            }
            throw .nonNumeric(
                path: path, line: indices[0] + 1, column: indices[1] + 1,
                text: spelled(data, row: indices[0], column: indices[1]) ?? found(context))
        } catch DecodingError.keyNotFound(let key, _) {
            throw .badJSON(path: path, reason: "expected [[…], …] or {\"rows\": [[…], …]}: no \"\(key.stringValue)\" key")
        } catch DecodingError.dataCorrupted(let context) where context.debugDescription.hasPrefix(JSONRows.unknownKeyPrefix) {
            throw .badJSON(
                path: path, reason: "expected [[…], …] or {\"rows\": [[…], …]}: \(context.debugDescription), not \"rows\"")
        } catch DecodingError.dataCorrupted {
            // Foundation calls a number beyond a Double's range "not valid JSON"; name it, and its row and column.
            if let number = WireJSON.outOfRangeNumber(in: Array(data)) {
                let indices = number.path.compactMap { component -> Int? in
                    if case .index(let index) = component { return index }
                    return nil
                }
                if indices.count >= 2 {
                    throw .notFinite(path: path, line: indices[0] + 1, column: indices[1] + 1, text: number.text)
                }
                throw .badJSON(path: path, reason: "the number \(number.text) is beyond the range of a float")
            }
            // And one nearer 0 than the smallest double (`1e-400`), valid JSON that Foundation refuses without naming.
            if let number = WireJSON.underflowingNumber(in: Array(data)) {
                let indices = number.path.compactMap { component -> Int? in
                    if case .index(let index) = component { return index }
                    return nil
                }
                if indices.count >= 2 {
                    throw .underflow(path: path, line: indices[0] + 1, column: indices[1] + 1, text: number.text)
                }
                throw .badJSON(path: path, reason: "the number \(number.text) is nearer 0 than the smallest 64-bit float")
            }
            throw .badJSON(path: path, reason: "expected [[…], …] or {\"rows\": [[…], …]}: not valid JSON")
        } catch {
            throw .badJSON(path: path, reason: "expected [[…], …] or {\"rows\": [[…], …]}: \(error)")
        }
        var rows: [[Float]] = []
        for (r, values) in decoded.enumerated() {
            var row: [Float] = []
            for (c, value) in values.enumerated() {
                let single = Float(value)
                guard single.isFinite else {
                    throw .notFinite(path: path, line: r + 1, column: c + 1, text: "\(value)")
                }
                row.append(single)
            }
            if let first = rows.first, first.count != row.count {
                throw .raggedRow(path: path, line: r + 1, expected: first.count, found: row.count)
            }
            rows.append(row)
        }
        return rows
    }

    /// The value at `row`, `column` of the rows in `data`: a string's text, anything else as JSON writes it (`true`,
    /// `null`, `{}`), at most 60 characters; nil when it cannot be read back.
    private static func spelled(_ data: Data, row: Int, column: Int) -> String? {
        guard let root = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        guard let rows = ((root as? [String: Any])?["rows"] ?? root) as? [Any], row < rows.count,
            let values = rows[row] as? [Any], column < values.count
        else { return nil }
        let written: String
        if let text = values[column] as? String {
            // The message quotes it: `not a number: "1"` (its description shows a newline as `\n`).
            written = text
        } else {
            guard let text = try? JSONSerialization.data(withJSONObject: [values[column]], options: [.fragmentsAllowed])
            else { return nil }
            // `[value]`: the brackets off.
            written = String(decoding: text.dropFirst().dropLast(), as: UTF8.self)
        }
        return written.count > 60 ? String(written.prefix(57)) + "…" : written
    }

    /// What stood where a number was due, as the JSON spells it (`null`, a string, `true`), from the decoder's
    /// "Expected to decode Double but found a string instead."; never the decoder's own sentence.
    private static func found(_ context: DecodingError.Context) -> String {
        let text = context.debugDescription
        if text.contains("null") { return "null" }
        guard let start = text.range(of: "found "), let end = text.range(of: " instead", range: start.upperBound..<text.endIndex)
        else { return "a value that is not a number" }
        let what = String(text[start.upperBound..<end.lowerBound])
        return ["bool": "true or false", "a dictionary": "an object", "a number": "a number"][what] ?? what
    }

    private static func csv(_ bytes: [UInt8], path: String) throws(CSVError) -> ([[Float]], [String]?) {
        let table = try NumericCSV.parse(bytes, path: path)
        let label = table.header?.firstIndex(of: "label")
        let rows = (0..<table.table.rows).map { r in
            (0..<table.table.cols).filter { $0 != label }.map { table.table[r, $0] }
        }
        return (rows, table.header.map { header in header.indices.filter { $0 != label }.map { header[$0] } })
    }

    /// Why rows whose columns are `names` (a CSV header, `label` left out) are not the columns `expected` (a
    /// feature specification's, in order), or nil when they are: a matrix whose columns are in another order would
    /// be scored, or trained, with every feature in another one's place.
    static func columnMismatch(
        _ names: [String], expected: [String], source: String, against: String = "the feature specification"
    ) -> String? {
        guard names != expected else { return nil }
        guard names.count == expected.count else {
            // Name what differs: the columns the specification does not have, and those it has that are missing.
            let known = Set(expected), given = Set(names)
            let extra = names.filter { !known.contains($0) }.prefix(5).map { "'\($0)'" }
            let missing = expected.filter { !given.contains($0) }.prefix(5).map { "'\($0)'" }
            var detail: [String] = []
            let short = against == "the feature specification" ? "the specification" : against
            if !extra.isEmpty { detail.append("not in \(short): \(extra.joined(separator: ", "))") }
            if !missing.isEmpty { detail.append("missing: \(missing.joined(separator: ", "))") }
            let hint = names.contains { $0 != "label" && $0.lowercased() == "label" } ? " (only a column named exactly `label` is left out)" : ""
            return "\(source): the header names \(names.count) feature columns, \(against) \(expected.count)"
                + (detail.isEmpty ? "" : " (\(detail.joined(separator: "; ")))") + hint
        }
        let at = names.indices.first { names[$0] != expected[$0] }!
        // "header column 1 is 'b' (its column 2), the model's training columns' column 1 is 'a'" left unclear whose
        // column 2 that was.
        let elsewhere =
            expected.firstIndex(of: names[at]).map { "'\(names[at])' is column \($0 + 1) there" }
            ?? "'\(names[at])' is not named there"
        let order =
            against == "the feature specification"
            ? "the columns must be the specification's, in its order (as `recpool data features` writes them)"
            : "the columns must be those the model was trained on (by `recpool fit`, or a `recpool train` job on an "
                + "uploaded matrix), in their order"
        return "\(source): header column \(at + 1) is '\(names[at])', but column \(at + 1) of \(against) is "
            + "'\(expected[at])' (\(elsewhere)): \(order)"
    }
}
