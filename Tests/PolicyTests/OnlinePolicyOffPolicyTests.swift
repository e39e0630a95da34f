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

    @Test("a logged row's viewed items reach the policy as they reached it when it served: warm start learns from them, OPE scores with them")
    func viewedHistoryIsThePolicysInput() throws {
        // Every row of user "de" viewed item 3 for 30 s and clicks item 0; ignoring the views, warm start and OPE
        // evaluated (and trained) another user than the one the policy served.
        var data = handMadeLog(rows: 400)
        var views = SparseRows()
        for row in 0..<data.rows { views.append(row % 2 == 0 ? [(3, Float(30))] : [(2, Float(4)), (1, Float(20))]) }
        data.viewedSeconds = views
        #expect(data.viewedItems(1) == [ViewedItem(item: 2, seconds: 4), ViewedItem(item: 1, seconds: 20)])
        // Softmax: its probabilities move with every score (ε-greedy's only when the best item changes).
        var features = [Float](repeating: 0, count: 16)
        for k in 0..<4 { features[k * 4 + k] = 1 }
        let catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: (0..<4).map { "is\($0)" }), ids: (0..<4).map { "\($0)" },
            features: features)
        let spec = OnlinePolicySpec.make(
            catalogue: catalogue, userFeatures: [.init("country", .categorical)], vocabularies: ["country": ["de", "fr"]],
            exploration: ExplorationSpec(kind: .softmax, temperature: 0.05))
        let trained = try WarmStart.train(try OnlinePolicy.initial(spec: spec), on: data).policy
        let distribution = try trained.actionDistribution(on: data)
        for row in [0, 1, 2, 3] {
            let features = data.userFeatures.dictionary(row)
            for item in 0..<4 {
                let served = try trained.slotProbabilities(userFeatures: features, viewed: data.viewedItems(row), slate: [item])[0]
                #expect(abs(distribution[row, item] - served) < 1e-12, "row \(row) item \(item)")
            }
        }
        // The views matter to the trained policy: the same user without them gets other probabilities.
        let de = data.userFeatures.dictionary(0)
        let withViews = try trained.slotProbabilities(userFeatures: de, viewed: data.viewedItems(0), slate: [0])[0]
        let without = try trained.slotProbabilities(userFeatures: de, slate: [0])[0]
        #expect(abs(withViews - without) > 1e-6, "\(withViews) \(without)")
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
