import RecClient
import RecData
import RecWire

/// What the simulation needs of a pool serving an online policy: a slate for a user, somewhere to send
/// feedback, and the policy served now. ``PoolBackend`` is a live pool; tests use an in-process learner.
///
/// Failures are ``ClientError``s, as a live pool reports them, so the simulation counts them by status name.
public protocol RecommendFeedbackBackend: Sendable {
    /// RECOMMEND: a slate for the user, with propensities and an impression id.
    func recommend(_ query: RecommendQuery) async throws(ClientError) -> PolicyRecommendation
    /// FEEDBACK: the user's reaction to one shown item.
    func feedback(_ request: FeedbackRequest) async throws(ClientError) -> FeedbackReply
    /// The policy version served now, with its weights (CONTROL `online_policy`).
    func currentPolicy() async throws(ClientError) -> (PolicyInstall, ParameterPack)
    /// The barrier of a deterministic run (``SyncBarrier``), after checking the pool can run one.
    /// - Throws: ``SimulationError/notDeterministic(_:)`` when it cannot.
    func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier
}

extension RecommendFeedbackBackend {
    /// A backend that has no barrier cannot run deterministically.
    public func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
        throw .notDeterministic("\(Self.self) has no sync barrier")
    }
}

/// A live pool behind a ``RecPoolClient``.
public struct PoolBackend: RecommendFeedbackBackend {
    /// The connected client.
    public let client: RecPoolClient
    /// The timeout of each call, ms (nil for the client's default).
    public let timeoutMs: UInt64?

    /// Wraps a connected client.
    public init(client: RecPoolClient, timeoutMs: UInt64? = nil) {
        self.client = client
        self.timeoutMs = timeoutMs
    }

    /// How long a request answered `BUSY` is sent again, from its first `BUSY`, in ms of wall time: a broker's drain
    /// and restart (about a second), not a pool that stays overloaded (a FEEDBACK every user sends, each held this long,
    /// would stretch a run many times over).
    static let busyGraceMs = 2_500

    /// Runs `call`, sending it again while the broker answers `BUSY`, which served nothing and stored nothing
    /// (docs/PROTOCOL.md), for up to ``busyGraceMs`` of wall time after the first `BUSY`: each time after the broker's
    /// `retry_after_ms` or 100, 200, 400 ms and so on up to 1 s, whichever is longer. A draining broker hints 50 ms, so
    /// three retries on its hint spanned 150 ms of a restart that takes about a second, and each lost a user or an event.
    /// - Parameter graceMs: how long to keep sending it, ``busyGraceMs`` unless a test says otherwise.
    static func retryingBusy<T>(graceMs: Int = busyGraceMs, _ call: () async throws(ClientError) -> T)
        async throws(ClientError) -> T
    {
        var attempt = 0
        var firstBusy: ContinuousClock.Instant? = nil
        while true {
            do {
                return try await call()
            } catch {
                guard case .server(.busy, _, let retryAfterMs) = error else { throw error }
                let clock = ContinuousClock()
                // Wall time since the first BUSY (0 at it), so a BUSY that came after a long wait for the reply counts
                // that wait too.
                let elapsed = firstBusy.map { $0.duration(to: clock.now) } ?? .zero
                if firstBusy == nil { firstBusy = clock.now }
                let waitMs = busyWaitMs(attempt: attempt, retryAfterMs: retryAfterMs)
                guard elapsed + .milliseconds(waitMs) <= .milliseconds(graceMs) else { throw error }
                attempt += 1
                try? await Task.sleep(for: .milliseconds(waitMs))
            }
        }
    }

    /// The wait before sending a `BUSY` request again the `attempt`-th time (from 0): the broker's hint or
    /// `100 · 2^attempt` ms up to 1 s, whichever is longer (a hint is taken up to 5 s).
    static func busyWaitMs(attempt: Int, retryAfterMs: UInt32) -> Int {
        max(Int(min(retryAfterMs, 5_000)), min(100 << min(attempt, 4), 1_000))
    }

    /// Sends RECOMMEND and decodes the policy's reply (sent again when the broker is busy).
    public func recommend(_ query: RecommendQuery) async throws(ClientError) -> PolicyRecommendation {
        try await Self.retryingBusy { () async throws(ClientError) in
            try await client.recommendPolicy(query: query, timeoutMs: timeoutMs)
        }
    }

    /// Sends FEEDBACK (sent again when the broker is busy: a BUSY one was not stored).
    public func feedback(_ request: FeedbackRequest) async throws(ClientError) -> FeedbackReply {
        try await Self.retryingBusy { () async throws(ClientError) in
            try await client.feedback(
                impressionId: request.impressionId, item: request.item, click: request.click,
                dwellSeconds: request.dwellSeconds, timeoutMs: timeoutMs)
        }
    }

    /// Asks for the served policy.
    public func currentPolicy() async throws(ClientError) -> (PolicyInstall, ParameterPack) {
        try await client.onlinePolicy(timeoutMs: timeoutMs)
    }
}

extension RecPoolClient {
    /// Sends a RECOMMEND query and decodes the online policy's reply.
    /// - Throws: ``ClientError/notAPolicyReply(source:)`` when a worker without an online policy answered;
    ///   ``ClientError/server(status:message:retryAfterMs:)`` (`BAD_REQUEST` names a bad context).
    public func recommendPolicy(query: RecommendQuery, timeoutMs: UInt64? = nil) async throws(ClientError)
        -> PolicyRecommendation
    {
        try await recommendPolicy(document: WireJSON.encode(query), timeoutMs: timeoutMs)
    }
}
