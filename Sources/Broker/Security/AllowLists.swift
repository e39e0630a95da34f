import RecTransport

/// The three allow-lists of a CURVE broker: the public keys (Z85) admitted in each role. An empty
/// list admits no one of that role; it is not an error.
public struct AllowLists: Sendable, Hashable {
    /// Keys admitted on the frontend as clients.
    public var clients: Set<String>
    /// Keys admitted on the frontend as trainers.
    public var trainers: Set<String>
    /// Keys admitted on the backend as workers.
    public var workers: Set<String>

    /// Creates lists.
    public init(clients: Set<String> = [], trainers: Set<String> = [], workers: Set<String> = []) {
        self.clients = clients
        self.trainers = trainers
        self.workers = workers
    }
}

/// Where the allow-lists live (`--allow-clients`, `--allow-trainers`, `--allow-workers`), so they
/// can be read at start and again on SIGHUP. A list that is not given is empty.
public struct AllowListFiles: Sendable, Hashable {
    /// The `--allow-clients` file.
    public var clients: String?
    /// The `--allow-trainers` file.
    public var trainers: String?
    /// The `--allow-workers` file.
    public var workers: String?

    /// Whether a list owned by another user than the broker's (or root) is read (`--allow-open-key-file`, as for the
    /// broker's own key): a container running as root with lists bind-mounted from a host user's folder.
    public var allowForeignOwner = false

    /// Creates the set of paths.
    public init(clients: String?, trainers: String?, workers: String?, allowForeignOwner: Bool = false) {
        self.clients = clients
        self.trainers = trainers
        self.workers = workers
        self.allowForeignOwner = allowForeignOwner
    }

    /// Reads every list. A given file that is missing or holds a line that is not a key is an error;
    /// a file with only comments and blank lines is an empty list.
    /// - Throws: ``CurveKeyError`` naming the file (and line).
    public func load() throws(CurveKeyError) -> AllowLists {
        func keys(_ path: String?) throws(CurveKeyError) -> Set<String> {
            guard let path else { return [] }
            return Set(try CurveKeyFile.readAllowList(path: path, checkOwner: !allowForeignOwner))
        }
        return AllowLists(clients: try keys(clients), trainers: try keys(trainers), workers: try keys(workers))
    }
}

extension BrokerSecurity {
    /// Creates a configuration from a key pair and allow-lists.
    public init(keyPair: CurveKeyPair, lists: AllowLists) {
        self.init(keyPair: keyPair, clients: lists.clients, trainers: lists.trainers, workers: lists.workers)
    }

    /// The allow-lists in effect.
    public var lists: AllowLists { AllowLists(clients: clients, trainers: trainers, workers: workers) }
}
