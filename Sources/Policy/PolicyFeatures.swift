import Foundation
import RecModel
import RecWire

/// FNV-1a (64-bit) over the UTF-8 bytes of a text's canonical composition (Unicode NFC): the one hash the policy
/// buckets user feature values and item ids with, so every process maps a value to the same bucket (Fowler, Noll and
/// Vo; Unicode Standard Annex #15).
public enum PolicyHash {
    /// The FNV-1a hash of `text` in NFC. Two spellings of one text (`é` as one code point, or `e` and a combining
    /// accent) compare equal everywhere else (the catalogue's ids, a log's categories, declared values): hashed as
    /// their bytes, an id re-uploaded in the other form lost its learnt bias and a user category split its columns.
    /// ASCII text is its own NFC and is hashed as it is.
    public static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        } else {
            for byte in text.precomposedStringWithCanonicalMapping.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
        }
        return hash
    }

    /// The bucket of an item id among `buckets`.
    public static func bucket(itemId: String, buckets: Int) -> Int {
        Int(fnv1a(itemId) % UInt64(max(buckets, 1)))
    }
}

/// How a user's context and an item become the bandit's inputs; every width is fixed by the spec, none by the
/// number of items.
///
/// - The user vector is `z = [1 ‖ e(user features) ‖ h]`: `e` is each ``UserFeatureSpec``'s columns in order (a
///   numeric one standardised and clipped to ±``userValueBound``), and
///   `h` the dwell-weighted mean of the reduced feature rows of the items viewed so far (zeros with no views; a
///   plain mean when every dwell is 0).
/// - An item's vector is `y_a = [1 ‖ x̃_a]`, `x̃_a` its catalogue row, standardised column by column when the spec
///   has an ``ItemScaling``, clipped to ±``ItemScaling/modelValueBound``, reduced to `P = min(width, item_dims)` columns (identity when the row is no wider, else
///   a fixed Gaussian projection seeded by the spec's seed, scaled by 1/√width: Johnson–Lindenstrauss).
/// - The interaction features are the outer product `φ(z, a) = z ⊗ y_a` (`Z·Y` columns), so the last layer learns
///   user × item interactions; the item's id bucket adds its own learnt bias. ``positionColumns`` more columns
///   one-hot the slot an item was shown in (slots 1…4, the top slot being the baseline), so position bias is
///   learnt apart from the item's appeal; they are constant across items in a slot and so do not change a ranking.
public struct PolicyFeatures: Sendable {
    /// Columns of the user features' encoding.
    public let userWidth: Int
    /// Reduced item columns (P).
    public let itemDims: Int
    /// Width of `z`.
    public var zWidth: Int { 1 + userWidth + itemDims }
    /// Width of `y`.
    public var yWidth: Int { 1 + itemDims }
    /// Width of `φ`: the interactions, then the position columns.
    public var width: Int { zWidth * yWidth + Self.positionColumns }
    /// Slots below the top one with a position-bias column (lower slots share the last).
    public static let positionColumns = 4
    private let features: [UserFeatureSpec]
    private let offsets: [Int]
    private let codes: [[String: Int]]
    private let projection: [Float]?
    private let rawWidth: Int
    /// The spec's item scaling as `(mean, 1 / scale)` per column, or nil when rows are read as they are.
    private let standardisation: (mean: [Double], inverseScale: [Double])?

    /// The largest `φ` the Bayesian layer solves (its precision matrix has `width²` entries).
    public static let maximumWidth = 2_048

    /// The most values the id buckets' rows of the statistics may hold, `id_buckets × width` (2²⁴: 128 MiB of
    /// `Double` on a replica, 64 MiB in a pack). Without it a spec's 2²⁰ buckets × a 2,048-wide `φ` asks a worker
    /// for 16 GiB before any weights are read.
    public static let maximumBucketValues = 1 << 24

    /// Refuses `idBuckets` buckets of `width`-wide rows above ``maximumBucketValues``, before anything is sized from
    /// them.
    /// - Throws: ``PolicyError/invalidSpec(_:)`` naming `id_buckets`, the width and the limit.
    public static func checkBucketValues(idBuckets: Int, width: Int) throws(PolicyError) {
        let (values, overflow) = idBuckets.multipliedReportingOverflow(by: width)
        guard !overflow, values <= maximumBucketValues else {
            throw .invalidSpec(
                "id_buckets \(idBuckets) × the interaction features' width \(width) would be "
                    + "\(overflow ? "more than Int.max" : "\(values)") statistics values, more than "
                    + "\(maximumBucketValues): use at most \(maximumBucketValues / max(width, 1)) id_buckets")
        }
    }

