import RecPolicy
import RecWire
import Testing

@testable import Worker

/// A POLICY whose spec asks for more statistics than a replica may hold is refused with a typed error naming
/// `id_buckets` and the limit, before anything is sized from it; a pack whose lengths do not fit the spec is refused
/// before the statistics are built.
@Suite("Online learning on the worker: sizes in a POLICY are bounded before they are allocated")
struct PolicySizeBoundTests {
    /// A spec whose interaction features are 2,048 wide (one categorical user feature of 2,043 hashed columns, no
    /// item columns) with `idBuckets` id buckets.
    static func wideSpec(idBuckets: Int) -> OnlinePolicySpec {
        OnlinePolicySpec(
            userFeatures: [UserFeatureSpec(name: "u", kind: .categorical, values: [], buckets: 2_043)],
            itemFeatures: [[1], [2]], idBuckets: idBuckets, itemDims: 0, slateSize: 1)
    }

    @Test("2^20 id buckets × width 2,048 (16 GiB of statistics) is refused naming id_buckets and the limit")
    func hugeStatisticsRefused() throws {
        let spec = Self.wideSpec(idBuckets: 1 << 20)
        var state = OnlineLearningState(seed: 1)
        // A small pack: nothing of the spec's size is built before the spec is refused.
        let pack = ParameterPack(step: 0, vectors: [.init(name: "a", values: [0])])
        do {
            _ = try state.install(PolicyInstall(version: 1, spec: spec, learningEnabled: true), pack: pack)
            Issue.record("a POLICY asking for 16 GiB of statistics was installed")
        } catch {
            guard case .unusable(.invalidSpec(let why)) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(why.contains("id_buckets 1048576") && why.contains("width 2048"), "\(why)")
            #expect(why.contains("\(PolicyFeatures.maximumBucketValues)"), "\(why)")
        }
        #expect(state.served == nil)
        #expect(throws: PolicyError.self) { try OnlinePolicy.initial(spec: spec) }
    }

    @Test("the largest allowed bucket count for a width still makes a policy")
    func boundaryAccepted() throws {
        let width = 2_048
        let spec = Self.wideSpec(idBuckets: PolicyFeatures.maximumBucketValues / width)
        #expect(try OnlinePolicy.initial(spec: spec).statistics.buckets == PolicyFeatures.maximumBucketValues / width)
        #expect(throws: PolicyError.self) {
            try OnlinePolicy.initial(spec: Self.wideSpec(idBuckets: PolicyFeatures.maximumBucketValues / width + 1))
        }
    }

    @Test("a pack whose vector lengths do not fit the spec is refused as a weights mismatch, naming both sizes")
    func packLengthsChecked() throws {
        var spec = Self.wideSpec(idBuckets: 4)
        spec.userFeatures = [UserFeatureSpec(name: "u", kind: .categorical, values: ["x", "y"], buckets: 0)]
        let policy = try OnlinePolicy.initial(spec: spec)
        let good = PolicyWeights.pack(policy)
        #expect(try OnlinePolicy.served(spec: spec, weights: good).statistics == policy.statistics)
        var short = good
        short.vectors[3].values.removeLast()
        let expected = policy.statistics.a.count + policy.statistics.g.count + 4 * (policy.statistics.width + 3)
        #expect(throws: PolicyError.weightsMismatch(expected: expected, got: expected - 1)) {
            try OnlinePolicy.served(spec: spec, weights: short)
        }
    }

    @Test("items 4,096 wide with item_dims 4,096 are refused for their width before the projection is drawn")
    func widthCheckedFirst() throws {
        let spec = OnlinePolicySpec(
            userFeatures: [], itemFeatures: [[Float](repeating: 1, count: 4_096)], idBuckets: 1, itemDims: 4_096,
            slateSize: 1)
        #expect(throws: PolicyError.invalidSpec(
            "the interaction features would have 16785413 columns, more than 2048: use fewer user feature values or "
                + "buckets, or a smaller item_dims")) { try PolicyFeatures(spec: spec) }
    }
}
