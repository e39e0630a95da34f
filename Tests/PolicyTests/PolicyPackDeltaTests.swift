import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// `count` feedback events over a 50-item shop catalogue, starting at event `from`.
private func shopEvents(_ count: Int, from: Int = 0) -> [LearnEvent] {
    (from..<(from + count)).map { n in
        LearnEvent(
            impressionId: "i\(n)", userFeatures: ["country": ["de", "fr", "it"][n % 3], "age": "\(20 + n % 40)"],
            viewed: n % 4 == 0 ? [ViewedItem(item: n % 50, seconds: Double(n % 9))] : [], item: (n * 7) % 50,
            reward: n % 5 == 0 ? 1 : 0, propensity: 0.3, version: 1)
    }
}

/// A base version that has already learnt (so its rows are not all zero) and its SHA-256.
private func learntBase() throws -> (policy: OnlinePolicy, pack: ParameterPack, sha: String) {
    let initial = try OnlinePolicy.initial(spec: shopSpec(try shopCatalogue(count: 50)))
    var learner = OnlineLearner(policy: initial, version: 1, seed: 9)
    _ = learner.learn(shopEvents(40, from: 1_000))
    let policy = try initial.with(statistics: learner.learnt)
    let pack = PolicyWeights.pack(policy)
    return (policy, pack, PolicyWeights.sha256(of: pack.encoded()))
}

/// A replica's pack after learning `events` from `base`.
private func replicaPack(_ base: OnlinePolicy, _ events: [LearnEvent], seed: UInt64) -> ParameterPack {
    var learner = OnlineLearner(policy: base, version: 7, seed: seed)
    _ = learner.learn(events)
    return PolicyWeights.pack(learner.learnt)
}

/// A small valid delta of a width-2, 4-bucket pack, to break one part at a time.
private func smallDelta() -> PolicyPackDelta {
    PolicyPackDelta(
        baseVersion: 3, baseSha256: String(repeating: "ab", count: 32), step: 0, width: 2, buckets: 4, rows: [1, 3],
        a: [1, 0, 1], g: [0.5, -0.5], n: [2, 1], c: [1, 2, 3, 4], s: [1, 0], k: [2, 1])
}

