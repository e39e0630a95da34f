import RecWire
/// Online learning (issue #9): policy recommendations, feedback, and the online CONTROL operations.
///
/// A broker refusal arrives as ``ClientError/server(status:message:retryAfterMs:)``: FEEDBACK for an unknown
/// impression is `NOT_FOUND`, for one older than the feedback window `EXPIRED`, for an item outside the slate
/// `BAD_REQUEST`; a pool without online learning refuses the CONTROL operations with `BAD_REQUEST`.
extension RecPoolClient {
    /// Sends a RECOMMEND document and decodes the online policy's reply.
    /// - Parameters:
    ///   - document: a JSON `RecommendQuery` (`user_features`, `events`, `candidates`, `top`).
    ///   - timeoutMs: the call's timeout; defaults to the client's option.
    /// - Returns: the slate with its propensities, the impression id to give feedback on, and the policy version.
    /// - Throws: ``ClientError/notAPolicyReply(source:)`` when a worker without an online policy answered.
    public func recommendPolicy(document: [UInt8], timeoutMs: UInt64? = nil) async throws(ClientError)
        -> PolicyRecommendation
    {
        let (reply, _) = try await recommend(document: document, timeoutMs: timeoutMs)
        guard let recommendation = try Self.policyRecommendation(from: reply) else {
            let source = (try? WireJSON.decode(ReplySource.self, from: reply))?.source ?? "unknown"
            throw .notAPolicyReply(source: source)
        }
        return recommendation
    }

    /// Reads a RECOMMEND reply document as a policy recommendation.
    /// - Returns: the recommendation, or `nil` when the reply came from another recommender (its `source` is
    ///   not `"policy"`), such as the MLP's `model` or `fallback`.
    /// - Throws: ``ClientError/protocolViolation(_:)`` when a reply that says it is a policy's does not decode.
    public static func policyRecommendation(from document: [UInt8]) throws(ClientError) -> PolicyRecommendation? {
        let source: ReplySource
        do {
            source = try WireJSON.decode(ReplySource.self, from: document)
        } catch {
            throw .protocolViolation(error)
        }
        guard source.source == "policy" else { return nil }
        do {
            return try WireJSON.decode(PolicyRecommendation.self, from: document)
        } catch {
            throw .protocolViolation(error)
        }
    }

    /// Reports a user's reaction to one item of a policy recommendation. Report every shown item: click 1 for
    /// the clicked one, 0 for the others.
    /// - Parameters:
    ///   - impressionId: the recommendation's `impression_id`.
    ///   - item: the shown item.
    ///   - click: 1 for a click, 0 for a view without one.
    ///   - dwellSeconds: how long the user looked at the item, if known.
    ///   - timeoutMs: the call's timeout; defaults to the client's option.
    /// - Returns: the broker's acknowledgement, sent once the event is durable; `duplicate` says it was known.
    /// - Throws: ``ClientError/invalidRequest(_:)`` for a malformed event (checked before sending);
    ///   ``ClientError/server(status:message:retryAfterMs:)`` with `NOT_FOUND`, `EXPIRED` or `BAD_REQUEST`.
    public func feedback(
        impressionId: String, item: Int, click: Int, dwellSeconds: Double? = nil, timeoutMs: UInt64? = nil
    ) async throws(ClientError) -> FeedbackReply {
        let request = FeedbackRequest(impressionId: impressionId, item: item, click: click, dwellSeconds: dwellSeconds)
        if let problem = request.problem { throw .invalidRequest(problem) }
        let message = WireMessage(header: Header(command: .feedback), payload: [WireJSON.encode(request)])
        let reply = try await call(message, timeoutMs: timeoutMs)
        return try Self.decodeFirst(FeedbackReply.self, reply)
    }

    /// The broker's view of online learning (CONTROL `online`).
    public func online(timeoutMs: UInt64? = nil) async throws(ClientError) -> OnlineView {
        try await control(ControlRequest(.online), as: OnlineView.self, timeoutMs: timeoutMs)
    }

