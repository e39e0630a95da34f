import RecData
import RecModel
import RecPolicy

/// Clicks per user of the three local baselines, on the same users and choice draws as the live pool.
struct Baselines: Sendable {
    /// The uniform random policy: `slateLength` distinct items drawn uniformly.
    var random: [Int]
    /// The policy served at the start, with its exploration, never updated.
    var fixed: [Int]
    /// Each user's top items by ground-truth single-item click probability, best in the top slot.
    var oracle: [Int]

    static func run(draws: [SimulationRunner.UserDraw], fixed policy: OnlinePolicy, slateLength: Int, seed: UInt64)
        throws(SimulationError) -> Baselines
    {
        let items = policy.spec.itemCount
        var randomRng = Xoshiro256(seed: seed ^ 0x0BA5_E11E_0000_0001)
        var fixedRng = Xoshiro256(seed: seed ^ 0x0BA5_E11E_0000_0002)
        var out = Baselines(random: [], fixed: [], oracle: [])
        for draw in draws {
            var pool = Array(0..<items)
            var randomSlate: [Int] = []
            for _ in 0..<slateLength {
                randomSlate.append(pool.remove(at: Int(randomRng.next() % UInt64(pool.count))))
            }
            let fixedSlate: [Int]
            do throws(PolicyError) {
                fixedSlate = try policy.recommend(
                    userFeatures: draw.observation.userFeatures, top: slateLength, rng: &fixedRng
                ).map(\.item)
            } catch {
                throw .invalidPolicy(error)
            }
            let single = (0..<items).map { item in (try? draw.environment.choiceProbabilities([item])[0]) ?? 0 }
            let oracleSlate = Array((0..<items).sorted { single[$0] > single[$1] }.prefix(slateLength))
            out.random.append(clicked(draw, randomSlate))
            out.fixed.append(clicked(draw, fixedSlate))
            out.oracle.append(clicked(draw, oracleSlate))
        }
        return out
    }

    private static func clicked(_ draw: SimulationRunner.UserDraw, _ slate: [Int]) -> Int {
        // The slates are built from the checked catalogue, so the step cannot fail.
        guard let step = try? draw.step(slate) else { return 0 }
        return step.clicked == nil ? 0 : 1
    }
}

extension SimulationReport {
    /// Aggregates per-user outcomes into windows, fifths and totals.
    init(
        plan: SimulationPlan, outcomes: [SimulationRunner.LiveOutcome], baselines: Baselines, fixedVersion: UInt64,
        elapsedMs: UInt64
    ) {
        let n = outcomes.count
        func liveCtr(_ range: Range<Int>) -> Double {
            let served = outcomes[range].filter(\.served)
            return served.isEmpty ? 0 : Double(served.reduce(0) { $0 + $1.click }) / Double(served.count)
        }
        func mean(_ clicks: [Int], _ range: Range<Int>) -> Double {
            range.isEmpty ? 0 : Double(clicks[range].reduce(0, +)) / Double(range.count)
        }
        let windows = (0..<plan.windows).map { w -> SimulationWindow in
            let range = (w * n / plan.windows)..<((w + 1) * n / plan.windows)
            return SimulationWindow(
                users: range.upperBound, served: outcomes[range].filter(\.served).count, ctr: liveCtr(range),
                randomCtr: mean(baselines.random, range), fixedCtr: mean(baselines.fixed, range),
                oracleCtr: mean(baselines.oracle, range), version: outcomes[range].map(\.version).max() ?? 0)
        }
        let fifth = max(1, n / 5)
        let served = outcomes.filter(\.served)
        var errors: [String: Int] = [:]
        for outcome in outcomes { errors.merge(outcome.errors, uniquingKeysWith: +) }
        self.init(
            users: n, seed: plan.seed, concurrency: plan.concurrency, served: served.count,
            clicks: served.reduce(0) { $0 + $1.click }, ctr: liveCtr(0..<n), ctrFirstFifth: liveCtr(0..<fifth),
            ctrLastFifth: liveCtr((n - fifth)..<n), randomCtr: mean(baselines.random, 0..<n),
            fixedCtr: mean(baselines.fixed, 0..<n), oracleCtr: mean(baselines.oracle, 0..<n),
            fixedVersion: fixedVersion, firstVersion: served.map(\.version).min() ?? 0,
            lastVersion: served.map(\.version).max() ?? 0, feedbackSent: outcomes.reduce(0) { $0 + $1.feedbackSent },
            feedbackDuplicates: outcomes.reduce(0) { $0 + $1.duplicates }, errors: errors, elapsedMs: elapsedMs,
            windows: windows)
    }
}
