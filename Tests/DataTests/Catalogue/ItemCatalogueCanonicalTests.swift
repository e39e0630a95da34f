import RecData
import Testing

/// ``ItemCatalogue/canonicalBytes()``: the encoding whose SHA-256 names a catalogue version.
@Suite("Item catalogue: canonical encoding")
struct ItemCatalogueCanonicalTests {
    static func catalogue() throws -> ItemCatalogue {
        let encoding = ItemEncoding(categorical: [.init(name: "category", values: ["hats", "shoes"])], numeric: ["price"])
        var catalogue = try ItemCatalogue(encoding: encoding, ids: ["A-1", "B-2"], features: [0, 1, 3.5, 1, 0, 0.1])
        try catalogue.add(id: "C/3", fields: ["category": "shoes", "price": "2.25"])
        try catalogue.retire(id: "A-1")
        return catalogue
    }

    @Test("bytes read back to an equal catalogue (ids, rows, active flags, encoding), and equal catalogues give equal bytes")
    func roundTrip() throws {
        let original = try Self.catalogue()
        let bytes = try original.canonicalBytes()
        let decoded = try ItemCatalogue(canonical: bytes)
        #expect(decoded == original)
        #expect(decoded.activeIndices == [1, 2])
        #expect(decoded.index(of: "C/3") == 2)
        #expect(try Self.catalogue().canonicalBytes() == bytes)
        #expect(try decoded.canonicalBytes() == bytes)
    }

    @Test("a retire changes the bytes; a document of another format or an inconsistent one is refused, naming it")
    func refusals() throws {
        var changed = try Self.catalogue()
        try changed.retire(id: "B-2")
        #expect(try changed.canonicalBytes() != Self.catalogue().canonicalBytes())
        #expect(throws: DataError.self) { try ItemCatalogue(canonical: Array("{}".utf8)) }
        let text = String(decoding: try Self.catalogue().canonicalBytes(), as: UTF8.self)
        let otherFormat = Array(text.replacingOccurrences(of: "recpool-catalogue-1", with: "recpool-catalogue-9").utf8)
        #expect {
            try ItemCatalogue(canonical: otherFormat)
        } throws: { error in
            "\(error)".contains("recpool-catalogue-9")
        }
        let repeated = Array(text.replacingOccurrences(of: "\"C/3\"", with: "\"B-2\"").utf8)
        #expect {
            try ItemCatalogue(canonical: repeated)
        } throws: { error in
            "\(error)".contains("B-2")
        }
    }

    /// A worker's CATALOGUE_STATE gave Swift's dump ("DecodingError.valueNotFound: Expected value of type Float …")
    /// for a null feature, and "not valid JSON" for a feature of 1e39.
    @Test("a document that does not decode is named in one line: where a value is null, a number beyond a float")
    func decodeErrorsNamed() throws {
        let text = String(decoding: try Self.catalogue().canonicalBytes(), as: UTF8.self)
        let range = try #require(text.range(of: #""features":["#))
        for (value, says) in [("null", "features[0] is null"), ("1e39", "a feature beyond a 32-bit float's")] {
            let damaged = text.replacingCharacters(in: range.upperBound..<text.index(after: range.upperBound), with: value)
            #expect {
                try ItemCatalogue(canonical: Array(damaged.utf8))
            } throws: { error in
                "\(error)".contains(says) && !"\(error)".contains("DecodingError")
            }
        }
    }
}
