import Foundation
import RecData
import RecModel
import RecPolicy
import Testing

@testable import RecSimulation

/// The reference bandits of `recpool simulate` against known results.
@Suite struct BanditBaselineTests {
    @Test func linUCBMatchesItsClosedFormOnATinyProblem() {
        // d = 2, one arm: contexts e0+e1 (reward 1), e0 (reward 0), e1 (reward 1).
        var bandit = LinUCB(arms: 1, dimension: 2, alpha: 0.5)
        bandit.update(arm: 0, context: [0, 1], reward: 1)
        bandit.update(arm: 0, context: [0], reward: 0)
        bandit.update(arm: 0, context: [1], reward: 1)
        // A = I + Σ x xᵀ = [[3, 1], [1, 3]], b = [1, 2]; A⁻¹ = [[3, −1], [−1, 3]] / 8; θ = A⁻¹ b = [1/8, 5/8].
        let inverse = bandit.inverseDesign(arm: 0)
        for (got, want) in zip(inverse, [3.0 / 8, -1.0 / 8, -1.0 / 8, 3.0 / 8]) { #expect(abs(got - want) < 1e-12) }
        let theta = bandit.coefficients(arm: 0)
        #expect(abs(theta[0] - 1.0 / 8) < 1e-12 && abs(theta[1] - 5.0 / 8) < 1e-12)
        // p(x) = θᵀx + α √(xᵀ A⁻¹ x); for x = e0 + e1: 6/8 + 0.5 √(4/8).
        let score = bandit.scores(context: [0, 1])[0]
        #expect(abs(score - (6.0 / 8 + 0.5 * (4.0 / 8).squareRoot())) < 1e-12)
    }

    @Test func theLaplaceUpdateMatchesHandComputedValues() {
        // One weight, prior N(0, 1), a click: the mode solves z = 1 − σ(z) (z = 0.401058137541547, from
        // Newton's method in double precision); the precision becomes 1 + σ(z)(1 − σ(z)).
        var one = LaplaceLogistic(arms: 1, dimension: 1)
        one.update(arm: 0, context: [0], click: 1)
        #expect(abs(one.mean[0][0] - 0.40105813754154696) < 1e-12)
        #expect(abs(one.precision[0][0] - 1.2402105078532526) < 1e-12)
        // Two weights with prior means (0.5, −1) and precisions (1, 4), no click. The mode is the minimiser of
        // ½ Σ q (w − m)² − log(1 − σ(wᵀx)): its gradient vanishes there.
        var two = LaplaceLogistic(arms: 1, dimension: 2)
        two.update(arm: 0, context: [0], click: 1)  // moves weight 0 only
        var fresh = LaplaceLogistic(arms: 1, dimension: 2)
        fresh.setPrior(arm: 0, mean: [0.5, -1], precision: [1, 4])
        fresh.update(arm: 0, context: [0, 1], click: 0)
        #expect(abs(fresh.mean[0][0] - 0.2045917588154858) < 1e-12)
        #expect(abs(fresh.mean[0][1] - -1.0738520602961286) < 1e-12)
        #expect(abs(fresh.precision[0][0] - 1.208142212224786) < 1e-12)
        #expect(abs(fresh.precision[0][1] - 4.208142212224786) < 1e-12)
        let w = fresh.mean[0]
        let p = 1 / (1 + exp(-(w[0] + w[1])))
        #expect(abs(1 * (w[0] - 0.5) + p) < 1e-12 && abs(4 * (w[1] + 1) + p) < 1e-12)
        #expect(two.mean[0][1] == 0 && two.precision[0][1] == 1)
    }

    /// A stationary linear bandit: arm a clicks with probability 0.05 + 0.4·[a is the context's favourite].
    func regret<Learner: SlateLearner>(_ learner: inout Learner, rounds: Int) -> (first: Double, second: Double) {
        var rng = SplitMix64(seed: 17)
        var regret = [0.0, 0.0]
        for t in 0..<rounds {
            let context = rng.index(4)
            let x = [0, 1 + context]
            let arm = learner.slate(context: x, length: 1)[0]
            let p = arm == context ? 0.45 : 0.05
            learner.learn(context: x, item: arm, click: rng.uniform() < p ? 1 : 0)
            regret[t < rounds / 2 ? 0 : 1] += 0.45 - p
        }
        return (regret[0], regret[1])
    }

    @Test func regretShrinksOnAStationaryLinearBandit() {
        var linUCB = LinUCBSlates(bandit: LinUCB(arms: 6, dimension: 5, alpha: 0.3))
        var thompson = ThompsonSlates(
            model: LaplaceLogistic(arms: 6, dimension: 5, priorBias: -3), scale: 0.25, rng: Xoshiro256(seed: 1))
        var greedy = EpsilonGreedySlates(
            model: LaplaceLogistic(arms: 6, dimension: 5, priorBias: -3), epsilon: 0.05, rng: Xoshiro256(seed: 2))
        for (name, r) in [
            ("linucb", regret(&linUCB, rounds: 3000)), ("logistic_ts", regret(&thompson, rounds: 3000)),
            ("egreedy_lr", regret(&greedy, rounds: 3000)),
        ] {
            // The second half's regret is well below the first's, and below half a random policy's
            // (1500 × 0.4 × 5/6 = 500).
            print("regret \(name): first half \(r.first), second half \(r.second)")
            #expect(r.second < 0.6 * r.first, "\(name): \(r)")
            #expect(r.second < 250, "\(name): \(r)")
        }
    }

    /// Before any data every arm's score is the prior's: "ties to the lower arm" made ε-greedy and LinUCB show the
    /// catalogue in row order (arm 0 first on 95% of slates), their clicks depending on that order.
    @Test func untriedArmsTieInADrawnOrderNotInRowOrder() {
        var greedy = EpsilonGreedySlates(
            model: LaplaceLogistic(arms: 6, dimension: 5, priorBias: -3), epsilon: 0.05, rng: Xoshiro256(seed: 4))
        var linUCB = LinUCBSlates(bandit: LinUCB(arms: 6, dimension: 5, alpha: 0.3), rng: Xoshiro256(seed: 5))
        for (name, first) in [
            ("egreedy_lr", (0..<600).map { _ in greedy.slate(context: [0, 1], length: 3)[0] }),
            ("linucb", (0..<600).map { _ in linUCB.slate(context: [0, 1], length: 3)[0] }),
        ] {
            let counts = (0..<6).map { arm in first.filter { $0 == arm }.count }
            // Uniform over 6 arms: 100 each; arm 0 was first on about 580 of 600.
            #expect(counts.allSatisfy { $0 > 50 && $0 < 160 }, "\(name): \(counts)")
        }
        #expect(topArms([1, 3, 3, 2], length: 2) == [1, 2])
    }

    @Test func contextsAreABiasAndOneOnePerKnownFeature() {
        let encoder = OneHotContext(vocabulary: [
            .init(name: "a", values: ["x", "y"]), .init(name: "b", values: ["p", "q", "r"]),
        ])
        #expect(encoder.width == 6)
        #expect(encoder.encode(["a": "y", "b": "p"]) == [0, 2, 3])
        #expect(encoder.encode(["a": "unknown"]) == [0])
    }

    /// `simulator:items=2` has three slots and two items: every baseline shows both items (no trap drawing a third
    /// from an empty pool), so the random slate and the oracle's hold the same items.
    @Test func aWorldWithFewerItemsThanSlotsShowsEveryItem() throws {
        let world = SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=2"))
        #expect(world.slots == 3 && world.itemCount == 2)
        let report = try SimulationRunner.runBaselines(plan: SimulationPlan(users: 400, seed: 1, windows: 4), world: world)
        #expect(report.baselines.map(\.name) == [
            "random", "linucb", "logistic_ts", "egreedy_lr", "feature_best", "oracle",
        ])
        #expect(try #require(report.baseline("oracle")).ctr > 0)
        for baseline in report.baselines { #expect((0...1).contains(baseline.ctr), "\(baseline.name)") }
    }

