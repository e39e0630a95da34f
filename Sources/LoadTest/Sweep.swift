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

/// One level of a sweep. JSON keys: `stable`, `stable_throughput_rps` (`null` when the level was not stable),
/// `windows`, `summary` (``LoadSummary``, without its distribution in ``SweepDocument``).
public struct SweepLevel: Sendable, Hashable, Codable {
    /// The level's summary (over the whole level, warm-up windows included).
    public var summary: LoadSummary
    /// Whether 3 windows agreed before the level ended.
    public var stable: Bool
    /// Mean throughput of the windows that agreed, req/s; nil when the level was not stable (no windows agreed, so
    /// no throughput is the stable one).
    public var stableThroughputRps: Double?
    /// Windows the level took.
    public var windows: Int

    /// Creates a level's record.
    public init(summary: LoadSummary, stable: Bool, stableThroughputRps: Double?, windows: Int) {
        self.summary = summary
        self.stable = stable
        self.stableThroughputRps = stableThroughputRps
        self.windows = windows
    }

    /// The record of a level that ran `seen` windows under `plan`: stable when the last ``SweepPlan/stableWindows``
    /// agree (``SweepPlan/isStable(_:)``), and then their mean throughput.
    public init(summary: LoadSummary, windows seen: [WindowStats], plan: SweepPlan) {
        let stable = plan.isStable(seen)
        let tail = seen.suffix(plan.stableWindows)
        self.init(
            summary: summary, stable: stable,
            stableThroughputRps: stable ? tail.map(\.throughput).reduce(0, +) / Double(tail.count) : nil,
            windows: seen.count)
    }

    enum CodingKeys: String, CodingKey {
        case summary, stable, stableThroughputRps = "stable_throughput_rps", windows
    }

    /// Encodes every key, `stable_throughput_rps` as `null` when the level was not stable.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(summary, forKey: .summary)
        try c.encode(stable, forKey: .stable)
        try c.encode(stableThroughputRps, forKey: .stableThroughputRps)
        try c.encode(windows, forKey: .windows)
    }
}

/// What `recpool loadtest --sweep --json` prints: `{"levels": [SweepLevel]}`, each level's summary without its
/// latency distribution (as a single run's `--json`).
public struct SweepDocument: Sendable, Hashable, Codable {
    /// The levels, in order.
    public var levels: [SweepLevel]

    /// The document of `levels`, their distributions left out.
    public init(levels: [SweepLevel]) {
        self.levels = levels.map {
            var level = $0
            level.summary.distribution = []
            return level
        }
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
            let level = SweepLevel(summary: summary, windows: windows.all, plan: sweep)
            levels.append(level)
            onLevel(level)
            if summary.p99Ms * 1000 > Double(base.objectiveMicros) || summary.completed == 0 { break }
        }
        return levels
    }
}

extension SweepLevel {
    /// The first of `levels` that sent no request: it measured nothing (its windows were too short for a first
    /// request), so a sweep that ends on it has no last level to report; nil when every level sent.
    public static func firstUnmeasured(_ levels: [SweepLevel]) -> SweepLevel? {
        levels.first { $0.summary.sent == 0 }
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
