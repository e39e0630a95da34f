import Foundation

/// Where a number stands in a JSON document: its keys as written and its array positions, outermost first.
public enum JSONPathComponent: Equatable, Sendable {
    /// A member of an object, by its key as the document spells it.
    case key(String)
    /// An element of an array, from 0.
    case index(Int)
}

/// A number that is valid JSON (RFC 8259 §6 sets no range) but lies beyond a 64-bit float's: `1e400`, `-2e308`.
/// Foundation refuses the whole document as "not valid JSON" for one such number and names neither it nor where it
/// stands; ``WireJSON/outOfRangeNumber(in:)`` finds both.
public struct JSONOutOfRangeNumber: Equatable, Sendable {
    /// Where the number stands.
    public var path: [JSONPathComponent]
    /// The number as written.
    public var text: String

    /// `path` as `rows[0][1]` or `user_features.age`; empty for a document that is the number itself.
    public var pathDescription: String {
        var out = ""
        for component in path {
            switch component {
            case .key(let key): out += (out.isEmpty ? "" : ".") + key
            case .index(let index): out += "[\(index)]"
            }
        }
        return out
    }
}

extension WireJSON {
    /// The first number in `bytes` whose magnitude is beyond `Double.greatestFiniteMagnitude`, when the document is
    /// otherwise valid JSON (it parses once every such number is read as 0); nil when there is none or the text is
    /// not JSON for another reason. One pass over the bytes, outside strings; each number token is read with
    /// `Double(_:)`, which gives ±infinity for such a number.
    public static func outOfRangeNumber(in bytes: [UInt8]) -> JSONOutOfRangeNumber? {
        guard let (first, patched) = scanNumbers(in: bytes, refusing: { value, _ in value.isInfinite }),
            (try? JSONSerialization.jsonObject(with: Data(patched), options: [.fragmentsAllowed])) != nil
        else { return nil }
        return first
    }

    /// The first number in `bytes` that is not 0 but lies nearer 0 than the smallest 64-bit float (`1e-400`): a
    /// decoder reads it as 0 (a `version` of 1e-400 named version 0) or refuses the document without naming it. nil
    /// when there is none.
    public static func underflowingNumber(in bytes: [UInt8]) -> JSONOutOfRangeNumber? {
        scanNumbers(in: bytes) { value, token in
            value == 0 && token.prefix { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") }
                .contains { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }
        }?.number
    }

    /// The first number token in `bytes` (outside strings) that `refused` picks, with its path, and the bytes with
    /// every such token written as `0`; nil when there is none. One pass; each token of JSON's number grammar is read
    /// with `Double(_:)`.
    private static func scanNumbers(
        in bytes: [UInt8], refusing refused: (Double, ArraySlice<UInt8>) -> Bool
    ) -> (number: JSONOutOfRangeNumber, patched: [UInt8])? {
        guard let tokens = numberTokens(in: bytes, where: refused), let first = tokens.first else { return nil }
        return (first.number, patching(bytes, tokens.map { ($0.range, [UInt8(ascii: "0")]) }))
    }

    /// Every number token in `bytes` (outside strings) that `picked` picks, with its path and where it is written, in
    /// document order; nil when a string is not closed. One pass; each token of JSON's number grammar is read with
    /// `Double(_:)`.
    static func numberTokens(
        in bytes: [UInt8], where picked: (Double, ArraySlice<UInt8>) -> Bool
    ) -> [(number: JSONOutOfRangeNumber, range: Range<Int>)]? {
        // Per open container: its kind, and the key or index the next value takes.
        var stack: [(isObject: Bool, key: Range<Int>, index: Int, expectingKey: Bool)] = []
        var found: [(number: JSONOutOfRangeNumber, range: Range<Int>)] = []
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append((isObject: byte == UInt8(ascii: "{"), key: 0..<0, index: 0, expectingKey: byte == UInt8(ascii: "{")))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","):
                if let last = stack.indices.last {
                    if stack[last].isObject { stack[last].expectingKey = true } else { stack[last].index += 1 }
                }
            case UInt8(ascii: "\""):
                var end = i + 1
                while end < bytes.count && bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard end < bytes.count else { return nil }
                if let last = stack.indices.last, stack[last].isObject, stack[last].expectingKey {
                    // Kept as where it is written; unescaped only for the path of a number found (one decode, not
                    // one per key of every document that fails to decode).
                    stack[last].key = (i + 1)..<end
                    stack[last].expectingKey = false
                }
                i = end
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var end = i + 1
                while end < bytes.count, Self.numberBytes.contains(bytes[end]) { end += 1 }
                let text = String(decoding: bytes[i..<end], as: UTF8.self)
                // Only a token of JSON's number grammar (RFC 8259 §6): `01e400` or `-.5e999` is not JSON, and is
                // left for the parser to refuse as such.
                if Self.isJSONNumber(bytes[i..<end]), let value = Double(text), picked(value, bytes[i..<end]) {
                    let path: [JSONPathComponent] = stack.map {
                        $0.isObject ? .key(Self.keyText(bytes[$0.key])) : .index($0.index)
                    }
                    found.append((JSONOutOfRangeNumber(path: path, text: text), i..<end))
                }
                i = end - 1
            default:
                break
            }
            i += 1
        }
        return found
    }

    /// `bytes` with each range written as its replacement (the ranges in order, not overlapping).
    static func patching(_ bytes: [UInt8], _ replacements: [(Range<Int>, [UInt8])]) -> [UInt8] {
        var patched: [UInt8] = []
        patched.reserveCapacity(bytes.count)
        var copied = 0
        for (range, replacement) in replacements {
            patched.append(contentsOf: bytes[copied..<range.lowerBound])
            patched.append(contentsOf: replacement)
            copied = range.upperBound
        }
        patched.append(contentsOf: bytes[copied...])
        return patched
    }

    /// A key as the document means it: its escapes resolved (`"a\u0062"` is `ab`).
    private static func keyText(_ written: ArraySlice<UInt8>) -> String {
        let quoted = Data([UInt8(ascii: "\"")] + written + [UInt8(ascii: "\"")])
        return (try? JSONDecoder().decode(String.self, from: quoted)) ?? String(decoding: written, as: UTF8.self)
    }

    /// Whether `token` is a number as RFC 8259 §6 writes one: `-`? then `0` or a digit 1–9 and more digits, then
    /// optionally `.` and digits, then optionally `e` or `E`, a sign and digits.
    static func isJSONNumber(_ token: ArraySlice<UInt8>) -> Bool { JSONGrammar.numberProblem(token) == nil }

    /// The bytes a JSON number token continues with after its first.
    private static let numberBytes: Set<UInt8> = Set(Array("0123456789.eE+-".utf8))
}
