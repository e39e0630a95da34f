import RecTransport

/// A perf_analyzer-style sweep: raise the rate or concurrency level by level, hold each level
/// until 3 consecutive windows agree within 10% (throughput and mean latency, each within ±10% of
/// the windows' average), and stop once p99 passes the objective.
public struct SweepPlan: Sendable, Hashable {
    /// The first level's mode; later levels scale its rate or concurrency.
    public var start: LoadMode
    /// Each level is the previous one times this factor (rounded up for concurrency).
    public var factor: Double
    /// At most this many levels.
    public var maxLevels: Int
    /// Window length, µs.
    public var windowMicros: UInt64
    /// Consecutive windows that must agree.
    public var stableWindows: Int = 3
    /// Allowed deviation from the windows' average, as a fraction.
    public var tolerance: Double = 0.10
    /// A level that is not stable after this many windows is recorded as unstable.
    public var maxWindows: Int

    /// Creates a sweep plan.
    public init(
        start: LoadMode, factor: Double = 2, maxLevels: Int = 10, windowMicros: UInt64 = 1_000_000, maxWindows: Int = 10
    ) {
        precondition(factor > 1, "the sweep factor must exceed 1")
        self.start = start
        self.factor = factor
        self.maxLevels = maxLevels
        self.windowMicros = windowMicros
        self.maxWindows = maxWindows
    }

    /// The mode of level `index` (from 0).
    public func mode(level index: Int) -> LoadMode {
        var scale = 1.0
        for _ in 0..<index { scale *= factor }
        switch start {
        case .open(let rate, let poisson): return .open(rate: rate * scale, poisson: poisson)
        case .closed(let c):
            var level = c
            for _ in 0..<index { level = max(level + 1, Int((Double(level) * factor).rounded(.up))) }
            return .closed(concurrency: level)
        }
    }

    /// Whether the last ``stableWindows`` windows agree within ``tolerance``.
    public func isStable(_ windows: [WindowStats]) -> Bool {
        guard windows.count >= stableWindows else { return false }
        let last = windows.suffix(stableWindows)
        func agree(_ values: [Double]) -> Bool {
            let mean = values.reduce(0, +) / Double(values.count)
            guard mean > 0 else { return false }
            return values.allSatisfy { abs($0 - mean) <= tolerance * mean }
        }
        return agree(last.map(\.throughput)) && agree(last.map(\.meanMicros))
    }
}

/// One level of a sweep.
public struct SweepLevel: Sendable, Hashable, Codable {
    /// The level's summary (over the whole level, warm-up windows included).
    public var summary: LoadSummary
    /// Whether 3 windows agreed before the level ended.
    public var stable: Bool
    /// Throughput of the stable windows, req/s.
    public var stableThroughputRps: Double
    /// Windows the level took.
    public var windows: Int

    /// Creates a level's record.
    public init(summary: LoadSummary, stable: Bool, stableThroughputRps: Double, windows: Int) {
        self.summary = summary
        self.stable = stable
        self.stableThroughputRps = stableThroughputRps
        self.windows = windows
    }

    enum CodingKeys: String, CodingKey {
        case summary, stable, stableThroughputRps = "stable_throughput_rps", windows
    }
}

/// Runs sweeps.
public enum SweepRunner {
    /// Runs `sweep` against `target`, level after level, until p99 passes the objective, a level
    /// loses requests, or the levels run out.
    /// - Parameters:
    ///   - base: the per-level plan (its mode and duration are replaced).
    ///   - onWindow: sees every window with the level's index.
    ///   - onLevel: sees each finished level.
    public static func run(
        target: some LoadTarget, sweep: SweepPlan, base: LoadPlan,
        onWindow: @escaping @Sendable (Int, WindowStats) -> Void = { _, _ in },
        onLevel: (SweepLevel) -> Void = { _ in }
    ) async -> [SweepLevel] {
        var levels: [SweepLevel] = []
        for index in 0..<sweep.maxLevels {
            var plan = base
            plan.mode = sweep.mode(level: index)
            plan.durationMicros = sweep.windowMicros * UInt64(sweep.maxWindows)
            let windows = WindowLog()
            let summary = await LoadRunner.run(target: target, plan: plan, windowMicros: sweep.windowMicros) { stats in
                onWindow(index, stats)
                return !sweep.isStable(windows.append(stats))
            }
            let seen = windows.all
            let stable = sweep.isStable(seen)
            let tail = seen.suffix(sweep.stableWindows)
            let level = SweepLevel(
                summary: summary, stable: stable,
                stableThroughputRps: tail.isEmpty ? 0 : tail.map(\.throughput).reduce(0, +) / Double(tail.count),
                windows: seen.count)
            levels.append(level)
            onLevel(level)
            if summary.p99Ms * 1000 > Double(base.objectiveMicros) || summary.completed == 0 { break }
        }
        return levels
    }
}

/// The windows of one level, appended from the runner's ticker.
final class WindowLog: Sendable {
    private let windows = LockedBox<[WindowStats]>([])
    func append(_ w: WindowStats) -> [WindowStats] {
        windows.withLock {
            $0.append(w); return $0
        }
    }
    var all: [WindowStats] { windows.withLock { $0 } }
}
