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
        try withBytes { raw in
            Result { () throws(WireError) in try Tensor.shape(ofEncoded: raw, maxRows: maxRows, maxCols: maxCols) }
        }.get()
    }
}
