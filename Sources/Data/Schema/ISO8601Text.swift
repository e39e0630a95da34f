/// Recognises ISO 8601 date-times as a shop's log writes them, without building a `Date` (a log has millions of
/// rows, and rows sort by the text itself, which orders ISO 8601 times written in one zone).
///
/// Accepted: `YYYY-MM-DD`, optionally followed by `T` or a space and `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fraction`
/// (any number of fraction digits, as pandas writes microseconds), optionally followed by `Z` or an offset
/// `±hh:mm`, `±hhmm` or `±hh`. Month 01–12, day 01–31, hour 00–23, minute and second 00–59 (60 for a leap second).
public enum ISO8601Text {
    /// Whether `text` is an ISO 8601 date or date-time of the accepted forms.
    public static func isDateTime(_ text: String) -> Bool {
        var scanner = Scanner(bytes: Array(text.utf8))
        guard scanner.number(4) != nil, scanner.take("-"), let month = scanner.number(2), (1...12).contains(month),
            scanner.take("-"), let day = scanner.number(2), (1...31).contains(day)
        else { return false }
        if scanner.atEnd { return true }
        guard scanner.take("T") || scanner.take(" ") else { return false }
        guard let hour = scanner.number(2), hour < 24, scanner.take(":"), let minute = scanner.number(2), minute < 60
        else { return false }
        if scanner.take(":") {
            guard let second = scanner.number(2), second <= 60 else { return false }
            if scanner.take(".") || scanner.take(",") {
                guard scanner.digits() > 0 else { return false }
            }
        }
        if scanner.atEnd { return true }
        if scanner.take("Z") { return scanner.atEnd }
        guard scanner.take("+") || scanner.take("-"), let offset = scanner.number(2), offset < 24 else { return false }
        if scanner.atEnd { return true }
        _ = scanner.take(":")
        guard let offsetMinutes = scanner.number(2), offsetMinutes < 60 else { return false }
        return scanner.atEnd
    }

    /// A cursor over UTF-8 bytes.
    private struct Scanner {
        var bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index == bytes.count }

        /// Consumes `character` if it is next.
        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(character.value) else { return false }
            index += 1
            return true
        }

        /// Consumes exactly `count` ASCII digits and returns their value, or nil (consuming nothing).
        mutating func number(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += count
            return value
        }

        /// Consumes a run of ASCII digits and returns its length.
        mutating func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= 48 && bytes[index] <= 57 { index += 1 }
            return index - start
        }
    }
}
