import RecWire

/// Why a statistics pack delta cannot be built, decoded or applied. Each case names the problem; a receiver that
/// gets one installs nothing from the delta.
public enum PolicyDeltaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a delta: wrong magic, truncated, or bytes left over; the text says where.
    case malformed(String)
    /// The bytes are a delta in another format (`magic`, such as `RPD1`, which carried `a` whole) that this version
    /// does not read. A replica answers a POLICY delta it cannot read with `delta_refused`, so the broker sends the
    /// whole pack; a POLICY_STATE delta the broker cannot read is not merged. Broker and workers are upgraded
    /// together (docs/PROTOCOL.md, "Statistics deltas").
    case oldFormat(magic: String)
    /// A pack is not shaped like a policy's statistics (vectors `a`, `g`, `n`, `c`, `s`, `k` of consistent
    /// lengths), or two packs differ in shape; the text says how. Such packs travel whole.
    case shape(String)
    /// Row `position` of the delta names bucket `bucket`, outside `0..<buckets`.
    case bucketOutOfRange(position: Int, bucket: Int, buckets: Int)
    /// Bucket `bucket` appears twice among the delta's rows.
    case duplicateBucket(Int)
    /// Vector `vector` of the delta holds `got` values where its shape (`rows` rows of `rowWidth`, `a`'s upper
    /// triangle, or the whole `g`) needs `expected`.
    case rowLength(vector: String, expected: Int, got: Int)
    /// Value `index` of vector `vector` is NaN or infinite.
    case nonFinite(vector: String, index: Int)
    /// The delta was taken from version `version` (SHA-256 `sha256`), which the receiver does not hold; `held` is
    /// the version it holds, nil for none.
    case unknownBase(version: UInt64, sha256: String, held: UInt64?)
    /// The statistics (a whole pack, or rebuilt from the base and a delta) hash to `got`, not to the `expected` SHA-256
    /// named with them: something differs, so the result is not used.
    case shaMismatch(expected: String, got: String)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .malformed(let why): "malformed statistics delta: \(why)"
        case .oldFormat(let magic):
            "statistics delta in another format \(magic), which this version does not read (it reads "
                + "\(String(decoding: PolicyPackDelta.magic, as: UTF8.self)))"
        case .shape(let why): "statistics pack shape: \(why)"
        case .bucketOutOfRange(let position, let bucket, let buckets):
            "statistics delta row \(position) names bucket \(bucket), outside 0..<\(buckets)"
        case .duplicateBucket(let bucket): "statistics delta names bucket \(bucket) twice"
        case .rowLength(let vector, let expected, let got):
            "statistics delta vector \(vector) has \(got) values, its rows need \(expected)"
        case .nonFinite(let vector, let index): "statistics delta vector \(vector) value \(index) is not finite"
        case .unknownBase(let version, let sha256, let held):
            "statistics delta is against version \(version) (sha256 \(sha256.prefix(12))…), which is not held "
                + "(held: \(held.map { "version \($0)" } ?? "none"))"
        case .shaMismatch(let expected, let got):
            "statistics hash to \(got.prefix(12))…, not to the declared \(expected.prefix(12))…"
        }
    }
}

/// The change of a policy's statistics pack (``PolicyWeights/pack(_:step:)``) from a named base version: the upper
/// triangle of the symmetric `a` (row by row, `i ≤ j`), `g` whole, and only the id-bucket rows (of `n`, `c`, `s`,
/// `k`) that differ bitwise from the base, with their bucket indices. Applied to the base it rebuilds the target
/// pack bit for bit (same vectors, order and step; `a` mirrored from its triangle), so its SHA-256 is the target's.
/// A target whose `a` is not symmetric bit for bit has no delta (``BayesianLastLayer`` keeps it symmetric).
///
/// What POLICY_STATE (replica → broker, against the version the replica holds) and POLICY (broker → replica,
/// against the version the replica installed) carry in frame 2 instead of the whole pack. Encoding, little-endian:
///
/// ```
/// [magic "RPD2"][base_version u64][base_sha256 32 raw bytes][step u64][width u32][buckets u32][rows u32]
/// [bucket u32 × rows]
/// 6 × [count u32][count × f32], in the order a (width·(width+1)/2, the upper triangle row by row), g (width),
///     n (rows), c (rows × width), s (rows), k (rows)
/// ```
///
/// A delta is `4·(width·(width+1)/2 + width) + 4·rows·(width + 4) + 88` bytes. The earlier format `RPD1` carried `a`
/// whole (`width²` values); it is refused with ``PolicyDeltaError/oldFormat(magic:)``.
public struct PolicyPackDelta: Sendable, Equatable {
    /// The magic that starts every delta (a whole pack starts with ``ParameterPack/magic``).
    public static let magic: [UInt8] = Array("RPD2".utf8)

