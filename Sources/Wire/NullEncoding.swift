import Foundation

/// Encodes a document so that every key it lists is present: an optional with no value is written
/// as `null`, never left out.
///
/// Swift's synthesized `Encodable` writes an optional property with `encodeIfPresent`, which drops
/// the key when the value is `nil`. docs/PROTOCOL.md promises the opposite ("a key the spec lists is
/// always present; a key with no value is `null`"), so ``WireJSON`` encodes every document through
/// this wrapper. It wraps the encoder handed to the document (and to every value nested in it) and
/// turns each `encodeIfPresent(nil)` into `encodeNil`. Dictionaries with `String` keys and scalar
/// values are handed to the underlying encoder untouched, so `JSONEncoder` still writes their keys
/// verbatim (its snake_case strategy applies to property names only).
public struct NullEncoding<Value: Encodable>: Encodable {
    /// The document.
    public let value: Value

    /// What a number that is not finite becomes.
    let nonFinite: NonFiniteNumbers

    /// Wraps `value`.
    public init(_ value: Value, nonFinite: NonFiniteNumbers = .fail) {
        self.value = value
        self.nonFinite = nonFinite
    }

    /// Encodes the document with every optional key present.
    public func encode(to encoder: any Encoder) throws {
        try value.encode(to: NullKeepingEncoder(base: encoder, nonFinite: nonFinite))
    }

    /// Encodes `value` with `encoder`, every listed key present.
    /// - Parameter nonFinite: `.fail` (the default) lets the encoder throw on NaN or an infinity; `.null` writes
    ///   such a number as `null` (JSON has no NaN), which is what the wire documents do (docs/PROTOCOL.md).
    /// - Throws: what `encoder` throws (such as a non-finite number under `.fail`).
    public static func encode(_ value: Value, with encoder: JSONEncoder, nonFinite: NonFiniteNumbers = .fail) throws
        -> Data
    {
        if value is any NullEncodingLeaf {
            return try encoder.encode(NonFiniteNumbers.sanitized(value, nonFinite))
        }
        return try encoder.encode(NullEncoding(value, nonFinite: nonFinite))
    }
}

/// What ``NullEncoding`` does with a `Double` or `Float` that is NaN or infinite.
public enum NonFiniteNumbers: Sendable {
    /// Hand it to the encoder, which throws (`JSONEncoder`'s default strategy): the caller reports the error.
    case fail
    /// Write `null` in its place: a number that is not defined is shown as undefined, never as `{}` or `nan`.
    case null

    /// `value` with its non-finite numbers replaced by `nil`, when it is a number or a string-keyed dictionary of
    /// numbers and the policy is ``null``; `nil` when nothing needs replacing.
    /// The value itself, or, under ``null``, a copy with its non-finite numbers replaced by `nil` when it is a
    /// number or a string-keyed dictionary of numbers (handed on as a dictionary, so `JSONEncoder` still writes
    /// its keys verbatim).
    static func sanitized<T: Encodable>(_ value: T, _ policy: NonFiniteNumbers) -> any Encodable {
        guard policy == .null else { return value }
        switch value {
        case let number as Double where !number.isFinite: return Double?.none
        case let number as Float where !number.isFinite: return Float?.none
        case let numbers as [String: Double] where numbers.values.contains(where: { !$0.isFinite }):
            return numbers.mapValues { $0.isFinite ? $0 : nil }
        case let numbers as [String: Float] where numbers.values.contains(where: { !$0.isFinite }):
            return numbers.mapValues { $0.isFinite ? $0 : nil }
        case let numbers as [String: Double?] where numbers.values.contains(where: { $0.map { !$0.isFinite } ?? false }):
            return numbers.mapValues { $0.flatMap { $0.isFinite ? $0 : nil } }
        default: return value
        }
    }
}

/// Values handed to the underlying encoder as they are: scalars, and dictionaries with string keys
/// (which `JSONEncoder` writes with their keys verbatim only when it sees the dictionary itself).
protocol NullEncodingLeaf {}

extension Bool: NullEncodingLeaf {}
extension String: NullEncodingLeaf {}
extension Double: NullEncodingLeaf {}
extension Float: NullEncodingLeaf {}
extension Int: NullEncodingLeaf {}
extension Int32: NullEncodingLeaf {}
extension Int64: NullEncodingLeaf {}
extension UInt: NullEncodingLeaf {}
extension UInt8: NullEncodingLeaf {}
extension UInt16: NullEncodingLeaf {}
extension UInt32: NullEncodingLeaf {}
extension UInt64: NullEncodingLeaf {}
extension Data: NullEncodingLeaf {}
extension Date: NullEncodingLeaf {}
extension Dictionary: NullEncodingLeaf where Key == String {}

/// The encoder a document sees: the real one, with its containers wrapped.
private struct NullKeepingEncoder: Encoder {
    let base: any Encoder
    let nonFinite: NonFiniteNumbers
    var codingPath: [any CodingKey] { base.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { base.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(NullKeepingKeyedContainer(base: base.container(keyedBy: type), nonFinite: nonFinite))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        NullKeepingUnkeyedContainer(base: base.unkeyedContainer(), nonFinite: nonFinite)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        NullKeepingSingleValueContainer(base: base.singleValueContainer(), nonFinite: nonFinite)
    }
}

/// A keyed container whose `encodeIfPresent(nil, …)` writes `null`, and whose nested values are
/// encoded through ``NullKeepingEncoder`` too.
private struct NullKeepingKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    var base: KeyedEncodingContainer<Key>
    let nonFinite: NonFiniteNumbers
    var codingPath: [any CodingKey] { base.codingPath }

