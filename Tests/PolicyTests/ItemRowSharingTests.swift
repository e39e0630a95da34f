import Foundation
import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// The first element's address of a float buffer: equal addresses mean one shared buffer.
private func address(_ values: [Float]) -> UnsafeRawPointer? {
    values.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
}

/// A catalogue of `count` items `sku-k` with `width` numeric features drawn from a fixed seed.
private func randomCatalogue(count: Int, width: Int, seed: UInt64 = 7) throws -> ItemCatalogue {
    var rng = SplitMix64(seed: seed)
    return try ItemCatalogue(
        encoding: ItemEncoding(categorical: [], numeric: (0..<width).map { "c\($0)" }),
        ids: (0..<count).map { "sku-\($0)" }, features: (0..<(count * width)).map { _ in Float(rng.normal()) })
}

/// A spec over `catalogue` with one categorical and one numeric user feature.
private func spec(_ catalogue: ItemCatalogue, itemDims: Int = 16) -> OnlinePolicySpec {
    OnlinePolicySpec.make(
        catalogue: catalogue, userFeatures: [.init("country", .categorical), .init("age", .numeric)],
        vocabularies: ["country": ["de", "fr"]], statistics: ["age": (40, 10)], itemDims: itemDims)
}

/// The scores as the policy computed them before its rows were shared: a table of `y_a = [1 ‖ x̃_a]` in doubles
/// built from one array per row, and `σ(β_{b(a)} + Σ_j (Θᵀz)_j · y_a[j])`.
private func referenceScores(_ policy: OnlinePolicy, z: [Double], items: [Int]) -> [Double] {
    let f = policy.features
    let rows = (0..<policy.spec.itemCount).map { Array(policy.spec.itemFeatures[$0]) }
    var table: [Double] = []
    for row in rows {
        table.append(1)
        table.append(contentsOf: f.reduce(row[...]))
    }
    let yw = f.yWidth
    var v = [Double](repeating: 0, count: yw)
    for i in 0..<f.zWidth where z[i] != 0 {
        for j in 0..<yw { v[j] += z[i] * policy.coefficients.theta[i * yw + j] }
    }
    return items.map { item in
        var q = policy.coefficients.bias[policy.bucket(of: item)]
        for j in 0..<yw { q += v[j] * table[item * yw + j] }
        return 1 / (1 + exp(-q))
    }
}

@Suite("Item rows are held once: the spec, the policy and the reduced catalogue share the catalogue's buffer")
struct ItemRowSharingTests {
    @Test("a spec set from a catalogue, the policy made over it and its reduced catalogue share one row buffer")
    func oneBuffer() throws {
        let catalogue = try randomCatalogue(count: 50, width: 6)
        let spec = spec(catalogue)
        #expect(address(spec.itemFeatures.values) == address(catalogue.features))
        #expect(spec.itemFeatures.count == 50 && spec.itemFeatures.width == 6)
        #expect(Array(spec.itemFeatures[3]) == Array(catalogue.row(3)))
        let policy = try OnlinePolicy.initial(spec: spec, catalogue: catalogue)
        #expect(address(policy.catalogue.features) == address(catalogue.features))
        #expect(policy.catalogue == catalogue)
        var rng = Xoshiro256(seed: 9)
        let sampled = try policy.sampled(rng: &rng)
        #expect(address(sampled.catalogue.features) == address(catalogue.features))
        // No projection (6 columns ≤ item_dims 16): the retrieval's reduced catalogue is the catalogue itself.
        #expect(address(try sampled.reducedCatalogue().features) == address(catalogue.features))
        // Without the catalogue the policy still reads the spec's buffer (no per-item copy).
        let own = try OnlinePolicy.initial(spec: spec)
        #expect(address(own.catalogue.features) == address(catalogue.features))
    }

    @Test("moving to a later catalogue version keeps that version's buffers")
    func catalogueMoveShares() throws {
        var catalogue = try randomCatalogue(count: 20, width: 3)
        let policy = try OnlinePolicy.initial(spec: spec(catalogue), catalogue: catalogue)
        try catalogue.add(id: "new", fields: ["c0": "1", "c1": "0", "c2": "-1"])
        try catalogue.retire(id: "sku-4")
        let moved = try policy.with(catalogue: catalogue)
        #expect(address(moved.catalogue.features) == address(catalogue.features))
        #expect(address(moved.spec.itemFeatures.values) == address(catalogue.features))
        #expect(moved.activeRows.count == 20 && !moved.activeRows.contains(4))
    }