    /// The encoding of a spec.
    /// - Throws: ``PolicyError/invalidSpec(_:)`` when `φ` would be wider than ``maximumWidth``, or the items wider
    ///   than `OnlinePolicySpec.maximumItemWidth` (checked before the item projection is sized from it).
    public init(spec: OnlinePolicySpec) throws(PolicyError) {
        guard spec.itemWidth <= OnlinePolicySpec.maximumItemWidth, (0...4_096).contains(spec.itemDims) else {
            throw .invalidSpec(
                "items have \(spec.itemWidth) features and item_dims is \(spec.itemDims); at most "
                    + "\(OnlinePolicySpec.maximumItemWidth) and 4096")
        }
        features = spec.userFeatures
        var offset = 0
        var offsets: [Int] = []
        for feature in spec.userFeatures {
            offsets.append(offset)
            offset = offset.addingSaturating(feature.width)
        }
        self.offsets = offsets
        userWidth = offset
        // Keyed as values are read (``BlankText/canonical(_:)``): a spec declared before values were trimmed (` android`)
        // still matches `android`; the first of two values that trim alike keeps the key.
        codes = spec.userFeatures.map { f in
            Dictionary(f.values.enumerated().map { (BlankText.canonical($1), $0) }, uniquingKeysWith: { first, _ in first })
        }
        rawWidth = spec.itemWidth
        if let scaling = spec.itemScaling, !scaling.isIdentity {
            if let problem = scaling.problem(itemWidth: spec.itemWidth) { throw .invalidSpec(problem) }
            standardisation = (scaling.mean, scaling.scale.map { 1 / $0 })
        } else {
            standardisation = nil
        }
        itemDims = min(spec.itemWidth, spec.itemDims)
        // The width is checked before the projection (items × item_dims values, up to 4,096²) is drawn: a φ no wider
        // than the limit keeps item_dims small.
        let p = itemDims
        let (z, y) = (1.addingSaturating(userWidth).addingSaturating(p), 1 + p)
        let (product, overflow) = z.multipliedReportingOverflow(by: y)
        let planned = overflow ? Int.max : product.addingSaturating(Self.positionColumns)
        guard planned <= Self.maximumWidth else {
            throw .invalidSpec(
                "the interaction features would have \(overflow ? "more than Int.max" : "\(planned)") columns, more "
                    + "than \(Self.maximumWidth): use fewer user feature values or buckets, or a smaller item_dims")
        }
        if rawWidth > itemDims && itemDims > 0 {
            var rng = SplitMix64(seed: spec.seed ^ 0x5052_4F4A_4543_54)
            let scale = 1 / Double(rawWidth).squareRoot()
            projection = (0..<(rawWidth * itemDims)).map { _ in Float(rng.normal() * scale) }
        } else {
            projection = nil
        }
    }

    /// The bound a standardised numeric user feature is clipped to before the model reads it (±10, as an item's
    /// values: ``ItemScaling/modelValueBound``): the user's columns of `φ` then multiply item values of their own
    /// bounded scale, far inside what the posterior's 32-bit statistics solve, so no event is dropped or spoils a
    /// sync for a user's outlying value.
    public static let userValueBound = ItemScaling.modelValueBound

    /// The largest standardised numeric user feature `|x − mean| / scale` a request may carry (10¹⁵). A policy built
    /// without statistics has mean 0 and scale 1, so this bounds raw values too: far above any real feature (an age in
    /// seconds, an amount in cents), far below where the posterior's products overflow a Double.
    public static let maximumStandardScore = 1e15

