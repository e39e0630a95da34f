import RecData
import RecPolicy
import RecTransport

/// The online policy a worker serves: an immutable snapshot of the learner's weights under the version
/// the broker installed. Learning produces a new snapshot; a RECOMMEND reads one and never waits for a step.
struct ServedPolicy: Sendable {
    /// The policy (spec and network).
    var policy: OnlinePolicy
    /// The installed version; replies to RECOMMEND carry it.
    var version: UInt64
    /// Whether the replica learns from feedback (false while the pool is frozen).
    var learningEnabled: Bool
    /// The registry's catalogue version the policy's items come from; nil for a catalogue the POLICY inlined (the
    /// simulator world's). The retrieval index's version names it (`c<catalogue>`, 0 for nil).
    var catalogueVersion: UInt64? = nil
    /// Retrieval before ranking, for a catalogue of at least `RetrievalSettings.exhaustiveBelow` rows (set by
    /// ``PolicySnapshot/publish(_:)``); nil scores every active item.
    var retrieval: PolicyRetrieval.Built? = nil
}

/// Where the serving side finds the current ``ServedPolicy``: a value swapped under a lock. The online
/// learning thread publishes, the session thread reads; neither holds the lock for longer than a copy.
///
/// For a large catalogue the snapshot also keeps the retrieval index (``PolicyRetrieval``). Building one takes
/// seconds at 100,000 items, so it is never built on the publishing thread: the first publish of a catalogue
/// that needs an index serves exhaustive scoring (every active item, exact propensities, `retrieval` null in the
/// impression record) and starts the build on another thread (``IndexBuilds``); when the build ends, the index
/// is brought up to the newest published policy (its catalogue's adds and retirements, its query model) and
/// served from then on. Later publishes reuse the index: following a catalogue change or taking a new query
/// model is cheap and happens as before, on the publishing thread.
final class PolicySnapshot: Sendable {
    private let slot = LockedBox<ServedPolicy?>(nil)
    private let index = LockedBox<IndexState>(IndexState())
    private let settings: RetrievalSettings
    private let builds: IndexBuilds

    /// The retrieval index the snapshot keeps and its build in progress.
    private struct IndexState: Sendable {
        /// The newest index brought up to a published policy.
        var built: PolicyRetrieval.Built?
        /// The policy version whose index is being built, nil when none is.
        var building: UInt64?
        /// The newest published snapshot (what a finished build is brought up to).
        var latest: ServedPolicy?
    }

    /// Creates an empty slot: no policy installed.
    /// - Parameters:
    ///   - settings: when a catalogue gets retrieval, and how many candidates.
    ///   - builds: where index builds run (a thread of their own; tests run them inline or hold them).
    init(settings: RetrievalSettings = RetrievalSettings(), builds: IndexBuilds = .thread()) {
        self.settings = settings
        self.builds = builds
    }

    /// The snapshot to serve, or `nil` before the first POLICY.
    var current: ServedPolicy? { slot.withLock { $0 } }

    /// The policy version whose retrieval index is being built, or nil (none, or the build finished).
    var buildingIndex: UInt64? { index.withLock { $0.building } }

    /// Replaces the snapshot; the next RECOMMEND uses it. For a large catalogue the kept index is brought up to
    /// the policy first (adds, retirements, query model); with no usable index yet the snapshot serves every
    /// active item and a build starts on another thread. If bringing the index up fails, the snapshot is
    /// published without retrieval (exhaustive scoring) and the error is returned for the caller to log.
    @discardableResult
    func publish(_ served: ServedPolicy) -> RetrievalError? {
        let (failure, build) = index.withLock { state -> (RetrievalError?, ServedPolicy?) in
            state.latest = served
            var next = served
            next.retrieval = nil
            var failure: RetrievalError?
            var build: ServedPolicy?
            if served.policy.catalogue.count >= settings.exhaustiveBelow {
                do throws(RetrievalError) {
                    if let built = state.built, try PolicyRetrieval.canFollow(built, policy: served.policy) {
                        next.retrieval = try PolicyRetrieval.make(
                            policy: served.policy, catalogue: served.catalogueVersion, previous: built,
                            settings: settings)
                        state.built = next.retrieval
                    } else if state.building == nil {
                        state.building = served.version
                        build = served
                    }
                } catch {
                    failure = error
                }
            }
            slot.withLock { $0 = next }
            return (failure, build)
        }
        if let build { builds.start(build.version) { [self] in self.buildIndex(for: build) } }
        return failure
    }

    /// Withdraws the served policy: RECOMMEND falls back to the replica's recommender until the next
    /// ``publish(_:)``; the kept index goes too (an index build in progress then serves nothing when it ends).
    func withdraw() {
        index.withLock { state in
            state.latest = nil
            state.built = nil
            slot.withLock { $0 = nil }
        }
    }

    /// Builds the index for `served` (off the publishing thread), then brings it up to the newest published
    /// policy and serves it.
    private func buildIndex(for served: ServedPolicy) {
        let start = Clocks.monotonicNanos()
        let result = Result { () throws(RetrievalError) -> PolicyRetrieval.Built? in
            try PolicyRetrieval.make(
                policy: served.policy, catalogue: served.catalogueVersion, previous: nil, settings: settings)
        }
        let seconds = Double(Clocks.monotonicNanos() - start) / 1e9
        let outcome = index.withLock { state -> Result<String?, RetrievalError> in
            state.building = nil
            guard case .success(let fresh?) = result, let latest = state.latest else {
                if case .failure(let error) = result { return .failure(error) }
                return .success(nil)
            }
            do throws(RetrievalError) {
                var next = latest
                next.retrieval = try PolicyRetrieval.make(
                    policy: latest.policy, catalogue: latest.catalogueVersion, previous: fresh, settings: settings)
                state.built = next.retrieval
                slot.withLock { $0 = next }
                return .success(next.retrieval?.retrieval.index.version.description)
            } catch {
                return .failure(error)
            }
        }
        // The build's temporaries (every row's embedding, the priors, hnswlib's insert state) are freed; give the
        // pages back so the replica's resident set is what it holds, not the build's peak.
        FreeMemory.returnToSystem()
        builds.finished(served.version, outcome, seconds)
    }
}

/// Where ``PolicySnapshot`` runs its index builds, and whom it tells when one ends.
struct IndexBuilds: Sendable {
    /// Runs the build for a policy version (on a thread of its own, inline, or later in tests).
    let start: @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void
    /// Told the policy version a build started from, the index version now served (`e<embeddings>.c<catalogue>.g<n>`;
    /// nil: none, the catalogue fell below the threshold) or the error, and the build's seconds.
    let finished: @Sendable (UInt64, Result<String?, RetrievalError>, Double) -> Void

    /// Builds on a dedicated thread named `worker-index`; `started` is told the version first.
    static func thread(
        started: @escaping @Sendable (UInt64) -> Void = { _ in },
        finished: @escaping @Sendable (UInt64, Result<String?, RetrievalError>, Double) -> Void = { _, _, _ in }
    ) -> IndexBuilds {
        IndexBuilds(
            start: { version, work in
                started(version)
                DedicatedThread.start(name: "worker-index", work)
            }, finished: finished)
    }

    /// Builds on the publishing thread, before ``PolicySnapshot/publish(_:)`` returns (tests).
    static let inline = IndexBuilds(start: { $1() }, finished: { _, _, _ in })
}
