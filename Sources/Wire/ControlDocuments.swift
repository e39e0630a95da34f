/// A `CONTROL` request (JSON frame 1). `op` selects the operation; the other keys are its arguments.
///
/// | op | arguments | reply |
/// |---|---|---|
/// | `train` | `train` | ``JobView`` of the new, durable job |
/// | `upload` | `upload`, bytes in frame 2 | `{"complete": bool}` |
/// | `jobs` | — | `{"jobs": [JobView]}` |
/// | `job` | `job` | ``JobView`` with its rounds |
/// | `cancel_job` | `job` | ``JobView`` |
/// | `models` | — | `{"models": [ModelView]}` |
/// | `promote` | `version` | ``ModelView`` |
/// | `import` | checkpoint bytes in frame 2 | ``ModelView`` of the new version |
/// | `fetch` | `version` | ``ModelView``, then the checkpoint bytes in frame 2 |
/// | `rollback` | — | ``ModelView`` of the version now promoted |
/// | `drain` | `worker` | ``DrainReply``: the worker finishes what it holds and leaves |
/// | `online` | — | ``OnlineView`` |
/// | `online_freeze`, `online_unfreeze` | — | ``OnlineView`` |
/// | `online_sync` | `corrupt` (`"noise"`, only with `--allow-fault-injection`) | ``OnlineView`` after the sync |
/// | `online_policy` | `version` (absent: the served one) | ``PolicyInstall``, then the weights' ``ParameterPack`` in frame 2 |
/// | `online_register` | `catalogue_version`, `version` (the served version it was warm-started from); the policy's ``ParameterPack`` in frame 2 | ``OnlineView`` |
/// | `impressions` | `after`, `limit` | ``ImpressionPage`` |
/// | `catalogue_upload` | `catalogue` (`source_sha256`, `schema`) | ``CatalogueView`` of the new version |
/// | `catalogues` | — | ``CatalogueList`` |
/// | `catalogue` | `version` (absent: the newest), `after`, `limit` | ``CatalogueShow`` |
/// | `catalogue_add` | `catalogue` (`item`, `fields`) | ``CatalogueView``, once every live worker installed it |
/// | `catalogue_retire` | `catalogue` (`item`) | ``CatalogueView``, once every live worker installed it |
public struct ControlRequest: Codable, Sendable, Equatable {
    /// The largest CONTROL document (frame 1) a broker reads, in bytes: every argument above fits in a few KiB, and
    /// the bytes of an upload or an import travel in frame 2, which this does not limit. The broker's reactor reads
    /// the document (for `drain`, and for the role check); a larger one is refused `BAD_REQUEST` unread.
    public static let maximumDocumentBytes = 1 << 20

    /// The operation.
    public var op: String
    /// A job id (`job`, `cancel_job`).
    public var job: String?
    /// A model version (`promote`, `fetch`, `online_policy`), or the served policy version an `online_register`ed
    /// policy was warm-started from.
    public var version: UInt64?
    /// A job to start (`train`).
    public var train: TrainJobSpec?
    /// An upload chunk's description (`upload`).
    public var upload: UploadChunk?
    /// A worker's display id (`drain`).
    public var worker: String?
    /// Fault injection for `online_sync`: `"noise"` replaces the merged candidate with noise.
    public var corrupt: String?
    /// Paging for `impressions`: return rows after this sequence number.
    public var after: Int64?
    /// Paging for `impressions`: at most this many rows.
    public var limit: Int?
    /// The catalogue operations' arguments.
    public var catalogue: CatalogueArguments?
    /// The catalogue version a registered policy was trained on (`online_register`).
    public var catalogueVersion: UInt64?

    /// Creates a request.
    public init(
        op: String, job: String? = nil, version: UInt64? = nil, train: TrainJobSpec? = nil, upload: UploadChunk? = nil,
        worker: String? = nil, corrupt: String? = nil, after: Int64? = nil, limit: Int? = nil,
        catalogue: CatalogueArguments? = nil, catalogueVersion: UInt64? = nil
    ) {
        self.op = op
        self.catalogueVersion = catalogueVersion
        self.catalogue = catalogue
        self.corrupt = corrupt
        self.after = after
        self.limit = limit
        self.worker = worker
        self.job = job
        self.version = version
        self.train = train
        self.upload = upload
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case op, job, version, train, upload, worker, corrupt, after, limit, catalogue, catalogueVersion
    }

