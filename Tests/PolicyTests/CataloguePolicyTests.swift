import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// A shop-like catalogue: `count` items `sku-k` with two numeric features.
func shopCatalogue(count: Int) throws -> ItemCatalogue {
    var features: [Float] = []
    for k in 0..<count { features += [Float(k % 7) / 7, Float(k % 3) - 1] }
    return try ItemCatalogue(
        encoding: ItemEncoding(categorical: [], numeric: ["price", "colour"]), ids: (0..<count).map { "sku-\($0)" },
        features: features)
}

/// The spec of a shop with a categorical and a numeric user feature.
func shopSpec(_ catalogue: ItemCatalogue, learning: OnlineLearningSpec = OnlineLearningSpec()) -> OnlinePolicySpec {
    OnlinePolicySpec.make(
        catalogue: catalogue, userFeatures: [.init("country", .categorical), .init("age", .numeric)],
        vocabularies: ["country": ["de", "fr"]], statistics: ["age": (40, 10)], learning: learning)
}

@Suite("A catalogue-generic policy: fixed widths, live catalogue swaps, cold start, exact merges")
struct CataloguePolicyTests {
    @Test("the model's size does not depend on the number of items")
    func widthIsIndependentOfTheCatalogue() throws {
        let small = try OnlinePolicy.initial(spec: shopSpec(try shopCatalogue(count: 10)))
        let large = try OnlinePolicy.initial(spec: shopSpec(try shopCatalogue(count: 5_000)))
        #expect(small.features.width == large.features.width)
        #expect(PolicyWeights.pack(small).vectors.map(\.values.count) == PolicyWeights.pack(large).vectors.map(\.values.count))
        // country: 2 known values + 1 column shared by every other value; age: 1 column; z = 1 + 4 + 2 item dims;
        // y = 1 + 2.
        #expect(small.features.userWidth == 4 && small.features.width == 7 * 3 + PolicyFeatures.positionColumns)
    }

