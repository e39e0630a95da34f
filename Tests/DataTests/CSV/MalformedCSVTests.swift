import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

@Suite("Malformed CSV input")
struct MalformedCSVTests {
    /// Writes a copy of the fixture with one line replaced (or removed) into `folder` and returns the
    /// data-file and item-context paths.
    static func corruptedFixture(
        line: Int, in folder: TemporaryDirectory, replacement: (String) -> String?
    ) throws -> (data: String, items: String) {
        let source = Paths.fixtures + "/obd/random/men"
        let dir = folder.path
        var lines = try String(contentsOfFile: source + "/men.csv", encoding: .utf8).components(separatedBy: "\n")
        if let new = replacement(lines[line - 1]) { lines[line - 1] = new } else { lines.remove(at: line - 1) }
        try lines.joined(separator: "\n").write(toFile: dir + "/men.csv", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: source + "/item_context.csv", toPath: dir + "/item_context.csv")
        return (dir + "/men.csv", dir + "/item_context.csv")
    }

    static func load(_ files: (data: String, items: String)) throws(DataError) -> BanditDataset {
        try OBDLoader.load(dataFile: files.data, itemContextFile: files.items, name: "bad")
    }

    @Test("a missing file is reported by path")
    func missingFile() {
        #expect(throws: DataError.file(.unreadable(path: "/nonexistent/men.csv", operation: "open", errno: ENOENT))) {
            try OBDLoader.load(
                dataFile: "/nonexistent/men.csv", itemContextFile: Paths.fixtures + "/obd/random/men/item_context.csv",
                name: "x")
        }
    }

    @Test("a missing column is reported by name")
    func missingColumn() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let files = try Self.corruptedFixture(line: 1, in: temporary) { $0.replacingOccurrences(of: ",click,", with: ",clicked,") }
        #expect(throws: DataError.file(.missingColumn(path: files.data, name: "click"))) { try Self.load(files) }
    }

    @Test("a non-numeric field is reported with file, line and column")
    func nonNumeric() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let files = try Self.corruptedFixture(line: 5, in: temporary) { line in
            var fields = line.components(separatedBy: ",")
            fields[5] = "abc"
            return fields.joined(separator: ",")
        }
        let error = #expect(throws: DataError.self) { try Self.load(files) }
        #expect(
            error
                == .file(
                    .invalidValue(
                        path: files.data, line: 5, column: 6, name: "propensity_score", text: "abc",
                        reason: "is not a number")))
        #expect(error?.description.contains("men.csv:5: column 6 'propensity_score'") == true)
    }

    @Test("a ragged row is reported with its line and field counts")
    func ragged() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let files = try Self.corruptedFixture(line: 10, in: temporary) { $0 + ",extra" }
        #expect(throws: DataError.file(.raggedRow(path: files.data, line: 10, expected: 44, found: 45))) {
            try Self.load(files)
        }
    }

    @Test("a click that is not 0 or 1 is an invalid value")
    func badClick() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let files = try Self.corruptedFixture(line: 3, in: temporary) { line in
            var fields = line.components(separatedBy: ",")
            fields[4] = "2"
            return fields.joined(separator: ",")
        }
        let error = #expect(throws: DataError.self) { try Self.load(files) }
        guard case .file(.invalidValue(_, 3, 5, "click", "2", _))? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
    }

    @Test("an empty file is rejected")
    func empty() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let dir = temporary.path
        try "".write(toFile: dir + "/e.csv", atomically: true, encoding: .utf8)
        #expect(throws: DataError.file(.empty(path: dir + "/e.csv"))) { try CSVTable.read(path: dir + "/e.csv") }
    }

    @Test("quoted fields and CRLF line endings parse")
    func quoting() throws {
        let table = try CSVTable.parse(Array("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\r\n".utf8), path: "q.csv")
        #expect(table.rows == [["x,1", "say \"hi\""]])
        #expect(table.lines == [2])
    }

    @Test("a byte-order mark before the header leaves the first column's name intact, and every row is read")
    func byteOrderMark() throws {
        let temporary = try TemporaryDirectory("data")
        defer { temporary.remove() }
        let files = try Self.corruptedFixture(line: 1, in: temporary) { "\u{FEFF}" + $0 }
        let plain = try Self.load((Paths.fixtures + "/obd/random/men/men.csv", files.items))
        let marked = try Self.load(files)
        #expect(marked.rows == plain.rows && marked.rows == 400)
        #expect(marked.pscore == plain.pscore)
        #expect(try CSVTable.read(path: files.data).header.prefix(2) == ["", "timestamp"])
    }

    @Test("a table whose first column is named [item] is read; a JSON document is refused as JSON, not as a header")
    func bracketedNameIsNotJSON() throws {
        let table = try CSVTable.parse(Array("[item],price\nA,2\n".utf8), path: "c.csv")
        #expect(table.header == ["[item]", "price"] && table.rows == [["A", "2"]])
        #expect(throws: DataError.file(.jsonNotCSV(path: "j.csv"))) {
            try CSVTable.parse(Array(#"[{"item": "A", "price": 2}]"#.utf8), path: "j.csv")
        }
    }
}
