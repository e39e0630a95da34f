import Foundation
import RecTestKit
import Testing

@testable import RecData

/// A `user` column's history counted the rows of the same timestamp earlier in the file: the click in slot 1 of a
/// slate became "earlier" history of slots 2 and 3, training on the very outcome the model is to predict, and the
/// cold/warm split changed with the order of rows within one timestamp.
@Suite("A user's history holds only earlier timestamps")
struct SameInstantHistoryTests {
    static func load(_ rows: [String]) throws -> BanditDataset {
        let temporary = try TemporaryDirectory("instant")
        defer { temporary.remove() }
        let folder = try ShopFixture.write(in: temporary.path)
        let header = "note,ts,sku,slot,clicked,p,visitor,seconds,device,age"
        try ([header] + rows).joined(separator: "\n").write(toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        return try LogLoader.load(
            logFile: folder + "/logs.csv", catalogueFile: folder + "/items.csv",
            schema: try DataSchema.parse(ShopFixture.schema, path: "shop.toml"), name: "shop")
    }

    @Test("a click in a slate is no history of its own slate, in any file order, and is history of the next one")
    func slateOutcomesStayOutOfTheirOwnSlate() throws {
        let slate = ["n,100,0,1,1,0.25,u1,0,ios,20", "n,100,1,2,0,0.25,u1,0,ios,20", "n,100,2,3,0,0.25,u1,0,ios,20"]
        let next = ["n,200,3,1,0,0.25,u1,0,ios,20"]
        for rows in [slate + next, slate.reversed() + next, [slate[1], slate[0], slate[2]] + next] {
            let data = try Self.load(rows)
            // Rows in time order; ties in file order. The three rows of time 100 see no history, the row of time 200
            // sees the click on item 0.
            for row in 0..<3 { #expect(data.affinity.entries(row).isEmpty, "\(rows): row \(row)") }
            #expect(data.affinity.entries(3).map(\.column) == [0] && data.affinity.entries(3).map(\.value) == [1], "\(rows)")
        }
    }
}

/// A blank categorical user feature became a category of the obp context (and, sorting first, the dropped one), so
/// the context was one column wider and DM and DR fitted their reward model on it.
@Suite("The obp context of a blank categorical value")
struct BlankCategoryContextTests {
    @Test("a blank value is no category: no column, and its row all 0, as pandas.get_dummies(drop_first=True) gives")
    func blankIsNoCategory() {
        let columns = CategoricalColumns(names: ["device"], rows: [["ios"], ["web"], [""], ["android"], ["web"]])
        let context = columns.dummiesDroppingFirst()
        // Categories android < ios < web; android dropped.
        #expect(context.columnNames == ["device_ios", "device_web"])
        #expect((0..<5).map { context.row($0) } == [[1, 0], [0, 1], [0, 0], [0, 0], [0, 1]])
        let noBlank = CategoricalColumns(names: ["device"], rows: [["ios"], ["web"], ["android"]]).dummiesDroppingFirst()
        #expect(noBlank.columnNames == context.columnNames)
    }
}

/// RECOMMEND may leave a numeric user feature out, and `recpool logs export` writes that cell blank: the log its own
/// schema names was refused ("'' is not a number"), so `data describe` and `fit` could not read the export.
@Suite("A blank numeric user feature is missing")
struct BlankNumericFeatureTests {
    @Test("it loads as missing: NaN as read, the column's mean in the context, the training mean once specified")
    func blankNumericIsMissing() throws {
        let rows = (0..<10).map { t in "n,\(100 + t),\(t % 5),1,\(t % 2),0.25,u\(t),0,ios,\(t == 3 ? "" : "\(20 + t)")" }
        let data = try SameInstantHistoryTests.load(rows)
        let age = try #require(data.userNumeric.columnNames.firstIndex(of: "age"))
        #expect(data.userNumericRaw[3 * data.userNumeric.columns + age].isNaN)
        let others = (0..<10).filter { $0 != 3 }.map { Double(20 + $0) }
        let mean = others.reduce(0, +) / Double(others.count)
        #expect(abs(Double(data.userNumeric[3, age]) - mean) < 1e-4)
        #expect(data.context.values.allSatisfy(\.isFinite) && data.userNumeric.values.allSatisfy(\.isFinite))
        #expect(data.userContext(3)["age"] == nil && data.userContext(4)["age"] == "24.0")
        // The feature specification is fitted on the values present and scores the missing one as its mean (0).
        let spec = try FeatureSpec.fit(on: data, featureSet: .extended)
        #expect(spec.userNumericValues(numbers: data.userNumericRawValues(3)) == [0])
        let scaling = try #require(spec.userNumericScalings?.first)
        #expect(abs(scaling.mean - mean) < 1e-9)
    }
}
