import RecData
import RecModel
import RecPolicy
import RecWire
import Testing

/// A hand-made log over 4 one-hot items logged uniformly at random (propensity 1/4): even rows are German users,
/// odd rows French; row `i` shows item `(i / 2) % 4`, so every user sees every item equally often; a German user
/// clicks item 0 and only item 0, a French one item 1. A quarter of the rows are clicks.
func handMadeLog(rows: Int, items: Int = 4, country: String = "country") -> BanditDataset {
    let action = (0..<rows).map { ($0 / 2) % 4 }
    let users = (0..<rows).map { $0 % 2 == 0 ? "de" : "fr" }
    let reward = (0..<rows).map { i -> Double in
        (users[i] == "de" && action[i] == 0) || (users[i] == "fr" && action[i] == 1) ? 1 : 0
    }
    var affinity = SparseRows()
    for _ in 0..<rows { affinity.append([(Int, Float)]()) }
    return BanditDataset(
        name: "hand-made", nActions: items, nPositions: 1, action: action, position: [Int](repeating: 0, count: rows),
        reward: reward, pscore: [Double](repeating: 0.25, count: rows),
        userFeatures: CategoricalColumns(names: [country], rows: users.map { [$0] }),
        context: FeatureMatrix(rows: rows, columnNames: [], values: []),
        actionContext: FeatureMatrix(rows: items, columnNames: [], values: []), affinity: affinity,
        itemNumericColumns: 0)
}

/// The untrained policy over `items` items with one-hot features, ε-greedy with ε 0.1.
func oneHotPolicy(items: Int = 4) throws -> OnlinePolicy {
    var features = [Float](repeating: 0, count: items * items)
    for k in 0..<items { features[k * items + k] = 1 }
    let catalogue = try ItemCatalogue(
        encoding: ItemEncoding(categorical: [], numeric: (0..<items).map { "is\($0)" }),
        ids: (0..<items).map { "\($0)" }, features: features)
    let spec = OnlinePolicySpec.make(
        catalogue: catalogue, userFeatures: [.init("country", .categorical)], vocabularies: ["country": ["de", "fr"]],
        exploration: ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.1))
    return try OnlinePolicy.initial(spec: spec)
}

@Suite("Warm start: the online policy trained on logged impressions and checked off-policy")
struct WarmStartTests {
    @Test("training on the logs learns each user's clicked item; the untrained policy had no preference")
    func trainingLearnsTheLoggedPreferences() throws {
        let start = try oneHotPolicy()
        #expect(Set(try start.qValues(userFeatures: ["country": "de"])).count == 1)
        let trained = try WarmStart.train(start, on: handMadeLog(rows: 400))
        #expect(trained.rows == 400 && trained.clicks == 100 && trained.refused == 0)
        let de = try trained.policy.qValues(userFeatures: ["country": "de"])
        let fr = try trained.policy.qValues(userFeatures: ["country": "fr"])
        #expect(de.indices.max { de[$0] < de[$1] } == 0)
        #expect(fr.indices.max { fr[$0] < fr[$1] } == 1)
        // The learnt click probability of the clicked item is far above the others' (they were never clicked).
        #expect(de[0] > 0.5 && de[1] < 0.2 && fr[1] > 0.5 && fr[0] < 0.2)
        // The statistics are the online learner's: 400 events in the item buckets, none lost.
        #expect(Int(trained.policy.statistics.k.reduce(0, +)) == 400)
    }

    /// A reward log's amounts are clicks to the learner, as they are to the model's labels: before, an amount of 100
    /// was the response of the logistic likelihood, and the "trained" policy came back as the start policy.
    @Test("a reward log whose clicks carry amounts (2.5, 100, 1e9) trains the same policy as the click log", arguments: [2.5, 100, 1e9])
    func rewardAmountsAreClicks(amount: Double) throws {
        let start = try oneHotPolicy()
        let clicks = handMadeLog(rows: 400)
        var amounts = clicks
        amounts.reward = clicks.reward.map { $0 > 0 ? amount : 0 }
        let fromClicks = try WarmStart.train(start, on: clicks)
        let fromAmounts = try WarmStart.train(start, on: amounts)
        #expect(fromAmounts.rows == 400 && fromAmounts.clicks == 100 && fromAmounts.refused == 0)
        #expect(fromAmounts.policy.statistics == fromClicks.policy.statistics)
        #expect(fromAmounts.policy.statistics != start.statistics)
    }

    @Test("the online learner rejects an event whose reward is outside [0, 1] instead of learning it as a response")
    func learnerRejectsAmounts() throws {
        let start = try oneHotPolicy()
        var learner = OnlineLearner(policy: start, version: 0, seed: 1)
        let event = { (reward: Double) in
            LearnEvent(
                impressionId: "e", userFeatures: ["country": "de"], item: 0, position: 0, reward: reward,
                propensity: 0.25, version: 0)
        }
        _ = learner.learn([event(100), event(-1), event(.nan), event(1), event(0), event(0.5)])
        #expect(learner.rejectedEvents == 3)
    }

