/// A row-major float32 matrix as it travels in a frame: `[rows u32 LE][cols u32 LE][rows×cols f32 LE]`.
public struct Tensor: Sendable, Hashable {
    /// Number of rows (requests carry one feature row per row).
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// The values, row-major.
    public var values: [Float]

    /// Creates a tensor; `values.count` must be `rows * cols`.
    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols, "Tensor of \(rows)×\(cols) needs \(rows * cols) values")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    /// Creates a tensor from rows of equal width.
    /// - Throws: ``WireError/emptyTensor(rows:cols:)`` or a size mismatch when rows are ragged.
    public init(rows: [[Float]]) throws(WireError) {
        let width = rows.first?.count ?? 0
        guard !rows.isEmpty, width > 0 else { throw .emptyTensor(rows: rows.count, cols: width) }
        var flat: [Float] = []
        flat.reserveCapacity(rows.count * width)
        for row in rows {
            guard row.count == width else {
                throw .tensorSizeMismatch(rows: rows.count, cols: width, bytes: row.count * 4)
            }
            flat.append(contentsOf: row)
        }
        self.init(rows: rows.count, cols: width, values: flat)
    }

    /// The `cols` field (bytes 4–7, u32 LE) of an encoded tensor frame, read without decoding or
    /// copying the values, e.g. for the broker to route a SCORE request by width.
    /// - Returns: the column count, or `nil` when the frame is shorter than the 8-byte prefix.
    public static func columns(ofEncoded frame: [UInt8]) -> Int? {
        guard frame.count >= 8 else { return nil }
        var reader = ByteReader(frame, offset: 4)
        return Int(reader.read(UInt32.self))
    }

    /// Encodes the tensor frame.
    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 8 + values.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(rows).littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: UInt32(cols).littleEndian, toByteOffset: 4, as: UInt32.self)
            values.withUnsafeBytes { source in
                #if _endian(little)
                    UnsafeMutableRawBufferPointer(rebasing: raw[8...]).copyMemory(from: source)
                #else
                    for (i, v) in values.enumerated() {
                        raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 8 + i * 4, as: UInt32.self)
                    }
                #endif
            }
        }
        return bytes
    }

    /// Validates a tensor frame without copying its values: the shape, the length and, optionally,
    /// that every value is finite. The broker uses this on its hot path.
    /// - Returns: the frame's rows and columns.
    /// - Throws: ``WireError`` naming the problem, exactly as ``init(decoding:maxRows:maxCols:requireFinite:)`` would.
    public static func validate(
        _ frame: [UInt8], maxRows: Int = Int(UInt32.max), maxCols: Int = Int(UInt32.max), requireFinite: Bool = true
    ) throws(WireError) -> (rows: Int, cols: Int) {
        let (rows, cols) = try shape(of: frame, maxRows: maxRows, maxCols: maxCols)
        if requireFinite, let bad = frame.withUnsafeBytes({ firstNonFinite(inEncoded: $0, count: rows * cols) }) {
            throw .nonFiniteValue(row: bad / cols, column: bad % cols)
        }
        return (rows, cols)
    }

    /// The index (row-major) of the first of an encoded tensor frame's `count` values that is NaN or
    /// infinite, or `nil` when every one is finite. Reads the bit patterns in place, from byte 8 on.
    ///
    /// A float32 is not finite exactly when its exponent bits are all set (IEEE 754-2019, §3.4), that
    /// is when its bits without the sign are at least `0x7F80_0000`. The scan takes the largest such
    /// value over blocks of 1,024 with no branch inside a block, which the compiler turns into vector
    /// `max` instructions (about 6× faster than a test per value, issue 19), and looks for the index
    /// only in a block that has one. Every receiver of a tensor (worker, ``validate(_:maxRows:maxCols:requireFinite:)``,
    /// ``init(decoding:maxRows:maxCols:requireFinite:)``) checks through this one scan.
    /// - Parameters:
    ///   - frame: the encoded tensor: the 8-byte shape, then the values as little-endian float32.
    ///   - count: the values to check, rows × cols.
    /// - Precondition: `frame.count >= 8 + 4 · count`.
    public static func firstNonFinite(inEncoded frame: UnsafeRawBufferPointer, count: Int) -> Int? {
        precondition(count >= 0 && frame.count >= 8 + 4 * count, "Tensor.firstNonFinite: \(count) values in \(frame.count) bytes")
        guard count > 0, let base = frame.baseAddress else { return nil }
        let values = base + 8
        func magnitudeBits(_ index: Int) -> UInt32 {
            UInt32(littleEndian: values.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)) & 0x7FFF_FFFF
        }
        var start = 0
        while start < count {
            let end = min(start &+ 1024, count)
            var largest: UInt32 = 0
            for index in start..<end { largest = max(largest, magnitudeBits(index)) }
            if largest >= 0x7F80_0000 { return (start..<end).first { magnitudeBits($0) >= 0x7F80_0000 } }
            start = end
        }
        return nil
    }

    /// The index (row-major) of the first of an encoded tensor frame's `count` values that is not a probability:
    /// below 0, above 1, NaN or infinite (−0 is 0); `nil` when every one lies in [0, 1]. Reads the bit patterns in place,
    /// from byte 8 on, as ``firstNonFinite(inEncoded:count:)`` does.
    ///
    /// A float32 lies in [+0, 1] exactly when its bits, read as an unsigned integer, are at most `0x3F80_0000` (1.0):
    /// positive floats order as their bit patterns (IEEE 754-2019, §3.4), and a set sign bit, NaN or infinity is larger.
    /// - Precondition: `frame.count >= 8 + 4 · count`.
    public static func firstOutsideUnitInterval(inEncoded frame: UnsafeRawBufferPointer, count: Int) -> Int? {
        precondition(
            count >= 0 && frame.count >= 8 + 4 * count, "Tensor.firstOutsideUnitInterval: \(count) values in \(frame.count) bytes")
        guard count > 0, let base = frame.baseAddress else { return nil }
        let values = base + 8
        func bits(_ index: Int) -> UInt32 {
            let raw = UInt32(littleEndian: values.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
            return raw == 0x8000_0000 ? 0 : raw  // −0 is 0
        }
        var start = 0
        while start < count {
            let end = min(start &+ 1024, count)
            var largest: UInt32 = 0
            for index in start..<end { largest = max(largest, bits(index)) }
            if largest > 0x3F80_0000 { return (start..<end).first { bits($0) > 0x3F80_0000 } }
            start = end
        }
        return nil
    }

    private static func shape(of frame: [UInt8], maxRows: Int, maxCols: Int) throws(WireError) -> (Int, Int) {
        try frame.withUnsafeBytes { raw in
            Result { () throws(WireError) in try shape(ofEncoded: raw, maxRows: maxRows, maxCols: maxCols) }
        }.get()
    }

    /// Checks an encoded tensor frame's shape from its 8-byte prefix and its length, in place, without
    /// reading the values (a receiver that forwards or reads the frame where it lies).
    /// - Returns: the frame's rows and columns.
    /// - Throws: ``WireError`` naming the problem, as ``validate(_:maxRows:maxCols:requireFinite:)``
    ///   would with `requireFinite: false`.
    public static func shape(ofEncoded frame: UnsafeRawBufferPointer, maxRows: Int, maxCols: Int) throws(WireError)
        -> (rows: Int, cols: Int)
    {
        guard frame.count >= 8 else { throw .tensorTooShort(bytes: frame.count) }
        let rows = Int(UInt32(littleEndian: frame.loadUnaligned(as: UInt32.self)))
        let cols = Int(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        // The limits first (TOO_LARGE), then emptiness (BAD_REQUEST): a 0 × 2³² − 1 tensor is refused for its
        // columns, as docs/PROTOCOL.md's order of checks says (the shape against the limits, then the tensor).
        guard rows <= maxRows else { throw .tooManyRows(rows: rows, limit: maxRows) }
        guard cols <= maxCols else { throw .tooManyColumns(cols: cols, limit: maxCols) }
        guard rows > 0, cols > 0 else { throw .emptyTensor(rows: rows, cols: cols) }
        let (count, overflow) = rows.multipliedReportingOverflow(by: cols)
        // `count ≤ (bytes − 8) / 4` first, so `count * 4` cannot overflow (2³¹ × 2³⁰ cells would trap there).
        guard !overflow, count <= (frame.count - 8) / 4, frame.count == 8 + count * 4 else {
            throw .tensorSizeMismatch(rows: rows, cols: cols, bytes: frame.count)
        }
        return (rows, cols)
    }

    /// Decodes and validates a tensor frame.
    /// - Parameters:
    ///   - maxRows: the most rows allowed.
    ///   - maxCols: the most columns allowed.
    ///   - requireFinite: reject NaN and infinity, naming the first bad cell.
    /// - Throws: ``WireError`` naming the problem.
    public init(
        decoding frame: [UInt8], maxRows: Int = Int(UInt32.max), maxCols: Int = Int(UInt32.max),
        requireFinite: Bool = true
    )
        throws(WireError)
    {
        let (rows, cols) = try Self.shape(of: frame, maxRows: maxRows, maxCols: maxCols)
        let count = rows * cols
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { target in
            frame.withUnsafeBytes { source in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[8...]))
            }
        }
        #if !_endian(little)
            for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        #endif
        if requireFinite, let bad = frame.withUnsafeBytes({ Self.firstNonFinite(inEncoded: $0, count: count) }) {
            throw .nonFiniteValue(row: bad / cols, column: bad % cols)
        }
        self.rows = rows
        self.cols = cols
        self.values = values
    }
}
