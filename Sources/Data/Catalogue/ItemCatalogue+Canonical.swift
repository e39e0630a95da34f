import Foundation

extension ItemCatalogue {
    /// The canonical encoding's format name (the document's `format` key).
    public static let canonicalFormat = "recpool-catalogue-1"

    /// The catalogue's canonical bytes: one JSON object with sorted keys and no whitespace,
    /// `{"active": [bool], "categorical": [{"name", "values"}], "features": [float], "format":
    /// "recpool-catalogue-1", "ids": [string], "numeric": [string], "width": int}`.
    ///
    /// Equal catalogues give equal bytes, so the SHA-256 of these bytes names a catalogue version: the broker's
    /// registry stores them as a blob under that hash and workers check it before installing (docs/PROTOCOL.md,
    /// "Catalogues"). Features are written as the shortest decimal that reads back to the same `Float`.
    /// - Throws: ``DataError/inconsistent(_:)`` when a feature is not finite (the initialisers and ``add(id:fields:)``
    ///   refuse such values, so this names a fault rather than an input: the catalogue is never stored as empty bytes).
    public func canonicalBytes() throws(DataError) -> [UInt8] {
        let document = CanonicalDocument(
            format: Self.canonicalFormat, width: width,
            categorical: encoding.categorical.map { .init(name: $0.name, values: $0.values) },
            numeric: encoding.numeric, ids: ids, active: active, features: features)
        return try Self.canonicalJSON(document)
    }

    /// `value` as the canonical encoding writes every part of the document: sorted keys, no whitespace, `/` as is.
    /// - Throws: ``DataError/inconsistent(_:)`` when it cannot be encoded.
    static func canonicalJSON<T: Encodable>(_ value: T) throws(DataError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return [UInt8](try encoder.encode(value))
        } catch {
            throw .inconsistent("the catalogue cannot be encoded: \(error)")
        }
    }

    /// Reads canonical bytes back.
    /// - Throws: ``DataError/inconsistent(_:)`` when the bytes are not a catalogue document of this format, or
    ///   describe an inconsistent catalogue (repeated ids, a feature count that is not items × width).
    public init(canonical bytes: [UInt8]) throws(DataError) {
        let document: CanonicalDocument
        do {
            document = try JSONDecoder().decode(CanonicalDocument.self, from: Data(bytes))
        } catch {
            throw .inconsistent("not a catalogue document: \(Self.describe(error))")
        }
        guard document.format == Self.canonicalFormat else {
            throw .inconsistent("catalogue format \(document.format), this build reads \(Self.canonicalFormat)")
        }
        let encoding = ItemEncoding(
            categorical: document.categorical.map { .init(name: $0.name, values: $0.values) },
            numeric: document.numeric)
        guard encoding.width == document.width else {
            throw .inconsistent("catalogue width \(document.width) but its features name \(encoding.width) columns")
        }
        try self.init(encoding: encoding, ids: document.ids, features: document.features, active: document.active)
    }

    /// The JSON shape of ``canonicalBytes()``.
    private struct CanonicalDocument: Codable {
        struct Vocabulary: Codable {
            var name: String
            var values: [String]
        }
        var format: String
        var width: Int
        var categorical: [Vocabulary]
        var numeric: [String]
        var ids: [String]
        var active: [Bool]
        var features: [Float]
    }
}

extension ItemCatalogue {
    /// A decoding error in one line naming where it stands (`features[0] is null`), never Swift's dump of it
    /// ("DecodingError.valueNotFound: Expected value of type Float …").
    static func describe(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context, then key: (any CodingKey)? = nil) -> String {
            var out = ""
            for component in context.codingPath + (key.map { [$0] } ?? []) {
                if let index = component.intValue {
                    out += "[\(index)]"
                } else {
                    out += (out.isEmpty ? "" : ".") + component.stringValue
                }
            }
            return out.isEmpty ? "the document" : out
        }
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .valueNotFound(_, let context): return "\(path(context)) is null"
        case .typeMismatch(let type, let context): return "\(path(context)) is not a \(type)"
        case .keyNotFound(let key, let context): return "missing key \(path(context, then: key))"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // Foundation's word for valid JSON holding a number its field cannot take, as for text that is not JSON.
            return "not valid JSON, or a number beyond its field's range (a feature beyond a 32-bit float's ±3.4e38)"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
