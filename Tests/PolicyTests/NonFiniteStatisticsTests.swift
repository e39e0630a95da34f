import RecModel
import RecPolicy
import RecWire
import Testing

/// Learnt statistics that stop being finite are refused by name (vector and index), never merged or served.
@Suite("Policy statistics that are not finite")
struct NonFiniteStatisticsTests {
    @Test("a merge whose sums overflow float32 is refused, naming the vector and index, not served as infinity")
    func overflowingMergeIsRefusedByName() throws {
        let (_, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        let base = PolicyWeights.pack(policy)
        // Two replicas each add 3e38 to g[0]: each pack is finite, their exact merge is not (above Float.max).
        var replica = base
        let g = try #require(replica.vectors.firstIndex { $0.name == "g" })
        replica.vectors[g].values[0] += 3e38
        #expect(replica.vectors[g].values[0].isFinite)
        let merged = try PolicyWeights.merge(base: base, replicas: [replica, replica])
        #expect(throws: PolicyError.nonFiniteStatistic(vector: "g", index: 0, value: .infinity)) {
            try PolicyWeights.policy(merged, like: policy)
        }
        let message = PolicyError.nonFiniteStatistic(vector: "g", index: 0, value: .infinity).description
        #expect(message.contains("g[0] is inf") && message.contains("never served"))
    }

    /// A vector the statistics do not have was carried unread (and the replica reported another pack's SHA-256).
    @Test("a pack with a vector the statistics do not have is refused")
    func extraVector() throws {
        let (_, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        var pack = PolicyWeights.pack(policy)
        pack.vectors.append(.init(name: "zz", values: [0.5]))
        #expect(throws: PolicyError.statisticsVectors("the pack holds vectors the statistics do not have: zz")) {
            try PolicyWeights.statistics(pack, like: policy)
        }
        #expect(try PolicyWeights.statistics(PolicyWeights.pack(policy), like: policy).width > 0)
    }

    /// A renamed vector kept the parameter counts equal, and the refusal read "320298 parameters, the spec needs
    /// 320298".
    @Test("a pack whose vector is renamed, or of another length at the same total, is refused naming the vector")
    func renamedVector() throws {
        let (_, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        var renamed = PolicyWeights.pack(policy)
        let a = try #require(renamed.vectors.firstIndex { $0.name == "a" })
        renamed.vectors[a].name = "A"
        #expect(throws: PolicyError.statisticsVectors("vector a is missing (the pack has A)")) {
            try PolicyWeights.statistics(renamed, like: policy)
        }
        var moved = PolicyWeights.pack(policy)
        let g = try #require(moved.vectors.firstIndex { $0.name == "g" })
        let n = try #require(moved.vectors.firstIndex { $0.name == "n" })
        moved.vectors[g].values.append(0)
        moved.vectors[n].values.removeLast()
        let expected = moved.vectors[g].values.count - 1
        #expect(throws: PolicyError.statisticsVectors("vector g has \(expected + 1) values, the spec needs \(expected)")) {
            try PolicyWeights.statistics(moved, like: policy)
        }
    }

    @Test("a pack holding NaN is refused naming where it is")
    func nanInAPack() throws {
        let (_, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        var pack = PolicyWeights.pack(policy)
        let a = try #require(pack.vectors.firstIndex { $0.name == "a" })
        pack.vectors[a].values[5] = .nan
        do {
            _ = try PolicyWeights.statistics(pack, like: policy)
            Issue.record("a NaN statistic was accepted")
        } catch {
            guard case .nonFiniteStatistic(let vector, let index, let value) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(vector == "a" && index == 5 && value.isNaN)
        }
    }

    /// Statistics no learner can produce: a bucket's summed weight or event count below 0, or a diagonal of `a`
    /// (Σ w·φᵢ², a sum of squares) below 0.
    static let impossible: [(vector: String, index: Int, value: Float)] = [("n", 0, -5), ("k", 3, -1), ("a", 0, -2)]

    @Test(
        "statistics no learner can produce (a negative count or sum of squares) are refused naming the vector and index, never accepted to fail every Thompson sample later",
        arguments: impossible)
    func impossibleStatisticRefused(_ damage: (vector: String, index: Int, value: Float)) throws {
        let (_, spec) = smallSpec()
        let policy = try OnlinePolicy.initial(spec: spec)
        var pack = PolicyWeights.pack(policy)
        let vector = try #require(pack.vectors.firstIndex { $0.name == damage.vector })
        pack.vectors[vector].values[damage.index] = damage.value
        #expect(throws: PolicyError.impossibleStatistic(vector: damage.vector, index: damage.index, value: damage.value)) {
            try PolicyWeights.policy(pack, like: policy)
        }
        let message = PolicyError.impossibleStatistic(vector: damage.vector, index: damage.index, value: damage.value)
            .description
        #expect(message.contains("\(damage.vector)[\(damage.index)] is \(damage.value)"))
    }
}
