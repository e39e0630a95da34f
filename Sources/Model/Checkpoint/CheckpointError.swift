/// Why a checkpoint could not be read or written. Reading never half-loads a model: any of these
/// means nothing was returned.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The data ends before the format says it should (`expected` bytes, `actual` present).
    case truncated(expected: Int, actual: Int)
    /// The first 8 bytes are not `RECPOOLM`: not a RecPool model file.
    case badMagic
    /// The file's format version is not one this build reads.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// The SHA-256 over header and body does not match the stored one: the file is corrupted.
    case checksumMismatch
    /// There are bytes after the checksum (`count` of them).
    case trailingBytes(count: Int)
    /// The body's `field` holds a value the format does not allow (checksum valid, content not).
    case invalidField(field: String, value: String)
    /// The body ends inside `field` although the checksum matched.
    case bodyTooShort(field: String)
    /// The number of stored weights differs from what the architecture needs.
    case weightCountMismatch(expected: Int, found: Int)
    /// The file could not be opened, read, written, synced or renamed (`errno` kept).
    case io(path: String, operation: String, errno: Int32)
    /// The file at `path` was read but does not decode, for the reason given.
    indirect case inFile(path: String, CheckpointError)

    /// A one-line explanation naming the problem.
    public var description: String {
        switch self {
        case .truncated(let e, let a): "checkpoint truncated: expected \(e) bytes, found \(a)"
        case .badMagic: "not a RecPool model file (bad magic; expected \"RECPOOLM\")"
        case .unsupportedVersion(let f, let s): "unsupported checkpoint format version \(f) (this build reads version \(s))"
        case .checksumMismatch: "checkpoint corrupted: SHA-256 checksum mismatch"
        case .trailingBytes(let n): "checkpoint has \(n) unexpected bytes after the checksum"
        case .invalidField(let f, let v): "checkpoint field \(f) has invalid value \(v)"
        case .bodyTooShort(let f): "checkpoint body ends inside field \(f)"
        case .weightCountMismatch(let e, let f): "checkpoint holds \(f) weights, architecture needs \(e)"
        // An operation that says why itself ("read: it is a pipe (FIFO) and no writer …") is the reason.
        case .io(let p, let op, _) where op.hasPrefix("read: "): "cannot read \(p): \(op.dropFirst("read: ".count))"
        case .io(let p, let op, _) where op.hasPrefix("open: "): "cannot open \(p): \(op.dropFirst("open: ".count))"
        case .io(let p, let op, let e): "cannot \(op) \(p): \(errnoDescription(e))"
        case .inFile(let p, let error): "\(p): \(error)"
        }
    }
}
