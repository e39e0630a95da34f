import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

/// A shop's timestamps are ordered as the instants they name, and a field is a number only when it is written as a
/// decimal one; a schema that both uses and ignores a column is refused.
@Suite("A shop's log: time order, numbers and schema roles")
struct TimeOrderAndNumberTests {
    /// The fixture's log with column `column` of every data line set by `value(t)`, `t` the row's fixture time
    /// (lines hold times 99 down to 0), loaded with `schema`; the dataset or the error text.
    func load(
        schema: String = ShopFixture.schema, column: Int, _ value: (Int) -> String
    ) throws -> Result<BanditDataset, DataError> {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        try SchemaBadInputTests.editLines(folder + "/logs.csv") { lines in
            for line in 2...lines.count { SchemaBadInputTests.setField(&lines, line: line, column: column, to: value(101 - line)) }
        }
        try schema.write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        do {
            return .success(
                try LogLoader.load(
                    logFile: folder + "/logs.csv", catalogueFile: folder + "/items.csv",
                    schema: try DataSchema.parse(schema, path: "shop.toml"), name: "shop"))
        } catch {
            return .failure(error)
        }
    }

    @Test("ISO 8601 times sort as instants: a fraction after its whole second, an offset's time converted to UTC")
    func isoTimesSortAsInstants() throws {
        // Time t is 10:00:00 UTC + t/2 seconds: even t written in UTC (`Z`), odd t in +02:00 with a half second.
        // As text every `12:…+02:00` sorts after every `10:…Z`, and `…00.5Z` would sort before `…00Z`.
        let data = try load(column: 1) { t in
            let second = String(format: "%02d", t / 2)
            return t % 2 == 0 ? "2024-05-01T10:00:\(second)Z" : "2024-05-01T12:00:\(second).5+02:00"
        }.get()
        // The fixture's item is t % 5: in time order, 0, 1, 2, 3, 4, 0, …
        #expect(data.action == (0..<100).map { $0 % 5 })
        let fractions = try load(column: 1) { t in "2024-05-01 10:00:00" + (t == 0 ? "" : ".\(t)") }.get()
        // `.1` and `.10` are one instant, a tie in file order (the file lists time 10 before time 1); `.19` precedes `.2`.
        let key = { (t: Int) in t == 0 ? 0 : Double("0.\(t)")! }
        let order = (0..<100).sorted { key($0) == key($1) ? $0 > $1 : key($0) < key($1) }
        #expect(order.prefix(4) == [0, 10, 1, 11])
        #expect(fractions.action == order.map { $0 % 5 })
    }

    @Test("numeric timestamps sort by their exact value: Unix nanoseconds beyond a Double's 53 bits are not ties")
    func nanosecondsSortExactly() throws {
        // 1_700_000_000_000_000_000 + t: every t rounds to one of a handful of Doubles (their spacing there is 256),
        // so read as Doubles the rows tied and kept file order (newest first), putting the newest into training.
        let data = try load(column: 1) { t in "\(1_700_000_000_000_000_000 as Int64 + Int64(t))" }.get()
        #expect(data.action == (0..<100).map { $0 % 5 })
        // Also written with an exponent, a point and spaces: the same exact values, the same order.
        let written = try load(column: 1) { t in
            t % 3 == 0 ? " 1.7000000000000000\(String(format: "%02d", t))e18 " : "\(1_700_000_000_000_000_000 as Int64 + Int64(t)).0"
        }.get()
        #expect(written.action == (0..<100).map { $0 % 5 })
    }

