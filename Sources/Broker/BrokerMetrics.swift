import BrokerCore
import Metrics
import RecTransport
import RecWire

/// The broker's Prometheus metrics, fed by the reactor from ``BrokerCore``'s counters once a tick.
///
/// The core stays pure: it only counts. The reactor turns counter deltas into swift-metrics
/// counters and snapshots into gauges; names follow Prometheus conventions and are documented in
/// docs/OPERATIONS.md.
struct BrokerMetrics {
    private var last: [String: UInt64] = [:]
    private var counters: [String: Counter] = [:]
    private var workerGauges: [String: Gauge] = [:]
    /// When (monotonic µs) each worker whose gauge reads −1 was first seen gone.
    private var goneSince: [String: UInt64] = [:]
    /// How long a gone worker's `recpool_broker_worker_model_version` series reads −1 before it ends (µs): long
    /// enough for every scrape and alert to see it go, and a restarted worker's new id (`HOST-PID`) does not leave a
    /// series behind for good.
    static let goneSeriesMicros: UInt64 = 600_000_000
    /// The control plane's counters, registered at 0 here as the core's are.
    static let controlPlaneCounters = [
        "recpool_broker_training_rounds_total", "recpool_broker_stale_round_results_total",
        "recpool_broker_durable_write_failures_total", "recpool_broker_policy_versions_pruned_total",
    ]
    private let latency = Metrics.Timer(label: "recpool_broker_reply_latency_seconds")
    private let inflight = Gauge(label: "recpool_broker_inflight_requests")
    private let liveWorkers = Gauge(label: "recpool_broker_live_workers")
    /// Made once online learning is on: a broker without it exports no online gauge, rather than a policy
    /// version 0 that a dashboard could not tell from a served version 0.
    private var online: OnlineGauges?
    private let queueDepth: [Command: Gauge] = Dictionary(
        uniqueKeysWithValues: [Command.score, .recommend].map {
            ($0, Gauge(label: "recpool_broker_queue_depth", dimensions: [("service", $0.name.lowercased())]))
        })

    /// Registers every counter at 0 (``BrokerCounters/allNames``): a series that first appeared at a burst's value
    /// (`drops_total{reason="busy"} 41199`) gave `rate()` and `increase()` nothing for that burst, so a first outage
    /// never alerted.
    init() {
        for name in BrokerCounters.allNames { _ = counter(for: name) }
        for label in Self.controlPlaneCounters { Counter(label: label).increment(by: 0) }
    }

    /// Publishes what changed since the last call.
    mutating func update(from core: inout BrokerCore) {
        for micros in core.takeReplyLatencies() { latency.recordMicroseconds(Int64(micros)) }
        for (name, value) in core.counters.values {
            let delta = value &- (last[name] ?? 0)
            guard delta > 0 else { continue }
            last[name] = value
            counter(for: name).increment(by: Int64(delta))
        }
        if let view = core.onlineView, view.enabled {
            if online == nil { online = OnlineGauges() }
            online?.record(view)
        }
        inflight.record(core.inflightCount)
        liveWorkers.record(core.liveWorkerCount)
        let depths = core.queueDepths
        for (service, gauge) in queueDepth { gauge.record(depths[service] ?? 0) }
        var seen = Set<String>()
        for (id, version, verified) in core.workerVersions {
            seen.insert(id)
            goneSince[id] = nil
            if workerGauges[id] == nil {
                workerGauges[id] = Gauge(label: "recpool_broker_worker_model_version", dimensions: [("worker", id)])
            }
            // A worker claiming a version the registry does not hold with its weights (status `unverified`) does not
            // serve that version: −2, so a rollout dashboard never counts it as rolled out.
            workerGauges[id]?.record(verified ? Int64(bitPattern: version) : -2)
        }
        let now = Clocks.monotonicMicros()
        for (id, gauge) in workerGauges where !seen.contains(id) {
            let since = goneSince[id] ?? now
            goneSince[id] = since
            if now &- since >= Self.goneSeriesMicros {
                // Gone for the whole window: the series ends (a worker that comes back starts it again).
                gauge.destroy()
                workerGauges[id] = nil
                goneSince[id] = nil
            } else {
                gauge.record(-1)  // gone: -1 until it comes back, or the window passes
            }
        }
    }

    /// Maps a core counter name to its Prometheus counter (with labels).
    private mutating func counter(for name: String) -> Counter {
        if let existing = counters[name] { return existing }
        let made: Counter
        if name.hasPrefix("requests_") {
            made = Counter(label: "recpool_broker_requests_total", dimensions: [("service", String(name.dropFirst(9)))])
        } else if name.hasPrefix("replies_"), name != "replies_undeliverable", name != "replies_dropped_hwm" {
            made = Counter(label: "recpool_broker_replies_total", dimensions: [("status", String(name.dropFirst(8)))])
        } else if name.hasPrefix("dropped_") {
            made = Counter(label: "recpool_broker_drops_total", dimensions: [("reason", String(name.dropFirst(8)))])
        } else if name == "redispatched" {
            made = Counter(label: "recpool_broker_redispatches_total")
        } else {
            made = Counter(label: "recpool_broker_\(name)_total")
        }
        counters[name] = made
        return made
    }
}

/// The online learning gauges (docs/OPERATIONS.md), registered only by a broker whose online learning is on.
private struct OnlineGauges {
    let version = Gauge(label: "recpool_broker_online_policy_version")
    let feedback = Gauge(label: "recpool_broker_online_feedback_events")
    let impressions = Gauge(label: "recpool_broker_online_impressions_logged")
    let syncs = Gauge(label: "recpool_broker_online_syncs", dimensions: [("outcome", "accepted")])
    let rejected = Gauge(label: "recpool_broker_online_syncs", dimensions: [("outcome", "rejected")])
    let empty = Gauge(label: "recpool_broker_online_syncs", dimensions: [("outcome", "empty")])
    let frozen = Gauge(label: "recpool_broker_online_frozen")
    let unlearnt = Gauge(label: "recpool_broker_online_unlearnt_events")

    func record(_ view: OnlineView) {
        version.record(Int64(bitPattern: view.version))
        feedback.record(view.feedback)
        impressions.record(view.impressions)
        syncs.record(view.syncs)
        rejected.record(view.rejected)
        empty.record(view.emptySyncs)
        frozen.record(view.frozen ? 1 : 0)
        unlearnt.record(view.unlearntEvents)
    }
}