    mutating func encodeNil(forKey key: Key) throws { try base.encodeNil(forKey: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        if nonFinite == .null && !value.isFinite { try base.encodeNil(forKey: key) } else { try base.encode(value, forKey: key) }
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        if nonFinite == .null && !value.isFinite { try base.encodeNil(forKey: key) } else { try base.encode(value, forKey: key) }
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try base.encode(value, forKey: key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if value is any NullEncodingLeaf {
            try base.encode(NonFiniteNumbers.sanitized(value, nonFinite), forKey: key)
        } else {
            try base.encode(NullEncoding(value, nonFinite: nonFinite), forKey: key)
        }
    }

    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try present(value, key) }

    /// Writes `value`, or `null` when it has none.
    private mutating func present<T: Encodable>(_ value: T?, _ key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try base.encodeNil(forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(
            NullKeepingKeyedContainer<NestedKey>(base: base.nestedContainer(keyedBy: keyType, forKey: key), nonFinite: nonFinite))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NullKeepingUnkeyedContainer(base: base.nestedUnkeyedContainer(forKey: key), nonFinite: nonFinite)
    }

    mutating func superEncoder() -> any Encoder { NullKeepingEncoder(base: base.superEncoder(), nonFinite: nonFinite) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NullKeepingEncoder(base: base.superEncoder(forKey: key), nonFinite: nonFinite)
    }
}

/// An unkeyed container whose elements are encoded through ``NullKeepingEncoder``.
private struct NullKeepingUnkeyedContainer: UnkeyedEncodingContainer {
    var base: any UnkeyedEncodingContainer
    let nonFinite: NonFiniteNumbers
    var codingPath: [any CodingKey] { base.codingPath }
    var count: Int { base.count }

    mutating func encodeNil() throws { try base.encodeNil() }
    mutating func encode(_ value: Bool) throws { try base.encode(value) }
    mutating func encode(_ value: String) throws { try base.encode(value) }
    mutating func encode(_ value: Double) throws {
        if nonFinite == .null && !value.isFinite { try base.encodeNil() } else { try base.encode(value) }
    }
    mutating func encode(_ value: Float) throws {
        if nonFinite == .null && !value.isFinite { try base.encodeNil() } else { try base.encode(value) }
    }
    mutating func encode(_ value: Int) throws { try base.encode(value) }
    mutating func encode(_ value: Int8) throws { try base.encode(value) }
    mutating func encode(_ value: Int16) throws { try base.encode(value) }
    mutating func encode(_ value: Int32) throws { try base.encode(value) }
    mutating func encode(_ value: Int64) throws { try base.encode(value) }
    mutating func encode(_ value: UInt) throws { try base.encode(value) }
    mutating func encode(_ value: UInt8) throws { try base.encode(value) }
    mutating func encode(_ value: UInt16) throws { try base.encode(value) }
    mutating func encode(_ value: UInt32) throws { try base.encode(value) }
    mutating func encode(_ value: UInt64) throws { try base.encode(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        if value is any NullEncodingLeaf {
            try base.encode(NonFiniteNumbers.sanitized(value, nonFinite))
        } else {
            try base.encode(NullEncoding(value, nonFinite: nonFinite))
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(NullKeepingKeyedContainer<NestedKey>(base: base.nestedContainer(keyedBy: keyType), nonFinite: nonFinite))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NullKeepingUnkeyedContainer(base: base.nestedUnkeyedContainer(), nonFinite: nonFinite)
    }

    mutating func superEncoder() -> any Encoder { NullKeepingEncoder(base: base.superEncoder(), nonFinite: nonFinite) }
}

/// A single-value container whose value is encoded through ``NullKeepingEncoder``.
private struct NullKeepingSingleValueContainer: SingleValueEncodingContainer {
    var base: any SingleValueEncodingContainer
    let nonFinite: NonFiniteNumbers
    var codingPath: [any CodingKey] { base.codingPath }

    mutating func encodeNil() throws { try base.encodeNil() }
    mutating func encode(_ value: Bool) throws { try base.encode(value) }
    mutating func encode(_ value: String) throws { try base.encode(value) }
    mutating func encode(_ value: Double) throws {
        if nonFinite == .null && !value.isFinite { try base.encodeNil() } else { try base.encode(value) }
    }
    mutating func encode(_ value: Float) throws {
        if nonFinite == .null && !value.isFinite { try base.encodeNil() } else { try base.encode(value) }
    }
    mutating func encode(_ value: Int) throws { try base.encode(value) }
    mutating func encode(_ value: Int8) throws { try base.encode(value) }
    mutating func encode(_ value: Int16) throws { try base.encode(value) }
    mutating func encode(_ value: Int32) throws { try base.encode(value) }
    mutating func encode(_ value: Int64) throws { try base.encode(value) }
    mutating func encode(_ value: UInt) throws { try base.encode(value) }
    mutating func encode(_ value: UInt8) throws { try base.encode(value) }
    mutating func encode(_ value: UInt16) throws { try base.encode(value) }
    mutating func encode(_ value: UInt32) throws { try base.encode(value) }
    mutating func encode(_ value: UInt64) throws { try base.encode(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        if value is any NullEncodingLeaf {
            try base.encode(NonFiniteNumbers.sanitized(value, nonFinite))
        } else {
            try base.encode(NullEncoding(value, nonFinite: nonFinite))
        }
    }
}
