/// The broker's answer to STATUS, and the JSON printed by `recpool status --json`.
public struct StatusDocument: Codable, Sendable, Hashable {
    /// One live worker.
    public struct Worker: Codable, Sendable, Hashable {
        /// The worker's display id.
        public var id: String
        /// Where it connects from (`Peer-Address`), or its host name.
        public var address: String
        /// The host name the worker reported in its READY document.
        public var host: String
        /// Its credit.
        public var slots: Int
        /// Requests dispatched to it and not yet answered.
        public var inflight: Int
        /// The model version it serves.
        public var modelVersion: UInt64
        /// Features per row its model expects.
        public var inputWidth: Int
        /// Milliseconds since the broker last heard from it.
        public var heartbeatAgeMs: UInt64
        /// The services it offers.
        public var services: [String]
        /// Replies it has returned.
        public var completed: UInt64
        /// Error replies among them.
        public var errors: UInt64
        /// Its process id.
        public var pid: Int32
        /// Where its model comes from: `registry` (a registered version, from WEIGHTS), `file` (an
        /// unregistered checkpoint given with `--model`; version 0) or `seeded` (the seeded random
        /// model; version 0).
        public var modelSource: String
        /// The SHA-256 of the checkpoint it serves, when known (`null` for the seeded model).
        public var modelSha256: String?
        /// The seed of the seeded model it serves (`null` for a checkpoint's model, or a worker too old to say).
        public var modelSeed: UInt64?
        /// Whether its online policy's exploration is seeded (`--exploration-seed`; `null` from a worker too old to
        /// say).
        public var explorationSeeded: Bool?
        /// Which kinds of request it takes none of although live, and why: another model serves its version number
        /// for them (docs/PROTOCOL.md, "Model versions"); `null` when it may take every kind it offers.
        public var idleReason: String?
        /// The promoted version it must load before it takes work (it serves no registered model
        /// while one is promoted), or `null` when it takes work.
        public var waitingForVersion: UInt64?
        /// Whether it is draining: it takes no new request of any kind and leaves once it has answered the
        /// `inflight` it holds (`false` from a broker too old to say).
        public var draining: Bool

        /// Creates a worker entry.
        public init(
            id: String, address: String, slots: Int, inflight: Int, modelVersion: UInt64, inputWidth: Int,
            heartbeatAgeMs: UInt64, services: [String], completed: UInt64, errors: UInt64, pid: Int32,
            host: String = "", modelSource: String = "registry", modelSha256: String? = nil,
            waitingForVersion: UInt64? = nil, modelSeed: UInt64? = nil, idleReason: String? = nil,
            draining: Bool = false, explorationSeeded: Bool? = nil
        ) {
            self.explorationSeeded = explorationSeeded
            self.draining = draining
            self.idleReason = idleReason
            self.modelSource = modelSource
            self.modelSha256 = modelSha256
            self.modelSeed = modelSeed
            self.waitingForVersion = waitingForVersion
            self.id = id
            self.address = address
            self.host = host
            self.slots = slots
            self.inflight = inflight
            self.modelVersion = modelVersion
            self.inputWidth = inputWidth
            self.heartbeatAgeMs = heartbeatAgeMs
            self.services = services
            self.completed = completed
            self.errors = errors
            self.pid = pid
        }

        /// Encodes every key, `null` included (decision 4: a listed key is always present).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(address, forKey: .address)
            try container.encode(host, forKey: .host)
            try container.encode(slots, forKey: .slots)
            try container.encode(inflight, forKey: .inflight)
            try container.encode(modelVersion, forKey: .modelVersion)
            try container.encode(inputWidth, forKey: .inputWidth)
            try container.encode(heartbeatAgeMs, forKey: .heartbeatAgeMs)
            try container.encode(services, forKey: .services)
            try container.encode(completed, forKey: .completed)
            try container.encode(errors, forKey: .errors)
            try container.encode(pid, forKey: .pid)
            try container.encode(modelSource, forKey: .modelSource)
            try container.encode(modelSha256, forKey: .modelSha256)
            try container.encode(modelSeed, forKey: .modelSeed)
            try container.encode(idleReason, forKey: .idleReason)
            try container.encode(waitingForVersion, forKey: .waitingForVersion)
            try container.encode(draining, forKey: .draining)
            try container.encode(explorationSeeded, forKey: .explorationSeeded)
        }

