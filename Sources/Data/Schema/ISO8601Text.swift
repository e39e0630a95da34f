/// Reads ISO 8601 date-times as a shop's log writes them, into an ``Instant`` that orders them in time, without
/// building a `Date` (a log has millions of rows).
///
/// Accepted: `YYYY-MM-DD`, optionally followed by `T` or a space and `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fraction`
/// (any number of fraction digits, as pandas writes microseconds), optionally followed by `Z` or an offset
/// `±hh:mm`, `±hhmm` or `±hh`. Month 01–12, a day that the month has (29 February only in a leap year), hour 00–23,
/// minute and second 00–59 (60 for a leap second).
///
/// Times are compared as instants, not as text: text order puts `10:00:00.5Z` before `10:00:00Z`, a `T` after a
/// space, and `11:00+02:00` after `10:00Z`, though it is an hour earlier.
public enum ISO8601Text {
    /// A point in time read from the text: whole seconds since 1970-01-01T00:00:00 at UTC (or in the text's own,
    /// unnamed zone when it has no offset), and the fraction's digits without trailing zeros, which compare as
    /// decimals when compared as text.
    public struct Instant: Sendable, Hashable, Comparable {
        /// Whole seconds since the epoch.
        public var seconds: Int64
        /// The digits after the decimal point, trailing zeros removed (`"5"` for `.50`).
        public var fraction: String
        /// Whether the text named its zone (`Z` or an offset); a time without one is local to an unnamed zone.
        public var hasZone: Bool

        /// Time order (the zone flag aside).
        public static func < (a: Instant, b: Instant) -> Bool {
            a.seconds != b.seconds ? a.seconds < b.seconds : a.fraction.utf8.lexicographicallyPrecedes(b.fraction.utf8)
        }

        /// The same instant (the zone flag aside).
        public static func == (a: Instant, b: Instant) -> Bool { a.seconds == b.seconds && a.fraction == b.fraction }

        /// Hashes what ``==`` compares.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(seconds)
            hasher.combine(fraction)
        }
    }

    /// Whether `text` is an ISO 8601 date or date-time of the accepted forms.
    public static func isDateTime(_ text: String) -> Bool { instant(text) != nil }

    /// The instant `text` names, or nil when it is not a date or date-time of the accepted forms (or names a day
    /// the month does not have).
    public static func instant(_ text: String) -> Instant? {
        var scanner = Scanner(bytes: Array(text.utf8))
        guard let year = scanner.number(4), scanner.take("-"), let month = scanner.number(2), (1...12).contains(month),
            scanner.take("-"), let day = scanner.number(2), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        let days = Int64(daysSinceEpoch(year: year, month: month, day: day))
        var seconds = days * 86_400
        var fraction = ""
        if scanner.atEnd { return Instant(seconds: seconds, fraction: "", hasZone: false) }
        guard scanner.take("T") || scanner.take(" ") else { return nil }
        guard let hour = scanner.number(2), hour < 24, scanner.take(":"), let minute = scanner.number(2), minute < 60
        else { return nil }
        seconds += Int64(hour * 3_600 + minute * 60)
        if scanner.take(":") {
            guard let second = scanner.number(2), second <= 60 else { return nil }
            seconds += Int64(second)
            if scanner.take(".") || scanner.take(",") {
                let start = scanner.index
                guard scanner.digits() > 0 else { return nil }
                var digits = scanner.bytes[start..<scanner.index]
                while digits.last == UInt8(ascii: "0") { digits = digits.dropLast() }
                fraction = String(decoding: digits, as: UTF8.self)
            }
        }
        if scanner.atEnd { return Instant(seconds: seconds, fraction: fraction, hasZone: false) }
        if scanner.take("Z") {
            return scanner.atEnd ? Instant(seconds: seconds, fraction: fraction, hasZone: true) : nil
        }
        let sign: Int64
        if scanner.take("+") {
            sign = 1
        } else if scanner.take("-") {
            sign = -1
        } else {
            return nil
        }
        guard let offsetHours = scanner.number(2), offsetHours < 24 else { return nil }
        var offsetMinutes = 0
        if !scanner.atEnd {
            _ = scanner.take(":")
            guard let minutes = scanner.number(2), minutes < 60, scanner.atEnd else { return nil }
            offsetMinutes = minutes
        }
        // Local time = UTC + offset, so UTC = local − offset.
        seconds -= sign * Int64(offsetHours * 3_600 + offsetMinutes * 60)
        return Instant(seconds: seconds, fraction: fraction, hasZone: true)
    }

    /// Why `text`, written in the form of an ISO 8601 date or date-time, names no instant (a month 13, a day the month
    /// does not have, an hour 24 or more, a minute or a second 60 or more, or a leap second, 60, is left as valid), or
    /// nil when it is not written in that form or names a valid one: `2024-02-30` is told "February 2024 has 29
    /// days, not 30", where "write an ISO 8601 date-time" read as if the form were wrong.
    public static func calendarProblem(_ text: String) -> String? {
        var scanner = Scanner(bytes: Array(text.utf8))
        guard let year = scanner.number(4), scanner.take("-"), let month = scanner.number(2), scanner.take("-"),
            let day = scanner.number(2)
        else { return nil }
        guard (1...12).contains(month) else { return "there is no month \(month) (months are 01 to 12)" }
        let days = daysIn(month: month, year: year)
        guard (1...days).contains(day) else {
            let names = [
                "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December",
            ]
            return day == 0
                ? "there is no day 00 (days are numbered from 01)" : "\(names[month - 1]) \(year) has \(days) days, not \(day)"
        }
        guard scanner.take("T") || scanner.take(" "), let hour = scanner.number(2), scanner.take(":"),
            let minute = scanner.number(2)
        else { return nil }
        if hour >= 24 { return "there is no hour \(hour) (hours are 00 to 23)" }
        if minute >= 60 { return "there is no minute \(minute) (minutes are 00 to 59)" }
        if scanner.take(":"), let second = scanner.number(2), second > 60 {
            return "there is no second \(second) (seconds are 00 to 59, or 60 for a leap second)"
        }
        return nil
    }

    /// Days in `month` (1–12) of `year` (Gregorian).
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
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
