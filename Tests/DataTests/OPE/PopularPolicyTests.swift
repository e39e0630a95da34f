import Testing

@testable import RecData

/// `data ope --policy popular`: always the training split's most clicked item (ties shared equally), as its help and
/// docs/DATA.md say.
@Suite("The popular candidate")
struct PopularPolicyTests {
    /// A log over 3 items: item `k` shown `shows[k]` times with `clicks[k]` clicks.
    static func log(shows: [Int], clicks: [Int]) -> BanditDataset {
        var action: [Int] = []
        var reward: [Double] = []
        for item in shows.indices {
            for n in 0..<shows[item] {
                action.append(item)
                reward.append(n < clicks[item] ? 1 : 0)
            }
        }
        let rows = action.count
        var affinity = SparseRows()
        for _ in 0..<rows { affinity.append([(Int, Float)]()) }
        return BanditDataset(
            name: "popular", nActions: shows.count, nPositions: 1, action: action,
            position: [Int](repeating: 0, count: rows), reward: reward,
            pscore: [Double](repeating: 1 / Double(shows.count), count: rows),
            userFeatures: CategoricalColumns(names: ["country"], rows: (0..<rows).map { _ in ["de"] }),
            context: FeatureMatrix(rows: rows, columnNames: [], values: []),
            actionContext: FeatureMatrix(rows: shows.count, columnNames: [], values: []), affinity: affinity,
            itemNumericColumns: 0)
    }

    @Test("the most clicked item, not the highest smoothed click rate: 20 clicks in 1,000 shows beat 3 in 10")
    func mostClickedNotSmoothedRate() throws {
        let train = Self.log(shows: [1_000, 10, 50], clicks: [20, 3, 0])
        #expect(ActionDistribution.mostClicked(in: train) == [0])
        // The smoothed rate the command used before ranks item 1 first.
        let popularity = try FeatureSpec.fit(on: train).popularity
        #expect(popularity[1] > popularity[0])
    }

    @Test("items tied for the most clicks share the choice equally; a log without clicks ties every item")
    func ties() {
        #expect(ActionDistribution.mostClicked(in: Self.log(shows: [5, 5, 5], clicks: [1, 2, 2])) == [1, 2])
        #expect(ActionDistribution.mostClicked(in: Self.log(shows: [5, 5, 5], clicks: [0, 0, 0])) == [0, 1, 2])
        let train = Self.log(shows: [5, 5, 5], clicks: [1, 2, 2])
        let popular = ActionDistribution.popular(in: train, rows: 2)
        #expect(popular.probabilities == [0, 0.5, 0.5, 0, 0.5, 0.5])
    }
}
