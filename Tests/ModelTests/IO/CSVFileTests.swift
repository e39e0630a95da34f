import Foundation
import Testing

@testable import RecModel

@Suite("The one CSV reader")
struct CSVFileTests {
    @Test("a UTF-8 byte-order mark before headerless rows keeps every row")
    func byteOrderMark() throws {
        let bytes = Array("\u{FEFF}0.1,0.2,0.3,0.4\n0.9,0.1,0.2,0.3\n0.5,0.5,0.5,0.5\n".utf8)
        #expect(bytes.prefix(3) == [0xEF, 0xBB, 0xBF])
        let csv = try NumericCSV.parse(bytes, path: "bom.csv")
        #expect(csv.header == nil)
        #expect(csv.table.rows == 3)
        #expect(csv.table == Matrix(rowArrays: [[0.1, 0.2, 0.3, 0.4], [0.9, 0.1, 0.2, 0.3], [0.5, 0.5, 0.5, 0.5]]))
        #expect(csv.lines == [1, 2, 3])
        // The same through the text entry point and with a header.
        #expect(try NumericCSV.parse("\u{FEFF}0.1,0.2\n", path: "t.csv").table.rows == 1)
        #expect(try NumericCSV.parse(Array("\u{FEFF}a,b\n1,2\n".utf8), path: "h.csv").header == ["a", "b"])
    }

    @Test("CRLF, quoted fields, quoted numbers and blank lines parse, and lines are counted across them")
    func realFiles() throws {
        let text = "a,\"b, the second\",label\r\n\r\n\"1.5\", 2 ,\"1\"\r\n   \r\n3,\"4\",0\r\n"
        let csv = try NumericCSV.parse(text, path: "r.csv", headerRequired: true)
        #expect(csv.header == ["a", "b, the second", "label"])
        #expect(csv.table == Matrix(rowArrays: [[1.5, 2, 1], [3, 4, 0]]))
        #expect(csv.lines == [3, 5])
        let file = try CSVFile.parse("x,y\n\"two\nlines\",1\nz,2\n", path: "q.csv")
        #expect(file.records == [["x", "y"], ["two\nlines", "1"], ["z", "2"]])
        #expect(file.lines == [1, 2, 4])
    }