    /// The version the delta was taken from.
    public var baseVersion: UInt64
    /// SHA-256 (hex, 64 characters) of the base's encoded pack.
    public var baseSha256: String
    /// The target pack's step.
    public var step: UInt64
    /// Width of the interaction features `φ`: `g` has `width` values, `a` `width·(width+1)/2` (its upper
    /// triangle), a row of `c` `width`.
    public var width: Int
    /// Id buckets of the whole statistics (`n`, `s`, `k` have one value each, `c` one row).
    public var buckets: Int
    /// The buckets whose rows follow, ascending when built by ``between(base:version:sha256:target:)``.
    public var rows: [Int]
    /// `Σ φφᵀ`'s upper triangle, row by row (`a[i][j]` for `i ≤ j`; `width·(width+1)/2` values).
    public var a: [Float]
    /// `Σ r·φ`, whole (`width`).
    public var g: [Float]
    /// Per listed bucket: events (`rows.count`).
    public var n: [Float]
    /// Per listed bucket: `Σ φ`, `rows.count × width`, row-major.
    public var c: [Float]
    /// Per listed bucket: `Σ y` (`rows.count`).
    public var s: [Float]
    /// Per listed bucket: events for the cold-start rule (`rows.count`).
    public var k: [Float]

    /// Creates a delta from its parts (``validate()`` checks them).
    public init(
        baseVersion: UInt64, baseSha256: String, step: UInt64, width: Int, buckets: Int, rows: [Int], a: [Float],
        g: [Float], n: [Float], c: [Float], s: [Float], k: [Float]
    ) {
        self.baseVersion = baseVersion
        self.baseSha256 = baseSha256
        self.step = step
        self.width = width
        self.buckets = buckets
        self.rows = rows
        self.a = a
        self.g = g
        self.n = n
        self.c = c
        self.s = s
        self.k = k
    }

    /// The names of a statistics pack's vectors, in ``PolicyWeights/pack(_:step:)``'s order.
    static let names = ["a", "g", "n", "c", "s", "k"]

    /// The `(width, buckets)` of a statistics pack.
    /// - Throws: ``PolicyDeltaError/shape(_:)`` when the pack's vectors are not `a`, `g`, `n`, `c`, `s`, `k` in
    ///   that order with lengths `width²`, `width`, `buckets`, `buckets × width`, `buckets`, `buckets`.
    public static func shape(of pack: ParameterPack) throws(PolicyDeltaError) -> (width: Int, buckets: Int) {
        let names = pack.vectors.map(\.name)
        guard names == Self.names else {
            throw .shape("vectors \(names), expected \(Self.names)")
        }
        let width = pack.vectors[1].values.count
        let buckets = pack.vectors[2].values.count
        let counts = pack.vectors.map(\.values.count)
        let expected = [width * width, width, buckets, buckets * width, buckets, buckets]
        guard counts == expected else { throw .shape("vector lengths \(counts), expected \(expected)") }
        return (width, buckets)
    }

    /// The number of values in the upper triangle of a `width × width` matrix.
    public static func triangleCount(width: Int) -> Int { width * (width + 1) / 2 }

    /// The upper triangle of a row-major `width × width` matrix, row by row, or nil when the matrix is not
    /// symmetric bit for bit (then a mirrored triangle would not rebuild it).
    static func upperTriangle(_ m: [Float], width: Int) -> [Float]? {
        var triangle: [Float] = []
        triangle.reserveCapacity(triangleCount(width: width))
        for i in 0..<width {
            for j in i..<width {
                let value = m[i * width + j]
                guard value.bitPattern == m[j * width + i].bitPattern else { return nil }
                triangle.append(value)
            }
        }
        return triangle
    }

    /// The row-major `width × width` symmetric matrix whose upper triangle (row by row) is `triangle`.
    static func mirrored(_ triangle: [Float], width: Int) -> [Float] {
        var m = [Float](repeating: 0, count: width * width)
        var t = 0
        for i in 0..<width {
            for j in i..<width {
                m[i * width + j] = triangle[t]
                m[j * width + i] = triangle[t]
                t += 1
            }
        }
        return m
    }

