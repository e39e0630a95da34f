import Foundation
import RecModel

/// How a log names the catalogue's items (``ItemTable/ids``).
enum ItemIds {
    /// The refusal of an id seen before, first on `line` as `first`. Ids compare as Swift compares strings, by
    /// Unicode canonical equivalence, so `café` with a precomposed é and with e + U+0301 are one id: when the two are
    /// written with other code points, the message says so instead of quoting two texts that look the same.
    static func repeated(_ id: String, first: String, line: Int, what: String = "item id") -> String {
        let spelling =
            id.unicodeScalars.elementsEqual(first.unicodeScalars)
            ? "" : ", written with other Unicode code points but canonically equivalent (one id, as NFC compares them)"
        return "is item '\(id)' again (first at line \(line)\(spelling)): each \(what) appears once"
    }

    /// The catalogue's ids are exactly the integers `0..<count` (OBD's layout): an item is its id's number.
    case numbered(count: Int)
    /// Any other distinct ids (a shop's SKUs, `1…n`, `1001…`): an item is its row in the catalogue file, and a log
    /// names it by its id's text.
    case named([String: Int], count: Int)

    /// When `texts` (a catalogue's ids in file order) are exactly the integers `0..<count` in any order, the file
    /// row of each item number; nil for any other ids (then an item is its row).
    static func numberedRows(_ texts: [String]) -> [Int]? {
        var order = [Int?](repeating: nil, count: texts.count)
        for (row, text) in texts.enumerated() {
            guard let value = CSVNumber.wholeNumber(text), value >= 0, value < texts.count, order[value] == nil
            else { return nil }
            order[value] = row
        }
        return order.map { $0! }
    }

    /// The number of items.
    var count: Int {
        switch self {
        case .numbered(let count), .named(_, let count): count
        }
    }

    /// The item a log's field names.
    /// - Throws: `DataError.file(.invalidValue)` naming the field when it names no catalogue item.
    func item(_ table: CSVTable, row: Int, column: Int) throws(DataError) -> Int {
        switch self {
        case .numbered(let count): return try LogLoader.itemID(table, row: row, column: column, count: count)
        case .named(let rows, _):
            let text = table.rows[row][column].trimmingCharacters(in: .whitespaces)
            guard let item = rows[text] else {
                // One reason per cause: a blank item is blank, as a blank number field and a numbered catalogue's are.
                throw table.invalid(
                    row: row, column: column,
                    reason: BlankText.isBlank(text)
                        ? "is blank: an item id of the catalogue is needed (docs/YOUR-DATA.md)"
                        : "is not an item id of the catalogue (docs/YOUR-DATA.md)")
            }
            return item
        }
    }

    /// The item `text` names in a `viewed` pair, or nil when it names none.
    func item(named text: Substring) -> Int? {
        switch self {
        // Read as the log's item column is (`CSVNumber.wholeNumber`): ` 1`, `1.0` and `1e0` name item 1 there too.
        case .numbered(let count): CSVNumber.wholeNumber(String(text)).flatMap { (0..<count).contains($0) ? $0 : nil }
        case .named(let rows, _): rows[text.trimmingCharacters(in: .whitespaces)]
        }
    }

    /// The affinity column of `item`: `PREFIX` then the item's number, or, for named ids, its id.
    func affinityColumn(prefix: String, item: Int, ids: [String]) -> String {
        switch self {
        case .numbered: "\(prefix)\(item)"
        case .named: "\(prefix)\(ids[item])"
        }
    }
}
