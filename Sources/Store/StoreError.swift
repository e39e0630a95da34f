/// Why the durable store could not do what was asked.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file operation failed.
    case io(path: String, reason: String)
    /// The database refused an operation.
    case database(String)
    /// No blob with this SHA-256 exists.
    case missingBlob(String)
    /// A blob's bytes do not hash to its name.
    case corruptBlob(String)
    /// No such job.
    case unknownJob(String)
    /// No such model version.
    case unknownModel(UInt64)
    /// There is no earlier promotion to roll back to.
    case nothingToRollBack
    /// An upload chunk does not fit the upload.
    case badUpload(String)

    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .database(let why): "database: \(why)"
        case .missingBlob(let sha): "no stored blob \(sha)"
        case .corruptBlob(let sha): "stored blob \(sha) is corrupt (checksum mismatch)"
        case .unknownJob(let id): "no job \(id)"
        case .unknownModel(let version): "no model version \(version)"
        case .nothingToRollBack: "there is no earlier promoted version to roll back to"
        case .badUpload(let why): "upload rejected: \(why)"
        }
    }
}