    /// A key of any name, to see every key a request holds.
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The keys of a `train` object (``TrainJobSpec``) and of an `upload` object (``UploadChunk``),
    /// snake_case as on the wire. A test checks them against what the encoders write.
    public static let trainKeys: Set<String> = [
        "model", "dataset", "epochs", "batch", "lr", "hidden", "workers", "sync_every", "seed", "validation", "promote",
        "round_timeout_ms", "gamma", "epsilon_end", "epsilon_decay_steps", "replay_capacity", "schema", "catalogue",
        "restore_best",
    ]
    /// See ``trainKeys``.
    public static let uploadKeys: Set<String> = ["sha256", "name", "total_bytes", "offset", "chunk_sha256"]

    /// Decodes a request, refusing a key that is not one of the arguments above, or not one of
    /// the keys of its `train` or `upload` object: a misspelt or unsupported argument is an error
    /// naming it, never silently ignored.
    /// - Throws: `DecodingError.dataCorrupted` naming the unknown key (the broker answers BAD_REQUEST).
    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        try Self.refuseUnknown(
            all.allKeys, known: Set(CodingKeys.allCases.map { WireJSON.snakeCase($0.rawValue) }), in: "a CONTROL request")
        // The op as far as it decodes (a missing or mistyped one is refused by the typed decode below).
        let named = (try? all.decode(String.self, forKey: AnyKey(stringValue: "op"))).flatMap { ControlOperation(rawValue: $0) }
        for (name, known) in [("train", Self.trainKeys), ("upload", Self.uploadKeys), ("catalogue", CatalogueArguments.keys)] {
            let key = AnyKey(stringValue: name)
            // A missing, null or non-object value is left to the typed decode below.
            guard all.contains(key), (try? all.decodeNil(forKey: key)) == false,
                let nested = try? all.nestedContainer(keyedBy: AnyKey.self, forKey: key)
            else { continue }
            try Self.refuseUnknown(nested.allKeys, known: known, in: "`\(name)`")
            // Each catalogue op takes only its own keys of the object: another op's key is never silently ignored.
            if name == "catalogue", let named {
                try Self.refuseOtherOperations(nested, taken: CatalogueArguments.keys(for: named), op: named.rawValue)
            }
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        op = try container.decode(String.self, forKey: .op)
        // A key another operation takes is no argument of this one: never silently ignored. An op this build does
        // not know is the control plane's to refuse, naming it.
        if let operation = ControlOperation(rawValue: op) {
            let taken = operation.arguments
            for key in all.allKeys {
                let name = Self.writtenName(key.stringValue)
                // A `null` is an absent argument (a client writing its optional fields), not one this op ignores.
                guard name != "op", !taken.contains(name), (try? all.decodeNil(forKey: key)) != true else { continue }
                let takes = taken.isEmpty ? "takes no argument" : "takes \(taken.sorted().joined(separator: ", "))"
                throw DecodingError.dataCorrupted(
                    .init(codingPath: [], debugDescription: "`\(name)` is no argument of \(op) (it \(takes))"))
            }
        }
        job = try container.decodeIfPresent(String.self, forKey: .job)
        version = try container.decodeIfPresent(UInt64.self, forKey: .version)
        train = try container.decodeIfPresent(TrainJobSpec.self, forKey: .train)
        upload = try container.decodeIfPresent(UploadChunk.self, forKey: .upload)
        worker = try container.decodeIfPresent(String.self, forKey: .worker)
        corrupt = try container.decodeIfPresent(String.self, forKey: .corrupt)
        after = try container.decodeIfPresent(Int64.self, forKey: .after)
        limit = try container.decodeIfPresent(Int.self, forKey: .limit)
        catalogue = try container.decodeIfPresent(CatalogueArguments.self, forKey: .catalogue)
        catalogueVersion = try container.decodeIfPresent(UInt64.self, forKey: .catalogueVersion)
        // Names are looked up in SQLite and printed in logs: one with a control character is refused here, never
        // matched to the name before its NUL.
        let names: [(String?, String)] = [(job, "job"), (worker, "worker"), (corrupt, "corrupt"), (catalogue?.item, "catalogue.item")]
        for case let (value?, field) in names {
            if let problem = WireText.nameProblem(value, field: field) {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: problem))
            }
        }
    }

    /// A key as the client wrote it, from the key the decoder's `convertFromSnakeCase` made of it: a key that
    /// starts in lower case is converted back (`catalogueVersion` → `catalogue_version`); one that starts in upper
    /// case (`OP`, `Version`, `SHA256`) held no underscore, which the conversion would have lowered, so it is as
    /// written. (Before, every capital became `_` and a letter: `OP` was named `_o_p`.)
    static func writtenName(_ decoded: String) -> String {
        guard let first = decoded.unicodeScalars.first, ("a"..."z").contains(first) else { return decoded }
        return WireJSON.snakeCase(decoded)
    }

    /// Throws for the first key of a `catalogue` object that another catalogue op takes but `op` does not (a key sent
    /// as `null` is an absent one), naming the key, the op and what it takes.
    private static func refuseOtherOperations(
        _ nested: KeyedDecodingContainer<AnyKey>, taken: Set<String>, op: String
    ) throws {
        for key in nested.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let name = writtenName(key.stringValue)
            guard !taken.contains(name), (try? nested.decodeNil(forKey: key)) != true else { continue }
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [],
                    debugDescription:
                        "`catalogue.\(name)` is no argument of \(op) (its `catalogue` takes "
                        + "\(taken.sorted().joined(separator: ", ")))"))
        }
    }

    /// Throws for the first of `keys` (as the decoder converted them to camelCase) whose snake_case
    /// name is not in `known`.
    private static func refuseUnknown(_ keys: [AnyKey], known: Set<String>, in what: String) throws {
        for key in keys {
            let name = writtenName(key.stringValue)
            guard !known.contains(name) else { continue }
            // `OP` or `Version` for `op` or `version`: keys are case-sensitive, and saying so saves a search.
            let hint = known.contains(name.lowercased()) ? "; keys are lower case" : ""
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [],
                    debugDescription:
                        "unknown key `\(name)` (\(what) takes \(known.sorted().joined(separator: ", "))\(hint))"))
        }
    }
}