    /// A world with fewer slots than the policy's slate size (a shop whose log shows two items, against a catalogue
    /// policy's three) is served slates of its own length: every RECOMMEND asks for `top` = the world's slots, and the
    /// baselines show as many. Before, the run was refused as "not the simulated world's catalogue".
    @Test func aWorldWithFewerSlotsThanTheSlateSizeIsServedItsOwnLength() async throws {
        var config = SimulatorConfig()
        config.positions = 2
        let world = SimulatorWorld(config: config)
        #expect(world.slots == 2)
        var spec = SimulatorCatalog.spec(world: world)
        spec.slateSize = 3
        let backend = try LearnerBackend(world: world, learning: false, spec: spec)
        let report = try await SimulationRunner.run(
            backend: backend, plan: SimulationPlan(users: 50, seed: 4, windows: 1), world: world)
        #expect(backend.impressions.count == 50)
        #expect(backend.impressions.allSatisfy { $0.record.slate.count == 2 }, "\(backend.impressions.map(\.record.slate.count))")
        #expect(report.served == 50 && report.errors.isEmpty)
    }

    /// A pool whose catalogue gained items after the world's was uploaded: the refusal says how to get back.
    @Test func aCatalogueWithAddedItemsIsRefusedWithTheWayBack() throws {
        let small = SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=30"))
        let large = SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=31"))
        #expect {
            try SimulationRunner.checkCatalogue(SimulatorCatalog.spec(world: large), world: small)
        } throws: { error in
            "\(error)".contains("31 items, the world has 30; serve the world's catalogue")
                && "\(error)".contains("if items were added to it since, restart the broker with --online-catalogue")
        }
        #expect {
            try SimulationRunner.checkCatalogue(SimulatorCatalog.spec(world: small), world: large)
        } throws: { error in
            "\(error)".contains("30 items, the world has 31") && !"\(error)".contains("were added")
        }
        // Retired items: the pool's slates come from fewer items than the baselines', so the CTRs would not compare.
        var retired = SimulatorCatalog.spec(world: small)
        for item in 0..<27 { retired.itemActive[item] = false }
        #expect {
            try SimulationRunner.checkCatalogue(retired, world: small)
        } throws: { error in
            "\(error)".contains("27 of the pool's 30 items are retired")
        }
    }

    /// Above 5,000 items the per-item learners and the feature-only reference are left out, and the report says so.
    @Test func aLargeWorldNamesTheBaselinesItLeavesOut() throws {
        let world = SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=6000"))
        let report = try SimulationRunner.runBaselines(plan: SimulationPlan(users: 50, seed: 1, windows: 2), world: world)
        #expect(report.baselines.map(\.name) == ["random", "oracle"])
        #expect(report.text.contains("linucb, logistic_ts, egreedy_lr and feature_best left out: the world has more than 5000 items"))
        // The HTML report says it too (it listed two baselines with no word on the others).
        #expect(report.html(command: "recpool simulate").contains(
            "linucb, logistic_ts, egreedy_lr and feature_best left out: the world has more than 5000 items"))
        let small = try SimulationRunner.runBaselines(
            plan: SimulationPlan(users: 50, seed: 1, windows: 2),
            world: SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=40")))
        #expect(!small.text.contains("left out") && !small.html(command: "recpool simulate").contains("left out"))
    }

    @Test func theBaselinesRankAsTheTextbookSaysOnTheSimulator() throws {
        let report = try SimulationRunner.runBaselines(plan: SimulationPlan(users: 3000, seed: 21, windows: 5))
        let ctr = Dictionary(uniqueKeysWithValues: report.baselines.map { ($0.name, $0.ctr) })
        #expect(report.baselines.map(\.name) == [
            "random", "linucb", "logistic_ts", "egreedy_lr", "feature_best", "oracle",
        ])
        for learner in ["linucb", "logistic_ts", "egreedy_lr"] {
            #expect(ctr[learner]! > ctr["random"]! + 0.03, "\(learner)")
            #expect(ctr[learner]! < ctr["feature_best"]!, "\(learner)")
        }
        #expect(ctr["feature_best"]! < ctr["oracle"]!)
        #expect(report.baseline("oracle")?.ofOracle == 1)
        #expect(report.windows.allSatisfy { $0.baselines.count == 6 })
        // With no pool, the pool's CTRs and the absent fixed baseline are null, not 0.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(json["ctr"] is NSNull && json["fixed_ctr"] is NSNull && json["world"] as? String == "simulator")
        // No pool served anything, so no policy version is reported: null, never a fake version 0.
        #expect(report.fixedVersion == nil && report.firstVersion == nil && report.lastVersion == nil)
        for key in ["fixed_version", "first_version", "last_version"] {
            #expect(json.keys.contains(key) && json[key] is NSNull, "\(key)")
        }
        let windows = try #require(json["windows"] as? [[String: Any]])
        #expect(windows.count == 5 && windows.allSatisfy { $0.keys.contains("version") && $0["version"] is NSNull })
        // No live part ran, so it has no duration: null, never 0 ms.
        #expect(report.elapsedMs == nil && json.keys.contains("elapsed_ms") && json["elapsed_ms"] is NSNull)
        #expect(report.text.contains("no live part") && !report.text.contains(" 0 ms"))
        #expect(report.text.contains("policy versions") == false && !report.text.contains("fixed v0"))
        #expect(report.html(command: "recpool simulate --baselines-only").contains("policy versions none (no user served)"))
        #expect(try JSONDecoder().decode(SimulationReport.self, from: Data(report.json().utf8)) == report)
    }
}
