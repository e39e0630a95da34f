import Foundation
import Testing

@testable import RecData

/// Version 3 of the feature specification: hashed item id, user × item crosses and pooled history, so that the
/// width does not depend on the number of items; versions 1 and 2 still read and score as before.
@Suite("FeatureSpec version 3: features that do not grow with the catalogue")
struct HashedFeatureTests {
    static let fixture = try! OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
    static let train = SplitDataset(fixture).train

    static func synthetic(items: Int, crossBuckets: Int? = nil) throws -> FeatureSpec {
        guard
            case .logs(let split, _, _) = try DatasetResolver(obdDirectory: "").resolve(
                "synthetic:users=200,items=\(items),rows=2000,seed=1")
        else { throw FeatureSpecError.emptyTrainingData }
        return try FeatureSpec.fit(on: split.train, crossBuckets: crossBuckets)
    }

    @Test("with the same cross buckets the extended width is the same at 40 and at 20,000 items")
    func widthIndependentOfCatalogue() throws {
        let small = try Self.synthetic(items: 40, crossBuckets: 512)
        let large = try Self.synthetic(items: 20_000, crossBuckets: 512)
        #expect(small.version == 3 && small.isHashed)
        #expect(small.itemCount == 40 && large.itemCount == 20_000)
        #expect(small.width == large.width)
        #expect(small.columns == large.columns)
        #expect(!large.columns.contains { $0.hasPrefix("item=") })
    }

    /// By default a spec keeps its target-encoded user × item crosses (version 4: one column per user feature and the
    /// item's rate) below 2,000 items and has none from there on (per item over a large catalogue, where no index
    /// could retrieve by them): the width is one of two values, and never grows with the items. Hashed cross buckets
    /// (version 3) come only when asked for.
    @Test("by default the crosses stop at 2,000 items, and the width is the same at every larger size")
    func defaultCrossesStopAtLargeCatalogues() throws {
        let widths = try [40, 1_999, 2_000, 20_000].map { try Self.synthetic(items: $0) }
        #expect(widths.map { $0.crossBuckets } == [0, 0, 0, 0])
        #expect(widths.map(\.hasCrossRates) == [true, true, false, false])
        #expect(widths.map(\.version) == [4, 4, 3, 3])
        #expect(widths[0].width == widths[1].width && widths[2].width == widths[3].width)
        #expect(widths[0].width == widths[2].width + widths[0].userFeatureNames.count + 1)
        #expect(widths[2].columns == widths[3].columns && !widths[3].columns.contains { $0.hasPrefix("user×item") })
        // Scored rows of the large spec hold no cross column: the row ends with the event and history columns.
        let row = widths[3].candidateRows(userFeatures: [:], affinity: [:], items: [19_999], position: 0)
        #expect(row.count == widths[3].width)
    }

    /// The simulator's item category codes are a topic index and `item mod 5`, so a catalogue of 3 or 4 items has
    /// category columns wider than its item count: `fit` wrote such specs and the reader refused them.
    @Test("a spec fitted on a catalogue smaller than its category codes writes and reads back", arguments: [2, 3, 4, 5])
    func smallCatalogueRoundTrips(items: Int) throws {
        let spec = try Self.synthetic(items: items)
        #expect(spec.itemCount == items)
        // The case the reader refused: a category column wider than the catalogue (`recpool fit` reproduced it).
        if items == 3 { #expect(spec.itemCategoryCardinalities.max() ?? 0 > items) }
        let back = try FeatureSpec.decode(try spec.encoded())
        #expect(back.columns == spec.columns && back.itemCategoryCodes == spec.itemCategoryCodes)
    }

    @Test("a spec the reader would refuse is not written")
    func unreadableSpecIsNotWritten() throws {
        var spec = try Self.synthetic(items: 4)
        spec.itemCategoryCardinalities[0] = FeatureSpec.maximumCategoryCardinality + 1
        #expect {
            _ = try spec.encoded()
        } throws: { error in
            guard case .notEncodable(let why) = error as? FeatureSpecError else { return false }
            return why.contains("would not load back") && why.contains("itemCategoryCodes")
        }
    }

