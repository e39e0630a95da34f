import Foundation
import Testing

@testable import RecData

/// The reward model behind DM and DR reads a numeric user feature by its value: it was kept as "the column is not 0",
/// so a feature that drives clicks was a hidden on/off flag and DM did not move when the feature was rescaled by 1e30.
@Suite("Reward model: numeric user features")
struct NumericContextRewardTests {
    /// 600 rows over 2 items, one slot, uniform logging; `amount` = sin(1.7 i) (never 0 here), and a click exactly
    /// when `amount` > 0, flipped on every tenth row. Each amount is written as `amount × scale + offset`, and row
    /// 5's as `outlier` when given.
    static func log(scale: Double, offset: Double = 0, outlier: Double? = nil) throws -> BanditDataset {
        var log = "ts,item,pos,click,prop,amount\n"
        for i in 0..<600 {
            let amount = sin(1.7 * Double(i))
            let click = (amount > 0) != (i % 10 == 0)
            let written = i == 5 ? outlier ?? amount * scale + offset : amount * scale + offset
            log += "\(i),\(i % 2),1,\(click ? 1 : 0),0.5,\(written)\n"
        }
        return try SmallLog.build(log, userFeatures: ["amount": "numeric"], items: 2, name: "num.csv")
    }

    /// The mean `q̂` of the logged item over rows whose `amount` is above `0.5` and below `-0.5`.
    static func meanEstimates(_ data: BanditDataset, _ fit: RewardModelFit) -> (high: Double, low: Double) {
        var (high, low) = ([Double](), [Double]())
        for row in 0..<data.rows {
            let amount = sin(1.7 * Double(row))  // rows keep the log's order: its timestamps are 0, 1, 2, …
            let q = fit.estimatedRewards[row * data.nActions + data.action[row]]
            if amount > 0.5 { high.append(q) } else if amount < -0.5 { low.append(q) }
        }
        return (high.reduce(0, +) / Double(high.count), low.reduce(0, +) / Double(low.count))
    }

    @Test("q̂ follows a numeric feature's value: rows with a high amount are estimated far likelier to click")
    func followsTheValue() throws {
        let data = try Self.log(scale: 1)
        let fit = RewardModel.crossFitted(data)
        let (high, low) = Self.meanEstimates(data, fit)
        // About 0.9 of high-amount rows click and 0.1 of low-amount ones; a flag "not 0" gave both about 0.5.
        #expect(high > 0.7 && low < 0.3, "high \(high), low \(low)")
    }

    /// A reviewer's cases: scaled by the largest magnitude, an offset of 1,000 (a year, kelvin) or one outlier of 1e4
    /// left every amount near one value and the signal was gone again.
    @Test("q̂ follows a numeric feature with an offset, or with an outlier", arguments: [(1000.0, nil), (-3.0, nil), (0.0, 1e4)] as [(Double, Double?)])
    func offsetAndOutlier(offset: Double, outlier: Double?) throws {
        let data = try Self.log(scale: 1, offset: offset, outlier: outlier)
        let (high, low) = Self.meanEstimates(data, RewardModel.crossFitted(data))
        #expect(high > 0.7 && low < 0.3, "offset \(offset), outlier \(String(describing: outlier)): high \(high), low \(low)")
    }

    @Test("q̂ does not depend on a numeric feature's units: amounts × 1e30 give the same estimates")
    func unitsDoNotMatter() throws {
        let plain = RewardModel.crossFitted(try Self.log(scale: 1)).estimatedRewards
        let huge = RewardModel.crossFitted(try Self.log(scale: 1e30)).estimatedRewards
        let tiny = RewardModel.crossFitted(try Self.log(scale: 1e-6)).estimatedRewards
        for other in [huge, tiny] {
            let gap = zip(plain, other).map { abs($0 - $1) }.max() ?? .infinity
            #expect(gap < 1e-4, "largest difference \(gap)")
        }
    }
}