    /// The least an `online_sync` or `online_freeze` waits by default, in ms: 150 s, past two syncs that each wait
    /// the broker's longest for a replica behind on learning (12 × its default 5 s sync timeout), so a sync the broker
    /// goes on to finish is not reported as failed. A broker run with a longer `--online-sync-timeout-ms` needs a
    /// longer `--timeout-ms`.
    public static let onlineSyncWaitMs: UInt64 = 150_000

    /// The wait `recpool online sync` and `online freeze` ask for when given `requested` ms (`--timeout-ms`, or a
    /// configuration file's `timeout-ms`): at least ``onlineSyncWaitMs``, whatever is asked, as their help says; nil
    /// (nothing asked) keeps the client's default, which is at least as long. A `--timeout-ms 1000` was passed straight
    /// through: the command gave up after 2.5 s and said the broker did not answer, while the broker went on to finish
    /// the sync and store its version.
    public static func onlineSyncTimeout(requested: UInt64?) -> UInt64? {
        requested.map { max($0, onlineSyncWaitMs) }
    }

    /// Pauses learning; replicas keep serving the current version (CONTROL `online_freeze`).
    public func onlineFreeze(timeoutMs: UInt64? = nil) async throws(ClientError) -> OnlineView {
        // A freeze waits for a sync under way (its pull, up to 12 × the broker's 5 s while a replica is behind on
        // learning, then the guard): as long as a sync.
        try await control(
            ControlRequest(.onlineFreeze), as: OnlineView.self,
            timeoutMs: timeoutMs ?? max(options.timeoutMs, Self.onlineSyncWaitMs))
    }

    /// Resumes learning (CONTROL `online_unfreeze`).
    public func onlineUnfreeze(timeoutMs: UInt64? = nil) async throws(ClientError) -> OnlineView {
        try await control(ControlRequest(.onlineUnfreeze), as: OnlineView.self, timeoutMs: timeoutMs)
    }

