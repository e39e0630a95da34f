import Foundation
import RecData
import RecModel
import RecTransport

/// What a worker remembers between rounds: the raw bytes it was shipped (a log, a catalogue) by their own
/// SHA-256, so the broker sends them once and a new schema or catalogue over the same log is resolved
/// again from them; parsed uploads by SHA-256; resolved datasets per (log, catalogue, schema, seed,
/// validation fraction), so a round does not re-parse, re-split or re-fit features; and DQN replicas
/// (agent, replay buffer, environment) per (job, shard). Bounded: the oldest entries are dropped first.
/// A round that needs bytes this worker dropped fails with ``TrainingError/unknownDataset(_:)``, and the
/// broker sends the round again with the bytes attached.
///
/// Thread-safe: the state sits behind a `LockedBox`; resolving runs outside it, so two threads may
/// resolve the same dataset once each, harmlessly (resolution is deterministic).
public final class TrainingCache: Sendable {
    /// A resolved dataset's key.
    public struct Key: Hashable, Sendable {
        /// The dataset name (`sha256:<hex>` for uploads).
        public var dataset: String
        /// The job's seed.
        public var seed: UInt64
        /// The held-out fraction.
        public var validation: Double

        /// Creates a key.
        public init(dataset: String, seed: UInt64, validation: Double) {
            self.dataset = dataset
            self.seed = seed
            self.validation = validation
        }
    }

    /// A DQN replica's key.
    public struct ReplicaKey: Hashable, Sendable {
        /// The job.
        public var job: String
        /// The shard.
        public var shard: Int

        /// Creates a key.
        public init(job: String, shard: Int) {
            self.job = job
            self.shard = shard
        }
    }

    struct State {
        var blobs: [(sha256: String, bytes: [UInt8])] = []
        var uploads: [(sha256: String, upload: ParsedUpload)] = []
        var resolved: [(key: Key, dataset: ResolvedDataset)] = []
        var replicas: [(key: ReplicaKey, replica: DQNReplica)] = []
    }

    /// The `obd` directory built-in `obd:` datasets are read from.
    public let obdDirectory: String
    /// Entries kept of each kind.
    public let capacity: Int
    private let state = LockedBox(State())

    /// Creates an empty cache.
    /// - Parameters:
    ///   - obdDirectory: The `obd` directory; `nil` uses ``defaultOBDDirectory()``.
    ///   - capacity: Uploads and resolved datasets kept, each.
    public init(obdDirectory: String? = nil, capacity: Int = 4) {
        self.obdDirectory = obdDirectory ?? Self.defaultOBDDirectory()
        self.capacity = max(1, capacity)
    }

    /// `$RECPOOL_DATA_DIR/obd` (or `$RECPOOL_DATA_DIR` itself when it has no `obd` child), else the nearest `data/obd`
    /// from the working directory up, as the `recpool` commands find it (``OBDDirectory/locate(dataDirectory:currentDirectory:)``):
    /// a worker started in a subfolder of the project once failed every `obd:` job the client had accepted.
    public static func defaultOBDDirectory() -> String {
        let dir = ProcessInfo.processInfo.environment["RECPOOL_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        return OBDDirectory.locate(dataDirectory: dir)
    }

    /// The raw shipped bytes (a log or a catalogue) whose SHA-256 is `sha256` (lower-case hex), if kept.
    public func blob(sha256: String) -> [UInt8]? {
        state.withLock { s in s.blobs.first { $0.sha256 == sha256 }?.bytes }
    }

    /// Keeps shipped bytes under their own SHA-256 (computed here); keeps `2 × capacity` blobs, a log and
    /// its catalogue per upload.
    /// - Returns: The bytes' lower-case hex SHA-256.
    @discardableResult
    public func storeBlob(_ bytes: [UInt8]) -> String {
        let sha = sha256Hex(bytes)
        state.withLock { s in
            s.blobs.removeAll { $0.sha256 == sha }
            s.blobs.append((sha, bytes))
            if s.blobs.count > 2 * capacity { s.blobs.removeFirst(s.blobs.count - 2 * capacity) }
        }
        return sha
    }

    /// The parsed upload with this SHA-256, if cached.
    public func upload(sha256: String) -> ParsedUpload? {
        state.withLock { s in s.uploads.first { $0.sha256 == sha256 }?.upload }
    }

    /// Remembers a parsed upload.
    public func storeUpload(_ upload: ParsedUpload, sha256: String) {
        state.withLock { s in
            s.uploads.removeAll { $0.sha256 == sha256 }
            s.uploads.append((sha256, upload))
            if s.uploads.count > capacity { s.uploads.removeFirst(s.uploads.count - capacity) }
        }
    }

    /// The resolved dataset for `key`, if cached.
    public func resolved(_ key: Key) -> ResolvedDataset? {
        state.withLock { s in s.resolved.first { $0.key == key }?.dataset }
    }

    /// Remembers a resolved dataset.
    public func storeResolved(_ dataset: ResolvedDataset, for key: Key) {
        state.withLock { s in
            s.resolved.removeAll { $0.key == key }
            s.resolved.append((key, dataset))
            if s.resolved.count > capacity { s.resolved.removeFirst(s.resolved.count - capacity) }
        }
    }

    /// The DQN replica of (job, shard), if cached.
    public func replica(_ key: ReplicaKey) -> DQNReplica? {
        state.withLock { s in s.replicas.first { $0.key == key }?.replica }
    }

    /// Remembers a DQN replica after its round.
    public func storeReplica(_ replica: DQNReplica, for key: ReplicaKey) {
        state.withLock { s in
            s.replicas.removeAll { $0.key == key }
            s.replicas.append((key, replica))
            if s.replicas.count > 4 * capacity { s.replicas.removeFirst(s.replicas.count - 4 * capacity) }
        }
    }

    /// Forgets a DQN replica (its job is finished).
    public func removeReplica(_ key: ReplicaKey) {
        state.withLock { s in s.replicas.removeAll { $0.key == key } }
    }
}
