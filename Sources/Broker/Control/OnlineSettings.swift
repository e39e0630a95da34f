import RecData
import RecWire

/// How the broker runs online learning (`recpool-broker --online …`).
public struct OnlineSettings: Sendable {
    /// A sync starts at most this long after the previous one (T), ms; 0 syncs only by event count.
    public var syncIntervalMs: UInt64 = 10_000
    /// … or as soon as this many feedback events have reached the learners (M).
    public var syncEvents = 500
    /// The guard rejects a candidate whose SNIPW estimate is below the current version's by more than this.
    public var guardMargin = 0.01
    /// With fewer logged rows than this the guard accepts without comparing.
    public var guardMinimumRows = 200
    /// Impressions with feedback the guard reads (the newest).
    public var guardImpressions = 3_000
    /// Impressions the log keeps; older ones (and their feedback) are evicted.
    public var impressionLogSize = 200_000
    /// Feedback for an impression older than this is refused as EXPIRED, ms.
    public var feedbackWindowMs: UInt64 = 3_600_000
    /// How many of the newest stored policy versions keep their weights (`--online-keep-versions`); older ones are
    /// pruned after each stored version (``RecStore/prunePolicyVersions(keepingNewest:nowMs:)``). 0 keeps every one.
    public var keepVersions = 50
    /// How long a sync waits for the replicas' states, ms (`--online-sync-timeout-ms`, 100 ms to 1 hour).
    public var syncTimeoutMs: UInt64 = 5_000
    /// Whether `online_sync` may replace the candidate with noise (for testing the guard).
    public var allowFaultInjection = false
    /// The simulator world whose items form the catalogue.
    public var world = SimulatorConfig()
    /// The registered catalogue the policy serves (`--online-catalogue`: a version number or `latest`); `nil`
    /// serves the simulator world's catalogue.
    public var catalogue: String? = nil
    /// The registry's catalogue the policy serves, the schema's user features, the catalogue's version and the
    /// SHA-256 of its canonical bytes, resolved from ``catalogue`` by the control plane at start (`nil`: the
    /// simulator world's).
    public var served: (catalogue: ItemCatalogue, userFeatures: [DataSchema.Feature], version: UInt64, sha256: String)? =
        nil
    /// Exploration of the served policy.
    public var exploration = ExplorationSpec()
    /// Learning on the replicas.
    public var learning = OnlineLearningSpec()
    /// Seed of the initial weights.
    public var seed: UInt64 = 1

    /// Creates the default settings.
    public init() {}

    /// Why these settings cannot be used, or `nil`.
    public var problem: String? {
        if syncEvents < 1 { return "online sync events must be at least 1" }
        if !(100...3_600_000).contains(syncTimeoutMs) {
            return "the online sync timeout must be 100 ms to 1 hour (--online-sync-timeout-ms), got \(syncTimeoutMs)"
        }
        if !(guardMargin.isFinite && guardMargin >= 0 && guardMargin <= 1) {
            return "online guard margin must be 0…1 (SNIPW is a click rate in [0, 1]; 1 accepts every candidate), got \(guardMargin)"
        }
        if guardMinimumRows < 0 { return "online guard minimum rows must be ≥ 0 (--online-guard-min-rows), got \(guardMinimumRows)" }
        if impressionLogSize < 1 { return "the impression log must keep at least 1 impression" }
        if keepVersions < 0 {
            return "--online-keep-versions must be 0 (keep every version) or more, got \(keepVersions)"
        }
        // A window of 0 would answer every FEEDBACK EXPIRED: nothing could be learnt.
        if feedbackWindowMs < 1_000 { return "the feedback window must be at least 1 s (--feedback-window-s)" }
        return exploration.problem ?? learning.problem
    }
}
