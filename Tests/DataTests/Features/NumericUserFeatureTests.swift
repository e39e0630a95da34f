import Foundation
import RecModel
import Testing

@testable import RecData

/// Numeric user features are fitted, written for training and parsed at serving as the same 64-bit numbers: a value
/// rounded to 32 bits on one side only (a timestamp, an amount in cents) gave a different feature at training and at
/// serving, and a constant column was z-scored to a non-zero value.
@Suite("Numeric user features: one number from log to serving")
struct NumericUserFeatureTests {
    /// 60 rows: `seen` is timestamp-like (1.7e9 plus a small offset, which 32 bits cannot tell apart), `income` a
    /// constant 1234567.1, `big` a constant 3.4e38 (inside a 32-bit float's range, so the log accepts it).
    static func log() throws -> (BanditDataset, [[String: String]]) {
        var text = "ts,item,pos,click,prop,device,seen,income,big\n"
        var users: [[String: String]] = []
        for i in 0..<60 {
            let seen = "\(1_700_000_000 + (i * 37) % 101)"
            let device = i % 3 == 0 ? "ios" : "web"
            text += "\(i),\(i % 4),\(i % 2),\(i % 7 == 0 ? 1 : 0),0.25,\(device),\(seen),1234567.1,3.4e38\n"
            users.append(["device": device, "seen": seen, "income": "1234567.1", "big": "3.4e38"])
        }
        let data = try SmallLog.build(
            text, userFeatures: ["device": "categorical", "seen": "numeric", "income": "numeric", "big": "numeric"],
            items: 4, name: "num.csv")
        return (data, users)
    }

    @Test("a constant column is 0 on every row, however large its value")
    func constantColumn() throws {
        let (data, _) = try Self.log()
        let spec = try FeatureSpec.fit(on: data)
        let matrix = spec.matrix(data)
        for name in ["income", "big"] {
            let column = try #require(spec.columns.firstIndex(of: name))
            #expect((0..<data.rows).allSatisfy { matrix[$0, column] == 0 }, "\(name)")
        }
        #expect(spec.userNumericScalings?[1] == FeatureSpec.ZScore(fitting: [1234567.1, 1234567.1]))
        #expect(spec.userNumericScalings?[1].mean == 1234567.1)
    }

    @Test("a timestamp-like column keeps every value apart and is z-scored to mean 0 and spread 1 on the training rows")
    func largeMagnitude() throws {
        let (data, _) = try Self.log()
        let spec = try FeatureSpec.fit(on: data)
        let column = try #require(spec.columns.firstIndex(of: "seen"))
        let values = (0..<data.rows).map { Double(spec.matrix(data)[$0, column]) }
        let distinct = Set((0..<data.rows).map { data.userNumericRaw[$0 * data.userNumeric.columns] })
        #expect(Set(values).count == distinct.count && distinct.count > 50)
        let mean = values.reduce(0, +) / Double(values.count)
        let spread = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        #expect(abs(mean) < 1e-6 && abs(spread - 1) < 1e-6, "mean \(mean), spread \(spread)")
    }

    /// A feature measured in tiny units (0 or 1e-13) had std 1 under an absolute floor on the variance, so it reached
    /// the network as 5e-14 and trained as a constant (test AUC 0.51 against 0.80 for the same column written 0/1).
    @Test("a numeric feature of tiny magnitude is z-scored by its own spread; a constant one and a subnormal spread are not")
    func tinyMagnitude() {
        for unit in [1e-13, 1e-30, 1.0, 1e30] {
            let values = (0..<10).map { Double($0 % 2) * unit }
            let scaling = FeatureSpec.ZScore(fitting: values)
            #expect(abs(scaling.mean - unit / 2) <= unit * 1e-15 && abs(scaling.std / (unit / 2) - 1) < 1e-12, "\(unit)")
            #expect(values.map(scaling.apply) == (0..<10).map { $0 % 2 == 0 ? -1 : 1 }, "\(unit)")
        }
        // Below Float32's smallest normal number (what an exported model divides by): no scale of its own.
        #expect(FeatureSpec.ZScore(fitting: [1e-300, 0, 1e-300]).std == 1)
        #expect(FeatureSpec.ZScore(fitting: [3e-320, 0, 3e-320]).std == 1)
        #expect(FeatureSpec.ZScore(fitting: [1e-13, 1e-13]).std == 1)
        // Values 1 ulp apart are rounding noise, not a feature that moves.
        #expect(FeatureSpec.ZScore(fitting: [0.3, 0.1 + 0.2, 0.3, 0.1 + 0.2]).constant == true)
        #expect(FeatureSpec.ZScore(fitting: []).std == 1)
    }

