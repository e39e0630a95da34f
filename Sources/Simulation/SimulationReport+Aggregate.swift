extension SimulationReport {
    /// Aggregates per-user outcomes and the baselines' clicks into windows, fifths and totals.
    init(
        plan: SimulationPlan, world: String, outcomes: [SimulationRunner.LiveOutcome], baselines: Baselines,
        fixedVersion: UInt64?, elapsedMs: UInt64?
    ) {
        let n = outcomes.count
        // The pool's CTR over `range`: nil when no user of it was served (the whole run's and a window's are then
        // stored as 0 and encoded as null by `served`; the fifths keep nil).
        func liveCtr(_ range: Range<Int>) -> Double? {
            let served = outcomes[range].filter(\.served)
            return served.isEmpty ? nil : Double(served.reduce(0) { $0 + $1.click }) / Double(served.count)
        }
        func mean(_ clicks: [Int]?, _ range: Range<Int>) -> Double {
            guard let clicks, !range.isEmpty else { return 0 }
            return Double(clicks[range].reduce(0, +)) / Double(range.count)
        }
        let windows = (0..<plan.windows).map { w -> SimulationWindow in
            let range = (w * n / plan.windows)..<((w + 1) * n / plan.windows)
            var window = SimulationWindow(
                users: range.upperBound, served: outcomes[range].filter(\.served).count, ctr: liveCtr(range) ?? 0,
                randomCtr: mean(baselines.clicks("random"), range), fixedCtr: mean(baselines.clicks("fixed"), range),
                oracleCtr: mean(baselines.clicks("oracle"), range), version: outcomes[range].filter(\.served).map(\.version).max())
            for series in baselines.series { window.baselines[series.name] = mean(series.clicks, range) }
            return window
        }
        let fifth = max(1, n / 5)
        let last = (n - fifth)..<n
        let served = outcomes.filter(\.served)
        var errors: [String: Int] = [:]
        for outcome in outcomes { errors.merge(outcome.errors, uniquingKeysWith: +) }
        let oracle = mean(baselines.clicks("oracle"), 0..<n)
        self.init(
            world: world, users: n, seed: plan.seed, concurrency: plan.concurrency, served: served.count,
            clicks: served.reduce(0) { $0 + $1.click }, ctr: liveCtr(0..<n) ?? 0, ctrFirstFifth: liveCtr(0..<fifth),
            ctrLastFifth: liveCtr(last), randomCtr: mean(baselines.clicks("random"), 0..<n),
            fixedCtr: mean(baselines.clicks("fixed"), 0..<n), oracleCtr: oracle,
            // The version the fixed baseline froze only when it ran: never a version nothing was served by.
            fixedVersion: baselines.clicks("fixed") == nil ? nil : fixedVersion, firstVersion: served.map(\.version).min(),
            lastVersion: served.map(\.version).max(), feedbackSent: outcomes.reduce(0) { $0 + $1.feedbackSent },
            feedbackDuplicates: outcomes.reduce(0) { $0 + $1.duplicates }, errors: errors, elapsedMs: elapsedMs,
            baselines: baselines.series.map { series in
                let ctr = mean(series.clicks, 0..<n)
                return BaselineSummary(
                    name: series.name, ctr: ctr, ctrLastFifth: mean(series.clicks, last),
                    ofOracle: oracle > 0 ? ctr / oracle : nil)
            },
            windows: windows)
    }
}