/// One chunk of a dataset upload; the chunk's bytes travel in frame 2.
public struct UploadChunk: Codable, Sendable, Equatable {
    /// SHA-256 of the whole content.
    public var sha256: String
    /// A display name (the client's file name).
    public var name: String
    /// Size of the whole content.
    public var totalBytes: Int
    /// Where this chunk starts.
    public var offset: Int
    /// SHA-256 of this chunk.
    public var chunkSha256: String

    /// Creates a chunk description.
    public init(sha256: String, name: String, totalBytes: Int, offset: Int, chunkSha256: String) {
        self.sha256 = sha256
        self.name = name
        self.totalBytes = totalBytes
        self.offset = offset
        self.chunkSha256 = chunkSha256
    }
}

/// A training job as clients see it (`recpool job ID --json`).
public struct JobView: Codable, Sendable, Equatable {
    /// One completed round.
    public struct Round: Codable, Sendable, Equatable {
        /// The round, from 1.
        public var round: Int
        /// Mean training loss; nil (`null`) when no replica took a gradient step in the round.
        public var loss: Double?
        /// Samples seen over all replicas.
        public var samples: Int
        /// Replicas averaged.
        public var replicas: Int
        /// Validation metrics of the averaged state after this round, once measured (by the next round or the
        /// finalize step).
        public var metrics: MetricValues?
        /// Wall-clock seconds.
        public var seconds: Double

