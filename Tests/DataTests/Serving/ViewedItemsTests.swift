import Foundation
import RecModel
import Testing

@testable import RecData

/// What `events` do to a ranking: interest read from the viewed items' categories, weighted by dwell, through
/// bounded columns; never a value far outside the training range (the old z-scored affinity put one view about 16
/// standard deviations out on OBD, and items 49, 6, 17 and 14 fell from rank 1 to 79 of 80).
@Suite("Viewed items in a recommendation")
struct ViewedItemsTests {
    /// Simulated logs where warm users' past clicks follow their interests, so viewing an item predicts clicking it
    /// and items with the same dominant topic.
    static let world: SimulatorWorld = {
        var config = SimulatorConfig()
        config.users = 4_000
        config.items = 12
        config.warmFraction = 0.4
        config.seed = 11
        return SimulatorWorld(config: config)
    }()
    static let data = world.loggedData(rows: 40_000, policy: .uniform, seed: 3)
    static let trained: (spec: FeatureSpec, recommender: Recommender) = {
        let train = SplitDataset(data).train
        // The version-2 item one-hot: this small model (hidden 16, 4 epochs) learns the view rule from it; with
        // version 3's crosses and pooled history it raises similar items for fewer pairs (docs/BENCHMARKS.md, fit).
        let spec = try! FeatureSpec.fit(on: train, itemIdEncoding: nil)
        let features = spec.matrix(train)
        var trainer = MLPTrainer(model: MLP(inputWidth: spec.width, hiddenSizes: [16], seed: 5))
        _ = trainer.fit(
            LabeledData(
                inputs: Matrix(rows: features.rows, cols: spec.width, values: features.values),
                targets: train.reward.map(Float.init)),
            config: TrainingConfig(epochs: 4, batchSize: 64, validationFraction: 0, seed: 2,
                optimizer: .adam(AdamConfig(learningRate: 0.01))))
        return (spec, Recommender(spec: spec, scorer: CheckpointEvaluation.scorer(trainer.model)))
    }()

    static func ranks(_ query: RecommendQuery) throws -> [Int: Int] {
        var q = query
        q.top = trained.spec.itemCount
        let reply = try trained.recommender.recommend(q)
        return Dictionary(uniqueKeysWithValues: reply.items.enumerated().map { ($1.item, $0) })
    }

