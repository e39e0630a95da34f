import Histogram
import RecTransport

/// Counts for one progress window: what completed in it and how fast.
public struct WindowStats: Sendable, Hashable {
    /// µs since the start of the run at the end of the window.
    public var elapsedMicros: UInt64
    /// Length of the window in µs.
    public var lengthMicros: UInt64
    /// Requests sent so far.
    public var sent: Int
    /// `OK` replies so far.
    public var completed: Int
    /// Errors so far.
    public var errors: Int
    /// `OK` replies in this window.
    public var windowCompleted: Int
    /// `OK` replies per second in this window.
    public var throughput: Double
    /// Mean latency in this window, µs.
    public var meanMicros: Double
    /// p99 latency in this window, µs.
    public var p99Micros: UInt64

    /// Creates window figures.
    public init(
        elapsedMicros: UInt64, lengthMicros: UInt64, sent: Int, completed: Int, errors: Int, windowCompleted: Int,
        throughput: Double, meanMicros: Double, p99Micros: UInt64
    ) {
        self.elapsedMicros = elapsedMicros
        self.lengthMicros = lengthMicros
        self.sent = sent
        self.completed = completed
        self.errors = errors
        self.windowCompleted = windowCompleted
        self.throughput = throughput
        self.meanMicros = meanMicros
        self.p99Micros = p99Micros
    }
}

/// Records every request of a run: sent, answered, failed, or still outstanding.
///
/// Thread-safe; each call takes one lock. Latencies are µs in HdrHistograms (3 significant
/// digits, 1 µs to 1 h). A request is outstanding from ``sent(_:)`` until ``finished(_:at:outcome:)``;
/// after ``close(at:)`` late outcomes are ignored, so what was outstanding then stays lost.
public final class LoadRecorder: Sendable {
    struct State {
        var latency = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        var window = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        var windowStartMicros: UInt64 = 0
        /// The window's latencies summed, µs: its mean exactly, not from the histogram's buckets.
        var windowSum: UInt64 = 0
        var sent = 0
        var completed = 0
        var rows = 0
        var withinObjective = 0
        var errors: [String: Int] = [:]
        /// The first message of each kind of error.
        var errorMessages: [String: String] = [:]
        var outstanding: Set<Int> = []
        var closed = false
        var closedAtMicros: UInt64 = 0
        var lastCompletionMicros: UInt64 = 0
        var sumTotal: UInt64 = 0
        var sumBrokerQueue: UInt64 = 0
        var sumWorkerQueue: UInt64 = 0
        var sumCompute: UInt64 = 0
    }

    private let state = LockedBox(State())
    /// The run's start on the monotonic clock, µs.
    public let startMicros: UInt64
    /// Replies at or under this latency count towards goodput, µs.
    public let objectiveMicros: UInt64

    /// Creates a recorder for a run that starts at `startMicros` (monotonic µs).
    public init(startMicros: UInt64, objectiveMicros: UInt64) {
        self.startMicros = startMicros
        self.objectiveMicros = objectiveMicros
        state.withLock { $0.windowStartMicros = startMicros }
    }

    /// Notes that request `index` was sent. Returns false after ``close(at:)``.
    @discardableResult
    public func sent(_ index: Int) -> Bool {
        state.withLock { s in
            guard !s.closed else { return false }
            s.sent += 1
            s.outstanding.insert(index)
            return true
        }
    }

