import RecWire

/// A request the broker has accepted and not yet answered.
struct PendingRequest: Sendable {
    /// The client's routing identity.
    var client: [UInt8]
    /// The client's header, with the client's request id.
    var header: Header
    /// The payload frames, forwarded unchanged (held uncopied when the reactor received them so).
    var payload: [any PayloadFrame] = []
    /// When the broker accepted it (monotonic µs).
    var acceptedAt: UInt64
    /// How many times it has been dispatched.
    var attempts: UInt16 = 0
    /// The bytes of its payload frames, as the byte limits count them.
    var bytes: Int = 0
    /// Whether its rows' width was judged against the live workers (``BrokerCore/widthProblem(_:)``): once a worker
    /// offering the service has seen it queued, or it was dispatched. A judged request is never refused BAD_REQUEST
    /// for its width later: when the workers of its width leave, it waits for the no-worker timeout like any other
    /// queued request (docs/PROTOCOL.md, CONFLICT), never told that rows it was accepted with are bad.
    var widthJudged = false

    var service: Command { header.command }

    /// For SCORE, the rows: the tensor frame's `rows` (bytes 0–3, u32 LE), read without copying them. `nil` for other
    /// services or a frame too short to say.
    var rows: Int? {
        guard header.command == .score, let frame = payload.first else { return nil }
        return frame.withBytes { raw in
            raw.count >= 8 ? Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))) : nil
        }
    }
    var key: ClientRequestKey { ClientRequestKey(client: client, requestId: header.requestId) }

    /// For SCORE, the features per row: the tensor frame's `cols` (bytes 4–7, u32 LE), read without
    /// copying the rows. `nil` for other services or a frame too short to say (the worker answers
    /// BAD_REQUEST for it).
    var columns: Int? {
        guard header.command == .score, let frame = payload.first else { return nil }
        return frame.withBytes { raw in
            raw.count >= 8 ? Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))) : nil
        }
    }

    func isExpired(at now: BrokerInstant) -> Bool {
        header.isExpired(atEpochMillis: now.epochMillis)
    }
}

/// A service's dispatch-to-reply time: an exponentially weighted mean, weight 1/8 on each reply.
///
/// With every slot busy, Little's law makes the pool drain `slots / latency` requests a second. When
/// slots are idle the latency is shorter than that, so the estimate runs high and admission by
/// deadline errs towards admitting.
struct ServiceLatency: Sendable {
    /// The mean, in µs; 0 before the first reply.
    var meanMicros: Double = 0

    mutating func record(_ micros: UInt64) {
        // A dispatch-to-reply time is at most the monotonic clock's span; Double holds any UInt64.
        let sample = Double(max(micros, 1))
        meanMicros = meanMicros == 0 ? sample : meanMicros + (sample - meanMicros) / 8
    }
}

/// A client's request, named as the client names it.
struct ClientRequestKey: Hashable, Sendable {
    var client: [UInt8]
    var requestId: UInt64

    /// Feeds the identity's bytes to the hasher in one call: an array's own hashing calls into the
    /// standard library once per byte, and this key is hashed several times per request (issue 19).
    /// Equal keys hash alike, as the synthesised `==` needs.
    func hash(into hasher: inout Hasher) {
        hasher.combine(client.count)
        client.withUnsafeBytes { hasher.combine(bytes: $0) }
        hasher.combine(requestId)
    }
}

/// A request sent to a worker and not yet answered by it.
struct InflightEntry: Sendable {
    var request: PendingRequest
    var worker: [UInt8]
    var dispatchedAt: UInt64
    /// The client already has its one reply (the request was cancelled or expired while the worker
    /// held it). The entry stays until the worker answers, so the worker's credit stays true, and
    /// the worker's reply is then dropped and counted.
    var clientAnswered = false
}

