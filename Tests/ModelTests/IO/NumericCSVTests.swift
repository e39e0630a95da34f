import Testing

@testable import RecModel

@Suite("Numeric CSV input")
struct NumericCSVTests {
    @Test("a header with a label column gives features and targets")
    func labeled() throws {
        let csv = try NumericCSV.parse("a, label ,b\n1,0,2\n\n3,1,4\r\n", path: "t.csv", headerRequired: true)
        let data = try csv.labeledData()
        #expect(data.inputs == Matrix(rowArrays: [[1, 2], [3, 4]]))
        #expect(data.targets == [0, 1])
        #expect(csv.lines == [2, 4])
    }

    @Test("a headerless file is all data, and a label column is dropped for scoring")
    func headerless() throws {
        #expect(try NumericCSV.parse("1,2\n3,4\n", path: "r.csv").features(width: 2) == Matrix(rowArrays: [[1, 2], [3, 4]]))
        #expect(try NumericCSV.parse("x,label\n1,0\n", path: "r.csv").features(width: 1) == Matrix(rowArrays: [[1]]))
    }

    @Test(
        "bad input is a typed error naming file, line and column",
        arguments: [
            ("1,2\n3\n", CSVError.raggedRow(path: "f.csv", line: 2, expected: 2, found: 1)),
            ("1,2\n3,abc\n", .nonNumeric(path: "f.csv", line: 2, column: 2, text: "abc")),
            ("a,b\n1,2\nNaN,2\n", .notFinite(path: "f.csv", line: 3, column: 1, text: "NaN")),
            ("1,inf\n", .notFinite(path: "f.csv", line: 1, column: 2, text: "inf")),
            ("a,b\n", .empty(path: "f.csv")),
        ])
    func badInput(text: String, error: CSVError) {
        #expect(throws: error) { try NumericCSV.parse(text, path: "f.csv") }
    }

    @Test("a wrong width, a missing label column and a label outside [0, 1] are named")
    func semanticErrors() throws {
        let csv = try NumericCSV.parse("a,b\n1,2\n", path: "f.csv")
        #expect(throws: CSVError.wrongWidth(path: "f.csv", expected: 3, found: 2)) { try csv.features(width: 3) }
        #expect(throws: CSVError.missingColumn(path: "f.csv", name: "label")) { try csv.labeledData() }
        let bad = try NumericCSV.parse("a,label\n1,2\n", path: "f.csv")
        #expect(throws: CSVError.invalidLabel(path: "f.csv", line: 2, column: 2, value: 2)) { try bad.labeledData() }
        #expect(CSVError.nonNumeric(path: "f.csv", line: 3, column: 2, text: "x").description == "f.csv:3:2: not a number: \"x\"")
        // A helper's case: an item id holding a newline or a tab broke the message across lines, printed raw.
        let field = CSVError.invalidValue(
            path: "items.csv", line: 4, column: 1, name: "sku", text: "line\nbreak\tx\u{1}", reason: "is not an item id")
        #expect(field.description == #"items.csv:4: column 1 'sku': 'line\nbreak\tx\u{1}' is not an item id"#)
        // 1e308 is finite, but not as a 32-bit float: said so, not called "not a finite number".
        #expect(throws: CSVError.notFinite(path: "f.csv", line: 1, column: 1, text: "1e308")) {
            try NumericCSV.parse("1e308,1\n", path: "f.csv")
        }
        #expect(
            CSVError.notFinite(path: "f.csv", line: 1, column: 1, text: "1e39").description
                == "f.csv:1:1: \"1e39\" is beyond a 32-bit float's range (±3.4e38), which the model reads")
        #expect(CSVError.notFinite(path: "f.csv", line: 1, column: 2, text: "inf").description == "f.csv:1:2: not a finite number: \"inf\"")
    }

    @Test("a missing file is an unreadable error with errno")
    func missing() {
        #expect(throws: CSVError.unreadable(path: "/no/such.csv", operation: "open", errno: 2)) {
            try NumericCSV.read(path: "/no/such.csv")
        }
    }

    @Test("a header naming a column twice is refused naming it and both positions, so a second label cannot be a feature")
    func duplicateColumn() {
        #expect(throws: CSVError.duplicateColumn(path: "f.csv", name: "label", first: 2, second: 3)) {
            try NumericCSV.parse("a,label,label\n1,0,0\n", path: "f.csv", headerRequired: true)
        }
        #expect(throws: CSVError.duplicateColumn(path: "f.csv", name: "x", first: 1, second: 3)) {
            try NumericCSV.parse("x,y,x\n1,2,3\n", path: "f.csv")
        }
    }

    @Test("a file whose only column is the label has no feature columns: a typed error, never a zero-width model")
    func onlyLabel() throws {
        let csv = try NumericCSV.parse("label\n1\n0\n", path: "f.csv", headerRequired: true)
        #expect(throws: CSVError.noFeatureColumns(path: "f.csv", label: "label")) { try csv.labeledData() }
        #expect(CSVError.noFeatureColumns(path: "f.csv", label: "label").description.contains("has no rows or no feature columns"))
    }

    /// `recpool predict` given JSON rows said "no data rows"; `fit` and `train` read CSV only and now say so.
    @Test("JSON where only CSV is read is refused as JSON, never read as a header line", arguments: [
        "[[1, 2], [3, 4]]\n", "  [[1,2]]", "{\"rows\": [[1, 2]]}\n", "[\n[1, 0]\n]\n",
    ])
    func jsonIsNotCSV(_ text: String) {
        #expect(throws: CSVError.jsonNotCSV(path: "r.csv")) { try NumericCSV.parse(text, path: "r.csv") }
        #expect(throws: CSVError.jsonNotCSV(path: "r.csv")) {
            try NumericCSV.parse(text, path: "r.csv", headerRequired: true)
        }
        #expect(CSVError.jsonNotCSV(path: "r.csv").description.contains("this is JSON"))
    }

    @Test("a CSV whose first field only starts with [ or { is CSV, not JSON; JSON with an escaped quote is JSON")
    func bracketedHeaderIsCSV() throws {
        let csv = try NumericCSV.parse("[a],{b},label\n1,2,0\n", path: "f.csv", headerRequired: true)
        #expect(csv.header == ["[a]", "{b}", "label"] && csv.table.rows == 1)
        let quoted = try NumericCSV.parse("\"{x}\",y\n1,2\n", path: "f.csv")
        #expect(quoted.header == ["{x}", "y"])
        let file = try CSVFile.parse("[id],name\n1,a\n", path: "f.csv")
        #expect(file.records.count == 2)
        #expect(throws: CSVError.jsonNotCSV(path: "j.csv")) {
            try NumericCSV.parse(#"{"note": "a \"quoted\" word", "rows": [[1]]}"#, path: "j.csv")
        }
    }
}