    @Test("the instant of an ISO 8601 text: epoch seconds in UTC, the fraction without trailing zeros")
    func instants() throws {
        let obd = try #require(ISO8601Text.instant("2019-11-24 00:00:14.386364+00:00"))
        #expect(obd.seconds == 1_574_553_614 && obd.fraction == "386364" && obd.hasZone)
        #expect(ISO8601Text.instant("2024-02-29T23:59:59-05:30")?.seconds == 1_709_270_999)
        #expect(ISO8601Text.instant("1969-12-31T23:59:59Z")?.seconds == -1)
        #expect(ISO8601Text.instant("2024-05-01T12:00+02:00") == ISO8601Text.instant("2024-05-01T10:00:00.000Z"))
        let whole = try #require(ISO8601Text.instant("2024-05-01T10:00:00Z"))
        let half = try #require(ISO8601Text.instant("2024-05-01T10:00:00.5Z"))
        #expect(whole < half && half.fraction == "5")
        #expect(try #require(ISO8601Text.instant("2024-05-01T10:00:00.19Z")) < half)
        #expect(ISO8601Text.instant("2024-05-01T10:00:00")?.hasZone == false)
    }

    @Test(
        "a day the month does not have is not a date",
        arguments: [("2024-02-29", true), ("2023-02-29", false), ("2024-02-30", false), ("2024-04-31", false),
                    ("2000-02-29", true), ("1900-02-29", false), ("2024-12-31T23:59:60Z", true)])
    func calendarDays(_ text: String, _ accepted: Bool) {
        #expect(ISO8601Text.isDateTime(text) == accepted)
    }

