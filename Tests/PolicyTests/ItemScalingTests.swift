import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// A shop's catalogue whose numeric columns are in its own units: `price` in euros (20…995) and `colour` near unit
/// scale (-1, 0, 1).
private func euroCatalogue(count: Int = 40) throws -> ItemCatalogue {
    var features: [Float] = []
    for k in 0..<count { features += [Float(20 + 25 * k), Float(k % 3) - 1] }
    return try ItemCatalogue(
        encoding: ItemEncoding(categorical: [], numeric: ["price", "colour"]), ids: (0..<count).map { "sku-\($0)" },
        features: features)
}

/// The true click probability of `price` for a user of `country`: German users click cheap items, French users
/// expensive ones.
private func clickProbability(country: String, price: Float) -> Double {
    if country == "de" { return price < 200 ? 0.5 : 0.05 }
    return price > 800 ? 0.5 : 0.05
}

@Suite("Item columns beyond unit scale are standardised over the catalogue, for the lineage")
struct ItemScalingTests {
    @Test("a price in euros is centred and divided by its standard deviation; a unit-scale column is read as it is")
    func scalingFromTheCatalogue() throws {
        let catalogue = try euroCatalogue()
        let scaling = try #require(OnlinePolicySpec.itemScaling(for: catalogue))
        let prices = (0..<40).map { Double(20 + 25 * $0) }
        let mean = prices.reduce(0, +) / 40
        let std = (prices.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 40).squareRoot()
        #expect(abs(scaling.mean[0] - 507.5) < 1e-9 && abs(scaling.mean[0] - mean) < 1e-9)
        #expect(abs(scaling.scale[0] - std) < 1e-9)
        #expect(scaling.mean[1] == 0 && scaling.scale[1] == 1)
        // The simulator's topic columns, a catalogue near unit scale: no scaling, rows read exactly as before.
        #expect(OnlinePolicySpec.itemScaling(for: try shopCatalogue(count: 30)) == nil)
        #expect(SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig())).itemScaling == nil)
        // A constant column beyond unit scale is centred (scale 1), never divided by 0.
        let constant = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["weight"]), ids: ["a", "b"], features: [50, 50])
        #expect(OnlinePolicySpec.itemScaling(for: constant) == ItemScaling(mean: [50], scale: [1]))
    }

    @Test("the policy reads the standardised rows: in the state's viewed mean, in scores and in the retrieval table")
    func reducedRowsAreStandardised() throws {
        let catalogue = try euroCatalogue()
        let policy = try OnlinePolicy.initial(spec: shopSpec(catalogue))
        let scaling = try #require(policy.spec.itemScaling)
        #expect(policy.features.standardises)
        let z = try policy.userVector([:], viewed: [ViewedItem(item: 3, seconds: 1)])
        let expected = [(95 - scaling.mean[0]) / scaling.scale[0], -1.0]
        for (a, b) in zip(z.suffix(2), expected) { #expect(abs(a - b) < 1e-6, "\(z)") }
        let reduced = try policy.reducedCatalogue()
        #expect(abs(Double(Array(reduced.row(3))[0]) - expected[0]) < 1e-5)
        #expect(Array(policy.spec.itemFeatures[3]) == [95, -1], "the spec keeps the catalogue's own values")
        // A projected row is the projection of the standardised row.
        var wide = shopSpec(catalogue)
        wide.itemDims = 1
        let projected = try OnlinePolicy.initial(spec: wide)
        var unscaled = wide
        unscaled.itemScaling = nil
        let raw = try PolicyFeatures(spec: unscaled)
        let standardRow = [Float((95 - scaling.mean[0]) / scaling.scale[0]), 1]
        #expect(abs(projected.features.reduce([Float(95), 1])[0] - raw.reduce(standardRow)[0]) < 1e-5)
    }

    @Test("over prices in euros the policy learns calibrated clicks and ranks each country's items first")
    func learnsOverEuros() throws {
        let catalogue = try euroCatalogue()
        var spec = shopSpec(catalogue, learning: OnlineLearningSpec(updateEvery: 50))
        spec.userFeatures = [.init(name: "country", kind: .categorical, values: ["de", "fr"], buckets: 0)]
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: 3)
        var rng = Xoshiro256(seed: 11)
        var events: [LearnEvent] = []
        for n in 0..<4_000 {
            let country = n % 2 == 0 ? "de" : "fr"
            let item = Int(rng.next() % 40)
            let clicked = Double(rng.next() % 1_000_000) / 1_000_000 < clickProbability(country: country, price: Float(20 + 25 * item))
            events.append(
                LearnEvent(
                    impressionId: "i\(n)", userFeatures: ["country": country], item: item, reward: clicked ? 1 : 0,
                    propensity: 1.0 / 40, version: 1))
        }
        _ = learner.learn(events)
        let trained = try learner.current.with(statistics: learner.learnt)
        for country in ["de", "fr"] {
            let z = try trained.userVector(["country": country])
            let scores = trained.scores(z: z, items: Array(0..<40))
            let top = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(3)
            for item in top {
                #expect(clickProbability(country: country, price: Float(20 + 25 * item)) == 0.5, "\(country): \(top)")
            }
            // Calibrated, not saturated at 0 or 1: the mean absolute error against the true probabilities is small.
            let error = scores.indices.map { abs(scores[$0] - clickProbability(country: country, price: Float(20 + 25 * $0))) }
            #expect(error.reduce(0, +) / 40 < 0.12, "\(country): \(scores)")
        }
    }

    /// Clicks per slate of the closed loop: the policy serves `users` users a 3-item slate with its own exploration
    /// (Thompson sampling) and learns from their clicks, the true click probability of `clickProbability`.
    static func closedLoopClickRate(spec: OnlinePolicySpec, users: Int, seed: UInt64) throws -> Double {
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: seed)
        var rng = Xoshiro256(seed: seed)
        var clicks = 0
        for n in 0..<users {
            let country = n % 2 == 0 ? "de" : "fr"
            let slate = try learner.current.recommend(userFeatures: ["country": country], rng: &rng)
            var events: [LearnEvent] = []
            for (position, shown) in slate.enumerated() {
                let p = clickProbability(country: country, price: Float(20 + 25 * shown.item))
                let clicked = Double(rng.next() % 1_000_000) / 1_000_000 < p
                clicks += clicked ? 1 : 0
                events.append(
                    LearnEvent(
                        impressionId: "i\(n)-\(position)", userFeatures: ["country": country], item: shown.item,
                        position: position, reward: clicked ? 1 : 0, propensity: shown.propensity, version: 1))
            }
            _ = learner.learn(events)
        }
        return Double(clicks) / Double(users * 3)
    }

    /// The fault this fixes: read raw, a price in euros made the Thompson samples' logits hundreds wide, so the
    /// policy explored at random for most of the run (0.25–0.28 clicks per slot against 0.43–0.45 standardised, on
    /// these three seeds; random slates give 0.14, the best slates 0.5).
    @Test("in the closed loop a policy over prices in euros learns as over unit-scale columns", arguments: [1, 2, 3] as [UInt64])
    func closedLoop(seed: UInt64) throws {
        var spec = shopSpec(try euroCatalogue(), learning: OnlineLearningSpec(updateEvery: 20))
        spec.userFeatures = [.init(name: "country", kind: .categorical, values: ["de", "fr"], buckets: 0)]
        var raw = spec
        raw.itemScaling = nil
        let standardised = try Self.closedLoopClickRate(spec: spec, users: 1_500, seed: seed)
        let asItIs = try Self.closedLoopClickRate(spec: raw, users: 1_500, seed: seed)
        #expect(standardised > 0.4, "\(standardised)")
        #expect(standardised > asItIs + 0.1, "standardised \(standardised), raw \(asItIs)")
    }
}
