import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

@testable import Worker

@Suite("RECOMMEND with an online policy")
struct PolicyRecommendTests {
    static func served(version: UInt64 = 4) throws -> ServedPolicy {
        ServedPolicy(policy: try OnlinePolicy.initial(spec: onlineSpec()), version: version, learningEnabled: true)
    }

    static func request(_ query: RecommendQuery, header: Header = Header(command: .recommend, requestId: 12))
        -> WireMessage
    {
        WireMessage(header: header, payload: [WireJSON.encode(query)])
    }

    static func request(json: String) -> WireMessage {
        WireMessage(header: Header(command: .recommend, requestId: 12), payload: [Array(json.utf8)])
    }

    @Test("the reply is a slate with propensities in (0, 1] and an impression record that matches it")
    func replyAndRecordAgree() throws {
        let served = try Self.served()
        var sampler = PolicySampler(seed: 1, prefix: 0xABC)
        let user = onlineUser(2, spec: served.policy.spec)
        let reply = PolicyRecommendHandler.answer(
            Self.request(RecommendQuery(userFeatures: user, top: 5)), served: served, sampler: &sampler,
            nowEpochMillis: 1_000)

        #expect(reply.header.isReply && reply.header.status == .ok && reply.header.requestId == 12)
        #expect(reply.header.modelVersion == 4)
        #expect(reply.payload.count == 2)
        let recommendation = try WireJSON.decode(PolicyRecommendation.self, from: reply.payload[0])
        let record = try WireJSON.decode(ImpressionRecord.self, from: reply.payload[1])
        #expect(recommendation.items.count == 5 && recommendation.source == "policy")
        #expect(recommendation.items.map(\.position) == Array(0..<5))
        #expect(recommendation.items.allSatisfy { $0.propensity > 0 && $0.propensity <= 1 })
        #expect(recommendation.modelVersion == 4 && recommendation.exploration == served.policy.spec.exploration)
        #expect(record.problem == nil)
        #expect(record.impressionId == recommendation.impressionId)
        #expect(record.impressionId.hasPrefix("0000000000000abc-"))
        #expect(record.version == 4 && record.createdMs == 1_000 && record.userFeatures == user)
        #expect(record.slate == recommendation.items.map(\.item))
        #expect(record.propensities == recommendation.items.map(\.propensity))
        #expect(record.scores == recommendation.items.map(\.score))
        // Every active item was a candidate: the key is there, null.
        #expect(record.retrieval == nil)
        #expect(String(decoding: reply.payload[1], as: UTF8.self).contains("\"retrieval\":null"))
    }

    @Test(
        "an item past the served catalogue is CONFLICT (retry) while a newer announced version installs, BAD_REQUEST otherwise"
    )
    func itemOfANewerCatalogue() throws {
        var served = try Self.served()
        served.catalogueVersion = 2
        let count = served.policy.spec.itemCount
        var sampler = PolicySampler(seed: 3, prefix: 1)
        let user = onlineUser(1, spec: served.policy.spec)
        let asked = [RecommendQuery(userFeatures: user, candidates: [0, count], top: 1),
                     RecommendQuery(userFeatures: user, events: [ViewEvent(item: count + 5, seconds: 30)], top: 1)]
        for query in asked {
            // Version 3 (which may add the item) is installing: the request is not wrong, the replica
            // is behind; the pool answered catalogue_add with version 3 already.
            let installing = PolicyRecommendHandler.answer(
                Self.request(query), served: served, modelVersion: 0, sampler: &sampler, nowEpochMillis: 1,
                installingCatalogue: 3)
            #expect(installing.header.status == .conflict)
            let text = String(decoding: installing.payload.first ?? [], as: UTF8.self)
            #expect(text.contains("not in catalogue version 2") && text.contains("installs version 3; retry"), "\(text)")
            // Nothing newer installing (none sent, or one held or refused): an unknown item is the request's fault.
            for announced: UInt64? in [nil, 2] {
                let unknown = PolicyRecommendHandler.answer(
                    Self.request(query), served: served, modelVersion: 0, sampler: &sampler, nowEpochMillis: 1,
                    installingCatalogue: announced)
                #expect(unknown.header.status == .badRequest)
            }
        }
        // A negative item is never in any version.
        let negative = PolicyRecommendHandler.answer(
            Self.request(RecommendQuery(userFeatures: user, candidates: [-1], top: 1)), served: served,
            modelVersion: 0, sampler: &sampler, nowEpochMillis: 1, installingCatalogue: 3)
        #expect(negative.header.status == .badRequest)
    }