        /// Creates a round view.
        public init(round: Int, loss: Double?, samples: Int, replicas: Int, metrics: MetricValues?, seconds: Double) {
            self.round = round
            self.loss = loss
            self.samples = samples
            self.replicas = replicas
            self.metrics = metrics
            self.seconds = seconds
        }
    }

    /// The job id.
    public var job: String
    /// queued, running, completed, failed or cancelled.
    public var state: String
    /// `mlp` or `dqn`.
    public var model: String
    /// Rounds completed.
    public var round: Int
    /// Rounds planned.
    public var totalRounds: Int
    /// Epoch reached.
    public var epoch: Int
    /// Local steps per replica completed.
    public var step: Int
    /// Last round's training loss.
    public var loss: Double?
    /// Latest validation metrics (an undefined one is `null`); `null` (nil) before any was measured, never `{}`.
    public var metrics: MetricValues?
    /// The registered version, once completed.
    public var modelVersion: UInt64?
    /// Why it failed.
    public var error: String?
    /// Why a queued or running job makes no progress now, or nil: no live worker offers TRAIN_ROUND (the job
    /// continues when one registers). Not stored: the broker says it as it answers.
    public var waiting: String?
    /// Seconds since the epoch when created.
    public var createdAt: Double
    /// Seconds since the epoch when last changed.
    public var updatedAt: Double
    /// The job's specification.
    public var spec: TrainJobSpec?
    /// Completed rounds (only for `job`).
    public var rounds: [Round]?

    /// Creates a job view.
    public init(
        job: String, state: String, model: String, round: Int, totalRounds: Int, epoch: Int, step: Int, loss: Double?,
        metrics: MetricValues?, modelVersion: UInt64?, error: String?, createdAt: Double, updatedAt: Double,
        spec: TrainJobSpec?, rounds: [Round]?, waiting: String? = nil
    ) {
        self.job = job
        self.waiting = waiting
        self.state = state
        self.model = model
        self.round = round
        self.totalRounds = totalRounds
        self.epoch = epoch
        self.step = step
        self.loss = loss
        // No metric measured yet is `null`, not an empty object.
        self.metrics = metrics?.isEmpty == true ? nil : metrics
        self.modelVersion = modelVersion
        self.error = error
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.spec = spec
        self.rounds = rounds
    }
}

/// A registered model version as clients see it (`recpool models --json`).
public struct ModelView: Codable, Sendable, Equatable {
    /// The version.
    public var version: UInt64
    /// The job that trained it; `null` for a checkpoint imported from a file (no job trained it here).
    public var job: String?
    /// Whether scoring uses it now.
    public var promoted: Bool
    /// Validation metrics, with cold-start and warm segments where the data has them; `null` when none were
    /// measured (an imported checkpoint), never an empty object. An undefined metric is `null`.
    public var metrics: MetricValues?
    /// SHA-256 of its training dataset; `null` for an imported checkpoint.
    public var datasetSha256: String?
    /// Its hyperparameters.
    public var hyperparameters: TrainJobSpec?
    /// SHA-256 of its checkpoint.
    public var checkpointSha256: String
    /// Seconds since the epoch when registered.
    public var createdAt: Double

    /// Creates a model view.
    public init(
        version: UInt64, job: String?, promoted: Bool, metrics: MetricValues?, datasetSha256: String?,
        hyperparameters: TrainJobSpec?, checkpointSha256: String, createdAt: Double
    ) {
        self.version = version
        self.job = job
        self.promoted = promoted
        self.metrics = metrics
        self.datasetSha256 = datasetSha256
        self.hyperparameters = hyperparameters
        self.checkpointSha256 = checkpointSha256
        self.createdAt = createdAt
    }
}

/// The reply to CONTROL `drain`.
public struct DrainReply: Codable, Sendable, Equatable {
    /// The worker's display id.
    public var worker: String
    /// How many requests it held when it was told to drain.
    public var inflight: Int

    /// Creates a reply.
    public init(worker: String, inflight: Int) {
        self.worker = worker
        self.inflight = inflight
    }
}
