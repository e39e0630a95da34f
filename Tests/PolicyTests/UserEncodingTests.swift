import RecData
import RecModel
@testable import RecPolicy
import RecWire
import Testing

/// A catalogue of 40 items near unit scale: `position` from -1 to 0.95, `colour` -1, 0 or 1.
private func unitCatalogue() throws -> ItemCatalogue {
    var features: [Float] = []
    for k in 0..<40 { features += [Float(k) / 20 - 1, Float(k % 3) - 1] }
    return try ItemCatalogue(
        encoding: ItemEncoding(categorical: [], numeric: ["position", "colour"]), ids: (0..<40).map { "sku-\($0)" },
        features: features)
}

/// Two kinds of user: the first clicks the first 8 items, the second the last 8 (0.5 against 0.05 elsewhere).
private func clickProbability(firstKind: Bool, item: Int) -> Double {
    (firstKind ? item < 8 : item >= 32) ? 0.5 : 0.05
}

/// A schema's declared values reach the online policy over a shop's catalogue: each is a column of its own, where
/// hashed values may share one.
@Suite("The online policy encodes categorical user features as the schema declares")
struct UserEncodingTests {
    /// Two category values whose hashed columns collide among 8 for the feature `segment` (the first such pair of a
    /// fixed list of names, so the test does not depend on one pair).
    static func collidingPair() throws -> (String, String) {
        let names = ["budget", "luxury", "family", "student", "outdoor", "business", "senior", "gamer", "gardener", "cook"]
        let bucket = { (v: String) in PolicyHash.fnv1a("segment=\(v)") % 8 }
        for (i, a) in names.enumerated() {
            if let b = names[(i + 1)...].first(where: { bucket($0) == bucket(a) }) { return (a, b) }
        }
        throw PolicyError.invalidSpec("no colliding pair in the list")
    }

    /// Clicks per slot of a closed loop of `users` users over `spec` (Thompson sampling, learning as it goes); user
    /// `n` has features `features(n)` and is of the first kind when `firstKind(n)`.
    static func closedLoop(
        spec: OnlinePolicySpec, users: Int, seed: UInt64, features: (Int) -> [String: String], firstKind: (Int) -> Bool
    ) throws -> Double {
        var learner = OnlineLearner(policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: seed)
        var rng = Xoshiro256(seed: seed)
        var clicks = 0
        for n in 0..<users {
            let user = features(n)
            let slate = try learner.current.recommend(userFeatures: user, rng: &rng)
            var events: [LearnEvent] = []
            for (position, shown) in slate.enumerated() {
                let clicked = Double(rng.next() % 1_000_000) / 1_000_000
                    < clickProbability(firstKind: firstKind(n), item: shown.item)
                clicks += clicked ? 1 : 0
                events.append(
                    LearnEvent(
                        impressionId: "i\(n)-\(position)", userFeatures: user, item: shown.item, position: position,
                        reward: clicked ? 1 : 0, propensity: shown.propensity, version: 1))
            }
            _ = learner.learn(events)
        }
        return Double(clicks) / Double(users * 3)
    }

