import RecData
import RecTransport
import RecWire

/// Answers RECOMMEND: raw user context in (JSON ``RecommendQuery``), a ranked list of items out.
enum RecommendHandler {
    /// The reply document: the recommender's answer plus the version that produced it.
    struct Reply: Codable {
        var items: [ScoredItem]
        var source: RecommendationSource
        var modelVersion: UInt64
    }

    /// Answers one RECOMMEND request with `replica`; every outcome is one reply.
    static func answer(_ message: WireMessage, replica: ModelReplica, nowEpochMillis: UInt64) -> WireMessage {
        let header = message.header
        if let problem = header.requestProblem {
            return .errorReply(to: header, status: problem.status, message: problem.description)
        }
        if header.isExpired(atEpochMillis: nowEpochMillis) {
            return .errorReply(to: header, status: .expired, message: header.expiredBeforeCompute(atEpochMillis: nowEpochMillis))
        }
        if let problem = ScoringBatch.versionProblem(header, replica: replica) {
            return .errorReply(to: header, status: .conflict, message: problem)
        }
        // The document first: what is wrong with the request is named before what this replica cannot do.
        let query: RecommendQuery
        do {
            query = try WireJSON.decodeRequest(RecommendQuery.self, from: try message.frame(0))
        } catch {
            return .errorReply(to: header, status: .badRequest, message: error.description)
        }
        guard let recommender = replica.recommender else {
            return .errorReply(
                to: header, status: .badRequest,
                message: "model version \(replica.version) has no feature specification, so it cannot rank items from raw context; fit it on a log (obd:, synthetic:, or a shop's log with --schema), or pass --feature-spec to fit from a features file (recpool data features --spec-out)")
        }
        let start = Clocks.monotonicMicros()
        do {
            let recommendation = try recommender.recommend(query)
            // The recommender refuses a model score that is not finite (INTERNAL, below); this check keeps a NaN out
            // of the JSON (which would not encode) whatever the recommender does, the popularity prior included.
            if let bad = recommendation.items.first(where: { !$0.score.isFinite }) {
                return .errorReply(
                    to: header, status: .internal,
                    message: "item \(bad.item): model version \(replica.version) computes a score of \(bad.score.isNaN ? "nan" : "\(bad.score)")")
            }
            var reply = header.reply(status: .ok, modelVersion: replica.version)
            reply.attempt = header.attempt
            reply.computeMicros = UInt32(clamping: Clocks.monotonicMicros() - start)
            let document = Reply(items: recommendation.items, source: recommendation.source, modelVersion: replica.version)
            return WireMessage(header: reply, payload: [WireJSON.encode(document)])
        } catch {
            if error.isServerFault {
                return .errorReply(
                    to: header, status: .internal, message: "model version \(replica.version): \(error.description)")
            }
            return .errorReply(to: header, status: .badRequest, message: error.description)
        }
    }
}
