import RecModel
import RecPolicy
import RecWire
import Testing

/// ε-greedy's greedy share over items tied for the highest score: split equally, never given to the first of them.
@Suite struct SlateGreedyTieTests {
    @Test("items tied for the highest score share 1 − ε equally; the others keep ε/n")
    func tiedItemsShareTheGreedyChoice() {
        let rule = ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.2)
        let p = SlateExploration.probabilities([0.5, 0.5, 0.1, 0.5], exploration: rule)
        let tied = 0.8 / 3 + 0.05
        #expect(abs(p[0] - tied) < 1e-12 && abs(p[1] - tied) < 1e-12 && abs(p[3] - tied) < 1e-12, "\(p)")
        #expect(abs(p[2] - 0.05) < 1e-12, "\(p)")
        // One best item: 1 − ε + ε/n, as before.
        let single = SlateExploration.probabilities([0.1, 0.9, 0.3], exploration: rule)
        #expect(abs(single[1] - (0.8 + 0.2 / 3)) < 1e-12 && abs(single[0] - 0.2 / 3) < 1e-12, "\(single)")
        // Every score equal: uniform, whatever the order.
        let equal = SlateExploration.probabilities([Double](repeating: 0.3, count: 5), exploration: rule)
        #expect(equal.allSatisfy { abs($0 - 0.2) < 1e-12 }, "\(equal)")
    }

    /// The helper's case: an untrained online policy (every item scored alike) was evaluated, and would be served
    /// under ε-greedy on its mean, as "always the catalogue's first row" (0.948 on row 0 of 4 items).
    @Test("an untrained policy's ε-greedy slot is uniform over the items, and its slates' propensities say so")
    func untrainedPolicyIsUniform() throws {
        let (_, spec) = smallSpec(exploration: ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.02))
        let policy = try OnlinePolicy.initial(spec: spec)
        let features = ["user_feature_0": "u0_01"]
        let q = try policy.qValues(userFeatures: features)
        #expect(Set(q).count == 1, "an untrained policy scores every item alike")
        let items = Array(0..<spec.itemCount)
        let p = policy.probabilities(q, items: items)
        let uniform = 1 / Double(spec.itemCount)
        #expect(p.allSatisfy { abs($0 - uniform) < 1e-12 }, "\(p.prefix(5))")
        var rng = Xoshiro256(seed: 5)
        var firstRow = 0
        for _ in 0..<400 {
            let slot = try policy.recommend(userFeatures: features, top: 1, rng: &rng)[0]
            #expect(abs(slot.propensity - uniform) < 1e-12)
            if slot.item == 0 { firstRow += 1 }
        }
        #expect(firstRow < 40, "row 0 shown \(firstRow) times of 400 at a uniform 1/\(spec.itemCount)")
    }
}