    /// The user's encoded features `e` (without the leading 1 and the history). A categorical feature whose value is
    /// blank (white space only, no line break) is missing, as when it is left out: none of its columns is set; spaces
    /// and tabs around any other value are no part of it (``BlankText/canonical(_:)``, as a log's cell is read).
    /// - Throws: ``PolicyError/unknownUserFeature(_:)`` for a name the spec does not have, or
    ///   ``PolicyError/invalidUserFeature(name:value:)`` for a numeric feature that is not a finite number or lies
    ///   more than ``maximumStandardScore`` scales from its mean; ``PolicyError/nulInUserFeature(name:)`` for a value
    ///   holding U+0000.
    public func encode(_ userFeatures: [String: String]) throws(PolicyError) -> [Double] {
        var out = [Double](repeating: 0, count: userWidth)
        var known = 0
        for (index, feature) in features.enumerated() {
            guard let value = userFeatures[feature.name] else { continue }
            known += 1
            // Served values are logged with the impression and exported as CSV, which cannot hold a NUL.
            if value.unicodeScalars.contains("\u{0}") { throw .nulInUserFeature(name: feature.name) }
            switch feature.kind {
            case .categorical:
                // A blank value is a missing one (a log's blank cell, `logs export`'s omitted feature), as a request
                // that leaves the feature out: no column, never the shared column of unlisted values.
                if BlankText.isBlank(value) { continue }
                // Spaces and tabs around a value are no part of it, as in the log the policy is warm-started from:
                // ` android ` is `android`.
                let category = BlankText.canonical(value)
                if let code = codes[index][category] {
                    out[offsets[index] + code] = 1
                } else if feature.buckets > 0 {
                    let slot = Int(PolicyHash.fnv1a("\(feature.name)=\(category)") % UInt64(feature.buckets))
                    out[offsets[index] + feature.values.count + slot] = 1
                }
            case .numeric:
                // A blank value is a missing one, as a log's blank cell is (the learner's context leaves it out, and
                // warm start reads the log so): the feature's mean, 0 here.
                if BlankText.isBlank(value) { continue }
                // Read as a log's cell is (a decimal number: `0x10` is not 16 here either).
                guard let x = CSVNumber.double(value), x.isFinite else {
                    throw .invalidUserFeature(name: feature.name, value: value)
                }
                let z = (x - feature.mean) / feature.scale
                // Unbounded, a value's products in the posterior variance overflow and every score becomes NaN.
                guard z.isFinite, abs(z) <= Self.maximumStandardScore else {
                    throw .invalidUserFeature(name: feature.name, value: value)
                }
                // Read as the items' values are: clipped to ±10. A user 10¹¹ scales out otherwise put products of 10²²
                // in the posterior, which then no longer solved in the 32-bit packs replicas sync (the whole sync's
                // learning was lost), and one beyond 10¹² was dropped by the learner though acknowledged.
                out[offsets[index]] = min(max(z, -Self.userValueBound), Self.userValueBound)
            }
        }
        if known != userFeatures.count {
            let names = Set(features.map(\.name))
            if let unknown = userFeatures.keys.sorted().first(where: { !names.contains($0) }) {
                throw .unknownUserFeature(unknown)
            }
        }
        return out
    }

    /// Whether an item's reduced row is a projection of its catalogue row (the row is wider than `item_dims`);
    /// false when `x̃` is the row's first `itemDims` values.
    public var projects: Bool { projection != nil }

    /// Whether item columns are standardised (the spec's ``ItemScaling`` is not the identity); false when `x̃` reads
    /// the catalogue's values as they are.
    public var standardises: Bool { standardisation != nil }

    /// An item's reduced row `x̃` from its catalogue row (any collection of its values in column order): standardised,
    /// clipped to ±``ItemScaling/modelValueBound``, then projected or cut to `itemDims` values.
    public func reduce<Row: Collection>(_ row: Row) -> [Double] where Row.Element == Float {
        var out = [Double](repeating: 0, count: itemDims)
        let bound = ItemScaling.modelValueBound
        for (k, raw) in row.enumerated() {
            let scaled = standardisation.map { (Double(raw) - $0.mean[k]) * $0.inverseScale[k] } ?? Double(raw)
            let value = min(max(scaled, -bound), bound)
            guard let projection else {
                if k >= itemDims { break }
                out[k] = value
                continue
            }
            guard value != 0 else { continue }
            let base = k * itemDims
            for j in 0..<itemDims { out[j] += value * Double(projection[base + j]) }
        }
        return out
    }

    /// The user vector `z` from the encoded features and the views (reduced rows looked up by `reduced`).
    public func userVector(encoded: [Double], viewed: [ViewedItem], reduced: (Int) -> [Double]) -> [Double] {
        var z = [Double](repeating: 0, count: zWidth)
        z[0] = 1
        for (i, v) in encoded.enumerated() { z[1 + i] = v }
        guard !viewed.isEmpty, itemDims > 0 else { return z }
        let total = viewed.reduce(0) { $0 + $1.seconds }
        for view in viewed {
            let weight = total > 0 ? view.seconds / total : 1 / Double(viewed.count)
            guard weight > 0 else { continue }
            let x = reduced(view.item)
            for j in 0..<itemDims { z[1 + userWidth + j] += weight * x[j] }
        }
        return z
    }

    /// `φ(z, a) = z ⊗ y_a`, row-major (`φ[i·Y + j] = z[i]·y[j]`), then the one-hot of `position` (from 0; the top
    /// slot sets none).
    public func interactions(z: [Double], y: ArraySlice<Double>, position: Int = 0) -> [Double] {
        var phi = [Double](repeating: 0, count: width)
        let yw = yWidth
        for i in 0..<zWidth where z[i] != 0 {
            for j in 0..<yw { phi[i * yw + j] = z[i] * y[y.startIndex + j] }
        }
        if position > 0 { phi[zWidth * yw + min(position, Self.positionColumns) - 1] = 1 }
        return phi
    }
}
