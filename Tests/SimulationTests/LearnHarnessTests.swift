import Foundation
import RecData
import RecSimulation
import RecWire
import RecPolicy
import Testing

/// The learner's tuning harness (docs/BENCHMARKS.md, "Learning quality"), off unless `LEARN_HARNESS` is set: one
/// in-process ``OnlineLearner`` per seed serving `USERS` (5,000) simulated users through ``LearnerBackend``, and
/// one line `HARNESS TAG s<seed> <pool CTR>/<first fifth>/b<best textbook baseline> … MEAN …` on stdout.
/// Settings: `SEEDS` (21,22), `CONC` (concurrency, 4; 1 makes a run reproducible), `WINDOW` (re-linearised
/// events, 0), `INSTALL` (install the learner's own statistics every this many events, as a one-replica pool's
/// syncs do; 0 never), `LAMBDA`, `NOISE`, `PRIOR`, `COLD`, `COLDSHOWS`, `K`, `EPS` (the spec's learning and
/// exploration settings; the pool's defaults otherwise, K 16 and ε 0.02).
@Suite struct LearnHarnessTests {
    /// A tool, not a check: skipped (not passed) unless `LEARN_HARNESS` is set, and it asserts nothing.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LEARN_HARNESS"] != nil, "a tuning tool: set LEARN_HARNESS"))
    func harness() async throws {
        let env = ProcessInfo.processInfo.environment
        func d(_ k: String, _ v: Double) -> Double { env[k].flatMap(Double.init) ?? v }
        let seeds = (env["SEEDS"] ?? "21,22").split(separator: ",").compactMap { UInt64($0) }
        let users = Int(d("USERS", 5000))
        var learning = OnlineLearningSpec()
        learning.priorPrecision = d("LAMBDA", learning.priorPrecision)
        learning.noiseVariance = d("NOISE", learning.noiseVariance)
        learning.priorLogOdds = d("PRIOR", learning.priorLogOdds)
        learning.coldStartShare = d("COLD", learning.coldStartShare)
        learning.coldStartShows = Int(d("COLDSHOWS", Double(learning.coldStartShows)))
        learning.updateEvery = Int(d("K", 16))
        let exploration = ExplorationSpec(kind: .epsilonGreedy, epsilon: d("EPS", 0.02))
        let world = SimulatorWorld(config: SimulatorConfig())
        let spec = SimulatorCatalog.spec(world: world, exploration: exploration, learning: learning)
        var line = "HARNESS \(env["TAG"] ?? "")"
        var total = 0.0, first = 0.0, best = 0.0
        for seed in seeds {
            let backend = try LearnerBackend(
                world: world, seed: 3, spec: spec, installEvery: Int(d("INSTALL", 0)), window: Int(d("WINDOW", 0)))
            let r = try await SimulationRunner.run(
                backend: backend,
                plan: SimulationPlan(users: users, seed: seed, concurrency: Int(d("CONC", 4)), windows: 5))
            let names = ["linucb", "logistic_ts", "egreedy_lr"]
            let b = names.compactMap { n in r.baselines.first { $0.name == n }?.ctr }.max() ?? 0
            let firstFifth = try #require(r.ctrFirstFifth)
            let lastFifth = r.ctrLastFifth ?? 0
            let featureBest = r.baselines.first { $0.name == "feature_best" }
            line += String(
                format: " s%d %.4f/%.4f/last %.4f/b%.4f/fb %.4f last %.4f", seed, r.ctr, firstFifth, lastFifth, b,
                featureBest?.ctr ?? 0, featureBest?.ctrLastFifth ?? 0)
            total += r.ctr; first += firstFifth; best += b
        }
        let n = Double(seeds.count)
        line += String(format: " MEAN %.4f first %.4f best %.4f", total / n, first / n, best / n)
        print(line)
    }
}