    @Test("a log that mixes times with and without a zone is refused naming the line; an impossible day too")
    func zonesAndDays() throws {
        let mixed = try load(column: 1) { t in "2024-05-01T10:00:\(String(format: "%02d", t % 60))" + (t == 95 ? "Z" : "") }
        guard case .failure(let error) = mixed else { Issue.record("a log mixing zones loaded"); return }
        // Time 95 is on line 101 − 95 = 6.
        #expect(
            error.description.contains("logs.csv:6") && error.description.contains("'ts'")
                && error.description.contains("names its time zone but line 2's timestamp does not"), "\(error)")
        let impossible = try load(column: 1) { t in t == 50 ? "2024-02-30T10:00:00Z" : "2024-02-01T10:00:00Z" }
        guard case .failure(let day) = impossible else { Issue.record("30 February loaded"); return }
        #expect(
            day.description.contains("logs.csv:51")
                && day.description.contains("'2024-02-30T10:00:00Z' is not a valid date-time: February 2024 has 29 days, not 30"),
            "\(day)")
    }

    /// A date-time in the right form that names no instant was told to "write an ISO 8601 date-time", which it is.
    @Test(
        "why a date-time in ISO 8601's form names no instant",
        arguments: [
            ("2024-02-30T10:00:00Z", "February 2024 has 29 days, not 30"), ("2023-02-29", "February 2023 has 28 days, not 29"),
            ("2024-04-31 08:00", "April 2024 has 30 days, not 31"), ("2024-13-01", "there is no month 13"),
            ("2024-00-10", "there is no month 0"), ("2024-05-00", "there is no day 00"),
            ("2024-05-01T25:00:00Z", "there is no hour 25"), ("2024-05-01T10:61:00", "there is no minute 61"),
            ("2024-05-01T10:00:61Z", "there is no second 61"),
        ])
    func calendarProblems(_ text: String, _ says: String) {
        #expect(ISO8601Text.instant(text) == nil)
        #expect(ISO8601Text.calendarProblem(text)?.contains(says) == true, "\(text): \(String(describing: ISO8601Text.calendarProblem(text)))")
    }

    @Test("a valid date-time, a leap second or text in another form has no calendar problem")
    func noCalendarProblem() {
        for text in ["2024-02-29T23:59:59Z", "2024-12-31T23:59:60Z", "2024-05-01", "yesterday", "1714557600", "2024/02/30"] {
            #expect(ISO8601Text.calendarProblem(text) == nil, "\(text)")
        }
    }

    /// A shop's case: a slot of white space was "' ' is not an integer" where a blank click is "'' is blank: a number
    /// is needed" (one reason per cause, docs/DATA.md).
    @Test("a blank or white-space slot is named blank, as a blank number field is, not a non-integer")
    func blankSlotIsBlank() throws {
        for blank in [" ", "\t", ""] {
            guard case .failure(let slot) = try load(column: 3, { t in t == 3 ? blank : "\(1 + t % 3)" }) else {
                Issue.record("a blank slot loaded"); continue
            }
            #expect(slot.description.contains("is blank: a number is needed"), "\(slot)")
            #expect(!slot.description.contains("is not an integer"), "\(slot)")
            // The item column too, whether the catalogue is numbered or named by SKU.
            guard case .failure(let item) = try load(column: 2, { t in t == 3 ? blank : "\(t % 5)" }) else {
                Issue.record("a blank item loaded"); continue
            }
            #expect(item.description.contains("is blank"), "\(item)")
            #expect(!item.description.contains("is not an i"), "\(item)")
        }
    }

    @Test("hexadecimal text is not a number: a numeric feature, an item id, a propensity, a feature matrix cell")
    func hexadecimalIsNotANumber() throws {
        guard case .failure(let age) = try load(column: 9, { t in t == 3 ? "0x10" : "30" }) else {
            Issue.record("age 0x10 loaded as 16"); return
        }
        #expect(age.description.contains("logs.csv:98") && age.description.contains("'age': '0x10' is not a number"), "\(age)")
        guard case .failure(let item) = try load(column: 2, { t in t == 3 ? "0x1" : "\(t % 5)" }) else {
            Issue.record("item 0x1 loaded as 1"); return
        }
        #expect(item.description.contains("'0x1' is not an integer"), "\(item)")
        guard case .failure(let p) = try load(column: 5, { t in t == 3 ? "0x0.8p-2" : "0.2" }) else {
            Issue.record("propensity 0x0.8p-2 loaded as 0.125"); return
        }
        #expect(p.description.contains("'p': '0x0.8p-2' is not a number"), "\(p)")
        #expect(throws: CSVError.nonNumeric(path: "m.csv", line: 3, column: 1, text: "0x10")) {
            try NumericCSV.parse("a,label\n1,0\n0x10,1\n", path: "m.csv")
        }
        #expect(CSVNumber.double(" 1e3\t") == 1000 && CSVNumber.double("-0") == 0)
        #expect(CSVNumber.double("nan")?.isNaN == true && CSVNumber.double("1e400") == .infinity)
        // A number nearer 0 than any 64-bit float is no 0 (a request's JSON refuses it; `--events 1:1e-400` was read as 0).
        for text in ["1e-400", "-2.5e-330", "0.0001e-320"] { #expect(CSVNumber.double(text) == nil, "\(text)") }
        for text in ["0", "0.0", "0e-400", "-0.000e5", "5e-324"] { #expect(CSVNumber.double(text) != nil, "\(text)") }
        #expect(throws: CSVError.self) { try NumericCSV.parse("a,label\n1,0\n1e-400,1\n", path: "m.csv") }
        #expect(ItemEncoding.number("0x10") == nil && ItemEncoding.number("16") == 16)
    }

    /// A 16-digit slot was refused as "is not an integer"; DATA.md's rule is "a value of more than 15 digits".
    @Test("a whole-number field of more than 15 digits is refused naming its size, not as a non-integer")
    func sixteenDigits() throws {
        guard case .failure(let slot) = try load(column: 3, { t in t == 3 ? "1234567890123456" : "1" }) else {
            Issue.record("a 16-digit slot loaded"); return
        }
        #expect(
            slot.description.contains("logs.csv:98")
                && slot.description.contains("'1234567890123456' has more than 15 digits, more than a whole-number field holds"),
            "\(slot)")
    }

    @Test(
        "an item id or a click is read from its text: 0.99999999999999999 and 1e-400 are damaged, not a rounded 1 or 0",
        arguments: ["0.99999999999999999", "1e-400", "1.5", "1.5e0", "15e-1"])
    func wholeNumbersFromTheirText(text: String) throws {
        guard case .failure(let item) = try load(column: 2, { t in t == 3 ? text : "\(t % 5)" }) else {
            Issue.record("item \(text) loaded"); return
        }
        #expect(item.description.contains("logs.csv:98") && item.description.contains("is not an integer"), "\(item)")
        guard case .failure(let click) = try load(column: 4, { t in t == 3 ? text : "\(t % 2)" }) else {
            Issue.record("click \(text) loaded"); return
        }
        // `1e-400` is refused as the number it is, nearer 0 than any 64-bit float, before it could be a click.
        let says = text == "1e-400" ? "is nearer 0 than the smallest 64-bit float" : "is not 0 or 1"
        #expect(click.description.contains("logs.csv:98") && click.description.contains(says), "\(click)")
        #expect(CSVNumber.wholeNumber(text) == nil)
    }

    @Test("whole numbers as spreadsheets write them", arguments: [
        ("3", 3), ("+3", 3), ("-0", 0), ("3.0", 3), ("3.", 3), (" 7 ", 7), ("999999999999999", 999_999_999_999_999),
        ("1e0", 1), ("01", 1), ("1.0", 1), ("+1", 1), ("1E0", 1), ("30e-1", 3), ("0.3e1", 3), ("1e+2", 100), ("0e-400", 0),
    ])
    func wholeNumberSpellings(text: String, value: Int) {
        #expect(CSVNumber.wholeNumber(text) == value)
    }

    @Test("text that is no number, or an integer of more than 15 digits, is no whole number in any spelling")
    func notWholeNumbers() {
        for text in ["1e", "e1", "1e99999", "1e15", "1000000000000000", "+", "1.0.0", "1e1.5", "0x1", " "] {
            #expect(CSVNumber.wholeNumber(text) == nil, "\(text)")
        }
    }

    @Test("a column that the schema both gives a role and ignores is refused naming it")
    func roleAndIgnored() throws {
        let schema = ShopFixture.schema.replacingOccurrences(of: "ignore = [\"note\"]", with: "ignore = [\"note\", \"device\"]")
        guard case .failure(let error) = try load(schema: schema, column: 0, { "n\($0)" }) else {
            Issue.record("a used and ignored column loaded"); return
        }
        #expect(
            error.description.contains("gives column 'device' a role and lists it in ignore"), "\(error.description)")
    }
}