/// One registered worker, as the broker knows it.
struct WorkerRecord: Sendable {
    /// The worker's CURVE public key (Z85), from its messages' `User-Id`; nil without CURVE.
    var curveKey: String? = nil
    var identity: [UInt8]
    var hello: WorkerHello
    var address: String
    var services: Set<Command>
    var slots: Int
    var modelVersion: UInt64
    /// Features per row of the model it serves now (READY, then every 12-byte heartbeat).
    var inputWidth: Int
    /// The SHA-256 of the checkpoint it serves, when known; `nil` for the seeded model.
    var modelSHA256: String?
    /// The seed of the seeded model it serves (READY's `model_seed`), `nil` for a checkpoint or an older worker.
    var modelSeed: UInt64? {
        didSet { seedIdentity = modelSeed.map { "seed:\($0)" } }
    }
    /// `seed:N` for ``modelSeed``, kept so that ``modelIdentity``, read at every dispatch, allocates nothing (set by
    /// ``modelSeed``'s observer: assign the seed after creating the record).
    var seedIdentity: String? = nil
    /// Where its model comes from, for the status document: `registry`, `file` or `seeded`
    /// (``BrokerCore`` says `unverified` for a claimed version whose hash the registry does not hold).
    var modelSource: String {
        modelVersion != 0 ? "registry" : (modelSHA256 == nil ? "seeded" : "file")
    }
    var lastSeen: UInt64
    /// Its own mean dispatch-to-reply time for SCORE: a request's wait ahead counts the workers of its width at their
    /// own pace (``BrokerCore/expectedQueueWaitMs(_:columns:)``), not at the mean over every width.
    var scoreLatency = ServiceLatency()
    /// Its place in the order of registrations (from 1): the longest-registered worker on a version number decides
    /// which model that number names (``BrokerCore/servingIdentities(for:)``).
    var registration: UInt64 = 0
    /// The model it serves, as far as the broker can tell models apart: the checkpoint's SHA-256, `seed:N` for the
    /// model seeded with N (its width is compared apart), or "" for a worker that reported neither.
    var modelIdentity: String { modelSHA256 ?? seedIdentity ?? "" }

    /// ``modelIdentity`` as far as it can change the answers to `service`: the seed only changes SCORE's (a seeded
    /// model has no recommender, so its RECOMMEND answers come from the online policy or are refused, whatever the
    /// seed), so seeded workers with different seeds all take RECOMMEND.
    func modelIdentity(for service: Command) -> String {
        service == .score ? modelIdentity : (modelSHA256 ?? "")
    }
    var inflight: Set<UInt64> = []
    var completed: UInt64 = 0
    var errors: UInt64 = 0
    /// Whether it runs training rounds.
    var trains = false
    /// Whether it serves and learns the online policy (POLICY in its READY services).
    var online = false
    /// When WEIGHTS were last sent to it (monotonic µs), to pace re-sends.
    var weightsSentAt: UInt64 = 0
    /// Versions other than the one it reports that a reply of its may carry, newest last, at most
    /// ``admittedRemembered``: those whose WEIGHTS were sent to it (a reply may come before the heartbeat that reports
    /// the swap) and those it served, verified, before a swap (a RECOMMEND computed across the swap arrives after that
    /// heartbeat). A version never sent to it nor served by it is no version it serves.
    var admittedVersions: [UInt64] = []
    /// How many admitted versions a worker keeps (rollouts flapping faster than it builds).
    static let admittedRemembered = 8

    /// Adds `version` to ``admittedVersions`` (newest last, each once, the oldest dropped past the bound).
    mutating func admit(_ version: UInt64) {
        admittedVersions.removeAll { $0 == version }
        admittedVersions.append(version)
        if admittedVersions.count > Self.admittedRemembered { admittedVersions.removeFirst() }
    }

    /// It is draining: it gets no new requests and leaves once it has answered what it holds.
    var draining = false

    var freeSlots: Int { draining ? 0 : max(0, slots - inflight.count) }

    func serves(_ request: Header) -> Bool {
        guard services.contains(request.command) else { return false }
        let wanted = request.modelVersion
        if wanted == 0 { return true }
        return request.flags.contains(.exactVersion) ? modelVersion == wanted : modelVersion >= wanted
    }
}

/// Where a client's request is now.
enum RequestLocation: Sendable, Hashable {
    case queued
    case inflight(dispatchId: UInt64)
}
