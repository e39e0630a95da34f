import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// `data ope --online`: the online policy as a candidate evaluated on logged rows is the policy the pool serves.
@Suite("The online policy as an off-policy candidate")
struct OnlinePolicyOffPolicyTests {
    @Test("a retired item gets probability 0, and every row is the served first slot's distribution over active items")
    func retiredItemsHaveNoProbability() throws {
        let data = handMadeLog(rows: 8)
        var catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: (0..<4).map { "is\($0)" }), ids: ["0", "1", "2", "3"],
            features: (0..<16).map { $0 % 5 == 0 ? 1 : 0 })
        try catalogue.retire(id: "2")
        let policy = try oneHotPolicy().with(catalogue: catalogue)
        let distribution = try policy.actionDistribution(on: data)
        for row in 0..<data.rows {
            #expect(distribution[row, 2] == 0)
            let sum = (0..<4).reduce(0.0) { $0 + distribution[row, $1] }
            #expect(abs(sum - 1) < 1e-12)
            // The first slot as serving draws it: over the active rows 0, 1 and 3.
            let features = data.userFeatures.dictionary(row)
            for item in [0, 1, 3] {
                let served = try policy.slotProbabilities(userFeatures: features, slate: [item])[0]
                #expect(abs(distribution[row, item] - served) < 1e-12)
            }
        }
    }

    @Test("a catalogue whose every item is retired is refused by name")
    func everyItemRetired() throws {
        var catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: (0..<4).map { "is\($0)" }), ids: ["0", "1", "2", "3"],
            features: (0..<16).map { $0 % 5 == 0 ? 1 : 0 })
        for id in ["0", "1", "2", "3"] { try catalogue.retire(id: id) }
        let policy = try oneHotPolicy().with(catalogue: catalogue)
        #expect(throws: PolicyError.noActiveItem) {
            try policy.actionDistribution(on: handMadeLog(rows: 4))
        }
    }
}
