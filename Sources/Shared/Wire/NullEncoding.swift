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

    /// Wraps `value`.
    public init(_ value: Value) { self.value = value }

    /// Encodes the document with every optional key present.
    public func encode(to encoder: any Encoder) throws {
        try value.encode(to: NullKeepingEncoder(base: encoder))
    }

    /// Encodes `value` with `encoder`, every listed key present.
    /// - Throws: what `encoder` throws (such as a non-finite number under the default strategy).
    public static func encode(_ value: Value, with encoder: JSONEncoder) throws -> Data {
        if value is any NullEncodingLeaf { return try encoder.encode(value) }
        return try encoder.encode(NullEncoding(value))
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
    var codingPath: [any CodingKey] { base.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { base.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(NullKeepingKeyedContainer(base: base.container(keyedBy: type)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        NullKeepingUnkeyedContainer(base: base.unkeyedContainer())
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        NullKeepingSingleValueContainer(base: base.singleValueContainer())
    }
}

/// A keyed container whose `encodeIfPresent(nil, …)` writes `null`, and whose nested values are
/// encoded through ``NullKeepingEncoder`` too.
private struct NullKeepingKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    var base: KeyedEncodingContainer<Key>
    var codingPath: [any CodingKey] { base.codingPath }

    mutating func encodeNil(forKey key: Key) throws { try base.encodeNil(forKey: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try base.encode(value, forKey: key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try base.encode(value, forKey: key) }
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
            try base.encode(value, forKey: key)
        } else {
            try base.encode(NullEncoding(value), forKey: key)
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
            NullKeepingKeyedContainer<NestedKey>(base: base.nestedContainer(keyedBy: keyType, forKey: key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NullKeepingUnkeyedContainer(base: base.nestedUnkeyedContainer(forKey: key))
    }

    mutating func superEncoder() -> any Encoder { NullKeepingEncoder(base: base.superEncoder()) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NullKeepingEncoder(base: base.superEncoder(forKey: key))
    }
}

/// An unkeyed container whose elements are encoded through ``NullKeepingEncoder``.
private struct NullKeepingUnkeyedContainer: UnkeyedEncodingContainer {
    var base: any UnkeyedEncodingContainer
    var codingPath: [any CodingKey] { base.codingPath }
    var count: Int { base.count }

    mutating func encodeNil() throws { try base.encodeNil() }
    mutating func encode(_ value: Bool) throws { try base.encode(value) }
    mutating func encode(_ value: String) throws { try base.encode(value) }
    mutating func encode(_ value: Double) throws { try base.encode(value) }
    mutating func encode(_ value: Float) throws { try base.encode(value) }
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
        if value is any NullEncodingLeaf { try base.encode(value) } else { try base.encode(NullEncoding(value)) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(NullKeepingKeyedContainer<NestedKey>(base: base.nestedContainer(keyedBy: keyType)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NullKeepingUnkeyedContainer(base: base.nestedUnkeyedContainer())
    }

    mutating func superEncoder() -> any Encoder { NullKeepingEncoder(base: base.superEncoder()) }
}

/// A single-value container whose value is encoded through ``NullKeepingEncoder``.
private struct NullKeepingSingleValueContainer: SingleValueEncodingContainer {
    var base: any SingleValueEncodingContainer
    var codingPath: [any CodingKey] { base.codingPath }

    mutating func encodeNil() throws { try base.encodeNil() }
    mutating func encode(_ value: Bool) throws { try base.encode(value) }
    mutating func encode(_ value: String) throws { try base.encode(value) }
    mutating func encode(_ value: Double) throws { try base.encode(value) }
    mutating func encode(_ value: Float) throws { try base.encode(value) }
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
        if value is any NullEncodingLeaf { try base.encode(value) } else { try base.encode(NullEncoding(value)) }
    }
}
