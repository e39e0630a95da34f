import Foundation

/// A worker's READY document: who it is and what it can do.
public struct WorkerHello: Codable, Sendable, Hashable {
    /// The largest READY document a broker reads, in bytes: a hello is a few hundred bytes, and the broker's reactor
    /// decodes it, so a larger one is treated as one that does not decode (the peer is told DISCONNECT).
    public static let maximumDocumentBytes = 64 << 10

    /// A display name for the worker, such as `host-1234`.
    public var workerId: String
    /// The commands it serves, by name (`SCORE`, `RECOMMEND`, …).
    public var services: [String]
    /// How many requests it accepts at once (its credit).
    public var slots: Int
    /// The number of features its model expects per row.
    public var inputWidth: Int
    /// The model version it serves.
    public var modelVersion: UInt64
    /// Its host name.
    public var host: String
    /// Its process id.
    public var pid: Int32
    /// The hex SHA-256 of the checkpoint it serves (a file's bytes or the registry's blob), or `nil`
    /// for the seeded random model. A model loaded from a file has `model_version` 0 (unregistered)
    /// and is known by this hash only.
    public var modelSha256: String?
    /// The seed of the seeded random model it serves (`model_seed`), or `nil` for a checkpoint's model. Two seeded
    /// workers with different seeds serve different weights under version 0, and the broker tells them apart by it;
    /// absent from an older worker's hello (decoded as `nil`).
    public var modelSeed: UInt64?
    /// Whether its online policy's exploration draws from a fixed seed (`recpool-worker --exploration-seed`), which a
    /// reproducible run needs (`recpool simulate --deterministic`); absent from an older worker's hello (`nil`:
    /// unknown).
    public var explorationSeeded: Bool?
    /// A number the worker process drew at its start (JSON `instance`), the same in every READY it sends: it tells a
    /// process that reconnected from a new process with the same host and pid (a restarted container's pid 1).
    /// Absent from an older worker's hello (`nil`: host and pid alone).
    public var instance: UInt64?

    /// Creates a hello document.
    public init(
        workerId: String, services: [String], slots: Int, inputWidth: Int, modelVersion: UInt64, host: String,
        pid: Int32, modelSha256: String? = nil, modelSeed: UInt64? = nil, explorationSeeded: Bool? = nil,
        instance: UInt64? = nil
    ) {
        self.instance = instance
        self.explorationSeeded = explorationSeeded
        self.modelSha256 = modelSha256
        self.modelSeed = modelSha256 == nil ? modelSeed : nil
        self.workerId = workerId
        self.services = services
        self.slots = slots
        self.inputWidth = inputWidth
        self.modelVersion = modelVersion
        self.host = host
        self.pid = pid
    }
}

/// The worker's HEARTBEAT payload: `[slots u32 LE][queued u32 LE]` (8 bytes), optionally followed by
/// `[input_width u32 LE]`, the features per row of the model it serves now (12 bytes), and then by
/// the 32 raw bytes of that model's checkpoint SHA-256 (44 bytes). A shorter frame leaves what the
/// broker knows of the served model unchanged.
public struct WorkerLoad: Sendable, Hashable {
    /// The worker's current credit.
    public var slots: UInt32
    /// Requests waiting inside the worker.
    public var queued: UInt32
    /// Features per row of the model served now, when reported.
    public var inputWidth: UInt32?
    /// The raw 32-byte SHA-256 of the served checkpoint, when reported (needs ``inputWidth``).
    public var modelSHA256: [UInt8]?

    /// Creates a load report.
    public init(slots: UInt32, queued: UInt32, inputWidth: UInt32? = nil, modelSHA256: [UInt8]? = nil) {
        self.slots = slots
        self.queued = queued
        self.inputWidth = inputWidth
        self.modelSHA256 = inputWidth == nil || modelSHA256?.count != 32 ? nil : modelSHA256
    }

    /// Encodes the 8-, 12- or 44-byte frame.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 44)
        writer.append(slots)
        writer.append(queued)
        if let inputWidth {
            writer.append(inputWidth)
            if let modelSHA256 { writer.append(modelSHA256) }
        }
        return writer.bytes
    }

    /// Decodes an 8-, 12- or 44-byte frame.
    /// - Throws: ``WireError/badPayloadLength(expected:got:)`` for any other length.
    public init(decoding frame: [UInt8]) throws(WireError) {
        guard frame.count == 8 || frame.count == 12 || frame.count == 44 else {
            throw .badPayloadLength(expected: frame.count < 8 ? 8 : (frame.count < 12 ? 12 : 44), got: frame.count)
        }
        var reader = ByteReader(frame)
        slots = reader.read()
        queued = reader.read()
        inputWidth = frame.count >= 12 ? reader.read() as UInt32 : nil
        modelSHA256 = frame.count == 44 ? Array(frame[12..<44]) : nil
    }

    /// ``modelSHA256`` as 64 lowercase hex digits.
    public var modelSHA256Hex: String? { modelSHA256.map { $0.map { String(format: "%02x", $0) }.joined() } }
}