    /// The delta that turns `base` (version `version`, SHA-256 `sha256` of its encoding) into `target`: the upper
    /// triangle of the target's `a`, its `g`, and the rows of every bucket where any of `n`, `c`, `s`, `k` differs
    /// bitwise.
    /// - Throws: ``PolicyDeltaError/shape(_:)`` when either pack is not shaped like statistics, the two differ, or
    ///   the target's `a` is not symmetric bit for bit (such a pack travels whole).
    public static func between(base: ParameterPack, version: UInt64, sha256: String, target: ParameterPack)
        throws(PolicyDeltaError) -> PolicyPackDelta
    {
        let (width, buckets) = try shape(of: base)
        let targetShape = try shape(of: target)
        guard targetShape == (width, buckets) else {
            throw .shape("the base has width \(width) and \(buckets) buckets, the target \(targetShape)")
        }
        let (bn, bc, bs, bk) = (
            base.vectors[2].values, base.vectors[3].values, base.vectors[4].values, base.vectors[5].values
        )
        let (tn, tc, ts, tk) = (
            target.vectors[2].values, target.vectors[3].values, target.vectors[4].values, target.vectors[5].values
        )
        guard let triangle = upperTriangle(target.vectors[0].values, width: width) else {
            throw .shape("the target's a is not symmetric bit for bit")
        }
        var delta = PolicyPackDelta(
            baseVersion: version, baseSha256: sha256, step: target.step, width: width, buckets: buckets, rows: [],
            a: triangle, g: target.vectors[1].values, n: [], c: [], s: [], k: [])
        for b in 0..<buckets {
            let row = (b * width)..<((b + 1) * width)
            let same =
                bn[b].bitPattern == tn[b].bitPattern && bs[b].bitPattern == ts[b].bitPattern
                && bk[b].bitPattern == tk[b].bitPattern
                && zip(bc[row], tc[row]).allSatisfy { $0.bitPattern == $1.bitPattern }
            if same { continue }
            delta.rows.append(b)
            delta.n.append(tn[b])
            delta.s.append(ts[b])
            delta.k.append(tk[b])
            delta.c.append(contentsOf: tc[row])
        }
        return delta
    }

