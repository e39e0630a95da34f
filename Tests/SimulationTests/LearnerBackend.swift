import RecClient
import RecData
import RecModel
import RecPolicy
import RecSimulation
import RecTransport
import RecWire

/// An in-process stand-in for a pool with online learning: one ``OnlineLearner`` serves and learns, an
/// impression log answers FEEDBACK the way the broker does (NOT_FOUND, BAD_REQUEST, duplicates), no sockets.
final class LearnerBackend: RecommendFeedbackBackend {
    struct State {
        var learner: OnlineLearner
        var rng: Xoshiro256
        var log: [LoggedImpression] = []
        var index: [String: Int] = [:]
        var learning: Bool
        var failFeedback: ClientError?
    }

    let spec: OnlinePolicySpec
    let initial: OnlinePolicy
    /// Installs the learner's own statistics as a new version every this many events (0: never), as a one-replica
    /// pool's syncs do.
    let installEvery: Int
    private let state: LockedBox<State>

    /// A backend serving the catalogue of `world`; `learning` false keeps the initial policy (frozen).
    init(
        world: SimulatorWorld = SimulatorWorld(config: SimulatorConfig()), learning: Bool = true, seed: UInt64 = 3,
        spec: OnlinePolicySpec? = nil, installEvery: Int = 0, window: Int = OnlineLearner.defaultWindow
    ) throws {
        self.installEvery = installEvery
        let spec = spec ?? SimulatorCatalog.spec(world: world)
        self.spec = spec
        let learner = OnlineLearner(
            policy: try OnlinePolicy.initial(spec: spec), version: 1, seed: seed, window: window)
        // What the learner serves first: a Thompson sample of the prior (the logging policy of a frozen backend).
        initial = learner.current
        state = LockedBox(State(learner: learner, rng: Xoshiro256(seed: seed ^ 0x77), learning: learning))
    }

    /// Makes every later FEEDBACK fail with `error`.
    func failFeedback(with error: ClientError) { state.withLock { $0.failFeedback = error } }

    /// The impression log, oldest first.
    var impressions: [LoggedImpression] { state.withLock { $0.log } }

    func recommend(_ query: RecommendQuery) async throws(ClientError) -> PolicyRecommendation {
        try handleRecommend(query).get()
    }

    func feedback(_ request: FeedbackRequest) async throws(ClientError) -> FeedbackReply {
        try handleFeedback(request).get()
    }

    func currentPolicy() async throws(ClientError) -> (PolicyInstall, ParameterPack) {
        (PolicyInstall(version: 1, spec: spec, learningEnabled: true), PolicyWeights.pack(initial))
    }

    /// RECOMMEND, synchronously (the fake broker's thread calls it).
    func handleRecommend(_ query: RecommendQuery) -> Result<PolicyRecommendation, ClientError> {
        state.withLock { s -> Result<PolicyRecommendation, ClientError> in
            let policy = s.learner.current
            let slate: [SlateItem]
            do {
                slate = try policy.recommend(
                    userFeatures: query.userFeatures, candidates: query.candidates, top: query.top, rng: &s.rng)
            } catch {
                return .failure(.server(status: .badRequest, message: "\(error)", retryAfterMs: 0))
            }
            let id = "fake-\(s.log.count)"
            let record = ImpressionRecord(
                impressionId: id, createdMs: 1_764_390_000_000 + UInt64(s.log.count), version: 1,
                userFeatures: query.userFeatures, slate: slate.map(\.item), propensities: slate.map(\.propensity),
                scores: slate.map(\.score))
            s.index[id] = s.log.count
            s.log.append(LoggedImpression(seq: Int64(s.log.count + 1), record: record, clicks: [:]))
            return .success(
                PolicyRecommendation(impressionId: id, items: slate, modelVersion: 1, exploration: spec.exploration))
        }
    }

    /// FEEDBACK, synchronously.
    func handleFeedback(_ request: FeedbackRequest) -> Result<FeedbackReply, ClientError> {
        state.withLock { s -> Result<FeedbackReply, ClientError> in
            if let error = s.failFeedback { return .failure(error) }
            guard let row = s.index[request.impressionId] else {
                return .failure(.server(status: .notFound, message: "unknown impression", retryAfterMs: 0))
            }
            let record = s.log[row].record
            guard let slot = record.slate.firstIndex(of: request.item) else {
                return .failure(.server(status: .badRequest, message: "item not in the slate", retryAfterMs: 0))
            }
            let key = String(request.item)
            if s.log[row].clicks[key] != nil {
                return .success(FeedbackReply(impressionId: request.impressionId, item: request.item, duplicate: true))
            }
            s.log[row].clicks[key] = request.click
            if s.learning {
                defer {
                    if installEvery > 0 && s.learner.eventsSinceInstall >= installEvery,
                        let merged = try? s.learner.current.with(statistics: s.learner.learnt)
                    {
                        // One replica's sync: its pull is the version's only contribution, so the install merged it.
                        let sync = s.learner.baseVersion + 1
                        s.learner.notePull(sync: sync)
                        s.learner.install(merged, version: sync, mergedSync: sync)
                    }
                }
                _ = s.learner.learn([
                    LearnEvent(
                        impressionId: request.impressionId, userFeatures: record.userFeatures, item: request.item, position: slot,
                        reward: Double(request.click), propensity: record.propensities[slot], version: 1)
                ])
            }
            return .success(FeedbackReply(impressionId: request.impressionId, item: request.item, duplicate: false))
        }
    }
}
