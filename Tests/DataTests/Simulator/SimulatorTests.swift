import Testing

@testable import RecData

@Suite("Cold-start simulator")
struct SimulatorTests {
    static func smallWorld(seed: UInt64 = 7) -> SimulatorWorld {
        var config = SimulatorConfig()
        config.users = 2_000
        config.items = 10
        config.seed = seed
        return SimulatorWorld(config: config)
    }

    @Test("the same seed gives the same logged data and another seed does not")
    func deterministic() {
        let world = Self.smallWorld()
        let a = world.loggedData(rows: 2_000, policy: .uniform, seed: 1)
        let b = Self.smallWorld().loggedData(rows: 2_000, policy: .uniform, seed: 1)
        let c = world.loggedData(rows: 2_000, policy: .uniform, seed: 2)
        #expect(a.action == b.action && a.reward == b.reward && a.context == b.context && a.affinity == b.affinity)
        #expect(a.action != c.action)
    }

    @Test("logged data has OBD's shape, known propensities and a realistic cold-start share")
    func shape() {
        let world = Self.smallWorld()
        let data = world.loggedData(rows: 20_000, policy: .epsilonGreedy(epsilon: 0.2), seed: 3)
        #expect(data.rows == 20_000 && data.nActions == 10 && data.nPositions == 3)
        #expect(data.context.columns == [3, 5, 8, 8].reduce(0, +) - 4)
        #expect(data.actionContext.rows == 10 && data.actionContext.columns == 4)
        for row in 0..<100 {
            let p = data.pscore[row]
            #expect(abs(p - 0.02) < 1e-12 || abs(p - (0.8 + 0.02)) < 1e-12)
        }
        let cold = Double(data.rows(in: .coldStart).count) / Double(data.rows)
        #expect(cold > 0.9 && cold < 0.99)
        let ctr = Double(data.clicks) / Double(data.rows)
        #expect(ctr > 0.005 && ctr < 0.3)
        // Warm users click more, as on OBD.
        let warm = data.rows(in: .warm)
        let coldRows = data.rows(in: .coldStart)
        let warmTruth = warm.reduce(0.0) {
            $0 + data.oracle!.probability(row: $1, item: data.action[$1], position: data.position[$1])
        }
        let coldTruth = coldRows.reduce(0.0) {
            $0 + data.oracle!.probability(row: $1, item: data.action[$1], position: data.position[$1])
        }
        #expect(warmTruth / Double(warm.count) > 1.5 * coldTruth / Double(coldRows.count))
    }

    @Test("the online environment starts new users without history and drifts interests on clicks")
    func environment() throws {
        var env = SimulatorEnvironment(world: Self.smallWorld(), seed: 11)
        #expect(throws: SimulatorError.noActiveSession) { try env.step([0]) }
        let start = env.reset()
        #expect(start.clicks.isEmpty && start.remainingBudget == 30 && start.userFeatures.count == 4)
        #expect(throws: SimulatorError.duplicateItem(1)) { try env.step([1, 1]) }
        #expect(throws: SimulatorError.unknownItem(10)) { try env.step([10]) }
        #expect(throws: SimulatorError.invalidSlateSize(4)) { try env.step([0, 1, 2, 3]) }
        let p = try env.choiceProbabilities([0, 1, 2])
        #expect(p.count == 4 && abs(p.reduce(0, +) - 1) < 1e-12)
        var steps = 0
        var clicks = 0
        var done = false
        while !done {
            let step = try env.step([0, 1, 2])
            steps += 1
            clicks += Int(step.reward)
            done = step.done
        }
        #expect(steps >= 30 && steps <= 60)
        #expect(throws: SimulatorError.noActiveSession) { try env.step([0]) }
        #expect(clicks == 0 || steps > 30)
    }

    @Test("a click moves the user's interests towards the clicked item")
    func drift() throws {
        var env = SimulatorEnvironment(world: Self.smallWorld(), seed: 5)
        env.reset()
        let item = 4
        let before = try env.choiceProbabilities([item])[0]
        var clicked = false
        for _ in 0..<30 where !clicked {
            clicked = try env.step([item]).clicked == item
        }
        try #require(clicked)
        let after = try env.choiceProbabilities([item])[0]
        #expect(after > before, "P(click) \(before) -> \(after)")
    }

    @Test("IPW and DR intervals cover the true value of a known policy in at least 90 of 100 seeded trials")
    func coverage() {
        let world = Self.smallWorld()
        let n = world.config.items
        // Evaluation policy: half on the logging system's greedy item of the user's group and slot, half uniform.
        func pi(group: Int, slot: Int) -> [Double] {
            var p = [Double](repeating: 0.5 / Double(n), count: n)
            p[world.greedyItem[group][slot]] += 0.5
            return p
        }
        let nFeatures = world.config.userFeatureCardinalities.count
        let truth = world.policyValue { user, slot in pi(group: Int(world.featureCodes[user * nFeatures]), slot: slot) }
        var ipwCovered = 0
        var drCovered = 0
        for trial in 0..<100 {
            let data = world.loggedData(rows: 3_000, policy: .uniform, seed: UInt64(1_000 + trial))
            var probabilities: [Double] = []
            probabilities.reserveCapacity(data.rows * n)
            for row in 0..<data.rows {
                probabilities += pi(group: Int(data.userFeatures.codes[row * nFeatures]), slot: data.position[row])
            }
            let policy = ActionDistribution(nActions: n, probabilities: probabilities)
            let fit = RewardModel.crossFitted(data, kind: .itemMean(), folds: 3, seed: UInt64(trial))
            let terms = OPETerms(
                reward: data.reward, action: data.action, pscore: data.pscore, policy: policy,
                estimatedRewards: fit.estimatedRewards)
            let intervals = Bootstrap.intervals(terms, estimators: [.ipw, .dr], resamples: 200, seed: UInt64(trial))
            if intervals[.ipw]!.contains(truth) { ipwCovered += 1 }
            if intervals[.dr]!.contains(truth) { drCovered += 1 }
        }
        #expect(ipwCovered >= 90, "IPW covered \(ipwCovered)/100 (true value \(truth))")
        #expect(drCovered >= 90, "DR covered \(drCovered)/100 (true value \(truth))")
        print("coverage: IPW \(ipwCovered)/100, DR \(drCovered)/100, true value \(truth)")
    }

    @Test("an agent can featurise environment observations with a spec fitted on the same world's logs")
    func agentFeatures() throws {
        let world = Self.smallWorld()
        let spec = try FeatureSpec.fit(on: SplitDataset(world.loggedData(rows: 5_000, policy: .uniform, seed: 9)).train)
        var env = SimulatorEnvironment(world: world, seed: 21)
        var observation = env.reset()
        for _ in 0..<10 {
            let rows = spec.candidateRows(
                userFeatures: observation.userFeatures, affinity: observation.affinity, items: Array(0..<10),
                position: 0)
            #expect(rows.count == 10 * spec.width)
            // The simulator's feature values are the ones the spec learned: no unknown bucket is set.
            let unknown = spec.columns.indices.filter { spec.columns[$0].hasSuffix("=<unknown>") }
            #expect(unknown.allSatisfy { rows[$0] == 0 })
            observation = try env.step([0, 1, 2]).observation
        }
    }
}
