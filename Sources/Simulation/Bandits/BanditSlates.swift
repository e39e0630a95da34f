import RecModel

/// A reference bandit that shows slates and learns from each shown item's click, one event at a time.
protocol SlateLearner {
    /// The slate for a context (the positions of its ones), best first.
    mutating func slate(context: [Int], length: Int) -> [Int]
    /// Learns from one shown item: click 1 or 0.
    mutating func learn(context: [Int], item: Int, click: Double)
}

/// The `length` arms with the highest scores, best first (ties to the lower arm).
func topArms(_ scores: [Double], length: Int) -> [Int] {
    Array(scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(length))
}

/// The `length` arms with the highest scores, best first, arms of equal scores in an order drawn from `rng`: an
/// untried arm's score is the prior's, so before any data every arm ties, and "ties to the lower arm" made a learner
/// walk the catalogue in row order, its clicks depending on that order (RecPool's own ε-greedy splits such ties).
func topArms(_ scores: [Double], length: Int, rng: inout Xoshiro256) -> [Int] {
    let keys = scores.indices.map { _ in rng.next() }
    return Array(
        scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && keys[$0] < keys[$1]) }
            .prefix(length))
}

/// LinUCB's slate: the arms with the highest upper confidence bounds (ties in an order drawn from `rng`).
struct LinUCBSlates: SlateLearner {
    var bandit: LinUCB
    var rng = Xoshiro256(seed: 0x11C8_0000_0000_0001)

    mutating func slate(context: [Int], length: Int) -> [Int] {
        topArms(bandit.scores(context: context), length: length, rng: &rng)
    }

    mutating func learn(context: [Int], item: Int, click: Double) {
        bandit.update(arm: item, context: context, reward: click)
    }
}

/// Logistic Thompson sampling: one posterior draw per slate, the arms with the highest sampled log-odds.
struct ThompsonSlates: SlateLearner {
    var model: LaplaceLogistic
    var scale: Double
    var rng: Xoshiro256

    mutating func slate(context: [Int], length: Int) -> [Int] {
        topArms(model.sampledScores(context: context, scale: scale, rng: &rng), length: length)
    }

    mutating func learn(context: [Int], item: Int, click: Double) {
        model.update(arm: item, context: context, click: click)
    }
}

/// ε-greedy on the logistic regressions' posterior means: slot by slot, the best remaining arm with probability
/// 1 − ε, else a uniformly drawn remaining arm.
struct EpsilonGreedySlates: SlateLearner {
    var model: LaplaceLogistic
    var epsilon: Double
    var rng: Xoshiro256

    mutating func slate(context: [Int], length: Int) -> [Int] {
        let ranked = topArms(model.meanScores(context: context), length: model.mean.count, rng: &rng)
        var left = ranked
        var slate: [Int] = []
        for _ in 0..<min(length, ranked.count) {
            let pick = rng.nextDouble() < epsilon ? rng.nextInt(below: left.count) : 0
            slate.append(left.remove(at: pick))
        }
        return slate
    }

    mutating func learn(context: [Int], item: Int, click: Double) {
        model.update(arm: item, context: context, click: click)
    }
}