    /// Forces a sync now (CONTROL `online_sync`) and returns the view after it. The sync it returns started after
    /// the call, so what was learnt before the call is merged: when a sync is already out, the broker answers after
    /// the next one, which it starts as soon as that one ends. A CONFLICT "a sync is already in progress" (a fault
    /// injection during a sync, or too many requests waiting) is asked again for up to 60 s.
    /// - Parameters:
    ///   - corrupt: fault injection (`"noise"`), honoured only by a broker run with `--allow-fault-injection`.
    ///   - timeoutMs: per attempt; by default the client's timeout but at least ``onlineSyncWaitMs`` (a sync waits up
    ///     to 12 × the broker's sync timeout, 60 s at its default 5 s, for a live replica behind on learning, and a
    ///     request may wait for the sync already out).
    /// - Throws: ``ClientError``; CONFLICT when a sync is still in progress after 60 s, or learning is frozen.
    public func onlineSync(corrupt: String? = nil, timeoutMs: UInt64? = nil) async throws(ClientError) -> OnlineView {
        let giveUp = ContinuousClock.now + .seconds(60)
        let attemptMs = timeoutMs ?? max(options.timeoutMs, Self.onlineSyncWaitMs)
        while true {
            do {
                return try await control(
                    ControlRequest(.onlineSync, corrupt: corrupt), as: OnlineView.self, timeoutMs: attemptMs)
            } catch .server(.conflict, let message, _)
                where message.contains("a sync is already in progress") && ContinuousClock.now < giveUp
            {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Registers a policy trained offline (a warm start from logs) as the pool's next online version (CONTROL
    /// `online_register`): stored, then served by every replica, and online learning continues from it.
    /// - Parameters:
    ///   - pack: the policy's statistics (``ParameterPack``, as `PolicyWeights.pack` makes them).
    ///   - catalogueVersion: the registry's catalogue version it was trained on; the broker refuses CONFLICT
    ///     when it serves another one.
    ///   - startVersion: the served policy version it was warm-started from; the broker refuses CONFLICT when it
    ///     serves another one by then (feedback merged since would be lost).
    /// - Returns: the online view after the new version is served.
    public func onlineRegister(
        _ pack: ParameterPack, catalogueVersion: UInt64, startVersion: UInt64, timeoutMs: UInt64? = nil
    ) async throws(ClientError) -> OnlineView {
        try await control(
            ControlRequest(.onlineRegister, version: startVersion, catalogueVersion: catalogueVersion),
            bytes: pack.encoded(), as: OnlineView.self, timeoutMs: timeoutMs)
    }

    /// A policy version of the pool's, with its weights (CONTROL `online_policy`).
    /// - Parameter version: a version the pool accepted and stored; nil for the version it serves now. An unknown
    ///   version is refused NOT_FOUND (``ClientError``).
    /// - Returns: the install order (version, spec, whether learning is on: false for any but the served version)
    ///   and the Q-network's parameters.
    public func onlinePolicy(version: UInt64? = nil, timeoutMs: UInt64? = nil) async throws(ClientError)
        -> (PolicyInstall, ParameterPack)
    {
        let message = WireMessage(
            header: Header(command: .control),
            payload: [WireJSON.encode(ControlRequest(.onlinePolicy, version: version))])
        let reply = try await call(message, timeoutMs: timeoutMs)
        guard reply.payload.count >= 2 else {
            throw .protocolViolation(.missingFrames(expected: 3, got: reply.payload.count + 1))
        }
        do {
            let install = try WireJSON.decode(PolicyInstall.self, from: reply.payload[0])
            return (install, try ParameterPack(decoding: reply.payload[1]))
        } catch {
            throw .protocolViolation(error)
        }
    }

    /// One page of the impression log, oldest first (CONTROL `impressions`).
    /// - Parameters:
    ///   - after: return rows after this sequence number (nil for the start of the log).
    ///   - limit: at most this many rows (the broker may cap it).
    /// - Returns: the page; pass its `next_after` to get the next one, which is nil after the last page.
    public func impressions(after: Int64? = nil, limit: Int? = nil, timeoutMs: UInt64? = nil) async throws(ClientError)
        -> ImpressionPage
    {
        if let limit, limit < 1 { throw .invalidRequest("limit must be at least 1, got \(limit)") }
        return try await control(
            ControlRequest(.impressions, after: after, limit: limit), as: ImpressionPage.self, timeoutMs: timeoutMs
        )
    }

    /// The whole impression log of the current lineage, paged oldest first, the serving policy's spec (the
    /// catalogue), and how many impressions an earlier lineage logged (left out by the broker:
    /// ``ImpressionPage/earlierLineage``).
    /// - Parameter pageSize: impressions per CONTROL request.
    /// - Throws: ``ClientError``; ``ClientError/protocolViolation(_:)`` when the pages do not advance or a page covers
    ///   more rows than asked.
    public func allImpressions(pageSize: Int = 1000, timeoutMs: UInt64? = nil) async throws(ClientError)
        -> (impressions: [LoggedImpression], spec: OnlinePolicySpec?, earlierLineage: Int)
    {
        var rows: [LoggedImpression] = []
        var spec: OnlinePolicySpec?
        var after: Int64?
        var earlierLineage = 0
        repeat {
            let page = try await impressions(after: after, limit: pageSize, timeoutMs: timeoutMs)
            guard page.impressions.count.addingSaturating(page.earlierLineage) <= pageSize else {
                throw .protocolViolation(
                    .badDocument(
                        "an impressions page covers \(page.impressions.count) rows and \(page.earlierLineage) of an "
                            + "earlier lineage, more than the \(pageSize) asked"))
            }
            rows += page.impressions
            earlierLineage = earlierLineage.addingSaturating(page.earlierLineage)
            spec = spec ?? page.spec
            if let next = page.nextAfter, let previous = after, next <= previous {
                throw .protocolViolation(
                    .badDocument("impression pages do not advance: next_after \(next) after \(previous)"))
            }
            after = page.nextAfter
        } while after != nil
        return (rows, spec, earlierLineage)
    }

    private static func decodeFirst<T: Decodable>(_ type: T.Type, _ reply: WireMessage) throws(ClientError) -> T {
        guard let frame = reply.payload.first else { throw .protocolViolation(.missingFrames(expected: 2, got: 1)) }
        do {
            return try WireJSON.decode(type, from: frame)
        } catch {
            throw .protocolViolation(error)
        }
    }
}

/// The one key every RECOMMEND reply has: who answered (`policy`, `model`, `fallback`).
private struct ReplySource: Decodable {
    var source: String
}
