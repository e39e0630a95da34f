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
}