    /// Unix nanoseconds 1 µs apart spread 1e-13 of their mean: a relative floor of 1e-12 took them for a constant
    /// (std 1) and fed the network their raw deviations (±179,456); so with `1e13 + (i mod 7)`.
    @Test("a column that varies by far less than its magnitude is z-scored, not taken for a constant")
    func smallSpreadLargeValue() {
        let columns: [[Double]] = [
            (0..<600).map { 1_714_557_600_000_000_000 + Double($0) * 1_000 },
            (0..<600).map { 1e13 + Double($0 % 7) },
            (0..<600).map { ($0 % 2 == 0 ? 1 : -1) * 1e200 },
            // Two values 1 µs apart (about 4 ulps): the 8-ulp floor took them for a constant, as DATA.md said it did not.
            (0..<600).map { 1_714_550_400_000_000_000 + Double($0 % 2) * 1_000 },
        ]
        for values in columns {
            let scaling = FeatureSpec.ZScore(fitting: values)
            #expect(scaling.constant == nil, "\(values[0])")
            let z = values.map { Double(scaling.apply($0)) }
            let mean = z.reduce(0, +) / Double(z.count)
            let spread = (z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(z.count)).squareRoot()
            #expect(abs(mean) < 1e-3 && abs(spread - 1) < 1e-3, "\(values[0]): mean \(mean), spread \(spread)")
        }
    }

    /// A constant column's std was 1, so a served value other than the training one reached the network as its raw
    /// deviation (age 7 in training, 12 at serving: 5), through weights never trained on the column moving.
    @Test("a column constant in training is 0 for every value, in training and at serving")
    func constantAtServing() throws {
        for values in [[7.0, 7, 7], [1234567.1, 1234567.1], [1e-300, 0, 1e-300], []] {
            let scaling = FeatureSpec.ZScore(fitting: values)
            #expect(scaling.constant == true && scaling.std == 1, "\(values)")
            #expect([7, 12, -3e5, 1e300, 0].allSatisfy { scaling.apply($0) == 0 && scaling.admits($0) }, "\(values)")
            #expect(!scaling.admits(.infinity) && !scaling.admits(.nan))
        }
        let (data, _) = try Self.log()
        let spec = try FeatureSpec.fit(on: data)
        let income = try #require(spec.userNumericNames?.firstIndex(of: "income"))
        #expect(spec.userNumericScalings?[income].constant == true)
        #expect(spec.userNumericValues(["income": "99999"])[income] == 0)
        // A spec written before `constant` existed decodes without it and scores as it did.
        let old = try JSONDecoder().decode(FeatureSpec.ZScore.self, from: Data(#"{"mean":7,"std":1}"#.utf8))
        #expect(old.constant == nil && old.apply(12) == 5)
    }

    @Test("a logged row and the same context sent to serving, as text, give the same bits")
    func noSkew() throws {
        let (data, users) = try Self.log()
        let spec = try FeatureSpec.fit(on: data)
        let matrix = spec.matrix(data)
        for row in 0..<data.rows {
            let served = spec.candidateRows(
                userFeatures: users[row], affinity: [:], items: [data.action[row]],
                position: data.position[row])
            #expect(Array(matrix.row(row)) == served, "row \(row)")
        }
    }

    @Test("a logged row's context scores as its training row: evaluation and load tests carry the numeric features")
    func userContext() throws {
        let (data, _) = try Self.log()
        let spec = try FeatureSpec.fit(on: data)
        let matrix = spec.matrix(data)
        for row in 0..<data.rows {
            let context = data.userContext(row)
            #expect(context["seen"] != nil && context["device"] != nil)
            let served = spec.candidateRows(
                userFeatures: context, affinity: [:], items: [data.action[row]], position: data.position[row])
            #expect(Array(matrix.row(row)) == served, "row \(row)")
        }
    }
}
