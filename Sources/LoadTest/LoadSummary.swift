import Foundation
import Histogram

/// The figures of one run (or one sweep level). Its JSON keys are snake_case: `sent`, `completed`,
/// `lost`, `errors`, `throughput_rps`, `rows_per_s`, `goodput_rps`, `p50_ms`, `p90_ms`, `p99_ms`,
/// `p999_ms`, `max_ms`, and the `breakdown` of where the time went.
public struct LoadSummary: Sendable, Hashable, Codable {
    /// Mean time per `OK` request, split by where it went (from reply timing fields).
    public struct Breakdown: Sendable, Hashable, Codable {
        /// Total minus the rest: client ↔ broker ↔ worker transport and the client's own overhead.
        public var clientBrokerMs: Double
        /// Waiting in the broker before dispatch.
        public var brokerQueueMs: Double
        /// Waiting in the worker before compute.
        public var workerQueueMs: Double
        /// Compute of the batch that held the request.
        public var computeMs: Double

        enum CodingKeys: String, CodingKey {
            case clientBrokerMs = "client_broker_ms", brokerQueueMs = "broker_queue_ms"
            case workerQueueMs = "worker_queue_ms", computeMs = "compute_ms"
        }
    }

    /// One point of the latency distribution: the latency at or under which `percentile` % fall.
    public struct Point: Sendable, Hashable, Codable {
        /// Percentile, 0–100.
        public var percentile: Double
        /// Latency, ms.
        public var ms: Double
    }

    /// What was offered, such as `concurrency 8`.
    public var label: String
    /// The offered level: requests/s (open loop) or concurrency (closed loop).
    public var level: Double
    /// Rows per request.
    public var batch: Int
    /// The measured interval, s.
    public var durationS: Double
    /// Requests sent.
    public var sent: Int
    /// `OK` replies.
    public var completed: Int
    /// Requests with no reply when the run ended.
    public var lost: Int
    /// Failed requests by type: reply status names (`BUSY`, `EXPIRED`, …) and client failures (`TIMEOUT`).
    public var errors: [String: Int]
    /// `OK` replies per second.
    public var throughputRps: Double
    /// Rows scored per second.
    public var rowsPerS: Double
    /// `OK` replies within the objective per second.
    public var goodputRps: Double
    /// The latency objective, ms.
    public var objectiveMs: Double
    /// Median latency of `OK` replies, ms, from intended send time (as every latency here).
    public var p50Ms: Double
    /// 90th percentile latency, ms.
    public var p90Ms: Double
    /// 99th percentile latency, ms.
    public var p99Ms: Double
    /// 99.9th percentile latency, ms.
    public var p999Ms: Double
    /// Largest latency, ms.
    public var maxMs: Double
    /// Mean latency, ms.
    public var meanMs: Double
    /// Where the time went.
    public var breakdown: Breakdown
    /// The latency distribution, for plotting.
    public var distribution: [Point]
    /// The first message of each kind of error in ``errors`` that came with one (JSON `error_messages`): a run of
    /// 1,568 `BAD_REQUEST` said only that, never which value the pool refused.
    public var errorMessages: [String: String] = [:]

    enum CodingKeys: String, CodingKey {
        case label, level, batch, durationS = "duration_s", sent, completed, lost, errors
        case throughputRps = "throughput_rps", rowsPerS = "rows_per_s", goodputRps = "goodput_rps"
        case objectiveMs = "objective_ms", p50Ms = "p50_ms", p90Ms = "p90_ms", p99Ms = "p99_ms"
        case p999Ms = "p999_ms", maxMs = "max_ms", meanMs = "mean_ms", breakdown, distribution
    }

    /// The reason beside undefined latencies (`latency_undefined`): computed, so written but not read back.
    private enum ReasonKeys: String, CodingKey {
        case latencyUndefined = "latency_undefined", errorMessages = "error_messages", latencyNotes = "latency_notes"
    }

    /// What the tail percentiles and the throughput cannot say from this few replies (empty when they can): a p99 of
    /// fewer than 100 `OK` replies and a p99.9 of fewer than 1,000 are their slowest reply or near it, not a tail;
    /// a throughput of fewer than 10 is no steady rate (one request in 5 ms printed 212 req/s).
    public var latencyNotes: [String] {
        guard hasLatencies else { return [] }
        var notes: [String] = []
        if completed < 10 {
            notes.append("throughput and goodput rest on \(completed) OK repl\(completed == 1 ? "y" : "ies"): no steady rate")
        }
        if completed < 100 {
            notes.append(
                "p99 and p99.9 rest on \(completed) OK repl\(completed == 1 ? "y" : "ies") (fewer than 100): they are the "
                    + "slowest or near it, not a tail")
        } else if completed < 1_000 {
            notes.append("p99.9 rests on \(completed) OK replies (fewer than 1,000): it is the slowest or near it, not a tail")
        }
        return notes
    }

    /// Why the latency figures and the breakdown are undefined (``hasLatencies`` is false); nil when they are defined.
    public var latencyUndefined: String? { hasLatencies ? nil : Self.noOKReply }

    /// The reason the latency figures are undefined: they are taken over `OK` replies.
    public static let noOKReply = "no OK reply"

    /// Whether the latency figures and the breakdown are defined: they are means and percentiles over `OK` replies,
    /// so with none they are undefined. They are then `null` in JSON, empty in CSV and `undefined` in text (the
    /// stored values are 0), never a misleading 0 ms.
    public var hasLatencies: Bool { completed > 0 }