    @Test("the event columns stay in [0, 1], while the old z-scored affinity put one view far outside training")
    func bounded() throws {
        let fixture = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        let train = SplitDataset(fixture).train
        let spec = try FeatureSpec.fit(on: train)
        let event = ["viewed_item", "interest_similarity", "has_history"].map { spec.columns.firstIndex(of: $0)! }
        for item in 0..<spec.itemCount {
            for seconds in [10.0, 30, 600] {
                let affinity = spec.affinity(from: [ViewEvent(item: item, seconds: seconds), ViewEvent(item: 0, seconds: 15)])
                let rows = spec.candidateRows(
                    userFeatures: [:], affinity: affinity, items: Array(0..<spec.itemCount), position: 0)
                for row in 0..<spec.itemCount {
                    for c in event { #expect((0...1).contains(rows[row * spec.width + c])) }
                }
            }
        }
        // The old encoding: one view of an item lands at the top of (or beyond) the range the model trained on.
        let logs = SplitDataset(Self.data).train
        let old = try FeatureSpec.fit(on: logs, eventEncoding: .affinityZScore)
        let column = old.columns.firstIndex(of: "shown_item_affinity")!
        let oneView = old.candidateRows(userFeatures: [:], affinity: [3: 1], items: [3], position: 0)[column]
        let trained = old.matrix(logs).values.enumerated().filter { $0.offset % old.width == column }.map(\.element)
        let share = Double(trained.filter { $0 >= oneView }.count) / Double(trained.count)
        #expect(oneView > 1 && share < 0.1, "one view encodes as \(oneView); \(share) of training rows reach it")
    }

    @Test("a spec written before the interest encoding decodes, keeps its columns and writes the same bytes")
    func oldSpecs() throws {
        let old = try FeatureSpec.fit(on: SplitDataset(Self.data).train, eventEncoding: .affinityZScore)
        let bytes = try old.encoded()
        #expect(!String(decoding: bytes, as: UTF8.self).contains("eventEncoding"))
        let decoded = try FeatureSpec.decode(bytes)
        #expect(try decoded.events == .affinityZScore && decoded.encoded() == bytes)
        #expect(decoded.columns.suffix(2) == ["shown_item_affinity", "has_history"])
        let fresh = try FeatureSpec.decode(Self.trained.spec.encoded())
        #expect(fresh.events == .interest && fresh.columns.suffix(3) == ["viewed_item", "interest_similarity", "has_history"])
    }

    @Test("viewing an item raises it and the items that share its topic, and no viewed item sinks to the bottom")
    func viewingRaises() throws {
        let spec = Self.trained.spec
        let topic = { (item: Int) in spec.itemCategoryCodes[item][0] }
        var raisedSimilar = 0, pairs = 0
        for user in 0..<20 {
            let features = Self.data.userFeatures.dictionary(user * 97)
            let before = try Self.ranks(RecommendQuery(userFeatures: features))
            for item in 0..<spec.itemCount {
                let view = [ViewEvent(item: item, seconds: 30)]
                let after = try Self.ranks(RecommendQuery(userFeatures: features, events: view))
                #expect(after[item]! <= before[item]!, "user \(user) item \(item): \(before[item]!) → \(after[item]!)")
                #expect(after[item]! < spec.itemCount - 1, "user \(user): viewed item \(item) is last")
                // The other items' order, without the viewed item's own jump: do the similar ones move up?
                let others = (0..<spec.itemCount).filter { $0 != item }
                let without = try Self.ranks(RecommendQuery(userFeatures: features, candidates: others))
                let with = try Self.ranks(RecommendQuery(userFeatures: features, events: view, candidates: others))
                let similar = others.filter { topic($0) == topic(item) }
                guard !similar.isEmpty else { continue }
                pairs += 1
                if similar.reduce(0, { $0 + without[$1]! - with[$1]! }) > 0 { raisedSimilar += 1 }
            }
        }
        // Similar items rise for most (user, viewed item) pairs.
        #expect(Double(raisedSimilar) >= 0.75 * Double(pairs), "\(raisedSimilar) of \(pairs) pairs")
    }

    @Test("exclude_viewed leaves every viewed item out of the answer, on the wire and in the recommender")
    func excludeViewed() throws {
        let features = Self.data.userFeatures.dictionary(0)
        let views = [ViewEvent(item: 2, seconds: 30), ViewEvent(item: 5, seconds: 1)]
        let reply = try Self.trained.recommender.recommend(
            RecommendQuery(userFeatures: features, events: views, top: 12, excludeViewed: true))
        #expect(reply.items.count == 10 && !reply.items.contains { [2, 5].contains($0.item) })
        let onWire = #"{"events": [{"item": 2, "seconds": 30}], "exclude_viewed": true}"#
        let snake = JSONDecoder()
        snake.keyDecodingStrategy = .convertFromSnakeCase
        for decoder in [JSONDecoder(), snake] {
            #expect(try decoder.decode(RecommendQuery.self, from: Data(onWire.utf8)).excludeViewed)
        }
        let plain = String(decoding: try JSONEncoder().encode(RecommendQuery(top: 3)), as: UTF8.self)
        #expect(!plain.contains("exclude_viewed"))
        #expect(throws: RecommendError.noCandidates) {
            try Self.trained.recommender.recommend(
                RecommendQuery(userFeatures: features, events: views, candidates: [2, 5], excludeViewed: true))
        }
    }

    @Test(
        "on OBD random/all, viewing item 49, 6, 17 or 14 for 30 s never lowers its score nor sends it to the bottom",
        .enabled(if: Paths.hasOBD, Paths.obdMissing))
    func obdViewedItems() throws {
        let data = try OBDLoader.load(OBDSource("random/all")!, obdDirectory: Paths.obd)
        let train = SplitDataset(data).train
        let spec = try FeatureSpec.fit(on: train)
        let features = spec.matrix(train)
        var trainer = MLPTrainer(model: MLP(inputWidth: spec.width, hiddenSizes: [32, 16], seed: 1))
        _ = trainer.fit(
            LabeledData(
                inputs: Matrix(rows: features.rows, cols: spec.width, values: features.values),
                targets: train.reward.map(Float.init)),
            config: TrainingConfig(epochs: 3, batchSize: 64, validationFraction: 0, seed: 1))
        let recommender = Recommender(spec: spec, scorer: CheckpointEvaluation.scorer(trainer.model))
        let user = data.userFeatures.dictionary(0)
        for item in [49, 6, 17, 14] {
            let reply = try recommender.recommend(
                RecommendQuery(userFeatures: user, events: [ViewEvent(item: item, seconds: 30)], top: 80))
            let rank = try #require(reply.items.firstIndex { $0.item == item })
            let plain = try recommender.recommend(RecommendQuery(userFeatures: user, top: 80))
            let before = try #require(plain.items.firstIndex { $0.item == item })
            #expect(rank < 79, "viewed item \(item) ranks \(rank + 1) of 80, \(before + 1) without the view")
            let score = { (r: Recommendation) in r.items.first { $0.item == item }!.score }
            // Up to float rounding between batch sizes (BLAS sums in another order).
            #expect(score(reply) >= score(plain) - 1e-6, "a view lowered item \(item)'s own score")
        }
    }
}