    /// Checks the delta on its own: the base SHA-256 is 64 hex digits, every row names a bucket in range once,
    /// every vector has the length its rows need, every value is finite.
    /// - Throws: ``PolicyDeltaError`` naming the first problem.
    public func validate() throws(PolicyDeltaError) {
        guard baseSha256.utf8.count == 64, baseSha256.utf8.allSatisfy({ Self.hexValue($0) != nil }) else {
            throw .malformed("the base SHA-256 is not 64 hex digits")
        }
        guard width >= 0, buckets >= 0 else { throw .malformed("negative width or bucket count") }
        // The width read from the wire is bounded before it is multiplied: past the widest φ a policy can have
        // it is malformed, not an `Int` overflow (a trap) in the lengths below.
        guard width <= PolicyFeatures.maximumWidth else {
            throw .malformed("width \(width) is over the widest a policy has (\(PolicyFeatures.maximumWidth))")
        }
        // Seen buckets are kept per row, not per bucket: a bucket count from the wire sizes nothing.
        var seen = Set<Int>(minimumCapacity: rows.count)
        for (position, bucket) in rows.enumerated() {
            guard bucket >= 0, bucket < buckets else {
                throw .bucketOutOfRange(position: position, bucket: bucket, buckets: buckets)
            }
            guard seen.insert(bucket).inserted else { throw .duplicateBucket(bucket) }
        }
        let expected = [
            Self.triangleCount(width: width), width, rows.count, rows.count * width, rows.count, rows.count,
        ]
        for (name, (values, count)) in zip(Self.names, zip([a, g, n, c, s, k], expected)) {
            guard values.count == count else { throw .rowLength(vector: name, expected: count, got: values.count) }
            if let bad = values.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(vector: name, index: bad) }
        }
    }

    /// The target pack: `base` (which must be the delta's base, version `version` hashing to `sha256`) with `a`
    /// (mirrored from its triangle), `g` and the listed rows replaced, and the delta's step. Bit-identical to the pack the delta was taken to.
    /// - Throws: ``PolicyDeltaError/unknownBase(version:sha256:held:)`` when `version` or `sha256` is not the
    ///   delta's base; ``PolicyDeltaError/shape(_:)`` when `base` does not have the delta's shape; the errors of
    ///   ``validate()``.
    public func apply(to base: ParameterPack, version: UInt64, sha256: String) throws(PolicyDeltaError)
        -> ParameterPack
    {
        guard version == baseVersion, sha256 == baseSha256 else {
            throw .unknownBase(version: baseVersion, sha256: baseSha256, held: version)
        }
        try validate()
        let shape = try Self.shape(of: base)
        guard shape == (width, buckets) else {
            throw .shape("the delta has width \(width) and \(buckets) buckets, the base \(shape)")
        }
        var vectors = base.vectors
        vectors[0].values = Self.mirrored(a, width: width)
        vectors[1].values = g
        var (bn, bc, bs, bk) = (vectors[2].values, vectors[3].values, vectors[4].values, vectors[5].values)
        // Written through locals, each copied once from the base (which keeps its own), then put back.
        for i in 2..<6 { vectors[i].values = [] }
        for (i, b) in rows.enumerated() {
            bn[b] = n[i]
            bs[b] = s[i]
            bk[b] = k[i]
            bc.replaceSubrange((b * width)..<((b + 1) * width), with: c[(i * width)..<((i + 1) * width)])
        }
        (vectors[2].values, vectors[3].values, vectors[4].values, vectors[5].values) = (bn, bc, bs, bk)
        return ParameterPack(step: step, vectors: vectors)
    }

    /// Whether `bytes` start like a delta of any format, `RPD` and a digit (rather than a whole ``ParameterPack``,
    /// which starts `RPK1`), so a delta of another format is refused as one rather than misread as a pack.
    public static func isDelta(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        return Array(bytes[0..<3]) == Array("RPD".utf8) && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[3])
    }

    /// Encodes the delta (see the type's documentation).
    public func encoded() -> [UInt8] {
        let floats = a.count + g.count + n.count + c.count + s.count + k.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + 8 + 32 + 8 + 12 + 4 * rows.count + 24 + 4 * floats)
        bytes.append(contentsOf: Self.magic)
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        put(baseVersion)
        bytes.append(contentsOf: Self.rawDigest(baseSha256))
        put(step)
        put(UInt32(truncatingIfNeeded: width))
        put(UInt32(truncatingIfNeeded: buckets))
        put(UInt32(truncatingIfNeeded: rows.count))
        for row in rows { put(UInt32(truncatingIfNeeded: row)) }
        for vector in [a, g, n, c, s, k] {
            put(UInt32(truncatingIfNeeded: vector.count))
            // Little-endian hosts only, like ParameterPack: the floats are copied as they lie in memory.
            vector.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Decodes and validates a delta.
    /// - Throws: ``PolicyDeltaError/oldFormat(magic:)`` for a delta of an earlier format;
    ///   ``PolicyDeltaError/malformed(_:)`` for bytes that are not a whole delta; the errors of ``validate()`` for
    ///   one whose rows are wrong.
    public init(decoding bytes: [UInt8]) throws(PolicyDeltaError) {
        let header = 4 + 8 + 32 + 8 + 4 + 4 + 4
        if Self.isDelta(bytes), Array(bytes[0..<4]) != Self.magic {
            throw .oldFormat(magic: String(decoding: bytes[0..<4], as: UTF8.self))
        }
        guard Self.isDelta(bytes) else { throw .malformed("does not start with the magic RPD2") }
        guard bytes.count >= header else {
            throw .malformed("\(bytes.count) bytes, shorter than the \(header)-byte header")
        }
        var offset = 4
        func u32() -> Int {
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
            offset += 4
            return Int(v)
        }
        func u64() -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
            offset += 8
            return v
        }
        baseVersion = u64()
        baseSha256 = bytes[offset..<(offset + 32)].map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        offset += 32
        step = u64()
        // The bound a whole pack's step has (``ParameterPack/maximumStep``): the delta applied is repacked as one, and
        // a step past it installed under a SHA-256 of another step than the POLICY's.
        guard step <= ParameterPack.maximumStep else {
            throw .malformed("step \(step) is past the largest a pack may carry (2^53)")
        }
        width = u32()
        buckets = u32()
        let rowCount = u32()
        guard rowCount <= (bytes.count - offset) / 4 else {
            throw .malformed("\(rowCount) rows announced, the bytes end first")
        }
        rows = (0..<rowCount).map { _ in u32() }
        var vectors: [[Float]] = []
        for name in Self.names {
            guard bytes.count - offset >= 4 else { throw .malformed("truncated before vector \(name)") }
            let count = u32()
            guard count <= (bytes.count - offset) / 4 else { throw .malformed("vector \(name) is truncated") }
            var values = [Float](repeating: 0, count: count)
            let start = offset
            values.withUnsafeMutableBytes { target in
                bytes.withUnsafeBytes { source in
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + 4 * count)]))
                }
            }
            offset += 4 * count
            vectors.append(values)
        }
        guard offset == bytes.count else { throw .malformed("\(bytes.count - offset) bytes after the last vector") }
        (a, g, n, c, s, k) = (vectors[0], vectors[1], vectors[2], vectors[3], vectors[4], vectors[5])
        try validate()
    }

    /// The 32 raw bytes of a 64-digit hex SHA-256 (zeros for anything else; ``validate()`` refuses such a name).
    static func rawDigest(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return [UInt8](repeating: 0, count: 32) }
        return (0..<32).map { i in
            UInt8((hexValue(digits[2 * i]) ?? 0) << 4 | (hexValue(digits[2 * i + 1]) ?? 0))
        }
    }

    /// The value of one hex digit (either case), nil for anything else.
    static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
