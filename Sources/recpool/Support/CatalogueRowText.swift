import RecModel

/// How a command reads an item it is given as a catalogue row (`recommend --candidates` and `--events`, `feedback
/// --item`): items on the wire are rows `0, 1, 2, …` of the served catalogue (docs/PROTOCOL.md), never its ids.
///
/// A row written with leading zeros (`00101`) is refused: it is how a shop's SKU is written, and reading it as row
/// 101 answered `unknown item 101`, or, for `00005`, recorded feedback on row 5, whatever item that is.
enum CatalogueRowText {
    /// Why `text` is refused as a row of `option` because it is written with leading zeros (after optional spaces
    /// and a sign), or nil when it is not.
    static func leadingZerosProblem(_ text: Substring, option: String) -> String? {
        leadingZerosReason(text).map { "\(option): \($0)" }
    }

    /// ``leadingZerosProblem(_:option:)`` without the option's name.
    static func leadingZerosReason(_ text: Substring) -> String? {
        let body = text.drop { $0 == " " || $0 == "\t" }.drop { $0 == "+" || $0 == "-" }
        guard body.count > 1, body.first == "0", let second = body.dropFirst().first, second.isASCII, second.isNumber
        else { return nil }
        return "\"\(text)\" is written with leading zeros, as a catalogue's id may be: items here are " + rowsHint
    }

    /// What a refusal of an item given as text says: items are rows, and where to find each row's id.
    static let rowsHint = "catalogue rows (0, 1, 2, …), as a slate numbers them, not the catalogue's ids; "
        + "`recpool catalogue show` lists each row's id"

    /// Why `text` is refused as an item of `option` when it is no whole number of 0 or more: a catalogue's id (`SKU-7`)
    /// is not a row.
    static func notARow(_ text: Substring, option: String) -> String { "\(option): \(notARowReason(text))" }

    /// ``notARow(_:option:)`` without the option's name.
    static func notARowReason(_ text: Substring) -> String {
        "\"\(text)\" is not a catalogue row (a whole number, 0 or more): items here are \(rowsHint)"
    }

    /// The row a `feedback --item` value names: a whole number as `recommend --candidates` reads one
    /// (`CSVNumber.wholeNumber`), a negative one included (which the request's own check then refuses by name).
    /// - Throws: ``CatalogueRowError`` for leading zeros or text that is no whole number.
    static func parseItem(_ text: String) throws(CatalogueRowError) -> Int {
        // ArgumentParser names the option and the value ("The value '00005' is invalid for '--item <item>': "), so
        // the reason is given without them.
        if let reason = leadingZerosReason(Substring(text)) { throw CatalogueRowError(reason) }
        // Any spelling of a whole number `recommend --candidates` takes (`+25`, `25.0`), and a negative one, which the
        // request's own check then refuses by name.
        guard let row = CSVNumber.wholeNumber(text) else { throw CatalogueRowError(notARowReason(Substring(text))) }
        return row
    }
}

/// A value refused as a catalogue row (``CatalogueRowText``), with the reason.
struct CatalogueRowError: Error, CustomStringConvertible {
    /// The reason, naming the option and the text as typed.
    let description: String

    init(_ description: String) { self.description = description }
}