    @Test("a catalogue that is not the spec's items is not taken: the policy builds its own from the spec")
    func otherCatalogueIsNotTaken() throws {
        let catalogue = try randomCatalogue(count: 10, width: 2)
        let other = try randomCatalogue(count: 10, width: 2, seed: 8)
        let policy = try OnlinePolicy(spec: spec(catalogue), catalogue: other)
        #expect(policy.catalogue.features == catalogue.features)
    }

    @Test("the spec's rows are written and read as [[Float]], as before; uneven rows are the spec's problem")
    func wireFormatUnchanged() throws {
        let spec = OnlinePolicySpec(
            userFeatures: [UserFeatureSpec(name: "u", kind: .categorical, values: ["a"], buckets: 1)],
            itemFeatures: [[1, 0.5], [0, -2.25]])
        let json = WireJSON.encode(spec)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        let rows = try #require(object["item_features"] as? [[Double]])
        #expect(rows == [[1, 0.5], [0, -2.25]])
        let back = try WireJSON.decode(OnlinePolicySpec.self, from: json)
        #expect(back == spec && back.problem == nil && back.itemFeatures.values == [1, 0.5, 0, -2.25])
        #expect(WireJSON.encode(back) == json)
        let uneven = OnlinePolicySpec(userFeatures: spec.userFeatures, itemFeatures: [[1, 2], [3]])
        #expect(uneven.problem == "every item needs the same number of features")
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("[[1,0.5],[0,-2.25]]"))
        let unevenText = text.replacingOccurrences(of: "[[1,0.5],[0,-2.25]]", with: "[[1,0.5],[0]]")
        let decodedUneven = try WireJSON.decode(OnlinePolicySpec.self, from: Array(unevenText.utf8))
        #expect(decodedUneven.itemCount == 2)
        #expect(decodedUneven.problem == "every item needs the same number of features")
        #expect(throws: PolicyError.self) { try OnlinePolicy.initial(spec: uneven) }
    }

    @Test(
        "scores and slates are those of the per-row double table, with and without a projection, for a fixed seed",
        arguments: [(width: 6, itemDims: 16), (width: 40, itemDims: 16), (width: 5, itemDims: 0)])
    func scoresAndSlatesUnchanged(shape: (width: Int, itemDims: Int)) throws {
        let catalogue = try randomCatalogue(count: 300, width: shape.width)
        var rng = Xoshiro256(seed: 21)
        let policy = try OnlinePolicy.initial(spec: spec(catalogue, itemDims: shape.itemDims), catalogue: catalogue)
            .sampled(rng: &rng)
        #expect(policy.features.projects == (shape.width > shape.itemDims && shape.itemDims > 0))
        let user = ["country": "fr", "age": "31"]
        let viewed = [ViewedItem(item: 4, seconds: 12), ViewedItem(item: 250, seconds: 3)]
        let z = try policy.userVector(user, viewed: viewed)
        let items = Array(0..<300)
        let scores = policy.scores(z: z, items: items)
        #expect(scores == referenceScores(policy, z: z, items: items))
        #expect(scores.allSatisfy { $0.isFinite })
        // The slate: slot by slot from the reference scores with the same exploration stream.
        var a = Xoshiro256(seed: 99)
        var b = Xoshiro256(seed: 99)
        let slate = try policy.recommend(userFeatures: user, viewed: viewed, top: 5, rng: &a)
        let q = referenceScores(policy, z: z, items: policy.activeRows)
        var remaining = Array(policy.activeRows.indices)
        var expected: [SlateItem] = []
        for position in 0..<5 {
            let p = policy.probabilities(remaining.map { q[$0] }, items: remaining.map { policy.activeRows[$0] })
            let pick = SlateExploration.draw(p, rng: &b)
            let index = remaining.remove(at: pick)
            expected.append(
                SlateItem(
                    item: policy.activeRows[index], id: policy.catalogue.ids[policy.activeRows[index]], position: position,
                    score: q[index], propensity: max(p[pick], 1e-12)))
        }
        #expect(slate == expected)
        // The interaction features read the same y_a.
        let row = Array(policy.spec.itemFeatures[7])
        let y = [1] + policy.features.reduce(row[...])
        #expect(policy.interactions(z: z, item: 7, position: 1) == policy.features.interactions(z: z, y: y[...], position: 1))
    }
}
