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
        // The users a baseline is averaged over: in a live run, the served users of `range`, so that every CTR and
        // ratio compares the same users (a run whose RECOMMENDs expired for a quarter of its users divided the pool's
        // CTR over the rest by the oracle's over all); all of them without a live part (`--baselines-only`) or when
        // none of the range was served (the pool's figure is undefined there).
        func compared(_ range: Range<Int>) -> [Int] {
            guard elapsedMs != nil else { return Array(range) }
            let servedUsers = range.filter { outcomes[$0].served }
            return servedUsers.isEmpty ? Array(range) : servedUsers
        }
        func mean(_ clicks: [Int]?, _ range: Range<Int>) -> Double {
            let users = compared(range)
            guard let clicks, !users.isEmpty else { return 0 }
            return Double(users.reduce(0) { $0 + clicks[$1] }) / Double(users.count)
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