    @Test("declared values get a column each; every other value shares one; undeclared values are hashed into 8")
    func columns() throws {
        let (a, b) = try Self.collidingPair()
        let declared = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(
                catalogue: try unitCatalogue(), userFeatures: [.init("segment", .categorical, values: [a, b])]))
        #expect(try declared.features.encode(["segment": a]) == [1, 0, 0])
        #expect(try declared.features.encode(["segment": b]) == [0, 1, 0])
        #expect(try declared.features.encode(["segment": "other"]) == [0, 0, 1])
        // A blank value (a log's blank cell) is missing, as a request that leaves the feature out: no column is set.
        for blank in ["", "  ", "\t"] { #expect(try declared.features.encode(["segment": blank]) == [0, 0, 0]) }
        let hashed = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(catalogue: try unitCatalogue(), userFeatures: [.init("segment", .categorical)]))
        #expect(hashed.features.userWidth == 8)
        #expect(try hashed.features.encode(["segment": a]) == hashed.features.encode(["segment": b]), "they collide")
        #expect(try hashed.features.encode(["segment": ""]) == [Double](repeating: 0, count: 8))
    }

    /// A blank numeric value was refused (BAD_REQUEST) although the log's blank cell is missing to warm start and
    /// training: a shop front end forwarding its log's fields got an error for every visitor without an age.
    @Test("a blank numeric user feature is missing (its mean), as a log's blank cell; a value that is no number is refused")
    func blankNumeric() throws {
        let policy = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(
                catalogue: try unitCatalogue(), userFeatures: [.init("age", .numeric)]))
        #expect(try policy.features.encode(["age": "2"]) != policy.features.encode([:]))
        for blank in ["", "  ", "\t"] { #expect(try policy.features.encode(["age": blank]) == policy.features.encode([:])) }
        #expect(throws: PolicyError.self) { try policy.features.encode(["age": "old"]) }
    }

    @Test("each slate item carries the catalogue's id of its row")
    func slateCarriesIds() throws {
        let policy = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(catalogue: try unitCatalogue(), userFeatures: [.init("age", .numeric)]))
        var rng = Xoshiro256(seed: 4)
        let slate = try policy.recommend(userFeatures: ["age": "1"], candidates: [2, 17, 33], top: 3, rng: &rng)
        #expect(slate.count == 3 && slate.allSatisfy { $0.id == "sku-\($0.item)" }, "\(slate)")
    }

    /// Undeclared, an age in years was read as it is and clipped to ±10: every adult the same user to the policy.
    @Test("a numeric feature's declared mean and scale standardise it; undeclared, ages 30 and 60 both read as 10")
    func declaredStandardisation() throws {
        let declared = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(
                catalogue: try unitCatalogue(), userFeatures: [.init("age", .numeric, mean: 40, scale: 12.5)]))
        #expect(declared.spec.userFeatures[0].mean == 40 && declared.spec.userFeatures[0].scale == 12.5)
        let thirty = try declared.features.encode(["age": "30"])
        let sixty = try declared.features.encode(["age": "60"])
        #expect(thirty.contains(-0.8) && sixty.contains(1.6), "\(thirty) \(sixty)")
        let undeclared = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(catalogue: try unitCatalogue(), userFeatures: [.init("age", .numeric)]))
        #expect(try undeclared.features.encode(["age": "30"]) == undeclared.features.encode(["age": "60"]))
        // Statistics fitted from a log (a warm start's) take precedence over the schema's.
        let fitted = OnlinePolicySpec.make(
            catalogue: try unitCatalogue(), userFeatures: [.init("age", .numeric, mean: 40, scale: 12.5)],
            statistics: ["age": (35, 10)])
        #expect(fitted.userFeatures[0].mean == 35 && fitted.userFeatures[0].scale == 10)
    }

    @Test("a value with spaces or tabs around it is the value, declared or hashed, as the log it warm-starts from reads it")
    func surroundingSpace() throws {
        let declared = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(
                catalogue: try unitCatalogue(), userFeatures: [.init("os", .categorical, values: ["android", "ios"])]))
        for spaced in [" android ", "\tandroid", "android  "] {
            #expect(try declared.features.encode(["os": spaced]) == [1, 0, 0])
        }
        let hashed = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(catalogue: try unitCatalogue(), userFeatures: [.init("os", .categorical)]))
        #expect(try hashed.features.encode(["os": " linux\t"]) == hashed.features.encode(["os": "linux"]))
        // Inside a value, white space is part of it.
        #expect(try declared.features.encode(["os": "and roid"]) == [0, 0, 1])
        // A spec declared before values were trimmed (` android`, from an earlier schema draft) still matches.
        let older = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(
                catalogue: try unitCatalogue(), userFeatures: [.init("os", .categorical, values: [" android", "ios"])]))
        #expect(try older.features.encode(["os": "android"]) == [1, 0, 0])
    }

    /// Hashed, the two kinds of user are one context: the policy can only learn a slate for both (about
    /// (0.5 + 0.05) / 2 clicks per slot at best); declared, it personalises (0.5 at best).
    @Test("two segments whose hashes collide are learnt apart once the schema declares them", arguments: [1, 2, 3] as [UInt64])
    func collidingSegments(seed: UInt64) throws {
        let (a, b) = try Self.collidingPair()
        let catalogue = try unitCatalogue()
        let learning = OnlineLearningSpec(updateEvery: 20)
        let declared = OnlinePolicySpec.make(
            catalogue: catalogue, userFeatures: [.init("segment", .categorical, values: [a, b])], learning: learning)
        let hashed = OnlinePolicySpec.make(
            catalogue: catalogue, userFeatures: [.init("segment", .categorical)], learning: learning)
        let features = { (n: Int) in ["segment": n % 2 == 0 ? a : b] }
        let firstKind = { (n: Int) in n % 2 == 0 }
        let apart = try Self.closedLoop(spec: declared, users: 1_500, seed: seed, features: features, firstKind: firstKind)
        let together = try Self.closedLoop(spec: hashed, users: 1_500, seed: seed, features: features, firstKind: firstKind)
        #expect(apart > 0.35, "declared: \(apart)")
        #expect(together < 0.3 && apart > together + 0.08, "declared \(apart), hashed \(together)")
    }
    /// A log schema of these user features (the other roles fixed), for the warm start's notes.
    static func schema(_ features: [DataSchema.Feature]) -> DataSchema {
        DataSchema(
            logs: DataSchema.Logs(
                timestamp: "t", item: "item", position: "slot", outcome: "click", propensity: "p", userFeatures: features),
            catalogue: DataSchema.Catalogue(file: "items.csv", item: "id", itemFeatures: []))
    }

    /// A warm start trains the served encoding: a schema whose declared values differ from it (as sets), that declares
    /// values of a numeric feature, or that has a feature the policy does not have (whose rows the policy refuses), is
    /// named; declarations that agree, in any order, and undeclared features the policy has, are not.
    @Test func aWarmStartNamesDeclaredValuesTheServedPolicyDoesNotEncode() throws {
        let spec = OnlinePolicySpec.make(
            catalogue: try unitCatalogue(),
            userFeatures: [
                DataSchema.Feature("segment", .categorical, values: ["budget", "luxury"]),
                DataSchema.Feature("region", .categorical), DataSchema.Feature("age", .numeric),
            ])
        let agreeing = Self.schema([
            DataSchema.Feature("segment", .categorical, values: ["luxury", "budget"]),
            DataSchema.Feature("region", .categorical), DataSchema.Feature("age", .numeric),
        ])
        #expect(WarmStart.schemaValueNotes(schema: agreeing, spec: spec).isEmpty)
        let differing = Self.schema([
            DataSchema.Feature("segment", .categorical, values: ["luxury", "budget", "family"]),
            DataSchema.Feature("region", .categorical, values: ["north"]),
            DataSchema.Feature("age", .categorical, values: ["young"]), DataSchema.Feature("device", .categorical),
        ])
        let notes = WarmStart.schemaValueNotes(schema: differing, spec: spec)
        #expect(notes.count == 4)
        #expect(notes[0].contains("'segment' [luxury, budget, family]") && notes[0].contains("encodes the 2 values [budget, luxury]"))
        #expect(notes[1].contains("'region' [north]") && notes[1].contains("hashes its values into 8 columns"))
        #expect(notes[2].contains("'age' [young]") && notes[2].contains("reads it as numeric"))
        #expect(notes[3].contains("'device' is not one the served policy has") && notes[3].contains("refuses every row"))
    }

    /// A shop's case: a policy registered with `age = "numeric"` (mean 0, scale 1) warm-started with a schema declaring
    /// `mean = 43.02, scale = 15.05` learnt ages 18–70 raw (clipped) with no warning, where a `values` mismatch warned.
    @Test func aWarmStartNamesANumericFeatureStandardisedOtherwiseOrOfAnotherKind() throws {
        let spec = OnlinePolicySpec.make(
            catalogue: try unitCatalogue(),
            userFeatures: [
                DataSchema.Feature("age", .numeric), DataSchema.Feature("income", .numeric, mean: 5, scale: 2),
                DataSchema.Feature("region", .categorical), DataSchema.Feature("visits", .numeric),
            ])
        // Agreeing: undeclared statistics, or the served ones, or ones equal to within a double's rounding.
        let agreeing = Self.schema([
            DataSchema.Feature("age", .numeric), DataSchema.Feature("income", .numeric, mean: 5, scale: 2.000000000001),
            DataSchema.Feature("region", .categorical), DataSchema.Feature("visits", .numeric, mean: 0),
        ])
        #expect(WarmStart.schemaValueNotes(schema: agreeing, spec: spec).isEmpty)
        let differing = Self.schema([
            DataSchema.Feature("age", .numeric, mean: 43.02, scale: 15.05),
            DataSchema.Feature("income", .numeric, scale: 3), DataSchema.Feature("region", .numeric),
            DataSchema.Feature("visits", .categorical),
        ])
        let notes = WarmStart.schemaValueNotes(schema: differing, spec: spec)
        #expect(notes.count == 4, "\(notes)")
        #expect(notes[0].contains("'age' numeric with mean 43.02, scale 15.05") && notes[0].contains("with mean 0.0, scale 1.0"))
        #expect(notes[1].contains("'income' numeric with mean 5.0, scale 3.0") && notes[1].contains("with mean 5.0, scale 2.0"))
        #expect(notes[2].contains("'region' numeric") && notes[2].contains("encodes it as categorical"))
        #expect(notes[3].contains("'visits' categorical") && notes[3].contains("reads it as numeric"))
    }
}
