import RecWire

/// One payload frame of a request as the broker holds and forwards it: bytes the core can read, or a
/// message the reactor received from libzmq and forwards without ever copying it (the reactor's
/// `HeldFrame`). The core treats every frame alike: it counts its bytes, reads in place what routing
/// needs (a SCORE tensor's 8-byte shape) and hands the frame back in a dispatch.
public protocol PayloadFrame: Sendable {
    /// The frame's size in bytes.
    var byteCount: Int { get }
    /// Calls `body` with the frame's bytes, read in place.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result
}

extension Array: PayloadFrame where Element == UInt8 {
    /// The frame's size in bytes.
    public var byteCount: Int { count }

    /// Calls `body` with the array's bytes.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(body)
    }
}

extension PayloadFrame {
    /// A copy of the frame's bytes (tests and the rare path that needs an array).
    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// The shape of a SCORE tensor frame, checked from its 8-byte prefix and its length alone, in place
    /// (docs/PROTOCOL.md: u32 LE rows, u32 LE cols, then rows × cols float32 values). The values are
    /// not read: whether each is finite is the worker's check, which answers BAD_REQUEST naming the cell.
    /// - Throws: ``WireError`` naming the problem, as ``Tensor/validate(_:maxRows:maxCols:requireFinite:)``
    ///   would with `requireFinite: false`.
    public func tensorShape(maxRows: Int, maxCols: Int) throws(WireError) -> (rows: Int, cols: Int) {
        let shape: (UInt32, UInt32)? = withBytes { raw in
            guard raw.count >= 8 else { return nil }
            return (raw.loadUnaligned(as: UInt32.self), raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        }
        guard let shape else { throw .tensorTooShort(bytes: byteCount) }
        let rows = Int(UInt32(littleEndian: shape.0))
        let cols = Int(UInt32(littleEndian: shape.1))
        guard rows > 0, cols > 0 else { throw .emptyTensor(rows: rows, cols: cols) }
        guard rows <= maxRows else { throw .tooManyRows(rows: rows, limit: maxRows) }
        guard cols <= maxCols else { throw .tooManyColumns(cols: cols, limit: maxCols) }
        let (count, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard !overflow, byteCount == 8 + count * 4 else {
            throw .tensorSizeMismatch(rows: rows, cols: cols, bytes: byteCount)
        }
        return (rows, cols)
    }
}