    @Test("a first row with one bad field is an error on line 1, never a silently dropped header")
    func noSilentHeader() {
        #expect(throws: CSVError.nonNumeric(path: "f.csv", line: 1, column: 2, text: "x")) {
            try NumericCSV.parse("0.1,x,0.3\n0.4,0.5,0.6\n", path: "f.csv")
        }
    }

    @Test("bytes that are not UTF-8 are refused naming the line")
    func notUTF8() {
        let bytes = Array("1,2\n3,4\n".utf8) + [0xFF, 0x2C, 0x35, 0x0A]
        #expect(throws: CSVError.notUTF8(path: "b.csv", line: 3)) { try CSVFile.parse(bytes, path: "b.csv") }
    }

    @Test("a missing file is unreadable and says so")
    func missingFile() {
        let error = #expect(throws: CSVError.self) { try CSVFile.read(path: "/no/such/file.csv") }
        #expect(error?.isFileNotFound == true)
        #expect(error?.description.contains("/no/such/file.csv: cannot read") == true)
    }

    @Test("an unclosed quoted field is an error, never a silent swallow of the rows after it")
    func unbalancedQuote() {
        #expect(throws: CSVError.unbalancedQuote(path: "u.csv", line: 2)) {
            try CSVFile.parse("1,2\n3,\"4\n5,6\n7,8\n", path: "u.csv")
        }
    }

    @Test("a stray quote inside an unquoted field is blamed on its own line, not the file's last", arguments: [
        ("a,b\n1,2\n3,i\"s\n5,6\n7,8\n", 3), ("a,b\n\"x,y\",2\n3,\"4\n5,6\n", 3), ("a,b\n\"p\"\"q\",1\n2,3\"\n4,5\n", 3),
    ])
    func strayQuoteLine(text: String, line: Int) {
        #expect(throws: CSVError.unbalancedQuote(path: "s.csv", line: line)) { try CSVFile.parse(text, path: "s.csv") }
    }

    /// The quotes of `"io"s` pair up, so the count passed; the reader then kept the field open and swallowed every
    /// later row into it (a 60-row log loaded as 5 rows, exit 0).
    @Test("a closing quote followed by anything but a comma or a line end is refused on its own line", arguments: [
        ("a,b\n1,2\n3,\"io\"s\n5,6\n7,8\n", 3), ("a,b\n1,\"x\" \n2,3\n", 2), ("a,b\n\"p\"q,1\n2,3\n", 2),
    ])
    func textAfterAClosingQuote(text: String, line: Int) {
        #expect(throws: CSVError.unbalancedQuote(path: "q.csv", line: line)) { try CSVFile.parse(text, path: "q.csv") }
    }

    @Test("well-formed quoted fields still read: doubled quotes, commas and line breaks inside, CRLF after")
    func wellFormedQuotes() throws {
        let file = try CSVFile.parse("a,b\r\n\"x,\"\"y\"\"\",2\r\n\"multi\nline\",3\r\n", path: "w.csv")
        #expect(file.records == [["a", "b"], ["x,\"y\"", "2"], ["multi\nline", "3"]])
    }

    /// The parser ended a field at a NUL: `1,2,3\0junk` scored as 1,2,3 and `1,2\03` as two fields.
    @Test("a NUL character anywhere is refused naming its line and column, in rows, quoted fields and the header", arguments: [
        ("a,b,c\n1,2,3\u{0}junk\n", 2, 6),
        ("1,2\u{0}3\n", 1, 4),
        ("x\n\"q\u{0}\",1\n", 2, 3),
        ("a\u{0}b,c\n1,2\n", 1, 2),
        ("é,b\nü,\u{0}\n", 2, 3),
    ])
    func nulCharacter(text: String, line: Int, column: Int) {
        #expect(throws: CSVError.nulCharacter(path: "n.csv", line: line, column: column)) {
            try CSVFile.parse(Array(text.utf8), path: "n.csv")
        }
        #expect("\(CSVError.nulCharacter(path: "n.csv", line: line, column: column))" == "n.csv:\(line):\(column): holds a NUL character (U+0000), which no CSV field may hold")
    }

    /// UTF-16 (a spreadsheet's "Unicode text") holds a NUL in every other byte: it was named as a NUL on line 1.
    @Test("a UTF-16 file, by its byte-order mark, is not UTF-8 text, never a NUL character", arguments: [true, false])
    func utf16(littleEndian: Bool) {
        var bytes: [UInt8] = littleEndian ? [0xFF, 0xFE] : [0xFE, 0xFF]
        for unit in "a,b\n1,2\n".utf16 {
            bytes += littleEndian ? [UInt8(unit & 0xFF), UInt8(unit >> 8)] : [UInt8(unit >> 8), UInt8(unit & 0xFF)]
        }
        #expect(throws: CSVError.notUTF8(path: "u16.csv", line: 1)) { try CSVFile.parse(bytes, path: "u16.csv") }
    }

    /// In a file whose lines end in a lone `\r` (DATA.md: records end with `\n`, `\r\n` or `\r`), a NUL on line 4 was
    /// named at `1:39`, an unbalanced quote and bytes that are not UTF-8 at line 1.
    @Test("lines ending in a lone CR, or in CRLF, are counted in NUL, quote and UTF-8 errors", arguments: ["\r", "\r\n"])
    func carriageReturnLines(end: String) {
        let lines = ["f0,f1,f2", "0.1,0.2,0.3", "0.4,0.5,0.6"]
        let head = lines.joined(separator: end) + end
        #expect(throws: CSVError.nulCharacter(path: "c.csv", line: 4, column: 6)) {
            try CSVFile.parse(Array((head + "0.7,0\u{0}8,0.9" + end).utf8), path: "c.csv")
        }
        #expect(throws: CSVError.nulCharacter(path: "c.csv", line: 4, column: 6)) {
            try CSVFile.parse(head + "0.7,0\u{0}8,0.9" + end, path: "c.csv")
        }
        #expect(throws: CSVError.unbalancedQuote(path: "c.csv", line: 4)) {
            try CSVFile.parse(head + "0.7,0\"8,0.9" + end, path: "c.csv")
        }
        // A quoted field over lines 4–5, then a field opened on line 6 and never closed.
        #expect(throws: CSVError.unbalancedQuote(path: "c.csv", line: 6)) {
            try CSVFile.parse(head + "\"a" + end + "b\",1" + end + "2,\"3" + end + "4,5" + end, path: "c.csv")
        }
        #expect(throws: CSVError.notUTF8(path: "c.csv", line: 4)) {
            try CSVFile.parse(Array(head.utf8) + [0x30, 0x2C, 0xFF, 0x2C, 0x31] + Array(end.utf8), path: "c.csv")
        }
    }

    /// `recpool data features` replaced a comma in a column name with `;` and wrote a quote or a line break raw, so
    /// `fit` refused the header or read it as other names.
    @Test("a field written by field(_:) reads back as the same text, whatever it holds", arguments: [
        "plain", "device=tablet 10\" ios", "web, mobile", "and\nroid", "cr\r\nlf", "\"", ",", "", "wéb 🌐",
    ])
    func fieldRoundTrip(text: String) throws {
        let line = [CSVFile.field(text), CSVFile.field("next")].joined(separator: ",") + "\n"
        let parsed = try CSVFile.parse(line + "1,2\n", path: "f.csv")
        #expect(parsed.records.first == [text, "next"] || (text.isEmpty && parsed.records.first == ["", "next"]))
        #expect(parsed.records.count == 2)
    }
}