    @Test("a catalogue whose every item is retired is CONFLICT naming it, not BAD_REQUEST blaming candidates never sent")
    func everyItemRetired() throws {
        var served = try Self.served()
        var catalogue = served.policy.catalogue
        for id in catalogue.ids { try catalogue.retire(id: id) }
        served.policy = try served.policy.with(catalogue: catalogue)
        var sampler = PolicySampler(seed: 4, prefix: 1)
        let reply = PolicyRecommendHandler.answer(
            Self.request(RecommendQuery(userFeatures: onlineUser(0, spec: served.policy.spec), top: 3)), served: served,
            sampler: &sampler, nowEpochMillis: 1)
        #expect(reply.header.status == .conflict)
        let text = String(decoding: reply.payload.first ?? [], as: UTF8.self)
        #expect(text.contains("no active item") && !text.contains("candidates"), "\(text)")
        // With candidates too: the pool's state, not the request's choice of retired items.
        let named = PolicyRecommendHandler.answer(
            Self.request(RecommendQuery(userFeatures: onlineUser(0, spec: served.policy.spec), candidates: [0], top: 1)),
            served: served, sampler: &sampler, nowEpochMillis: 1)
        #expect(named.header.status == .conflict)
    }

    @Test("an omitted top gives the spec's slate size, and candidates bound the slate")
    func topAndCandidates() throws {
        let served = try Self.served()
        var sampler = PolicySampler(seed: 2, prefix: 1)
        let user = onlineUser(0, spec: served.policy.spec)
        let userJSON = user.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        let omitted = PolicyRecommendHandler.answer(
            Self.request(json: "{\"user_features\": {\(userJSON)}}"), served: served, sampler: &sampler,
            nowEpochMillis: 1)
        let slate = try WireJSON.decode(PolicyRecommendation.self, from: omitted.payload[0]).items
        #expect(slate.count == served.policy.spec.slateSize)

        let candidates = [3, 7, 11, 19]
        let bounded = PolicyRecommendHandler.answer(
            Self.request(RecommendQuery(userFeatures: user, candidates: candidates, top: 10)), served: served,
            sampler: &sampler, nowEpochMillis: 1)
        let items = try WireJSON.decode(PolicyRecommendation.self, from: bounded.payload[0]).items.map(\.item)
        #expect(Set(items) == Set(candidates))
        // Its propensities are conditional on a set the log does not hold: the record says so, and the broker's guard
        // and any off-policy evaluation leave it out (it was logged as if drawn from every item).
        let record = try WireJSON.decode(ImpressionRecord.self, from: bounded.payload[1])
        #expect(record.retrieval == ImpressionRecord.requestCandidates && record.exportProblem == nil)
        // Candidates that hold every active item (in any order) leave the slate unrestricted.
        let every = Array(served.policy.activeRows.reversed())
        let whole = PolicyRecommendHandler.answer(
            Self.request(RecommendQuery(userFeatures: user, candidates: every, top: 3)), served: served,
            sampler: &sampler, nowEpochMillis: 1)
        #expect(try WireJSON.decode(ImpressionRecord.self, from: whole.payload[1]).retrieval == nil)
    }

    @Test("impression ids differ between requests and between workers")
    func impressionIdsAreUnique() throws {
        let served = try Self.served()
        var first = PolicySampler(seed: 3, prefix: 1)
        var second = PolicySampler(seed: 3, prefix: 2)
        var ids = Set<String>()
        for _ in 0..<20 {
            for n in 0..<2 {
                let reply =
                    n == 0
                    ? PolicyRecommendHandler.answer(
                        Self.request(RecommendQuery(top: 2)), served: served, sampler: &first, nowEpochMillis: 1)
                    : PolicyRecommendHandler.answer(
                        Self.request(RecommendQuery(top: 2)), served: served, sampler: &second, nowEpochMillis: 1)
                ids.insert(try WireJSON.decode(PolicyRecommendation.self, from: reply.payload[0]).impressionId)
            }
        }
        #expect(ids.count == 40)
        #expect(ImpressionIds(prefix: 0xFFFF_FFFF_FFFF_FFFF).prefix != ImpressionIds().prefix)
    }

    @Test("FEEDBACK's dwell bound is the one a view's dwell has")
    func dwellBoundsAgree() {
        #expect(FeedbackRequest.maximumDwellSeconds == ViewEvent.maximumSeconds)
    }