    @Test("a row holds the item's hash bucket and, per user feature, its hashed crosses with the item id and each item category")
    func crosses() throws {
        let spec = try FeatureSpec.fit(on: Self.train, crossBuckets: FeatureSpec.defaultCrossBuckets)
        #expect(spec.version == 3 && !spec.hasCrossRates)
        let user = Self.train.userFeatures.dictionary(0)
        let item = 7
        let row = spec.candidateRows(userFeatures: user, affinity: [:], items: [item], position: 1)
        func value(_ name: String) -> Float { row[spec.columns.firstIndex(of: name)!] }
        #expect(value("item_hash=\(spec.itemHashBucket(item))") == 1)
        #expect(row.enumerated().filter { spec.columns[$0.offset].hasPrefix("item_hash=") }.map(\.element).reduce(0, +) == 1)
        #expect(value("position=1") == 1)
        let hashed = row.enumerated().filter { spec.columns[$0.offset].hasPrefix("user×item_hash=") }
        #expect(spec.crossBuckets == FeatureSpec.defaultCrossBuckets && hashed.count == spec.crossBuckets)
        let columns = spec.itemCategoryCardinalities.count
        #expect(hashed.map(\.element).reduce(0, +) == Float(spec.userFeatureNames.count * (1 + columns)))
        let codes = zip(spec.userColumns(user), spec.userOffsets).map { $0 - $1 }
        var expected = [Float](repeating: 0, count: hashed.count)
        for (f, code) in codes.enumerated() {
            expected[spec.crossBucket(feature: f, code: code, item: item)] += 1
            for c in 0..<columns {
                expected[spec.crossBucket(feature: f, code: code, column: c, itemCode: spec.itemCategoryCodes[item][c])] += 1
            }
        }
        #expect(hashed.map(\.element) == expected)
        // The buckets are fixed numbers, the same on every machine.
        #expect(FeatureSpec.bucket([0, 7], count: 64) == FeatureSpec.bucket([0, 7], count: 64))
        #expect(Set((0..<80).map { FeatureSpec.bucket([0, $0], count: 64) }).count > 40)
    }

    @Test("the pooled history is the engagement-weighted mean of the viewed items' category one-hots and numbers")
    func pooledHistory() throws {
        let spec = try FeatureSpec.fit(on: Self.train)
        let user = Self.train.userFeatures.dictionary(0)
        let empty = spec.candidateRows(userFeatures: user, affinity: [:], items: [3], position: 0)
        let history = spec.columns.indices.filter { spec.columns[$0].hasPrefix("history_") }
        #expect(history.count == spec.itemCategoryCardinalities.reduce(0, +) + 1)
        #expect(history.allSatisfy { empty[$0] == 0 })
        let affinity: [Int: Double] = [2: 3, 5: 1]
        let row = spec.candidateRows(userFeatures: user, affinity: affinity, items: [3], position: 0)
        let r2 = spec.itemRepresentation(2)
        let r5 = spec.itemRepresentation(5)
        for (k, column) in history.enumerated() {
            #expect(abs(row[column] - (0.75 * r2[k] + 0.25 * r5[k])) < 1e-6, "\(spec.columns[column])")
        }
        #expect(row[spec.columns.firstIndex(of: "has_history")!] == 1)
    }

    @Test("a version-2 spec (item one-hot) still decodes and scores unchanged; an unknown version is a typed error")
    func oldVersions() throws {
        let old = try FeatureSpec.fit(on: Self.train, itemIdEncoding: nil)
        #expect(old.version == 2 && !old.isHashed && old.columns.contains("item=0"))
        let decoded = try FeatureSpec.decode(old.encoded())
        #expect(decoded == old && decoded.width == old.width)
        let user = Self.train.userFeatures.dictionary(4)
        let affinity: [Int: Double] = [1: 2]
        #expect(
            decoded.candidateRows(userFeatures: user, affinity: affinity, items: [0, 1, 2], position: 0)
                == old.candidateRows(userFeatures: user, affinity: affinity, items: [0, 1, 2], position: 0))
        var future = try FeatureSpec.fit(on: Self.train)
        future.version = 5
        #expect(throws: FeatureSpecError.unsupportedVersion(5)) { try FeatureSpec.decode(future.encoded()) }
        #expect("\(FeatureSpecError.unsupportedVersion(5))".contains("version 5"))
        var mislabelled = try FeatureSpec.fit(on: Self.train)
        mislabelled.version = 2
        #expect(throws: FeatureSpecError.self) { try FeatureSpec.decode(mislabelled.encoded()) }
    }
}
