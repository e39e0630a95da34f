/// Why the durable store could not do what was asked.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file operation failed.
    case io(path: String, reason: String)
    /// The database refused an operation.
    case database(String)
    /// No blob with this SHA-256 exists.
    case missingBlob(String)
    /// A blob's bytes do not hash to its name; `quarantined` says whether it was moved to `blobs/quarantine` (false
    /// when the move failed, such as on a read-only folder: it stays in place and is still never served).
    case corruptBlob(String, quarantined: Bool = true)
    /// No such job.
    case unknownJob(String)
    /// No such model version.
    case unknownModel(UInt64)
    /// No such catalogue version.
    case unknownCatalogue(UInt64)
    /// A catalogue version's parent is not the newest version (another change was stored first).
    case staleCatalogueParent(parent: UInt64, latest: UInt64)
    /// There is no earlier promotion to roll back to.
    case nothingToRollBack
    /// An upload chunk does not fit the upload.
    case badUpload(String)
    /// The disk holding the state directory is full (ENOSPC, EDQUOT) or lacks room for what was
    /// asked; nothing was stored.
    case noSpace(path: String, reason: String)
    /// The SQLite database fails its integrity check (`PRAGMA quick_check`): the problems it found.
    case corruptDatabase(path: String, problems: [String])
    /// A stored value cannot be read as what its column holds (a value of another SQLite type, an unknown state
    /// name, JSON that does not decode): the table, the row's key (`id = 'job-1'`), the column, and what was wrong.
    case corruptColumn(table: String, row: String, column: String, problem: String)
    /// Another open store (another broker, in this process or another) holds the state directory's lock; `holder`
    /// names it (`pid 1234`).
    case inUse(path: String, holder: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .database(let why): "database: \(why)"
        case .missingBlob(let sha): "no stored blob \(sha)"
        case .corruptBlob(let sha, let quarantined):
            "stored blob \(sha) is corrupt (checksum mismatch); "
                + (quarantined
                    ? "it was moved to blobs/quarantine. "
                    : "it could not be moved to blobs/quarantine, and stays in place, never served. ")
                + "Store the same content again to repair it: a model checkpoint with recpool import --model FILE, a "
                + "dataset or a catalogue by uploading the same file again (the newest catalogue version, when it came from "
                + "an upload, is rebuilt from its stored source file at the broker's start); an online policy version's "
                + "weights cannot "
                + "be stored again: restore the state directory from a backup (docs/OPERATIONS.md, \"Recovering the "
                + "state directory\")"
        case .unknownJob(let id): "no job \(id)"
        case .unknownModel(let version): "no model version \(version)"
        case .unknownCatalogue(let version): "no catalogue version \(version)"
        case .staleCatalogueParent(let parent, let latest):
            "catalogue version \(parent) is not the newest (\(latest) is); apply the change to the newest version"
        case .nothingToRollBack: "there is no earlier promoted version to roll back to"
        case .badUpload(let why): "upload rejected: \(why)"
        case .noSpace(let path, let reason): "no space left for \(path) (\(reason)); nothing was stored"
        case .corruptDatabase(let path, let problems):
            // The file it names: a damaged write-ahead log was "the database …-wal".
            "\(path.hasSuffix("-wal") ? "the database's write-ahead log" : path.hasSuffix("-shm") ? "the write-ahead log's index" : "the database") "
                + "\(path) is corrupt: \(problems.prefix(3).joined(separator: "; "))"
        case .corruptColumn(let table, let row, let column, let problem):
            "the database holds an unreadable value: table \(table), row \(row), column \(column): \(problem)"
        case .inUse(let path, let holder):
            "the state directory \(path) is in use by \(holder) (it holds \(path)/recpool.lock); stop that broker, "
                + "or give this one another --state-dir"
        }
    }
}