    /// Encodes every key but an empty `distribution`; with no `OK` reply the latency keys and the breakdown are
    /// `null`, and `latency_undefined` says why (it is `null` when they are defined).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(label, forKey: .label)
        try c.encode(level, forKey: .level)
        try c.encode(batch, forKey: .batch)
        try c.encode(durationS, forKey: .durationS)
        try c.encode(sent, forKey: .sent)
        try c.encode(completed, forKey: .completed)
        try c.encode(lost, forKey: .lost)
        try c.encode(errors, forKey: .errors)
        try c.encode(throughputRps, forKey: .throughputRps)
        try c.encode(rowsPerS, forKey: .rowsPerS)
        try c.encode(goodputRps, forKey: .goodputRps)
        try c.encode(objectiveMs, forKey: .objectiveMs)
        let defined = hasLatencies
        for (key, value) in [(CodingKeys.p50Ms, p50Ms), (.p90Ms, p90Ms), (.p99Ms, p99Ms), (.p999Ms, p999Ms),
            (.maxMs, maxMs), (.meanMs, meanMs)]
        {
            try c.encode(defined ? value : nil, forKey: key)
        }
        try c.encode(defined ? breakdown : nil, forKey: .breakdown)
        var reasons = encoder.container(keyedBy: ReasonKeys.self)
        try reasons.encode(latencyUndefined, forKey: .latencyUndefined)
        try reasons.encode(errorMessages, forKey: .errorMessages)
        try reasons.encode(latencyNotes, forKey: .latencyNotes)
        // The curve is left out where it was not kept (a sweep's levels), never printed as an empty list.
        if !distribution.isEmpty { try c.encode(distribution, forKey: .distribution) }
    }

    /// Total failed requests.
    public var errorCount: Int { errors.values.reduce(0, +) }

    /// Every request is accounted for: sent = completed + errors + lost.
    public var isConsistent: Bool { sent == completed + errorCount + lost }

    /// Samples a histogram's percentile curve (in ms) for plotting. Each point lies within the recorded latencies, as
    /// ``p50Ms`` and the other percentiles do: the iterator gives each bucket's top edge, and with one reply of 5.144
    /// ms the curve began at 5.147 ms, above its own median.
    static func distribution(of h: Histogram<UInt64>) -> [Point] {
        guard h.totalCount > 0 else { return [] }
        var points: [Point] = []
        for v in h.percentiles(ticksPerHalfDistance: 4) {
            let value = Swift.max(Swift.min(v.value, h.maxRecorded), h.min)
            points.append(Point(percentile: min(v.percentileLevelIteratedTo, 100), ms: Double(value) / 1000))
            if v.percentileLevelIteratedTo >= 99.9999 { break }
        }
        return points
    }
}

extension LoadSummary {
    /// The summary as one line of JSON; the `distribution` key (the latency curve) only with `includeDistribution`.
    /// - Throws: the encoder's `EncodingError` if a figure is not finite (they are by construction: durations are at
    ///   least 1 µs), so a caller fails instead of printing `{}`.
    public func json(includeDistribution: Bool = false) throws -> String {
        var copy = self
        if !includeDistribution { copy.distribution = [] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(copy), as: UTF8.self)
    }

    /// The CSV header matching ``csvRow``.
    public static let csvHeader =
        "label,level,batch,duration_s,sent,completed,lost,errors,throughput_rps,rows_per_s,goodput_rps,"
        + "p50_ms,p90_ms,p99_ms,p999_ms,max_ms,client_broker_ms,broker_queue_ms,worker_queue_ms,compute_ms"

    /// One CSV row; errors are `NAME:COUNT` pairs joined by `;`; undefined latencies (no `OK` reply) are empty cells.
    public var csvRow: String {
        let errs = errors.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ";")
        let latencies = [
            p50Ms, p90Ms, p99Ms, p999Ms, maxMs, breakdown.clientBrokerMs, breakdown.brokerQueueMs,
            breakdown.workerQueueMs, breakdown.computeMs,
        ].map { hasLatencies ? String(format: "%.4f", $0) : "" }
        let numbers = [durationS, throughputRps, rowsPerS, goodputRps].map { String(format: "%.4f", $0) } + latencies
        return
            ([label, String(format: "%g", level), "\(batch)", numbers[0], "\(sent)", "\(completed)", "\(lost)", errs]
            + numbers.dropFirst()).joined(separator: ",")
    }

    /// A human-readable summary.
    public var text: String {
        var lines = [
            "\(label), batch \(batch), \(String(format: "%.2f", durationS)) s",
            "  requests   sent \(sent), completed \(completed), errors \(errorCount), lost (no reply at the end) \(lost)",
            String(
                format: "  throughput %.1f req/s, %.0f rows/s; goodput %.1f req/s within %.1f ms", throughputRps,
                rowsPerS, goodputRps, objectiveMs),
        ]
        if hasLatencies {
            lines.append(
                String(
                    format:
                        "  latency    p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms (from intended send time)",
                    p50Ms, p90Ms, p99Ms, p999Ms, maxMs))
            lines.append(
                String(
                    format:
                        "  time went  client<->broker %.3f, broker queue %.3f, worker queue %.3f, compute %.3f ms (means)",
                    breakdown.clientBrokerMs, breakdown.brokerQueueMs, breakdown.workerQueueMs, breakdown.computeMs))
            for note in latencyNotes { lines.append("  note: \(note)") }
        } else {
            lines.append("  latency    undefined (no OK reply)")
        }
        if !errors.isEmpty {
            lines.append(
                "  errors     "
                    + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            for (name, message) in errorMessages.sorted(by: { $0.key < $1.key }) {
                lines.append("  first \(name): \(message)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