/// The broker's answer to a READY (a HEARTBEAT's optional payload frame, JSON): the id under which
/// the worker is registered. It differs from the worker's own when another live worker already
/// has that id (the broker appends `#2`, `#3`, …), so ids stay unique among live workers.
public struct WorkerRegistration: Codable, Sendable, Hashable {
    /// The id the broker registered the worker under (in `status`, metrics and `recpool drain`).
    public var workerId: String
    /// The id the worker asked for, when the broker had to change it; otherwise `nil`.
    public var requestedId: String?
    /// The promoted version the worker must load before it gets work, when it serves no registered
    /// model (version 0) while one is promoted; otherwise `nil`.
    public var waitingForVersion: UInt64?
    /// The online policy version the broker serves and its statistics' SHA-256, or `nil` when it serves none
    /// (started without `--online`, or its policy did not start; a broker older than this key says nothing, which
    /// reads the same). A worker holding any other policy drops it, so it never serves slates the broker cannot
    /// log; an online broker then sends its own version with POLICY.
    public var servedPolicy: PolicyVersionReference?
    /// The broker's heartbeat interval, ms (its `--heartbeat-ms`): the worker heartbeats at this interval whatever its
    /// own flag says, so the broker never expires a live worker. `nil` from a broker older than this key.
    public var heartbeatMs: UInt64?
    /// The silent intervals after which the broker declares a worker dead (and the worker its broker gone). `nil`
    /// from a broker older than this key.
    public var liveness: UInt64?

    /// Creates a registration answer.
    public init(
        workerId: String, requestedId: String?, waitingForVersion: UInt64? = nil,
        servedPolicy: PolicyVersionReference? = nil, heartbeatMs: UInt64? = nil, liveness: UInt64? = nil
    ) {
        self.workerId = workerId
        self.requestedId = requestedId
        self.waitingForVersion = waitingForVersion
        self.servedPolicy = servedPolicy
        self.heartbeatMs = heartbeatMs
        self.liveness = liveness
    }

    /// Encodes every key, `null` included.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(workerId, forKey: .workerId)
        try container.encode(requestedId, forKey: .requestedId)
        try container.encode(waitingForVersion, forKey: .waitingForVersion)
        try container.encode(servedPolicy, forKey: .servedPolicy)
        try container.encodeIfPresent(heartbeatMs, forKey: .heartbeatMs)
        try container.encodeIfPresent(liveness, forKey: .liveness)
    }
}

extension WorkerHello: DocumentProblem {
    /// The widest input a worker may announce (2²⁴ features): a READY beyond it names no model any request could fit.
    public static let maximumInputWidth = 1 << 24

    /// The longest `worker_id` or `host`, in UTF-8 bytes: a name is a label in `status`, logs and the metrics
    /// endpoint, where a 10,000-character id was taken as it came.
    public static let maximumNameBytes = 256

    /// Why a READY cannot register its worker: an id that is empty, blank, longer than ``maximumNameBytes`` or holds a
    /// control character, or a host that is blank, too long or holds one (``WireText/nameProblem(_:field:maxBytes:)``:
    /// they are printed in `status` and logs), slots below 0 or above 2³² − 1 (a
    /// HEARTBEAT's u32), an input width below 1 or above ``maximumInputWidth``, a
    /// `model_sha256` that is not 64 lowercase hex digits, or a `pid` below 1.
    public var problem: String? {
        if let problem = WireText.labelProblem(workerId, field: "worker_id", maxBytes: Self.maximumNameBytes) {
            return problem
        }
        // The host is shown in `status` beside the id (and may be empty: a worker that could not read its name).
        if !host.isEmpty, let problem = WireText.labelProblem(host, field: "host", maxBytes: Self.maximumNameBytes) {
            return problem
        }
        // A HEARTBEAT carries slots as a u32: a READY's credit must be one a heartbeat can restate.
        if !(0...Int(UInt32.max)).contains(slots) { return "slots must be 0…\(UInt32.max), got \(slots)" }
        if !(1...Self.maximumInputWidth).contains(inputWidth) {
            return "input_width must be 1…\(Self.maximumInputWidth), got \(inputWidth)"
        }
        if let sha = modelSha256,
            sha.utf8.count != 64 || !sha.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        {
            return "model_sha256 must be 64 lowercase hex digits"
        }
        // A process id is at least 1: a negative one was registered and shown in `status` as it came.
        if pid < 1 { return "pid must be a process id (1 or more), got \(pid)" }
        return nil
    }
}
