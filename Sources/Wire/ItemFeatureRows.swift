/// The item feature rows of an ``OnlinePolicySpec``: `count` rows of `width` floats each, held in one flat
/// row-major `[Float]` (row `i` is `values[i * width ..< (i + 1) * width]`), not one array per item.
///
/// The flat array is a copy-on-write buffer: a spec made from a catalogue (`OnlinePolicySpec.setCatalogue`) holds
/// the catalogue's own feature buffer, and the policy and the retrieval built from that spec read the same buffer,
/// so a replica holds each item's row once however many values refer to it. On the wire (and in JSON) the rows are
/// an array of arrays, `[[Float]]`, exactly as before; reading it flattens once.
///
/// Rows of unequal lengths (a malformed document) are kept as ``isRegular`` false with no values (width 0, every
/// row empty), so ``OnlinePolicySpec/problem`` can name the fault instead of a decode failing, and nothing is
/// allocated from the document's numbers.
public struct ItemFeatureRows: Sendable, Equatable, RandomAccessCollection, Codable {
    /// Every row's values, `count × width`, row-major.
    public let values: [Float]
    /// Values per row.
    public let width: Int
    /// Whether every row had `width` values when the rows were made (false: some were cut or padded).
    public let isRegular: Bool
    private let rows: Int

    /// No rows.
    public init() {
        values = []
        width = 0
        rows = 0
        isRegular = true
    }

    /// Rows over a flat row-major buffer (shared, not copied): `values.count` must be `count × width`.
    /// - Returns: nil when it is not, or when `count` or `width` is negative.
    public init?(values: [Float], width: Int, count: Int) {
        guard width >= 0, count >= 0, values.count == width * count else { return nil }
        self.values = values
        self.width = width
        rows = count
        isRegular = true
    }

    /// Rows from one array per row (copied into one flat buffer). When any row's length differs from the first's,
    /// the result is marked irregular (``isRegular``) and holds no values.
    public init(_ rows: [[Float]]) {
        let width = rows.first?.count ?? 0
        // Regularity first: padding short rows to the first row's width sized the buffer from the document's numbers
        // (one row of 10⁶ values and 4.6 × 10⁶ empty ones asked for 1.8 × 10¹³ bytes and aborted a worker). Irregular
        // rows keep no values: the spec is refused (``OnlinePolicySpec/problem``) before any row is read.
        guard rows.allSatisfy({ $0.count == width }) else {
            values = []
            self.width = 0
            self.rows = rows.count
            isRegular = false
            return
        }
        var flat: [Float] = []
        flat.reserveCapacity(width * rows.count)
        for row in rows { flat.append(contentsOf: row) }
        values = flat
        self.width = width
        self.rows = rows.count
        isRegular = true
    }

    /// The first row.
    public var startIndex: Int { 0 }
    /// One past the last row.
    public var endIndex: Int { rows }

    /// Row `index` (a view of the shared buffer).
    public subscript(index: Int) -> ItemFeatureRow {
        precondition(index >= 0 && index < rows, "item row \(index) out of 0..<\(rows)")
        return ItemFeatureRow(values: values, offset: index * width, count: width)
    }

    /// Reads `[[Float]]`.
    public init(from decoder: any Decoder) throws {
        self.init(try [[Float]](from: decoder))
    }

    /// Writes `[[Float]]`, one inner array per row.
    public func encode(to encoder: any Encoder) throws {
        var outer = encoder.unkeyedContainer()
        for row in 0..<rows {
            var inner = outer.nestedUnkeyedContainer()
            for k in 0..<width { try inner.encode(values[row * width + k]) }
        }
    }
}

/// One item's feature row: a view of ``ItemFeatureRows``'s flat buffer, indexed from 0.
public struct ItemFeatureRow: Sendable, Equatable, RandomAccessCollection {
    private let values: [Float]
    private let offset: Int
    /// Values in the row.
    public let count: Int

    init(values: [Float], offset: Int, count: Int) {
        self.values = values
        self.offset = offset
        self.count = count
    }

    /// The first column.
    public var startIndex: Int { 0 }
    /// One past the last column.
    public var endIndex: Int { count }

    /// Column `index`'s value.
    public subscript(index: Int) -> Float {
        precondition(index >= 0 && index < count, "item feature \(index) out of 0..<\(count)")
        return values[offset + index]
    }

    /// The row as its own array (a copy).
    public var array: [Float] { Array(values[offset..<(offset + count)]) }

    /// Rows are equal when their values are.
    public static func == (a: ItemFeatureRow, b: ItemFeatureRow) -> Bool { a.elementsEqual(b) }
}
