import RecModel
import Testing

@testable import RecData

/// ``ItemCatalogue/canonicalBytes(changing:bytes:)``: an add's or a retire's bytes spliced from the version before
/// must be byte for byte the whole encode's, or the same catalogue would be named by two SHA-256s.
@Suite("Item catalogue: canonical bytes of a change, spliced")
struct CanonicalChangeTests {
    /// Ids and values a shop may write, with what JSON escapes (quotes, backslashes, control characters, `/`) and what
    /// it leaves as UTF-8.
    static let awkwardIds = [
        "plain", "quo\"te", "back\\slash", "sl/ash", "ünï", "😀", "]", "],\"x\":[",
        "\u{2028}", "true", ",", "",
    ]
    /// Floats whose shortest decimals take every form: integers, exponents both ways, subnormals, negative zero.
    static let awkwardFloats: [Float] = [
        0, -0.0, 1, -1, 2.5, 0.1, 1e-5, 1e-7, 3.4e38, -3.4e38, 1e20, 123456789, .leastNonzeroMagnitude,
        .leastNormalMagnitude, 1 / 3, 16_777_217, 0.3,
    ]

    static func encoding() -> ItemEncoding {
        ItemEncoding(categorical: [.init(name: "colour/\"hue\"", values: ["red", "grün"])], numeric: ["price", "weight"])
    }

    @Test("random adds and retires: every spliced version equals the whole encode", arguments: [1, 2, 3, 4] as [UInt64])
    func splicedEqualsWhole(seed: UInt64) throws {
        var rng = Xoshiro256(seed: seed)
        let width = Self.encoding().width
        var features: [Float] = []
        var ids: [String] = []
        for row in 0..<5 {
            ids.append("start-\(row)")
            for _ in 0..<width { features.append(Self.awkwardFloats[Int(rng.next() % UInt64(Self.awkwardFloats.count))]) }
        }
        var catalogue = try ItemCatalogue(encoding: Self.encoding(), ids: ids, features: features)
        var bytes = try catalogue.canonicalBytes()
        for step in 0..<60 {
            let before = catalogue
            if rng.next() % 3 == 0, let row = catalogue.activeIndices.randomElement(using: &rng), catalogue.activeCount > 1 {
                try catalogue.retire(id: catalogue.ids[row])
            } else {
                let awkward = Self.awkwardIds[Int(rng.next() % UInt64(Self.awkwardIds.count))]
                let id = "\(awkward)#\(step)"
                let price = Self.awkwardFloats[Int(rng.next() % UInt64(Self.awkwardFloats.count))]
                let weight = Self.awkwardFloats[Int(rng.next() % UInt64(Self.awkwardFloats.count))]
                try catalogue.add(
                    id: id, fields: ["colour/\"hue\"": rng.next() % 2 == 0 ? "red" : "grün", "price": "\(price)", "weight": "\(weight)"])
            }
            // Spliced, not the whole encode's fallback.
            #expect(try catalogue.splicedCanonicalBytes(changing: before, bytes: bytes) != nil, "seed \(seed), step \(step)")
            let spliced = try catalogue.canonicalBytes(changing: before, bytes: bytes)
            let whole = try catalogue.canonicalBytes()
            #expect(spliced == whole, "seed \(seed), step \(step)")
            #expect(try ItemCatalogue(canonical: spliced) == catalogue)
            bytes = spliced
        }
    }

    @Test("a catalogue that is no such change, or bytes laid out otherwise, fall back to the whole encode")
    func fallsBack() throws {
        let base = try ItemCatalogue(encoding: Self.encoding(), ids: ["a", "b"], features: [Float](repeating: 1, count: 2 * Self.encoding().width))
        let bytes = try base.canonicalBytes()
        // Another row's features changed (an upload that changed an item): not a splice.
        var features = [Float](repeating: 1, count: 3 * Self.encoding().width)
        features[0] = 7
        let changed = try ItemCatalogue(encoding: Self.encoding(), ids: ["a", "b", "c"], features: features)
        #expect(try changed.splicedCanonicalBytes(changing: base, bytes: bytes) == nil)
        #expect(try changed.canonicalBytes(changing: base, bytes: bytes) == changed.canonicalBytes())
        // An earlier id renamed (a replace upload fixing a typo), two rows with equal features swapped, or an id or a
        // value in another Unicode spelling (canonically equivalent, other bytes): the old bytes would have been kept.
        let ones = [Float](repeating: 1, count: 3 * Self.encoding().width)
        let three = try ItemCatalogue(encoding: Self.encoding(), ids: ["a", "b-typo", "c"], features: ones)
        let threeBytes = try three.canonicalBytes()
        for ids in [["a", "b", "c"], ["a", "c", "b-typo"], ["a", "b-typo", "c"].map { $0 == "c" ? "c" : $0 }] where ids != three.ids {
            let other = try ItemCatalogue(encoding: Self.encoding(), ids: ids, features: ones)
            #expect(try other.splicedCanonicalBytes(changing: three, bytes: threeBytes) == nil, "\(ids)")
            #expect(try other.canonicalBytes(changing: three, bytes: threeBytes) == other.canonicalBytes())
        }
        let composed = try ItemCatalogue(encoding: Self.encoding(), ids: ["\u{E9}", "x"], features: [Float](repeating: 1, count: 2 * Self.encoding().width))
        let decomposed = try ItemCatalogue(encoding: Self.encoding(), ids: ["e\u{301}", "x", "y"], features: [Float](repeating: 1, count: 3 * Self.encoding().width))
        #expect(try decomposed.splicedCanonicalBytes(changing: composed, bytes: composed.canonicalBytes()) == nil)
        let nfd = ItemEncoding(categorical: [.init(name: "colour/\"hue\"", values: ["red", "gru\u{308}n"])], numeric: ["price", "weight"])
        let respelt = try ItemCatalogue(encoding: nfd, ids: ["a", "b", "c"], features: ones)
        let baseBytes = try ItemCatalogue(encoding: Self.encoding(), ids: ["a", "b"], features: [Float](repeating: 1, count: 2 * Self.encoding().width))
        #expect(try respelt.splicedCanonicalBytes(changing: baseBytes, bytes: baseBytes.canonicalBytes()) == nil)
        // Bytes that are not the base's document: still the whole encode.
        var added = base
        try added.add(id: "c", fields: ["colour/\"hue\"": "red", "price": "1", "weight": "2"])
        #expect(try added.canonicalBytes(changing: base, bytes: Array("{}".utf8)) == added.canonicalBytes())
    }
}
