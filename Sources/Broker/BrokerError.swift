import RecStore
import RecTransport

/// Why the broker could not start or had to stop.
public enum BrokerError: Error, Sendable, CustomStringConvertible {
    /// A socket could not bind its endpoint.
    case bindFailed(endpoint: String, ZMQError)
    /// A ZeroMQ call failed unexpectedly while running.
    case socketFailed(ZMQError)
    /// The durable store could not be opened.
    case store(StoreError)
    /// The durable store opened, but what the broker needs from it at start (`what`: the jobs and the model
    /// registry, the catalogue registry, the online policy) cannot be read: a table that cannot be queried, a
    /// value that does not decode. The broker does not serve without it.
    case unreadableState(what: String, error: String)

    /// Whether the state directory failed its integrity check or holds state that cannot be read (exit 65
    /// rather than 73).
    public var isDamagedState: Bool {
        switch self {
        case .store(.corruptDatabase), .store(.corruptColumn), .unreadableState: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .bindFailed(let endpoint, let error): "cannot bind \(endpoint): \(error.message)"
        case .socketFailed(let error): "socket failure: \(error)"
        case .store(let error):
            switch error {
            case .corruptDatabase(let path, let problems)
            where path.hasSuffix("-wal") && problems.contains(where: { $0.contains("recpool.sqlite-wal is missing") }):
                // The log is gone, not damaged: no shell can read it, and its commits live only in a backup.
                "refusing to serve from a damaged state directory: \(error). The commits only the missing log held are "
                    + "lost unless the state directory is restored from a backup; to accept losing them, move "
                    + "recpool.sqlite-shm aside (docs/OPERATIONS.md, \"Recovering the state directory\")"
            case .corruptDatabase(let path, _) where path.hasSuffix("-wal"):
                // Not the salvage below: the sqlite3 shell reads the log as SQLite does, stopping at the damaged frame,
                // so a .dump is the silent rollback refused here, and closing the shell deletes the log and the commits
                // it alone holds.
                "refusing to serve from a damaged state directory: \(error). Stop here, and copy the whole state "
                    + "directory aside before anything opens recpool.sqlite (the sqlite3 shell too: it stops at the "
                    + "damaged frame, and on closing deletes the log with the commits only it holds) "
                    + "(docs/OPERATIONS.md, \"Recovering the state directory\")"
            case .corruptDatabase:
                "refusing to serve from a damaged state directory: \(error). Stop here, copy the whole state directory "
                    + "aside, then restore recpool.sqlite with the blobs/ of the same backup, or salvage it into a new "
                    + "file with the sqlite3 shell's .recover, or its .dump where .recover fails (sqlite3 3.40 answers "
                    + ".recover with \"SQL logic error\") (docs/OPERATIONS.md, \"Recovering the state directory\")"
            case .noSpace:
                "cannot open the state directory: \(error). Free space on its file system and start again"
            default:
                "cannot open the state directory: \(error)"
            }
        case .unreadableState(let what, let error):
            "refusing to serve: \(what) cannot be read from the state directory: \(error). Stop here and repair "
                + "the value or table named, or restore recpool.sqlite with the blobs/ of the same backup (retention "
                + "deletes older online policy versions' weights, so an older database alone may name weights that "
                + "are gone) "
                + "(docs/OPERATIONS.md, \"Recovering the state directory\")"
        }
    }
}
