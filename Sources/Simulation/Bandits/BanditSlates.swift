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

/// LinUCB's slate: the arms with the highest upper confidence bounds.
struct LinUCBSlates: SlateLearner {
    var bandit: LinUCB

    mutating func slate(context: [Int], length: Int) -> [Int] {
        topArms(bandit.scores(context: context), length: length)
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
        let ranked = topArms(model.meanScores(context: context), length: model.mean.count)
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