        enum CodingKeys: String, CodingKey {
            case id, address, host, slots, inflight, modelVersion, inputWidth, heartbeatAgeMs, services, completed
            case errors, pid, modelSource, modelSha256, modelSeed, idleReason, waitingForVersion, draining
            case explorationSeeded
        }

        /// Decodes an entry; `draining` may be absent (a broker from before it), and then reads `false`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            address = try c.decode(String.self, forKey: .address)
            host = try c.decode(String.self, forKey: .host)
            slots = try c.decode(Int.self, forKey: .slots)
            inflight = try c.decode(Int.self, forKey: .inflight)
            modelVersion = try c.decode(UInt64.self, forKey: .modelVersion)
            inputWidth = try c.decode(Int.self, forKey: .inputWidth)
            heartbeatAgeMs = try c.decode(UInt64.self, forKey: .heartbeatAgeMs)
            services = try c.decode([String].self, forKey: .services)
            completed = try c.decode(UInt64.self, forKey: .completed)
            errors = try c.decode(UInt64.self, forKey: .errors)
            pid = try c.decode(Int32.self, forKey: .pid)
            modelSource = try c.decode(String.self, forKey: .modelSource)
            modelSha256 = try c.decodeIfPresent(String.self, forKey: .modelSha256)
            modelSeed = try c.decodeIfPresent(UInt64.self, forKey: .modelSeed)
            idleReason = try c.decodeIfPresent(String.self, forKey: .idleReason)
            waitingForVersion = try c.decodeIfPresent(UInt64.self, forKey: .waitingForVersion)
            draining = try c.decodeIfPresent(Bool.self, forKey: .draining) ?? false
            explorationSeeded = try c.decodeIfPresent(Bool.self, forKey: .explorationSeeded)
        }
    }

    /// One service's queue.
    public struct Queue: Codable, Sendable, Hashable {
        /// The service name, such as `SCORE`.
        public var service: String
        /// Requests waiting for a worker.
        public var depth: Int
        /// The queue's bound.
        public var capacity: Int

        /// Creates a queue entry.
        public init(service: String, depth: Int, capacity: Int) {
            self.service = service
            self.depth = depth
            self.capacity = capacity
        }
    }

    /// The protocol version the broker speaks.
    public var protocolVersion: Int
    /// Milliseconds since the broker started.
    public var uptimeMs: UInt64
    /// Live workers.
    public var workers: [Worker]
    /// Queues by service.
    public var queues: [Queue]
    /// Requests in flight to workers.
    public var inflight: Int
    /// Counters by name: requests, replies by status, drops by reason, re-dispatches.
    public var counters: [String: UInt64]
    /// Online learning, when the broker runs it.
    public var online: OnlineView?
    /// Why online learning is off on a broker started with `--online` (a full disk when its first version was stored,
    /// an `--online-catalogue` it cannot serve); absent otherwise. Without it such a broker's status read as one
    /// started without `--online`.
    public var onlineOff: String?
    /// The model version promoted in the registry, which every scoring worker is brought to, or
    /// `null` when none is (or the broker has no `--state-dir`).
    public var promotedVersion: UInt64?

    /// Creates a status document.
    public init(
        protocolVersion: Int, uptimeMs: UInt64, workers: [Worker], queues: [Queue], inflight: Int,
        counters: [String: UInt64], online: OnlineView? = nil, promotedVersion: UInt64? = nil
    ) {
        self.promotedVersion = promotedVersion
        self.online = online
        self.protocolVersion = protocolVersion
        self.uptimeMs = uptimeMs
        self.workers = workers
        self.queues = queues
        self.inflight = inflight
        self.counters = counters
    }

    /// Encodes the document; `promoted_version` is always present (`null` when none is promoted).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(protocolVersion, forKey: .protocolVersion)
        try container.encode(uptimeMs, forKey: .uptimeMs)
        try container.encode(workers, forKey: .workers)
        try container.encode(queues, forKey: .queues)
        try container.encode(inflight, forKey: .inflight)
        try container.encode(counters, forKey: .counters)
        try container.encodeIfPresent(online, forKey: .online)
        try container.encodeIfPresent(onlineOff, forKey: .onlineOff)
        try container.encode(promotedVersion, forKey: .promotedVersion)
    }
}
