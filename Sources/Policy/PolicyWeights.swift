import Crypto
import RecModel
import RecWire

/// Moves a policy's learnt statistics in and out of a ``ParameterPack``, the form the broker merges and stores, and
/// names them by SHA-256. The pack holds the ``BayesianLastLayer``'s sums as vectors `a`, `g`, `n`, `c`, `s`, `k`.
/// Syncs ship it as a ``PolicyPackDelta`` from a version the other side holds when they can.
public enum PolicyWeights {
    /// The pack of a policy's statistics.
    public static func pack(_ policy: OnlinePolicy, step: UInt64 = 0) -> ParameterPack {
        pack(policy.statistics, step: step)
    }

    /// The pack of statistics.
    public static func pack(_ stats: BayesianLastLayer, step: UInt64 = 0) -> ParameterPack {
        ParameterPack(
            step: step,
            vectors: [
                .init(name: "a", values: stats.a.map(Float.init)), .init(name: "g", values: stats.g.map(Float.init)),
                .init(name: "n", values: stats.n.map(Float.init)), .init(name: "c", values: stats.c.map(Float.init)),
                .init(name: "s", values: stats.s.map(Float.init)), .init(name: "k", values: stats.k.map(Float.init)),
            ])
    }

    /// The statistics in a pack, shaped for `policy`'s spec.
    /// - Throws: ``PolicyError/weightsMismatch(expected:got:)`` when a vector is missing or has another length,
    ///   ``PolicyError/nonFiniteStatistic(vector:index:value:)`` naming the first value that is not finite.
    public static func statistics(_ pack: ParameterPack, like policy: OnlinePolicy) throws(PolicyError)
        -> BayesianLastLayer
    {
        try statistics(pack, width: policy.statistics.width, buckets: policy.statistics.buckets)
    }

    /// The statistics in a pack of `width`-wide features and `buckets` id buckets. Every vector's length is checked
    /// against that shape before any is converted, so nothing is sized from the shape alone.
    /// - Throws: ``PolicyError/statisticsVectors(_:)`` naming a vector that is missing or unknown (or of another length
    ///   when the total is right), ``PolicyError/weightsMismatch(expected:got:)`` when the lengths add up to another
    ///   total, ``PolicyError/nonFiniteStatistic(vector:index:value:)`` naming the first value that is not finite,
    ///   ``PolicyError/impossibleStatistic(vector:index:value:)`` for a count or sum of squares below 0.
    public static func statistics(_ pack: ParameterPack, width: Int, buckets: Int) throws(PolicyError)
        -> BayesianLastLayer
    {
        let expected = OnlinePolicy.parameterCount(width: width, buckets: buckets)
        let got = pack.vectors.reduce(0) { $0 + $1.values.count }
        let lengths = [
            ("a", width * width), ("g", width), ("n", buckets), ("c", buckets * width), ("s", buckets), ("k", buckets),
        ]
        for (name, count) in lengths {
            guard let v = pack[name] else {
                // Named: a renamed vector (`A` for `a`) left the parameter counts equal, and the refusal read
                // "320298 parameters, the spec needs 320298".
                let others = pack.vectors.map(\.name).filter { name in !lengths.contains { $0.0 == name } }
                throw .statisticsVectors(
                    "vector \(name) is missing" + (others.isEmpty ? "" : " (the pack has \(others.joined(separator: ", ")))"))
            }
            guard v.count == count else {
                if got == expected {
                    throw .statisticsVectors("vector \(name) has \(v.count) values, the spec needs \(count)")
                }
                throw .weightsMismatch(expected: expected, got: got)
            }
            if let index = v.firstIndex(where: { !$0.isFinite }) {
                throw .nonFiniteStatistic(vector: name, index: index, value: v[index])
            }
        }
        // A vector the statistics do not have (`zz`) was carried unread, and the pack's SHA-256 named bytes the
        // replica then reported as another pack's.
        guard pack.vectors.count == lengths.count else {
            let unknown = pack.vectors.map(\.name).filter { name in !lengths.contains { $0.0 == name } }
            throw .statisticsVectors("the pack holds vectors the statistics do not have: \(unknown.joined(separator: ", "))")
        }
        // Sums no learner makes below 0: per-bucket weights (`n`, each `w = p̂(1 − p̂)` or 1) and event counts (`k`),
        // and `a`'s diagonal (Σ w·φᵢ²).
        for name in ["n", "k"] {
            let v = pack[name]!
            if let index = v.firstIndex(where: { $0 < 0 }) { throw .impossibleStatistic(vector: name, index: index, value: v[index]) }
        }
        let a = pack["a"]!
        if let i = (0..<width).first(where: { a[$0 * width + $0] < 0 }) {
            throw .impossibleStatistic(vector: "a", index: i * width + i, value: a[i * width + i])
        }
        func read(_ name: String) -> [Double] { pack[name]!.map(Double.init) }
        return BayesianLastLayer(
            width: width, buckets: buckets, a: read("a"), g: read("g"), n: read("n"), c: read("c"), s: read("s"),
            k: read("k"))
    }

