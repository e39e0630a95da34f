import Foundation
import Testing

@testable import RecData

/// Version 4 of the feature specification: target-encoded user × item crosses, counted on the training rows, with
/// out-of-fold values for the rows the spec was fitted on.
@Suite("FeatureSpec version 4: target-encoded user × item crosses")
struct CrossRateTests {
    static let split = SplitDataset(
        try! OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd"))
    static let spec = try! FeatureSpec.fit(on: split.train)

    /// Feature `f`'s category code and the item of each row of `data`, as the spec reads them.
    static func pairs(_ data: BanditDataset, feature f: Int) -> [(code: Int, item: Int)] {
        spec.userCodes(data).enumerated().map { ($1[f], data.action[$0]) }
    }

    /// The m-estimate lift, written out here from its definition.
    static func expectedLift(clicks: Double, shows: Double, prior: Double) -> Double {
        guard shows > 0 else { return 0 }
        func logit(_ p: Double) -> Double { log(p / (1 - p)) }
        return logit((clicks + 50 * prior) / (shows + 50)) - logit(prior)
    }

    @Test("a served row's rate is the pair's lift over its item's rate, counted over every training row, z-scored")
    func servedRate() throws {
        let spec = Self.spec
        #expect(spec.version == 4 && spec.crossBuckets == 0 && spec.crossRateSmoothing == 50)
        let train = Self.split.train
        let f = 1
        let pairs = Self.pairs(train, feature: f)
        // The most frequent pair, counted by hand.
        var counts: [String: (Double, Double)] = [:]
        for (row, pair) in pairs.enumerated() {
            let click: Double = train.reward[row] > 0 ? 1 : 0
            counts["\(pair.code),\(pair.item)", default: (0, 0)].0 += 1
            counts["\(pair.code),\(pair.item)", default: (0, 0)].1 += click
        }
        let key = try #require(counts.max { $0.value.1 < $1.value.1 || ($0.value.1 == $1.value.1 && $0.value.0 < $1.value.0) }?.key)
        let (code, item) = (Int(key.split(separator: ",")[0])!, Int(key.split(separator: ",")[1])!)
        let row = try #require(pairs.firstIndex { $0.code == code && $0.item == item })
        let user = train.userFeatures.dictionary(row)
        let values = spec.candidateRows(userFeatures: user, affinity: [:], items: [item], position: 0)
        let column = try #require(spec.columns.firstIndex(of: "user×item_rate=\(spec.userFeatureNames[f])"))
        let table = try #require(spec.crossRates?[f])
        let (shows, clicks) = counts[key]!
        let lift = Self.expectedLift(clicks: clicks, shows: shows, prior: spec.popularity[item])
        #expect(clicks > 0 && values[column] == Float((lift - table.scaling.mean) / table.scaling.std))
        // The item's own rate column: the logit of its smoothed click rate, z-scored.
        let rate = try #require(spec.columns.firstIndex(of: "item_rate"))
        let p = spec.popularity[item]
        let scaling = try #require(spec.itemRateScaling)
        #expect(values[rate] == Float((log(p / (1 - p)) - scaling.mean) / scaling.std))
        // A category never seen with the item (an unseen value: the unknown bucket) has lift 0.
        var stranger = user
        stranger[spec.userFeatureNames[f]] = "never-seen"
        let unseen = spec.candidateRows(userFeatures: stranger, affinity: [:], items: [item], position: 0)
        let unknownPair = table.index(code: spec.userVocabularies[f].count, item: item)
        #expect(unknownPair == nil && unseen[column] == Float((0 - table.scaling.mean) / table.scaling.std))
    }

    @Test("the rows the spec was fitted on get out-of-fold rates: a row's own click never counts in its features")
    func outOfFold() throws {
        let spec = Self.spec
        let train = Self.split.train
        let f = 0
        let pairs = Self.pairs(train, feature: f)
        let folds = (0..<train.rows).map(FeatureSpec.crossRateFold)
        #expect(Set(folds) == Set(0..<FeatureSpec.crossRateFolds))
        let trainingRows = spec.trainingMatrix(train)
        let servedRows = spec.matrix(train)
        let column = try #require(spec.columns.firstIndex(of: "user×item_rate=\(spec.userFeatureNames[f])"))
        let scaling = try #require(spec.crossRates?[f].scaling)
        let clicked = try #require((0..<train.rows).first { train.reward[$0] > 0 })
        for row in [0, 1, 2, clicked] {
            // Counted by hand over the other folds: the pair, the item and the click rate.
            let others = (0..<train.rows).filter { folds[$0] != folds[row] }
            let click = { (r: Int) -> Double in train.reward[r] > 0 ? 1 : 0 }
            let ctr = others.map(click).reduce(0, +) / Double(others.count)
            let item = pairs[row].item
            let itemRows = others.filter { train.action[$0] == item }
            let prior = (itemRows.map(click).reduce(0, +) + 100 * ctr) / (Double(itemRows.count) + 100)
            let pairRows = itemRows.filter { pairs[$0].code == pairs[row].code }
            let lift = Self.expectedLift(
                clicks: pairRows.map(click).reduce(0, +), shows: Double(pairRows.count), prior: prior)
            let value = trainingRows.values[row * spec.width + column]
            #expect(abs(Double(value) - (lift - scaling.mean) / scaling.std) < 1e-5, "row \(row)")
        }
        // The clicked row's served rate counts its own click; its out-of-fold rate does not, and is lower.
        #expect(trainingRows.values[clicked * spec.width + column] < servedRows.values[clicked * spec.width + column])
        // Every other column is the served one; rows the spec was not fitted on are served rows throughout.
        let rateColumns = Set(spec.columns.indices.filter { spec.columns[$0].contains("_rate") })
        for row in 0..<train.rows {
            for c in 0..<spec.width where !rateColumns.contains(c) {
                #expect(trainingRows.values[row * spec.width + c] == servedRows.values[row * spec.width + c])
            }
        }
        #expect(spec.trainingMatrix(Self.split.validation) == spec.matrix(Self.split.validation))
        #expect(spec.trainingMatrix(Self.split.test) == spec.matrix(Self.split.test))
    }

    /// A user feature of many values crossed with the items could keep a pair per training row in every checkpoint
    /// (and WEIGHTS message); only the most shown pairs are kept, and the rest are unseen pairs at serving and in the
    /// out-of-fold rows alike.
    @Test("only the most shown pairs are kept, and a dropped pair is unseen in training rows and at serving alike")
    func pairsAreBounded() throws {
        let train = Self.split.train
        let full = Self.spec
        let bounded = try FeatureSpec.fit(on: train, crossRatePairs: 40)
        let tables = try #require(bounded.crossRates)
        #expect(tables.allSatisfy { $0.codes.count <= 10 })
        for (f, table) in tables.enumerated() {
            let all = try #require(full.crossRates?[f])
            // Kept: the most shown of the full table's pairs.
            let threshold = all.shows.sorted(by: >).prefix(10).last ?? 0
            #expect(table.shows.allSatisfy { $0 >= threshold })
        }
        // The fitted rows are still recognised (out-of-fold values), and a dropped pair serves lift 0.
        let trainingRows = bounded.trainingMatrix(train)
        #expect(trainingRows != bounded.matrix(train))
        let column = try #require(bounded.columns.firstIndex(of: "user×item_rate=\(bounded.userFeatureNames[2])"))
        let codes = bounded.userCodes(train)
        let dropped = try #require(
            (0..<train.rows).first { tables[2].index(code: codes[$0][2], item: train.action[$0]) == nil })
        let served = bounded.candidateRows(
            userFeatures: train.userFeatures.dictionary(dropped), affinity: [:], items: [train.action[dropped]], position: 0)
        let scaling = tables[2].scaling
        #expect(served[column] == Float((0 - scaling.mean) / scaling.std))
        #expect(trainingRows.values[dropped * bounded.width + column] == served[column])
    }