/// Item ids and affinity counts hold what they claim.
@Suite("A shop's log: item ids and affinity counts")
struct ItemIdAndAffinityTests {
    @Test("a huge integral item id is out of range, not 'not an integer', and never traps")
    func hugeItemId() throws {
        for id in ["1e20", "99999999999999999999", "1000000000000000"] {
            guard case .failure(let error) = try TimeOrderAndNumberTests().load(column: 2, { t in t == 3 ? id : "\(t % 5)" })
            else { Issue.record("item \(id) loaded"); return }
            #expect(
                error.description.contains("logs.csv:98") && error.description.contains("'\(id)' is out of range"),
                "\(error)")
        }
    }

    @Test("a negative affinity count is refused naming the cell; 0 and counts load, and only counts make a row warm")
    func negativeAffinity() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        let schema = ShopFixture.schema.replacingOccurrences(of: "user = \"visitor\"\n", with: "affinity_prefix = \"past_\"\n")
            .replacingOccurrences(of: "ignore = [\"note\"]", with: "ignore = [\"note\", \"visitor\"]")
        try schema.write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        try SchemaBadInputTests.editLines(folder + "/logs.csv") { lines in
            lines[0] += (0..<5).map { ",past_\($0)" }.joined()
            for i in 1..<lines.count { lines[i] += i == 4 ? ",0,2,0,0,0" : ",0,0,0,0,0" }
        }
        let resolver = DatasetResolver(obdDirectory: "")
        let (parts, _) = try resolver.logs(folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        #expect((0..<parts.all.rows).filter { !parts.all.isCold($0) }.count == 1)
        try SchemaBadInputTests.editLines(folder + "/logs.csv") { SchemaBadInputTests.setField(&$0, line: 6, column: 12, to: "-1") }
        #expect {
            try resolver.logs(folder + "/logs.csv", schemaPath: folder + "/shop.toml")
        } throws: { error in
            "\(error)".contains("logs.csv:6") && "\(error)".contains("'past_2': '-1' is negative")
        }
    }
}
