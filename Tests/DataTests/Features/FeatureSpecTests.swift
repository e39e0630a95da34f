import Foundation
import Testing

@testable import RecData

@Suite("FeatureSpec: one spec for training and serving")
struct FeatureSpecTests {
    static let data = try! OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
    static let split = SplitDataset(data)

    @Test(
        "fits on the training split only and round-trips through JSON bytes", arguments: FeatureSpec.FeatureSet.allCases
    )
    func roundTrip(_ set: FeatureSpec.FeatureSet) throws {
        let spec = try FeatureSpec.fit(on: Self.split.train, featureSet: set)
        let bytes = try spec.encoded()
        let decoded = try FeatureSpec.decode(bytes)
        #expect(decoded == spec)
        #expect(try decoded.encoded() == bytes)
        #expect(spec.width == spec.columns.count)
        let trainCategories = Set((0..<Self.split.train.rows).map { Self.split.train.userFeatures.value($0, 2) })
        #expect(Set(spec.userVocabularies[2]) == trainCategories)
        let m = spec.matrix(Self.split.test)
        #expect(m.rows == Self.split.test.rows && m.columns == spec.width)
        #expect(m.values.allSatisfy { $0.isFinite })
        if set == .extended {
            let users = spec.userVocabularies.reduce(0) { $0 + $1.count + 1 }
            let items = spec.itemCategoryCardinalities.reduce(0, +)
            // Version 4: hashed item id, slots, a cross rate per user feature and the item's rate, events and pooled
            // history; nothing per item.
            #expect(spec.version == 4)
            #expect(
                spec.width == users + items + 1 + FeatureSpec.defaultItemHashBuckets + 3
                    + spec.userFeatureNames.count + 1 + 3 + items + 1)
        }
    }

    @Test(
        "a spec whose sizes or arrays cannot describe one catalogue is refused on decode, naming what disagrees",
        arguments: [
            ("itemCount Int.max", "itemCount"), ("positionCount 0", "slots"), ("positionCount Int.max", "slots"),
            ("an item code past its cardinality", "itemCategoryCodes"), ("a column dropped", "columns"),
            ("popularity short", "popularity"), ("crossBuckets Int.max", "hash buckets"),
        ])
    func inconsistentSpecsAreRefused(_ change: String, _ says: String) throws {
        var spec = try FeatureSpec.fit(on: Self.split.train, featureSet: .extended)
        #expect(spec.isHashed && spec.shapeProblem == nil)
        switch change {
        case "itemCount Int.max": spec.itemCount = .max
        case "positionCount 0": spec.positionCount = 0
        case "positionCount Int.max": spec.positionCount = .max
        case "an item code past its cardinality": spec.itemCategoryCodes[0][0] = spec.itemCategoryCardinalities[0]
        case "a column dropped": spec.columns.removeLast()
        case "popularity short": spec.popularity.removeLast()
        default: spec.crossBuckets = .max
        }
        // A checkpoint is untrusted input: such a file, written by anything, is refused on decode.
        let bytes = Array(try JSONEncoder().encode(spec))
        #expect {
            try FeatureSpec.decode(bytes)
        } throws: { error in
            guard case FeatureSpecError.malformed(let why) = error else { return false }
            return why.contains(says)
        }
        // And RecPool itself never writes one.
        #expect {
            try spec.encoded()
        } throws: { error in
            guard case FeatureSpecError.notEncodable(let why) = error else { return false }
            return why.contains(says)
        }
    }

    @Test("garbage bytes are a typed error")
    func malformed() {
        #expect(throws: FeatureSpecError.self) { try FeatureSpec.decode(Array("{\"nope\":1}".utf8)) }
        // A document that is not an object named no field ("malformed feature specification:  has the wrong type").
        for text in ["null", "3", "[1]"] {
            #expect(throws: FeatureSpecError.malformed("the document is not a JSON object")) {
                try FeatureSpec.decode(Array(text.utf8))
            }
        }
    }

    @Test("a logged row and the same context at serving produce identical features")
    func noSkew() throws {
        let spec = try FeatureSpec.fit(on: Self.split.train)
        let test = Self.split.test
        let matrix = spec.matrix(test)
        for row in test.rows(in: .warm).prefix(5) + test.rows(in: .coldStart).prefix(5) {
            let affinity = Dictionary(
                uniqueKeysWithValues: test.affinity.entries(row).map { ($0.column, Double($0.value)) })
            let served = spec.candidateRows(
                userFeatures: test.userFeatures.dictionary(row), affinity: affinity, items: [test.action[row]],
                position: test.position[row])
            #expect(Array(matrix.row(row)) == served)
        }
    }

    @Test("an unseen or missing category maps to the unknown bucket and still scores")
    func unknownBucket() throws {
        let spec = try FeatureSpec.fit(on: Self.split.train)
        var features = Self.split.train.userFeatures.dictionary(0)
        features["user_feature_1"] = "never-seen-in-training"
        features["user_feature_3"] = nil
        let row = spec.candidateRows(userFeatures: features, affinity: [:], items: [0], position: 0)
        let unknown1 = spec.columns.firstIndex(of: "user_feature_1=<unknown>")!
        let unknown3 = spec.columns.firstIndex(of: "user_feature_3=<unknown>")!
        #expect(row[unknown1] == 1 && row[unknown3] == 1)
        let known0 = spec.columns.firstIndex(of: "user_feature_0=\(features["user_feature_0"]!)")!
        #expect(row[known0] == 1)
        #expect(row.filter { $0 == 1 }.count >= 4)
    }

    @Test("a view counts from engagedSeconds on, weighted by dwell and capped at 3 (1 each in the old encoding)")
    func engagement() throws {
        let views: [ViewEvent] = [
            .init(item: 1, seconds: 30), .init(item: 1, seconds: 12), .init(item: 2, seconds: 3),
            .init(item: 4, seconds: 600),
        ]
        let spec = try FeatureSpec.fit(on: Self.split.train, engagedSeconds: 10)
        let affinity = spec.affinity(from: views)
        #expect(Set(affinity.keys) == [1, 4])
        #expect(abs(affinity[1]! - 4.2) < 1e-12 && affinity[4] == 3)
        let old = try FeatureSpec.fit(on: Self.split.train, engagedSeconds: 10, eventEncoding: .affinityZScore)
        #expect(old.affinity(from: views) == [1: 2, 4: 1])
    }
}