    @Test("the spec round-trips through JSON, and the width does not grow with the catalogue or the vocabularies")
    func roundTripAndWidth() throws {
        let spec = Self.spec
        #expect(try FeatureSpec.decode(spec.encoded()) == spec)
        func width(items: Int) throws -> Int {
            guard
                case .logs(let split, _, _) = try DatasetResolver(obdDirectory: "").resolve(
                    "synthetic:users=200,items=\(items),rows=2000,seed=1")
            else { throw FeatureSpecError.emptyTrainingData }
            let spec = try FeatureSpec.fit(on: split.train)
            #expect(spec.hasCrossRates && spec.crossRates?.count == spec.userFeatureNames.count)
            return spec.width
        }
        #expect(try width(items: 40) == width(items: 1_500))
    }

    @Test(
        "a version-4 spec whose cross rates cannot be applied is refused on decode, naming what is wrong",
        arguments: [
            ("pair out of order", "out of order"), ("pair twice", "out of order"), ("code past unknown", "out of range"),
            ("item past catalogue", "out of range"), ("clicks above shows", "clicks in"), ("shows 0", "clicks in"),
            ("lengths differ", "differ in length"), ("a table missing", "tables for"), ("smoothing 0", "crossRateSmoothing"),
            ("no item scaling", "come together"), ("std 0", "crossRates[0].scaling"), ("version 3", "version 4"),
        ])
    func refusals(_ fault: String, _ named: String) throws {
        var spec = Self.spec
        var table = spec.crossRates![0]
        switch fault {
        case "pair out of order": table.codes.swapAt(0, table.codes.count - 1)
        case "pair twice":
            table.codes[1] = table.codes[0]
            table.items[1] = table.items[0]
        case "code past unknown": table.codes[table.codes.count - 1] = spec.userVocabularies[0].count + 1
        case "item past catalogue": table.items[table.items.count - 1] = spec.itemCount
        case "clicks above shows": table.clicks[0] = table.shows[0] + 1
        case "shows 0": table.shows[0] = 0
        case "lengths differ": table.clicks.removeLast()
        case "a table missing": spec.crossRates!.removeLast()
        case "smoothing 0": spec.crossRateSmoothing = 0
        case "no item scaling": spec.itemRateScaling = nil
        case "std 0": table.scaling.std = 0
        default: spec.version = 3
        }
        if fault != "a table missing" { spec.crossRates![0] = table }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array(try encoder.encode(spec))
        do {
            _ = try FeatureSpec.decode(bytes)
            Issue.record("\(fault) was accepted")
        } catch {
            #expect(error.description.contains(named), "\(fault): \(error.description)")
        }
    }
}
