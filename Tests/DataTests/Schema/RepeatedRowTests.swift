import Testing

@testable import RecData

/// A log written twice (a retried export appended to the file) reads each copy as its own impression: every row is
/// learnt and weighed twice. The rows are kept, as two identical impressions can be real, but counted and named, so a
/// shop sees it in `data describe` and in every off-policy report.
@Suite("Rows that repeat an earlier row in every column are counted, and the reports say so")
struct RepeatedRowTests {
    static let header = "ts,item,pos,click,prop,device"
    static func rows(_ range: Range<Int>) -> [String] {
        range.map { t in "\(t),\(t % 3),1,\(t % 4 == 0 ? 1 : 0),0.3333,\(["ios", "web"][t % 2])" }
    }

    static func load(_ lines: [String]) throws -> BanditDataset {
        try SmallLog.build(
            ([header] + lines).joined(separator: "\n"), userFeatures: ["device": "categorical"], items: 3,
            name: "repeats.csv")
    }

    @Test("a log appended to itself: every second copy is counted, the first on its own line")
    func appendedTwice() throws {
        let once = Self.rows(0..<12)
        let data = try Self.load(once + once)
        // The header is line 1, the twelve rows lines 2–13: the first copy of row 0 is line 14.
        #expect(data.rows == 24 && data.repeatedRows == 12 && data.firstRepeatedLine == 14)
        let note = try #require(data.repeatedRowsNote)
        #expect(note.hasPrefix("12 rows of the log repeat an earlier row") && note.contains("line 14"), "\(note)")
        #expect(DatasetDescription(data).repeatedRows == 12)
        // Parts of the log keep the whole log's count, as the reports over a split name the log.
        #expect(data.subset([0, 1]).repeatedRows == 12)
        let report = OffPolicyEvaluation.evaluate(
            policy: ActionDistribution(nActions: 3, probabilities: [Double](repeating: 1.0 / 3, count: 24 * 3)),
            policyName: "uniform", on: data, resamples: 0)
        #expect(report.notes.contains(note), "\(report.notes)")
    }

    @Test("rows alike in everything but one field are not repeats; one repeat is named in the singular")
    func nearRepeats() throws {
        var lines = Self.rows(0..<6)
        lines.append("5,2,1,1,0.3333,web")  // row 5 with another click
        lines.append("5,2,1,0,0.3333,ios")  // and another device
        let distinct = try Self.load(lines)
        #expect(distinct.repeatedRows == 0 && distinct.firstRepeatedLine == nil && distinct.repeatedRowsNote == nil)
        lines.append(lines[2])
        let once = try Self.load(lines)
        #expect(once.repeatedRows == 1 && once.firstRepeatedLine == 10)
        #expect(once.repeatedRowsNote?.hasPrefix("1 row of the log repeats an earlier row") == true)
    }
}
