import RecData
import RecPolicy
import RecTransport
import RecWire

/// Answers RECOMMEND when the worker serves an online policy: the unchanged ``RecommendQuery`` in (its `events`, the
/// items viewed with dwell, are part of the policy's state and are logged with the impression), frames
/// `[reply header (model version = policy version), JSON PolicyRecommendation, JSON ImpressionRecord]` out.
/// The broker keeps the third frame for its impression log and forwards the first two to the client.
enum PolicyRecommendHandler {
    /// Whether the request named `top`; an omitted `top` means the policy's slate size.
    private struct TopProbe: Decodable {
        var top: Int?
    }

    /// Answers one RECOMMEND request with `served`; every outcome is one reply.
    /// - Parameters:
    ///   - message: the request.
    ///   - served: the policy snapshot to answer with.
    ///   - modelVersion: the model version the worker serves (its replica's): a pin in the request names a model
    ///     version, as the broker routed it by, never a policy version (docs/PROTOCOL.md, "Model versions").
    ///   - sampler: the session's exploration stream and impression ids.
    ///   - nowEpochMillis: the time, for the deadline and the impression record.
    ///   - installingCatalogue: the catalogue version this worker is installing (sent by the broker, not answered yet):
    ///     an item past the served catalogue is `CONFLICT` (retry) while a newer version installs, since that version
    ///     may add it, and `BAD_REQUEST` otherwise (nothing installing, or a version it held or refused).
    ///   - onTruncatedRetrieval: called when retrieval's completion by bucket bias stopped at its scan limit
    ///     (``RecData/RetrievedCandidates/truncated``), for the worker's counter.
    static func answer(
        _ message: WireMessage, served: ServedPolicy, modelVersion: UInt64, sampler: inout PolicySampler,
        nowEpochMillis: UInt64, installingCatalogue: UInt64? = nil,
        onTruncatedRetrieval: () -> Void = {}
    ) -> WireMessage {
        let header = message.header
        if let problem = header.requestProblem {
            return .errorReply(to: header, status: problem.status, message: problem.description)
        }
        if header.isExpired(atEpochMillis: nowEpochMillis) {
            return .errorReply(to: header, status: .expired, message: header.expiredBeforeCompute(atEpochMillis: nowEpochMillis))
        }
        // The broker dispatched the request by the model version its pin names; judging the pin here against the
        // policy version instead would refuse every exact pin the broker routed correctly (the two numbers differ).
        if let problem = ScoringBatch.versionProblem(header, served: modelVersion) {
            return .errorReply(
                to: header, status: .conflict,
                message: "\(problem) (its RECOMMEND answers come from online policy version \(served.version), "
                    + "which a model version pin does not select)")
        }
        let query: RecommendQuery
        let top: Int?
        do {
            let frame = try message.frame(0)
            query = try WireJSON.decodeRequest(RecommendQuery.self, from: frame)
            top = try WireJSON.decodeRequest(TopProbe.self, from: frame).top
        } catch {
            return .errorReply(to: header, status: .badRequest, message: error.description)
        }
        if let problem = query.loggedFeatureProblem {
            return .errorReply(to: header, status: .badRequest, message: problem)
        }
        let start = Clocks.monotonicMicros()
        let viewed = query.events.map { ViewedItem(item: $0.item, seconds: $0.seconds) }
        let slate: [SlateItem]
        var indexVersion: String?
        do {
            // A large catalogue: the slate is drawn from retrieval's candidates, a deterministic function of the
            // context, the catalogue, the index version and the served coefficients (the query is Θᵀz, the
            // completion reads the bucket biases β), so the propensities stay exact within them.
            var candidates = query.candidates
            if candidates == nil, let retrieval = served.retrieval?.retrieval {
                let z = try served.policy.userVector(query.userFeatures, viewed: viewed)
                let found = try retrieval.candidates(state: z.map(Float.init), catalogue: served.policy.catalogue)
                candidates = found.rows
                indexVersion = found.version?.description
                if found.truncated { onTruncatedRetrieval() }
            }
            slate = try served.policy.recommend(
                userFeatures: query.userFeatures, viewed: viewed, candidates: candidates, top: top,
                rng: &sampler.rng)
            // The request's own candidates: unless they hold every active item, the slate's propensities are
            // conditional on a set the log does not hold, so the record says so and the guard leaves it out.
            if let given = query.candidates, !Self.holdsEveryActiveItem(given, of: served.policy) {
                indexVersion = ImpressionRecord.requestCandidates
            }
        } catch {
            if case .unknownItem(let item)? = error as? PolicyError, let newer = installingCatalogue,
                let serving = served.catalogueVersion, newer > serving, item >= served.policy.spec.itemCount
            {
                // An item past this replica's catalogue while it installs a newer version (catalogue_add, an upload
                // that appends rows): the pool already names that version, so the client's request is not wrong.
                return .errorReply(
                    to: header, status: .conflict,
                    message: "item \(item) is not in catalogue version \(serving) (\(served.policy.spec.itemCount) "
                        + "items), which this replica serves while it installs version \(newer); retry")
            }
            if case .noActiveItem? = error as? PolicyError {
                // The pool's state, not the request: CONFLICT, as for the other states a client cannot change.
                return .errorReply(to: header, status: .conflict, message: "\(error)")
            }
            return .errorReply(to: header, status: .badRequest, message: "\(error)")
        }
        let impressionId = sampler.ids.next()
        let recommendation = PolicyRecommendation(
            impressionId: impressionId, items: slate, modelVersion: served.version,
            exploration: served.policy.spec.exploration)
        let record = ImpressionRecord(
            impressionId: impressionId, createdMs: nowEpochMillis, version: served.version,
            userFeatures: query.userFeatures, viewed: viewed, slate: slate.map(\.item), propensities: slate.map(\.propensity),
            scores: slate.map(\.score), retrieval: indexVersion)
        var reply = header.reply(status: .ok, modelVersion: served.version)
        reply.attempt = header.attempt
        reply.computeMicros = UInt32(clamping: Clocks.monotonicMicros() - start)
        return WireMessage(header: reply, payload: [WireJSON.encode(recommendation), WireJSON.encode(record)])
    }

    /// Whether `candidates` name every active item of `policy` (a request may list retired rows too; the policy
    /// refused unknown and repeated ones before this is asked). O(candidates): a list shorter than the active items
    /// cannot hold them all.
    static func holdsEveryActiveItem(_ candidates: [Int], of policy: OnlinePolicy) -> Bool {
        let active = policy.activeRows.count
        guard candidates.count >= active else { return false }
        let spec = policy.spec
        var seen = Set<Int>()
        for item in candidates where item >= 0 && item < spec.itemCount && spec.itemActive[item] { seen.insert(item) }
        return seen.count == active
    }
}