    @Test("an unseen categorical value takes the shared column, a numeric one is standardised, a bad number is refused")
    func userFeaturesEncode() throws {
        let policy = try OnlinePolicy.initial(spec: shopSpec(try shopCatalogue(count: 10)))
        let known = try policy.features.encode(["country": "fr", "age": "50"])
        #expect(known == [0, 1, 0, 1])
        let unseen = try policy.features.encode(["country": "jp"])
        #expect(unseen == [0, 0, 1, 0])
        #expect(throws: PolicyError.invalidUserFeature(name: "age", value: "old")) {
            try policy.features.encode(["age": "old"])
        }
        // Read as a log's cell is: a hexadecimal float is not a decimal number (`0x10` was read as 16).
        for hex in ["0x10", "0X1p4"] {
            #expect(throws: PolicyError.invalidUserFeature(name: "age", value: hex)) { try policy.features.encode(["age": hex]) }
        }
        // Finite, but so far out that the posterior's products would overflow and every score become NaN.
        for far in ["1e308", "-1e200", "1e39"] {
            #expect(throws: PolicyError.invalidUserFeature(name: "age", value: far)) {
                try policy.features.encode(["age": far])
            }
        }
        #expect("\(PolicyError.invalidUserFeature(name: "age", value: "1e308"))".contains("scales of its mean"))
        // A large real value (an amount in cents) is encoded, not refused: clipped to ±10 standard scores, as an
        // item's values are, so that no event can spoil the posterior the replicas sync.
        #expect(try policy.features.encode(["age": "3e9"])[3] == 10)
        #expect(try policy.features.encode(["age": "-3e9"])[3] == -10)
        #expect(try policy.features.encode(["age": "45"])[3] == (45 - 40) / 10)
        // A NUL in any served value is refused by name: the impression log exports every value as CSV.
        #expect(throws: PolicyError.nulInUserFeature(name: "country")) { try policy.features.encode(["country": "a\u{0}b"]) }
        #expect("\(PolicyError.nulInUserFeature(name: "country"))".contains("U+0000"))
        #expect(try policy.features.encode(["country": "a\nb"]).count == policy.features.encode(["country": "x"]).count)
    }

    @Test("an event with a user 10¹⁴ scales out and an item of 10³⁰ is learnt from, clipped; the statistics stay finite")
    func hugeFeaturesAreRejected() throws {
        var catalogue = try shopCatalogue(count: 10)
        let huge = try catalogue.add(id: "sku-huge", fields: ["price": "1e30", "colour": "0"])
        let spec = shopSpec(catalogue, learning: OnlineLearningSpec(updateEvery: 4))
        for kind in ["bandit", "session"] {
            let events = (0..<8).map { n in
                LearnEvent(
                    impressionId: "i\(n)", userFeatures: ["country": "de", "age": n % 2 == 0 ? "1e15" : "41"],
                    item: n % 2 == 0 ? huge : 1, reward: 1, propensity: 0.5, version: 1)
            }
            let (rejected, pack): (Int, ParameterPack)
            if kind == "bandit" {
                var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 4)
                _ = learner.learn(events)
                (rejected, pack) = (learner.rejectedEvents, PolicyWeights.pack(learner.learnt))
            } else {
                var learner = SessionQLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 4)
                _ = learner.learn(events)
                (rejected, pack) = (learner.rejectedEvents, PolicyWeights.pack(learner.learnt))
            }
            #expect(rejected == 0, "\(kind)")
            #expect(pack.vectors.allSatisfy { $0.values.allSatisfy(\.isFinite) }, "\(kind)")
            #expect(pack["k"]?.reduce(0, +) == 8, "\(kind)")
            // The merged statistics still solve: a version built from them serves finite scores.
            let initial = try OnlinePolicy.initial(spec: spec)
            let merged = try PolicyWeights.merge(base: PolicyWeights.pack(initial), replicas: [pack])
            let served = try PolicyWeights.policy(merged, like: initial)
            #expect(try served.qValues(userFeatures: ["country": "de", "age": "41"]).allSatisfy(\.isFinite), "\(kind)")
        }
        // The learners' own guard stays for any feature the encoders did not bound.
        #expect(BayesianLastLayer.admits([1e12, -1e12]) && !BayesianLastLayer.admits([1e12 + 1e6]))
        #expect(!BayesianLastLayer.admits([.nan]) && !BayesianLastLayer.admits([.infinity]))
    }

    @Test("viewed items enter the state as their dwell-weighted mean feature row")
    func viewedItemsArePooledByDwell() throws {
        let policy = try OnlinePolicy.initial(spec: shopSpec(try shopCatalogue(count: 10)))
        let z = try policy.userVector([:], viewed: [ViewedItem(item: 1, seconds: 3), ViewedItem(item: 2, seconds: 1)])
        let h = Array(z.suffix(2))
        let expected = [(3 * 1.0 / 7 + 1 * 2.0 / 7) / 4, (3 * 0.0 + 1 * 1.0) / 4]
        for (a, b) in zip(h, expected) { #expect(abs(a - b) < 1e-6) }
        #expect(try policy.userVector([:]).suffix(2) == [0, 0])
    }

    @Test("a swapped catalogue keeps the weights: a new item is scored from its features and explored, a retired one never shown")
    func catalogueSwap() throws {
        var catalogue = try shopCatalogue(count: 30)
        let spec = shopSpec(catalogue, learning: OnlineLearningSpec(updateEvery: 8, coldStartShows: 20, coldStartShare: 0.2))
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 4)
        let events = (0..<600).map { n in
            LearnEvent(
                impressionId: "i\(n)", userFeatures: ["country": n % 2 == 0 ? "de" : "fr"], item: n % 30,
                reward: n % 30 < 5 ? 1 : 0, propensity: 0.5, version: 1)
        }
        _ = learner.learn(events)
        let trained = try learner.current.with(statistics: learner.learnt)

        let added = try catalogue.add(id: "sku-new", fields: ["price": "0.5", "colour": "1"])
        try catalogue.retire(id: "sku-0")
        let swapped = try trained.with(catalogue: catalogue)
        #expect(PolicyWeights.sha256(swapped) == PolicyWeights.sha256(trained))
        #expect(swapped.isNew(item: added) && !swapped.isNew(item: 1))
        let z = try swapped.userVector(["country": "de"])
        let score = swapped.scores(z: z, items: [added])[0]
        #expect(score.isFinite && score != 0)

        var rng = Xoshiro256(seed: 8)
        var newShown = 0
        for _ in 0..<2_000 {
            let slate = try swapped.recommend(userFeatures: ["country": "de"], rng: &rng)
            #expect(!slate.contains { $0.item == 0 })
            if slate.contains(where: { $0.item == added }) { newShown += 1 }
            let replay = try swapped.slotProbabilities(userFeatures: ["country": "de"], slate: slate.map(\.item))
            for (a, b) in zip(replay, slate.map(\.propensity)) { #expect(abs(a - b) < 1e-12) }
        }
        // Each slot gives the new item at least the cold-start share 0.2 (it is the only new item).
        #expect(Double(newShown) / 2_000 > 0.45)
        #expect(throws: PolicyError.invalidCandidates("every candidate is a retired item")) {
            try swapped.recommend(userFeatures: [:], candidates: [0], rng: &rng)
        }
        // Rows never move: a catalogue that lost rows does not fit.
        #expect(throws: PolicyError.self) { try trained.with(catalogue: try shopCatalogue(count: 5)) }
    }

    @Test("the NEW-item rule: a new item is shown only from the candidates, its share is exact, and NEW ends at N events of its bucket")
    func newItemRuleIsExact() throws {
        var catalogue = try shopCatalogue(count: 30)
        let learning = OnlineLearningSpec(updateEvery: 8, coldStartShows: 20, coldStartShare: 0.2)
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: shopSpec(catalogue, learning: learning)), version: 1, seed: 4)
        _ = learner.learn(
            (0..<900).map { n in
                LearnEvent(
                    impressionId: "i\(n)", userFeatures: ["country": "de"], item: n % 30, reward: n % 30 < 5 ? 1 : 0,
                    propensity: 0.5, version: 1)
            })
        let trained = try learner.current.with(statistics: learner.learnt)
        // An id whose bucket no learnt item uses, so the added item is NEW (the rule counts events per id bucket).
        let learntBuckets = Set((0..<30).map(trained.bucket(of:)))
        let id = try #require(
            (0..<100).lazy.map { "sku-new-\($0)" }.first {
                !learntBuckets.contains(PolicyHash.bucket(itemId: $0, buckets: trained.spec.idBuckets))
            })
        let added = try catalogue.add(id: id, fields: ["price": "0.5", "colour": "1"])
        let policy = try trained.with(catalogue: catalogue)
        #expect(policy.isNew(item: added) && (0..<30).allSatisfy { !policy.isNew(item: $0) })

        // Not among the candidates: never shown, and no share is reserved (the plain rule's propensities).
        let old = [1, 2, 3, 4, 5, 6]
        var rng = Xoshiro256(seed: 9)
        let z = try policy.userVector(["country": "de"])
        let plain = SlateExploration.probabilities(policy.scores(z: z, items: old), exploration: policy.spec.exploration)
        for _ in 0..<500 {
            let slate = try policy.recommend(userFeatures: ["country": "de"], candidates: old, top: 1, rng: &rng)
            #expect(slate[0].item != added)
            #expect(abs(slate[0].propensity - plain[old.firstIndex(of: slate[0].item)!]) < 1e-12)
        }
        // Among the candidates: every slot gives it at least the share κ (it is the only new candidate), the old
        // candidates keep (1 − κ) of their plain probability, and the propensities are exact.
        let mixed = old + [added]
        let q = policy.scores(z: z, items: mixed)
        let p = policy.probabilities(q, items: mixed)
        let rule = SlateExploration.probabilities(q, exploration: policy.spec.exploration)
        let kappa = learning.coldStartShare
        #expect(p.last! >= kappa)
        for i in mixed.indices {
            #expect(abs(p[i] - ((1 - kappa) * rule[i] + (mixed[i] == added ? kappa : 0))) < 1e-12)
        }
        var shown = 0
        for _ in 0..<2_000 {
            let slate = try policy.recommend(userFeatures: ["country": "de"], candidates: mixed, top: 1, rng: &rng)
            if slate[0].item == added { shown += 1 }
        }
        #expect(abs(Double(shown) / 2_000 - p.last!) < 0.03)

        // NEW ends once its bucket has N = cold_start_shows learnt events.
        var next = OnlineLearner(policy: policy, version: 2, seed: 5)
        _ = next.learn(
            (0..<19).map { n in
                LearnEvent(
                    impressionId: "n\(n)", userFeatures: ["country": "de"], item: added, reward: 0, propensity: 0.2,
                    version: 2)
            })
        #expect(try next.current.with(statistics: next.learnt).isNew(item: added))
        _ = next.learn([
            LearnEvent(impressionId: "n19", userFeatures: ["country": "de"], item: added, reward: 0, propensity: 0.2, version: 2)
        ])
        #expect(try !next.current.with(statistics: next.learnt).isNew(item: added))
    }

    @Test("propensities are exact given a candidate list, with the cold-start share")
    func candidatePropensities() throws {
        let spec = shopSpec(try shopCatalogue(count: 200), learning: OnlineLearningSpec(coldStartShare: 0.1))
        let policy = try OnlinePolicy.initial(spec: spec)
        let candidates = [5, 17, 42, 99, 150]
        var rng = Xoshiro256(seed: 2)
        var counts: [Int: Int] = [:]
        var propensity: [Int: Double] = [:]
        let n = 20_000
        for _ in 0..<n {
            let first = try policy.recommend(userFeatures: ["age": "30"], candidates: candidates, top: 1, rng: &rng)[0]
            #expect(candidates.contains(first.item))
            counts[first.item, default: 0] += 1
            propensity[first.item] = first.propensity
        }
        #expect(abs(propensity.values.reduce(0, +) - 1) < 1e-9)
        for (item, count) in counts { #expect(abs(Double(count) / Double(n) - propensity[item]!) < 0.015) }
    }

    @Test("merging two replicas' statistics equals one learner that saw every event")
    func exactMerge() throws {
        let spec = shopSpec(try shopCatalogue(count: 50))
        let base = try OnlinePolicy.initial(spec: spec)
        let events = (0..<300).map { n in
            LearnEvent(
                impressionId: "i\(n)", userFeatures: ["country": ["de", "fr", "it"][n % 3], "age": "\(20 + n % 40)"],
                viewed: n % 4 == 0 ? [ViewedItem(item: n % 50, seconds: Double(n % 9))] : [], item: (n * 7) % 50,
                reward: n % 5 == 0 ? 1 : 0, propensity: 0.3, version: 1)
        }
        var one = OnlineLearner(policy: base, version: 1, seed: 1)
        var left = OnlineLearner(policy: base, version: 1, seed: 2)
        var right = OnlineLearner(policy: base, version: 1, seed: 3)
        _ = one.learn(events)
        _ = left.learn(Array(events.prefix(170)))
        _ = right.learn(Array(events.suffix(130)))
        let merged = try PolicyWeights.merge(
            base: PolicyWeights.pack(base), replicas: [PolicyWeights.pack(left.learnt), PolicyWeights.pack(right.learnt)])
        let single = PolicyWeights.pack(one.learnt)
        for vector in single.vectors {
            let other = try #require(merged[vector.name])
            for (a, b) in zip(vector.values, other) { #expect(abs(a - b) <= 1e-3 * max(1, abs(a))) }
        }
        let mergedPolicy = try PolicyWeights.policy(merged, like: base)
        let singlePolicy = try PolicyWeights.policy(single, like: base)
        let z = try base.userVector(["country": "de", "age": "33"])
        for (a, b) in zip(mergedPolicy.scores(z: z, items: Array(0..<50)), singlePolicy.scores(z: z, items: Array(0..<50))) {
            #expect(abs(a - b) < 1e-3)
        }
    }

    @Test("the Bayesian layer recovers a linear reward exactly in the limit of data")
    func posteriorMeanRecoversALinearModel() throws {
        var layer = BayesianLastLayer(width: 3, buckets: 2)
        var rng = Xoshiro256(seed: 5)
        for _ in 0..<4_000 {
            let phi = [1, Double(rng.nextGaussian()), Double(rng.nextGaussian())]
            let bucket = Int(rng.next() % 2)
            let reward = 0.5 * phi[1] - 0.25 * phi[2] + (bucket == 1 ? 0.3 : 0) + 0.05 * Double(rng.nextGaussian())
            layer.add(phi: phi, bucket: bucket, reward: reward)
        }
        let mean = try #require(layer.coefficients(lambda: 1, noise: nil))
        #expect(abs(mean.theta[1] - 0.5) < 0.01 && abs(mean.theta[2] + 0.25) < 0.01)
        #expect(abs((mean.theta[0] + mean.bias[1]) - (mean.theta[0] + mean.bias[0]) - 0.3) < 0.01)
    }
}
