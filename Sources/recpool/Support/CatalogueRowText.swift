import RecModel

/// How a command reads an item it is given as a catalogue row (`recommend --candidates` and `--events`, `feedback
/// --item`): items on the wire are rows `0, 1, 2, …` of the served catalogue (docs/PROTOCOL.md), never its ids.
///
/// A row written with leading zeros (`00101`) is refused: it is how a shop's SKU is written, and reading it as row
/// 101 answered `unknown item 101`, or, for `00005`, recorded feedback on row 5, whatever item that is.
enum CatalogueRowText {
    /// Why `text` is refused as a row because it is written with leading zeros (after optional spaces and a sign),
    /// or nil when it is not.
    static func leadingZerosProblem(_ text: Substring, option: String) -> String? {
        let body = text.drop { $0 == " " || $0 == "\t" }.drop { $0 == "+" || $0 == "-" }
        guard body.count > 1, body.first == "0", let second = body.dropFirst().first, second.isASCII, second.isNumber
        else { return nil }
        return "\(option): \"\(text)\" is written with leading zeros, as a catalogue's id may be: items here are "
            + "catalogue rows (0, 1, 2, …); `recpool catalogue show` lists each row's id"
    }

    /// The row a `feedback --item` value names: digits alone, or a negative number (which the request's own check
    /// then refuses by name).
    /// - Throws: ``CatalogueRowError`` for leading zeros or text that is no whole number.
    static func parseItem(_ text: String) throws(CatalogueRowError) -> Int {
        if let problem = leadingZerosProblem(Substring(text), option: "--item") { throw CatalogueRowError(problem) }
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (48...57).contains($0) }), let row = Int(text) else {
            throw CatalogueRowError("--item: \"\(text)\" is not a catalogue row (a whole number, 0 or more)")
        }
        return row
    }
}

/// A value refused as a catalogue row (``CatalogueRowText``), with the reason.
struct CatalogueRowError: Error, CustomStringConvertible {
    /// The reason, naming the option and the text as typed.
    let description: String

    init(_ description: String) { self.description = description }
}
