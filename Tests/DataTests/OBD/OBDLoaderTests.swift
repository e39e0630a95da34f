import Testing

@testable import RecData

@Suite("Open Bandit Dataset loader")
struct OBDLoaderTests {
    struct Expected: Sendable, CustomStringConvertible {
        let source: String
        let clicks: Int
        let contextWidth: Int
        let items: Int
        /// The basic and extended feature widths docs/DATA.md's table gives.
        let widths: (basic: Int, extended: Int)
        var description: String { source }
    }

    static let expected: [Expected] = [
        .init(source: "random/all", clicks: 38, contextWidth: 20, items: 80, widths: (68, 184)),
        .init(source: "random/men", clicks: 46, contextWidth: 21, items: 34, widths: (56, 159)),
        .init(source: "random/women", clicks: 46, contextWidth: 19, items: 46, widths: (60, 168)),
        .init(source: "bts/all", clicks: 42, contextWidth: 22, items: 80, widths: (71, 187)),
        .init(source: "bts/men", clicks: 69, contextWidth: 22, items: 34, widths: (57, 160)),
        .init(source: "bts/women", clicks: 46, contextWidth: 19, items: 46, widths: (60, 168)),
    ]

    @Test(
        "each OBD file reproduces obp's rows, clicks, context width and items",
        .enabled(if: Paths.hasOBD, Paths.obdMissing), arguments: expected)
    func figures(_ e: Expected) throws {
        let data = try OBDCache.load(e.source)
        #expect(data.rows == 10_000)
        #expect(data.clicks == e.clicks)
        #expect(data.context.columns == e.contextWidth)
        #expect(data.nActions == e.items)
        #expect(data.nPositions == 3)
        #expect(data.actionContext.columns == 4)
        #expect(Set(data.position) == [0, 1, 2])
        let parts = SplitDataset(data), (train, test) = (parts.train, parts.test)
        #expect(train.rows == 6_000 && parts.validation.rows == 1_000 && test.rows == 3_000)
        let cold = Double(data.rows(in: .coldStart).count) / Double(data.rows)
        #expect(cold > 0.94 && cold < 0.97)
        let description = DatasetDescription(parts)
        #expect(description.basicFeatureWidth == e.widths.basic)
        #expect(description.extendedFeatureWidth == e.widths.extended)
    }

    @Test("random-policy propensities are 1/80, 1/34 and 1/46", .enabled(if: Paths.hasOBD, Paths.obdMissing))
    func randomPscores() throws {
        for (campaign, n) in [("all", 80.0), ("men", 34.0), ("women", 46.0)] {
            let data = try OBDCache.load("random/\(campaign)")
            #expect(data.pscore.allSatisfy { abs($0 - 1 / n) < 1e-12 })
        }
    }

    @Test("the committed fixture loads with obp's feature construction")
    func fixture() throws {
        let data = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        #expect(data.rows == 400)
        #expect(data.clicks == 5)
        #expect(data.nActions == 34)
        #expect(data.rows(in: .warm).count == 33)
        // Dummies: one column per category except the first of each user feature, in sorted order.
        let categories = data.userFeatures.categories
        #expect(data.context.columns == categories.reduce(0) { $0 + $1.count - 1 })
        #expect(data.context.columnNames.first == "user_feature_0_" + categories[0][1])
        for row in 0..<data.rows {
            let ones = data.context.row(row).filter { $0 == 1 }.count
            let firsts = (0..<4).filter { data.userFeatures.codes[row * 4 + $0] == 0 }.count
            #expect(ones + firsts == 4)
        }
        // Action context: label codes of item_feature_1..3 then item_feature_0 of item 0.
        #expect(
            data.actionContext.columnNames == ["item_feature_1", "item_feature_2", "item_feature_3", "item_feature_0"])
        // Label codes computed independently with Python's sorted(set(...)).
        #expect(Array(data.actionContext.row(0)) == [5, 11, 3, Float(-0.6771831139635117)])
        #expect(Array(data.actionContext.row(1)) == [1, 11, 3, Float(-0.7202996418188664)])
        #expect(Array(data.actionContext.row(33)) == [2, 11, 3, Float(-0.6125083221804798)])
    }
}