    /// Notes how request `index` ended at `nowMicros`; its latency counts from `intendedMicros`.
    public func finished(_ index: Int, intendedMicros: UInt64, at nowMicros: UInt64, outcome: LoadOutcome) {
        let latency = nowMicros > intendedMicros ? nowMicros - intendedMicros : 0
        let objective = objectiveMicros
        state.withLock { s in
            guard !s.closed, s.outstanding.remove(index) != nil else { return }
            switch outcome {
            case .ok(let rows, let timings):
                s.completed += 1
                s.rows += rows
                _ = s.latency.record(max(latency, 1))
                _ = s.window.record(max(latency, 1))
                s.windowSum += latency
                if latency <= objective { s.withinObjective += 1 }
                s.sumTotal += latency
                s.sumBrokerQueue += timings.brokerQueueMicros
                s.sumWorkerQueue += timings.workerQueueMicros
                s.sumCompute += timings.computeMicros
                s.lastCompletionMicros = max(s.lastCompletionMicros, nowMicros)
            case .failed(let name, let message):
                s.errors[name, default: 0] += 1
                if let message, !message.isEmpty, s.errorMessages[name] == nil { s.errorMessages[name] = message }
            }
        }
    }

    /// Requests sent and not yet finished.
    public var outstandingCount: Int { state.withLock { $0.outstanding.count } }

    /// Ends the current window at `nowMicros` and returns its figures.
    public func closeWindow(at nowMicros: UInt64) -> WindowStats {
        state.withLock { s in
            let length = max(nowMicros - s.windowStartMicros, 1)
            let count = Int(s.window.totalCount)
            let stats = WindowStats(
                elapsedMicros: nowMicros - startMicros, lengthMicros: length, sent: s.sent, completed: s.completed,
                errors: s.errors.values.reduce(0, +), windowCompleted: count,
                throughput: Double(count) / (Double(length) / 1e6), meanMicros: count > 0 ? Double(s.windowSum) / Double(count) : 0,
                p99Micros: count > 0 ? s.window.valueAtPercentile(99) : 0)
            s.window.reset()
            s.windowSum = 0
            s.windowStartMicros = nowMicros
            return stats
        }
    }

    /// Stops recording at `nowMicros`: requests still outstanding are lost.
    public func close(at nowMicros: UInt64) {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            s.closedAtMicros = nowMicros
        }
    }

    /// The run's summary. The measured interval runs from the start to the later of the end of
    /// sending (`sendEndMicros`) and the last `OK` reply.
    public func summary(label: String, level: Double, batch: Int, sendEndMicros: UInt64) -> LoadSummary {
        state.withLock { s in
            let end = max(sendEndMicros, s.lastCompletionMicros)
            let seconds = max(Double(end - startMicros) / 1e6, 1e-6)
            let h = s.latency
            let n = h.totalCount
            func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
            func pct(_ p: Double) -> Double { n > 0 ? ms(h.valueAtPercentile(p)) : 0 }
            let completed = Double(max(s.completed, 1))
            let total = Double(s.sumTotal) / completed
            let broker = Double(s.sumBrokerQueue) / completed
            let worker = Double(s.sumWorkerQueue) / completed
            let compute = Double(s.sumCompute) / completed
            return LoadSummary(
                label: label, level: level, batch: batch, durationS: seconds, sent: s.sent,
                completed: s.completed, lost: s.outstanding.count, errors: s.errors,
                throughputRps: Double(s.completed) / seconds, rowsPerS: Double(s.rows) / seconds,
                goodputRps: Double(s.withinObjective) / seconds, objectiveMs: ms(objectiveMicros),
                p50Ms: pct(50), p90Ms: pct(90), p99Ms: pct(99), p999Ms: pct(99.9),
                // The exact largest latency and mean, as the percentiles are exact at the top (`valueAtPercentile` is
                // capped at the largest recorded value): the histogram's `max` and `mean` read bucket edges and
                // midpoints, and one reply of 5.144 ms was a max of 5.147 ms above its own p50.
                maxMs: n > 0 ? ms(h.maxRecorded) : 0, meanMs: n > 0 ? total / 1000 : 0,
                breakdown: LoadSummary.Breakdown(
                    clientBrokerMs: max(total - broker - worker - compute, 0) / 1000, brokerQueueMs: broker / 1000,
                    workerQueueMs: worker / 1000, computeMs: compute / 1000),
                distribution: LoadSummary.distribution(of: h), errorMessages: s.errorMessages)
        }
    }
}