@Suite("Statistics pack deltas")
struct PolicyPackDeltaTests {
    @Test("a delta carries a's upper triangle, g whole and only the changed bucket rows, and rebuilds the target bit for bit")
    func rebuildsTheTarget() throws {
        let base = try learntBase()
        let events = shopEvents(12)
        let target = replicaPack(base.policy, events, seed: 2)
        let delta = try PolicyPackDelta.between(base: base.pack, version: 7, sha256: base.sha, target: target)
        let (width, buckets) = try PolicyPackDelta.shape(of: base.pack)
        #expect(delta.width == width && delta.buckets == buckets)
        // Each event changes its shown item's bucket (and viewed items only enter φ): at most 12 rows.
        #expect(!delta.rows.isEmpty && delta.rows.count <= Set(events.map(\.item)).count)
        #expect(delta.rows == delta.rows.sorted())
        #expect(delta.a.count == width * (width + 1) / 2)
        #expect(delta.g.count == width && delta.c.count == delta.rows.count * width)

        let bytes = delta.encoded()
        let decoded = try PolicyPackDelta(decoding: bytes)
        #expect(decoded == delta)
        let rebuilt = try decoded.apply(to: base.pack, version: 7, sha256: base.sha)
        #expect(rebuilt.encoded() == target.encoded())
        #expect(bytes.count < target.encoded().count / 4)
        // The size the type's documentation gives.
        #expect(bytes.count == 4 * (width * (width + 1) / 2 + width) + 4 * delta.rows.count * (width + 4) + 88)

        // Rows that did not change are not sent: the same pack gives a delta of no rows.
        let none = try PolicyPackDelta.between(base: base.pack, version: 7, sha256: base.sha, target: base.pack)
        #expect(none.rows.isEmpty && none.n.isEmpty && none.c.isEmpty)
        #expect(
            try PolicyPackDelta(decoding: none.encoded()).apply(to: base.pack, version: 7, sha256: base.sha)
                == base.pack)
    }

    /// docs/PROTOCOL.md's example: 4·(249·250/2 + 249) + 88 = 125,584 bytes plus 4·(249 + 4) = 1,012 a row.
    @Test("the simulator world's φ is 249 wide with 1,024 id buckets (the figures docs/PROTOCOL.md quotes)")
    func simulatorWidth() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        let features = try PolicyFeatures(spec: spec)
        #expect(features.width == 249 && spec.idBuckets == 1_024)
        #expect(4 * (249 * 250 / 2 + 249) + 88 == 125_584 && 4 * (249 + 4) == 1_012)
    }

    @Test("merging packs rebuilt from deltas is bit-identical to merging the whole packs")
    func mergeOfDeltasIsExact() throws {
        let base = try learntBase()
        let left = replicaPack(base.policy, shopEvents(170), seed: 2)
        let right = replicaPack(base.policy, shopEvents(130, from: 170), seed: 3)
        let whole = try PolicyWeights.merge(base: base.pack, replicas: [left, right])
        let rebuilt = try [left, right].map { pack in
            let bytes = try PolicyPackDelta.between(base: base.pack, version: 7, sha256: base.sha, target: pack)
                .encoded()
            return try PolicyPackDelta(decoding: bytes).apply(to: base.pack, version: 7, sha256: base.sha)
        }
        let fromDeltas = try PolicyWeights.merge(base: base.pack, replicas: rebuilt)
        #expect(fromDeltas.encoded() == whole.encoded())
        #expect(PolicyWeights.sha256(of: fromDeltas.encoded()) == PolicyWeights.sha256(of: whole.encoded()))
        // A replica pack with a vector the base does not have, or without one it has, is refused, never merged with
        // the vector dropped.
        var extra = left
        extra.vectors.append(.init(name: "zz", values: [1]))
        var missing = left
        missing.vectors.removeLast()
        for bad in [extra, missing] {
            #expect(throws: PolicyError.self) { try PolicyWeights.merge(base: base.pack, replicas: [right, bad]) }
        }
    }

    @Test("a delta from another base is refused, naming the base it needs")
    func unknownBase() throws {
        let base = try learntBase()
        let target = replicaPack(base.policy, shopEvents(5), seed: 4)
        let delta = try PolicyPackDelta.between(base: base.pack, version: 7, sha256: base.sha, target: target)
        #expect(throws: PolicyDeltaError.unknownBase(version: 7, sha256: base.sha, held: 6)) {
            try delta.apply(to: base.pack, version: 6, sha256: base.sha)
        }
        let other = String(repeating: "0", count: 64)
        #expect(throws: PolicyDeltaError.unknownBase(version: 7, sha256: base.sha, held: 7)) {
            try delta.apply(to: base.pack, version: 7, sha256: other)
        }
        let error = PolicyDeltaError.unknownBase(version: 7, sha256: base.sha, held: nil)
        #expect(error.description.contains("version 7") && error.description.contains("none"))
    }

    @Test("bucket indices out of range or repeated are refused")
    func badBuckets() throws {
        var outside = smallDelta()
        outside.rows = [1, 4]
        #expect(throws: PolicyDeltaError.bucketOutOfRange(position: 1, bucket: 4, buckets: 4)) {
            try PolicyPackDelta(decoding: outside.encoded())
        }
        var twice = smallDelta()
        twice.rows = [3, 3]
        #expect(throws: PolicyDeltaError.duplicateBucket(3)) { try PolicyPackDelta(decoding: twice.encoded()) }
        #expect(throws: PolicyDeltaError.duplicateBucket(3)) { try twice.validate() }
    }

    @Test("rows of the wrong length are refused, naming the vector", arguments: ["a", "g", "n", "c", "s", "k"])
    func wrongRowLength(vector: String) throws {
        var delta = smallDelta()
        let expected: Int
        let got: Int
        switch vector {
        case "a": (expected, got, delta.a) = (3, 4, [1, 0, 0, 1])  // the whole matrix is not the triangle
        case "g": (expected, got, delta.g) = (2, 3, [1, 2, 3])
        case "n": (expected, got, delta.n) = (2, 1, [1])
        case "c": (expected, got, delta.c) = (4, 3, [1, 2, 3])
        case "s": (expected, got, delta.s) = (2, 3, [1, 2, 3])
        default: (expected, got, delta.k) = (2, 0, [])
        }
        #expect(throws: PolicyDeltaError.rowLength(vector: vector, expected: expected, got: got)) {
            try PolicyPackDelta(decoding: delta.encoded())
        }
    }

    @Test("non-finite values are refused, naming the vector and index", arguments: [Float.nan, .infinity, -.infinity])
    func nonFinite(value: Float) throws {
        var delta = smallDelta()
        delta.c[2] = value
        #expect(throws: PolicyDeltaError.nonFinite(vector: "c", index: 2)) {
            try PolicyPackDelta(decoding: delta.encoded())
        }
        var a = smallDelta()
        a.a[0] = value
        #expect(throws: PolicyDeltaError.nonFinite(vector: "a", index: 0)) { try a.validate() }
    }

    @Test("bytes that are not a whole delta are malformed", arguments: ["magic", "truncated", "trailing", "rows"])
    func malformed(kind: String) throws {
        var bytes = smallDelta().encoded()
        switch kind {
        case "magic": bytes[0] = UInt8(ascii: "X")
        case "truncated": bytes.removeLast(3)
        case "trailing": bytes.append(0)
        default: bytes[60] = 0xFF  // the row count's low byte: far more rows than bytes
        }
        #expect {
            try PolicyPackDelta(decoding: bytes)
        } throws: { error in
            guard case .malformed = error as? PolicyDeltaError else { return false }
            return true
        }
    }

    /// A whole pack's step past 2⁵³ is refused; a delta's was installed, and the replica reported the SHA-256 of a
    /// step-0 repack as the POLICY's.
    @Test("a delta's step is bounded as a whole pack's: past 2^53 is malformed")
    func stepBounded() throws {
        var delta = smallDelta()
        delta.step = ParameterPack.maximumStep
        #expect(try PolicyPackDelta(decoding: delta.encoded()).step == ParameterPack.maximumStep)
        delta.step = UInt64.max
        #expect(throws: PolicyDeltaError.malformed("step \(UInt64.max) is past the largest a pack may carry (2^53)")) {
            try PolicyPackDelta(decoding: delta.encoded())
        }
    }

    @Test("a width or bucket count from the wire sizes nothing: 2³²−1 is malformed or refused, never a trap")
    func hugeSizesFromTheWire() throws {
        // An 88-byte delta announcing width 2³²−1: width × width overflowed `Int` (a trap) before this was checked.
        var wide = smallDelta()
        (wide.width, wide.buckets, wide.rows) = (0xFFFF_FFFF, 0xFFFF_FFFF, [])
        (wide.a, wide.g, wide.n, wide.c, wide.s, wide.k) = ([], [], [], [], [], [])
        #expect(wide.encoded().count == 88)
        #expect {
            try PolicyPackDelta(decoding: wide.encoded())
        } throws: { error in
            guard case .malformed(let why) = error as? PolicyDeltaError else { return false }
            return why.contains("width 4294967295")
        }
        // 2³²−1 buckets with a real width: the delta reads (it names no row), and applying it to a base of another
        // shape is refused; nothing was sized by the bucket count (it was a 4 GiB array of flags).
        var many = smallDelta()
        (many.buckets, many.rows, many.n, many.c, many.s, many.k) = (0xFFFF_FFFF, [], [], [], [], [])
        let decoded = try PolicyPackDelta(decoding: many.encoded())
        #expect(decoded.buckets == 0xFFFF_FFFF)
        let base = try learntBase()
        #expect {
            try decoded.apply(to: base.pack, version: decoded.baseVersion, sha256: decoded.baseSha256)
        } throws: { error in
            guard case .shape = error as? PolicyDeltaError else { return false }
            return true
        }
    }

    @Test("packs that are not statistics, or of another shape than the delta, are refused")
    func shapes() throws {
        let base = try learntBase()
        let odd = ParameterPack(step: 0, vectors: [.init(name: "weights", values: [1, 2])])
        #expect(throws: PolicyDeltaError.self) {
            try PolicyPackDelta.between(base: odd, version: 1, sha256: base.sha, target: base.pack)
        }
        let delta = smallDelta()
        #expect {
            try delta.apply(to: base.pack, version: 3, sha256: delta.baseSha256)
        } throws: { error in
            guard case .shape = error as? PolicyDeltaError else { return false }
            return true
        }
        #expect(PolicyPackDelta.isDelta(delta.encoded()) && !PolicyPackDelta.isDelta(base.pack.encoded()))
    }

    @Test("a delta of the earlier format RPD1 (a whole) is recognised and refused as old, not read as a pack")
    func oldFormat() throws {
        var bytes = smallDelta().encoded()
        bytes.replaceSubrange(0..<4, with: Array("RPD1".utf8))
        #expect(PolicyPackDelta.isDelta(bytes))
        #expect(throws: PolicyDeltaError.oldFormat(magic: "RPD1")) { try PolicyPackDelta(decoding: bytes) }
        #expect(PolicyDeltaError.oldFormat(magic: "RPD1").description.contains("RPD2"))
        // A later format is refused the same way, not misread as a whole pack.
        bytes.replaceSubrange(0..<4, with: Array("RPD3".utf8))
        #expect(PolicyPackDelta.isDelta(bytes))
        #expect(throws: PolicyDeltaError.oldFormat(magic: "RPD3")) { try PolicyPackDelta(decoding: bytes) }
    }

    @Test("a target whose a is not symmetric bit for bit has no delta (its triangle would not rebuild it)")
    func asymmetricTarget() throws {
        let base = try learntBase()
        var target = replicaPack(base.policy, shopEvents(5), seed: 4)
        let width = target.vectors[1].values.count
        target.vectors[0].values[1] = target.vectors[0].values[width].nextUp
        #expect {
            try PolicyPackDelta.between(base: base.pack, version: 7, sha256: base.sha, target: target)
        } throws: { error in
            guard case .shape(let why) = error as? PolicyDeltaError else { return false }
            return why.contains("symmetric")
        }
    }

    @Test("learning and merging keep a symmetric bit for bit; merge mirrors an asymmetric pack's upper triangle")
    func symmetry() throws {
        func symmetric(_ pack: ParameterPack) -> Bool {
            let a = pack.vectors[0].values
            let width = pack.vectors[1].values.count
            return (0..<width).allSatisfy { i in
                (0..<width).allSatisfy { j in a[i * width + j].bitPattern == a[j * width + i].bitPattern }
            }
        }
        // Awkward values and weights, where (w·x)·y and (w·y)·x round differently.
        var stats = BayesianLastLayer(width: 6, buckets: 3)
        var rng = Xoshiro256(seed: 5)
        for event in 0..<200 {
            let phi = (0..<6).map { j in j == event % 6 ? 0 : Double(rng.nextGaussian()) * 1.7 }
            stats.add(phi: phi, bucket: event % 3, reward: Double(rng.nextGaussian()), weight: 0.1 + Double(event) / 97)
        }
        #expect(symmetric(PolicyWeights.pack(stats)))
        let base = try learntBase()
        #expect(symmetric(base.pack))
        var skewed = replicaPack(base.policy, shopEvents(20), seed: 6)
        let width = skewed.vectors[1].values.count
        skewed.vectors[0].values[width] += 0.25  // a[1][0] only
        let merged = try PolicyWeights.merge(base: base.pack, replicas: [skewed])
        #expect(symmetric(merged))
        #expect(merged.vectors[0].values[width] == merged.vectors[0].values[1])
    }
}