    @Test("a bad context, an unknown candidate or top 0 is a BAD_REQUEST naming the problem")
    func badRequests() throws {
        let served = try Self.served()
        var sampler = PolicySampler(seed: 4, prefix: 1)
        let cases: [(RecommendQuery, String)] = [
            (RecommendQuery(userFeatures: ["colour": "red"]), PolicyError.unknownUserFeature("colour").description),
            (RecommendQuery(candidates: [999]), PolicyError.unknownItem(999).description),
            (RecommendQuery(top: 0), PolicyError.invalidTop(0).description),
            // A slate costs its length × the candidates on the session thread: both are bounded.
            (RecommendQuery(top: 50_000), PolicyError.invalidTop(50_000).description),
            (RecommendQuery(candidates: Array(0..<100_001)), "at most 100000 items may be listed, got 100001"),
            (
                RecommendQuery(events: [ViewEvent(item: 1, seconds: 1.7e308), ViewEvent(item: 2, seconds: 1.7e308)]),
                PolicyError.invalidDwell(1.7e308).description
            ),
            // Logged with the slate: a 10 MB value was stored in the impression log.
            (
                RecommendQuery(userFeatures: ["colour": String(repeating: "x", count: 1_025)]),
                "user feature 'colour' holds 1025 bytes; the online policy logs at most 1024"
            ),
        ]
        for (query, message) in cases {
            let reply = PolicyRecommendHandler.answer(
                Self.request(query), served: served, sampler: &sampler, nowEpochMillis: 1)
            #expect(reply.header.status == .badRequest)
            #expect(reply.payload.first.map { String(decoding: $0, as: UTF8.self) }?.contains(message) == true)
        }
        // The raw JSON a client sends: `user_features` must reach the policy, not be dropped.
        let raw = PolicyRecommendHandler.answer(
            Self.request(json: "{\"user_features\": {\"colour\": \"red\"}}"), served: served, sampler: &sampler,
            nowEpochMillis: 1)
        #expect(raw.header.status == .badRequest)
        let garbage = PolicyRecommendHandler.answer(
            Self.request(json: "not json"), served: served, sampler: &sampler, nowEpochMillis: 1)
        #expect(garbage.header.status == .badRequest)
    }

    @Test("a passed deadline is EXPIRED; a pin names the worker's model version, never the policy version")
    func deadlineAndVersion() throws {
        let served = try Self.served(version: 4)
        var sampler = PolicySampler(seed: 5, prefix: 1)
        let late = PolicyRecommendHandler.answer(
            Self.request(RecommendQuery(), header: Header(command: .recommend, requestId: 1, deadlineMs: 50)),
            served: served, modelVersion: 0, sampler: &sampler, nowEpochMillis: 60)
        #expect(late.header.status == .expired)
        // The broker routes a pinned RECOMMEND by the model version each worker serves (here 1), so the worker
        // judges the pin by that version too: an exact pin of its model is answered by the policy, under the
        // policy's version (4), and a pin of the policy's number, which no model here has, is CONFLICT.
        func answer(pin: UInt64, exact: Bool, modelVersion: UInt64) -> WireMessage {
            PolicyRecommendHandler.answer(
                Self.request(
                    RecommendQuery(),
                    header: Header(command: .recommend, flags: exact ? .exactVersion : [], requestId: 2, modelVersion: pin)),
                served: served, modelVersion: modelVersion, sampler: &sampler, nowEpochMillis: 1)
        }
        let exactModel = answer(pin: 1, exact: true, modelVersion: 1)
        #expect(exactModel.header.status == .ok && exactModel.header.modelVersion == 4)
        let minimumModel = answer(pin: 1, exact: false, modelVersion: 2)
        #expect(minimumModel.header.status == .ok && minimumModel.header.modelVersion == 4)
        let exactPolicyNumber = answer(pin: 4, exact: true, modelVersion: 1)
        #expect(exactPolicyNumber.header.status == .conflict)
        #expect(
            exactPolicyNumber.payload.first.map { String(decoding: $0, as: UTF8.self) }
                == "request pins model version 4; this worker serves 1 (its RECOMMEND answers come from online "
                + "policy version 4, which a model version pin does not select)")
        let minimumAbove = answer(pin: 3, exact: false, modelVersion: 2)
        #expect(minimumAbove.header.status == .conflict)
        #expect(answer(pin: 0, exact: false, modelVersion: 7).header.status == .ok)
    }
}