    @Test("the off-policy report: IPW and SNIPW equal the greedy item's probability, the logging policy's value is 1/4")
    func offPolicyReportOnAHandMadeLog() throws {
        let start = try oneHotPolicy()
        let trained = try WarmStart.train(start, on: handMadeLog(rows: 400))
        let evaluation = try WarmStartEvaluation.evaluate(
            trained: trained.policy, start: start, on: handMadeLog(rows: 200), resamples: 200)
        // Every click is on the policy's greedy item, which it shows with 1 − ε + ε/4 = 0.925; with propensity 1/4
        // and a quarter of the rows clicked, IPW = ¼ · 4 · 0.925. Each user saw every item equally often, so the
        // weights sum to the row count and SNIPW is the same.
        let ipw = try #require(evaluation.value(.ipw))
        let snipw = try #require(evaluation.value(.snipw))
        #expect(abs(ipw - 0.925) < 1e-9)
        #expect(abs(snipw - 0.925) < 1e-9)
        #expect(evaluation.loggingValue == 0.25)
        let logging = try #require(evaluation.loggingInterval)
        #expect(logging.contains(0.25) && logging.upper < 0.4)
        let interval = try #require(evaluation.interval(.snipw))
        #expect(interval.contains(snipw) && interval.lower > logging.upper)
        #expect(evaluation.value(.dr) != nil)
        // The untrained policy's scores all tie, so ε-greedy's greedy share is split over the 4 items, and every item
        // is new (the cold-start share is uniform too): the policy is uniform, p = 1/4 on every row, the logging
        // policy itself, and its IPW is the logging value 1/4. (It was evaluated as "always item 0":
        // ½ (0.95 · 0.925 + 0.0125 + 0.95 · 0.025 + 0.0125), with a value that depended on the catalogue's order.)
        let untrained = try #require(
            evaluation.start.segments.first { $0.segment == .all }?.estimates.first { $0.estimator == .ipw }?.value)
        #expect(abs(untrained - 0.25) < 1e-9, "\(untrained)")
        #expect(evaluation.unsupportedShare == 0)
        // 50 held-out clicks, every one on the item the policy favours: the verdict compares, and finds it above.
        #expect(evaluation.clicks == 50 && evaluation.favouredClicks == 50 && evaluation.verdict == .above)
        // On 24 rows (6 clicks) it declines to compare.
        let few = try WarmStartEvaluation.evaluate(
            trained: trained.policy, start: start, on: handMadeLog(rows: 24), resamples: 50)
        #expect(few.favouredClicks == 6 && few.verdict == .tooFewClicks)
        #expect(evaluation.noIntervalReason == nil)
        // Without resamples there is nothing to compare, and the reason names the resamples, not the rows.
        let unresampled = try WarmStartEvaluation.evaluate(
            trained: trained.policy, start: start, on: handMadeLog(rows: 200), resamples: 0)
        #expect(unresampled.verdict == .noIntervals && unresampled.loggingInterval == nil)
        #expect(unresampled.noIntervalReason?.contains("resamples 0") == true, "\(String(describing: unresampled.noIntervalReason))")
    }

    @Test("an item added after the logs has no logged support: its share of the policy's choices is reported")
    func itemsAddedAfterTheLogs() throws {
        // Rows never move, so the 4-item logs fit a 5-item catalogue; item 4 was never shown, never learnt.
        let start = try oneHotPolicy(items: 5)
        let trained = try WarmStart.train(start, on: handMadeLog(rows: 400))
        #expect(trained.rows == 400 && trained.policy.isNew(item: 4) && !trained.policy.isNew(item: 0))
        let evaluation = try WarmStartEvaluation.evaluate(
            trained: trained.policy, start: start, on: handMadeLog(rows: 200), resamples: 0)
        // Item 4 is the only new item: the cold-start share 0.05 plus its ε share of the rest, 0.95 · 0.1/5.
        #expect(abs(evaluation.unsupportedShare - (0.05 + 0.95 * 0.02)) < 1e-9)
        #expect(evaluation.loggingInterval == nil && evaluation.favouredClicks >= 10 && evaluation.verdict == .noIntervals)
        // Every estimate counts a choice of item 4 as no click. IPW does by construction; SNIPW divides by the mean
        // importance weight, which estimates the supported mass 1 − u, so unscaled it valued the policy as if it
        // never chose item 4. Each user saw every item equally often here, so SNIPW equals IPW once scaled.
        let ipw = try #require(evaluation.value(.ipw))
        let snipw = try #require(evaluation.value(.snipw))
        #expect(abs(snipw - ipw) < 1e-9)
    }

    @Test("logs of another catalogue, or whose users the policy cannot read, are refused by name")
    func refusals() throws {
        let start = try oneHotPolicy()
        #expect(throws: WarmStartError.catalogueMismatch(logItems: 5, catalogueItems: 4)) {
            try WarmStart.train(start, on: handMadeLog(rows: 40, items: 5))
        }
        #expect(throws: WarmStartError.noRows("training")) { try WarmStart.train(start, on: handMadeLog(rows: 0)) }
        do {
            _ = try WarmStart.train(start, on: handMadeLog(rows: 40, country: "region"))
            Issue.record("a log whose user feature the policy does not know was learnt from")
        } catch {
            guard case .nothingLearnt(let rows, let problem) = error else { throw error }
            #expect(rows == 40 && problem.contains("region"))
        }
    }

    /// `policy warmstart --register` on a session DQN pool trained the bandit's logistic factors into its Q
    /// regression and registered them under its spec, with no remark.
    @Test("a session DQN policy is refused by name: a warm start trains the contextual bandit")
    func sessionDQNRefused() throws {
        var spec = try oneHotPolicy().spec
        spec.learning.learner = .sessionDQN
        let start = try OnlinePolicy.initial(spec: spec)
        #expect(throws: WarmStartError.notContextualBandit(.sessionDQN)) {
            try WarmStart.train(start, on: handMadeLog(rows: 40))
        }
        #expect(WarmStartError.notContextualBandit(.sessionDQN).description.contains("session_dqn"))
    }

    @Test("rows whose context the policy refuses are left out with their clicks: the clicks reported are the learnt rows'")
    func refusedRowsCarryTheirClicks() throws {
        var features = [Float](repeating: 0, count: 16)
        for k in 0..<4 { features[k * 4 + k] = 1 }
        let catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: (0..<4).map { "is\($0)" }), ids: (0..<4).map { "\($0)" },
            features: features)
        let start = try OnlinePolicy.initial(
            spec: OnlinePolicySpec.make(catalogue: catalogue, userFeatures: [.init("age", .numeric)]))
        let rows = 40
        // Odd rows hold an age that is no number (refused), and every odd row is a click; every fourth row is too.
        let reward = (0..<rows).map { i -> Double in i % 2 == 1 || i % 4 == 0 ? 1 : 0 }
        var affinity = SparseRows()
        for _ in 0..<rows { affinity.append([(Int, Float)]()) }
        let log = BanditDataset(
            name: "ages", nActions: 4, nPositions: 1, action: (0..<rows).map { $0 % 4 },
            position: [Int](repeating: 0, count: rows), reward: reward, pscore: [Double](repeating: 0.25, count: rows),
            userFeatures: CategoricalColumns(names: ["age"], rows: (0..<rows).map { [$0 % 2 == 0 ? "0.5" : "old"] }),
            context: FeatureMatrix(rows: rows, columnNames: [], values: []),
            actionContext: FeatureMatrix(rows: 4, columnNames: [], values: []), affinity: affinity, itemNumericColumns: 0)
        let trained = try WarmStart.train(start, on: log)
        #expect(trained.rows == 20 && trained.refused == 20)
        #expect(trained.clicks == 10, "the even rows' clicks (every fourth row), not the refused rows' \(log.clicks - 10)")
        #expect(trained.clicks <= trained.rows)
        // The first refusal's reason is kept for the report (it said only "20 refused").
        #expect(trained.firstRefusal?.hasPrefix("row 1: ") == true && trained.firstRefusal?.contains("age") == true,
            "\(String(describing: trained.firstRefusal))")
        let clean = try WarmStart.train(try oneHotPolicy(), on: handMadeLog(rows: 40))
        #expect(clean.refused == 0 && clean.firstRefusal == nil)
    }

    /// The check stopped at "unknown user feature 'region'" with no row and no word of which phase failed.
    @Test("an evaluation row whose context the policy refuses is named with its row and the evaluation")
    func evaluationRowRefused() throws {
        let start = try oneHotPolicy()
        let trained = try WarmStart.train(start, on: handMadeLog(rows: 400))
        let log = handMadeLog(rows: 40, country: "region")
        let error = #expect(throws: WarmStartError.self) {
            _ = try WarmStartEvaluation.evaluate(trained: trained.policy, start: start, on: log, resamples: 0)
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.hasPrefix("the off-policy evaluation cannot score its row 1 of 40 (hand-made"), "\(text)")
        #expect(text.contains("region"), "\(text)")
    }

    /// A log of the lower slots only had "no first-slot evaluation rows", without the slots that said why.
    @Test("a log without the first slot is refused naming its slots")
    func lowerSlotsNamed() throws {
        let start = try oneHotPolicy()
        let trained = try WarmStart.train(start, on: handMadeLog(rows: 400))
        var log = handMadeLog(rows: 40)
        log.positionValues = [2]
        let error = #expect(throws: WarmStartError.self) {
            _ = try WarmStartEvaluation.evaluate(trained: trained.policy, start: start, on: log, resamples: 0)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("the log's slots are 2"), "\(String(describing: error))")
    }
}