    /// The policy a pack describes: `policy`'s spec with the pack's statistics, scoring with their posterior mean.
    /// - Throws: ``PolicyError`` when the pack does not fit.
    public static func policy(_ pack: ParameterPack, like policy: OnlinePolicy) throws(PolicyError) -> OnlinePolicy {
        try policy.with(statistics: statistics(pack, like: policy))
    }

    /// Merges replicas' learning exactly: every replica started from `base` and learnt from its own events, so the
    /// merged sums are `base + Σ_r (replica_r − base)` — what one learner that saw every event would hold. (An
    /// average of the replicas would divide each replica's learning by their number.) `a`'s upper triangle is
    /// mirrored into its lower one, so the result is symmetric bit for bit.
    /// - Throws: ``PolicyError/weightsMismatch(expected:got:)`` when the packs' vectors differ in shape,
    ///   ``PolicyError/statisticsVectors(_:)`` when a replica's pack has vectors the base does not.
    public static func merge(base: ParameterPack, replicas: [ParameterPack]) throws(PolicyError) -> ParameterPack {
        var vectors = base.vectors
        for replica in replicas {
            // Every replica vector is merged: one the base does not have would be dropped unread.
            guard replica.vectors.map(\.name).sorted() == vectors.map(\.name).sorted() else {
                throw .statisticsVectors(
                    "a replica's pack holds the vectors \(replica.vectors.map(\.name).joined(separator: ", ")), the base "
                        + vectors.map(\.name).joined(separator: ", "))
            }
            for (k, vector) in vectors.enumerated() {
                guard let values = replica[vector.name], values.count == vector.values.count else {
                    throw .weightsMismatch(expected: vector.values.count, got: replica[vector.name]?.count ?? 0)
                }
                let baseValues = base.vectors[k].values
                for i in values.indices { vectors[k].values[i] += values[i] - baseValues[i] }
            }
        }
        // `a` leaves symmetric bit for bit even when a pack stored by an earlier version was not: its upper
        // triangle is mirrored (a statistics delta carries only that triangle).
        if let ai = vectors.firstIndex(where: { $0.name == "a" }), let gi = vectors.firstIndex(where: { $0.name == "g" }),
            vectors[ai].values.count == vectors[gi].values.count * vectors[gi].values.count
        {
            let width = vectors[gi].values.count
            vectors[ai].values.withUnsafeMutableBufferPointer { a in
                for i in 0..<width {
                    for j in (i + 1)..<max(width, i + 1) { a[j * width + i] = a[i * width + j] }
                }
            }
        }
        return ParameterPack(step: replicas.map(\.step).max() ?? base.step, vectors: vectors)
    }

    /// SHA-256 (hex) of a policy's encoded pack: equal hashes mean bit-identical statistics.
    public static func sha256(_ policy: OnlinePolicy) -> String {
        sha256(of: pack(policy).encoded())
    }

    /// SHA-256 (hex) of bytes.
    public static func sha256(of bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// A pack of statistics shaped like `policy`'s that make it recommend badly (fault injection for the guard; it
    /// must refuse it): the interaction evidence reversed (`g ← −g`, so the user × item terms favour what the
    /// policy learnt to be worst), and every item-id bucket's bias pinned to a random logit of spread `scale` as if
    /// by 1,000 events. A random bias alone was not enough: a policy whose interaction terms had learnt well still
    /// ranked about as well as before under it, so the guard's check could pass it.
    public static func noise(like policy: OnlinePolicy, seed: UInt64, scale: Float = 1) -> ParameterPack {
        var rng = Xoshiro256(seed: seed)
        var stats = policy.statistics
        for j in stats.g.indices { stats.g[j] = -stats.g[j] }
        for b in 0..<stats.buckets {
            stats.n[b] += 1_000
            stats.s[b] += 1_000 * Double(scale * rng.nextGaussian())
        }
        return pack(stats)
    }
}

#if canImport(Foundation)
    import Foundation
#endif
