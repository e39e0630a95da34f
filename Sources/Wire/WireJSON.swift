import Foundation

/// JSON payloads for rare, document-shaped messages. Keys are snake_case and stable: they are part
/// of the protocol (docs/PROTOCOL.md) and of the `--json` output of the command line.
public enum WireJSON {
    /// Encodes a document to a frame. Every key the document lists is present: an optional with no
    /// value is written as `null` (``NullEncoding``), and so is a number that is NaN or infinite (JSON
    /// has neither), as docs/PROTOCOL.md promises; a receiver that needs the number gets a typed decode
    /// error naming the key, never a silently empty document.
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try NullEncoding.encode(value, with: encoder, nonFinite: .null))
        } catch {
            // With non-finite numbers written as null, JSONEncoder has nothing left to refuse in these
            // plain value types; should it ever, the frame says so instead of being `{}`.
            let explained = try? JSONEncoder().encode(["encoding_error": "\(error)"])
            return Array(explained ?? Data(#"{"encoding_error":"unencodable document"}"#.utf8))
        }
    }

    /// The most object keys a request document from a peer may hold, all objects counted (``decodeRequest(_:from:)``):
    /// 65,536. A RECOMMEND's view history counts two per event (`item`, `seconds`), so a history of up to about
    /// 32,000 views fits; a document of a million unknown keys, within the 16 MiB message limit, took seconds to
    /// decode, and a thread that must answer heartbeats (the broker's reactor, a worker's session) stalled on it.
    /// The first pass over the bytes stops at the first key past the limit.
    public static let requestKeyLimit = 1 << 16

    /// Decodes a document from a frame.
    /// - Parameter keyLimit: the most object keys the document may hold (nil: no limit). The limit is checked in the
    ///   first pass over the bytes, before anything is decoded.
    /// - Throws: ``WireError/badDocument(_:)`` saying where the text stops being JSON (``JSONGrammar``), with the
    ///   decoder's reason, naming a key that appears twice in one
    ///   object (``duplicateKey(in:mapAtTop:)``), saying the document holds more keys than `keyLimit`, or naming a
    ///   whole-number key whose number has a fraction a 64-bit float rounds away (``refuseRoundedWholeNumbers``).
    public static func decode<T: Decodable>(_ type: T.Type, from frame: [UInt8], keyLimit: Int? = nil)
        throws(WireError) -> T
    {
        // First, so a document of a million keys is refused at the first key past the limit, before any whole pass.
        // A document that decodes into a dictionary keeps its keys as written (no snake-case conversion applies).
        if let problem = keyProblem(
            in: frame, mapAtTop: T.self is any ExpressibleByDictionaryLiteral.Type, keyLimit: keyLimit)
        {
            throw .badDocument(problem.description)
        }
        // A document is UTF-8 JSON (docs/PROTOCOL.md): Foundation's decoder also takes UTF-16 and UTF-32 (by their
        // byte-order marks) and a UTF-8 byte-order mark, and calls invalid UTF-8 only "not valid JSON".
        if frame.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw .badDocument("the document starts with a byte-order mark: a document is UTF-8 JSON without one")
        }
        if String(validating: frame, as: UTF8.self) == nil {
            throw .badDocument("the document is not UTF-8 text (\(invalidUTF8Description(frame)))")
        }
        // The whole text, strictly: Foundation's decoder skips a value under a key it does not read without checking it.
        if let violation = JSONGrammar.violation(in: frame) { throw .badDocument(violation.description) }
        let decoded: T
        let decoder = Self.decoder
        do {
            decoded = try decoder.decode(type, from: Data(frame))
        } catch let error as DecodingError {
            throw .badDocument(describe(error, type: type, frame: frame))
        } catch {
            throw .badDocument("\(error)")
        }
        try refuseRoundedWholeNumbers(type, in: frame, decoder: decoder)
        return decoded
    }

    /// Decodes a document a peer sent (a client's CONTROL, RECOMMEND or FEEDBACK; a worker's READY or model ranking
    /// read on the broker's reactor): ``decode(_:from:keyLimit:)``
    /// with at most ``requestKeyLimit`` keys, so that its cost is bounded by its bytes, never by its number of keys.
    /// - Throws: ``WireError/badDocument(_:)``.
    public static func decodeRequest<T: Decodable>(_ type: T.Type, from frame: [UInt8]) throws(WireError) -> T {
        // Checked first: Foundation reads 1e-400 as 0 for a whole-number key and refuses it unnamed for another. Only a
        // frame that could hold such a number is scanned (a negative exponent, or hundreds of digits in a row): the
        // reactor decodes a worker's ranking per reply.
        if Self.mayUnderflow(frame), let number = underflowingNumber(in: frame) {
            let at = number.pathDescription
            throw .badDocument(
                (at.isEmpty ? "" : "\(at): ") + "the number \(number.text) is nearer 0 than the smallest 64-bit float "
                    + "(it would be read as 0)")
        }
        // And its other end: a number past the largest float was refused only where the decoder reads its key, and
        // taken under a key it does not know (docs/PROTOCOL.md: out of range wherever a request holds it).
        if Self.mayOverflow(frame), let number = outOfRangeNumber(in: frame) {
            let at = number.pathDescription
            throw .badDocument(
                (at.isEmpty ? "" : "\(at): ") + "the number \(number.text) is beyond the range of a 64-bit float")
        }
        return try decode(type, from: frame, keyLimit: requestKeyLimit)
    }

    /// Whether `frame` holds, outside its strings, an exponent of three digits or more (`e308`, `E+400`) or a run of
    /// 200 digits (a mantissa that long passes 1e308 with a two-digit exponent: `1` and 250 zeros `e60`): otherwise no
    /// number in it lies beyond the largest 64-bit float (about 1.8e308).
    static func mayOverflow(_ frame: [UInt8]) -> Bool {
        var digits = 0
        var exponentDigits: Int?
        var inString = false
        var escaped = false
        for byte in frame {
            // Text is no number: a hex id `…e123` in a user feature's value is skipped, not scanned for.
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            if byte == UInt8(ascii: "\"") {
                inString = true
                digits = 0
                exponentDigits = nil
                continue
            }
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            digits = isDigit ? digits + 1 : 0
            if digits >= 200 { return true }
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                exponentDigits = 0
            } else if let counted = exponentDigits {
                if isDigit {
                    if counted + 1 >= 3 { return true }
                    exponentDigits = counted + 1
                } else if !(byte == UInt8(ascii: "+") && counted == 0) {
                    exponentDigits = nil
                }
            }
        }
        return false
    }

    /// Whether `frame` holds `e-` or `E-` (a negative exponent) or a run of 300 digits (a decimal too small for a
    /// float needs more than 300 zeros): otherwise no number in it can lie nearer 0 than the smallest 64-bit float.
    static func mayUnderflow(_ frame: [UInt8]) -> Bool {
        var digits = 0
        var previous: UInt8 = 0
        for byte in frame {
            if byte == UInt8(ascii: "-") && (previous == UInt8(ascii: "e") || previous == UInt8(ascii: "E")) { return true }
            digits = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? digits + 1 : 0
            if digits >= 300 { return true }
            previous = byte
        }
        return false
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// The decoder's reason, with every key as the frame spells it (snake_case, never the Swift property's name), and,
    /// when the decoder calls valid JSON "not valid JSON" (Foundation's answer to a number out of its type's range:
    /// `-1` or `1.5` for a count, `1e300` for an `Int`), the key whose number it refused.
    private static func describe<T: Decodable>(_ error: DecodingError, type: T.Type, frame: [UInt8]) -> String {
        let json: Any?
        var syntax: String?
        do {
            json = try JSONSerialization.jsonObject(with: Data(frame), options: [.fragmentsAllowed])
        } catch {
            json = nil
            // Where the text stops being JSON ("Invalid value around character 8."): Foundation's decoder says only
            // "The given data was not valid JSON."
            syntax = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String).map {
                $0.hasSuffix(".") ? String($0.dropLast()) : $0
            }
        }
        func path(_ context: DecodingError.Context, then key: CodingKey? = nil) -> String {
            wirePath(context.codingPath + (key.map { [$0] } ?? []), in: json)
        }
        switch error {
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty, json == nil, let number = outOfRangeNumber(in: frame) {
                let at = number.pathDescription
                return (at.isEmpty ? "" : "\(at): ") + "the number \(number.text) is beyond the range of a 64-bit float"
            }
            if c.codingPath.isEmpty, json != nil, c.debugDescription.contains("not valid JSON") {
                if let key = refusedNumber(type, in: json, bytes: frame.count) {
                    return "\(key): the number is out of range for this key (a negative or fractional number where a "
                        + "whole number ≥ 0 is expected, or one too large)"
                }
                return "a value is out of range or of the wrong kind for its key"
            }
            let at = path(c)
            if at.isEmpty, json == nil, let syntax {
                return "not valid JSON: \(syntax.prefix(1).lowercased() + syntax.dropFirst())"
            }
            return at.isEmpty ? c.debugDescription : "\(at): \(c.debugDescription)"
        case .keyNotFound(let key, let c): return "missing key \(path(c, then: key))"
        case .typeMismatch(let expected, let c):
            let at = path(c)
            // A key sent as null is an absent one (docs/PROTOCOL.md): `"promote": null` was "wrong type", where
            // `"epochs": null` was "missing value" (the decoder names a null Bool a type mismatch).
            if !at.isEmpty, wireValue(c.codingPath, in: json) is NSNull { return "missing value at \(at)" }
            return at.isEmpty
                ? "the document is \(valueKind(json)), not \(kind(expected))"
                : "wrong type at \(at) (expected \(kind(expected)))"
        case .valueNotFound(let expected, let c):
            let at = path(c)
            return at.isEmpty ? "the document is null, not \(kind(expected))" : "missing value at \(at)"
        @unknown default: return "\(error)"
        }
    }

    /// Where the first byte that is not UTF-8 stands: `byte 12 (0xFF)`.
    static func invalidUTF8Description(_ frame: [UInt8]) -> String {
        var offset = 0
        while offset < frame.count {
            // The longest prefix that is valid ends before the first bad sequence: shrink from the whole frame.
            let lead = frame[offset]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            guard length > 0, offset + length <= frame.count,
                String(validating: frame[offset..<(offset + length)], as: UTF8.self) != nil
            else { return "byte \(offset) (0x\(String(lead, radix: 16, uppercase: true)))" }
            offset += length
        }
        return "a truncated sequence at the end"
    }

    /// Where the number the decoder refuses stands (`seed`, `train.seed`, `candidates[0]`): the first numeric value,
    /// in document order (object keys sorted), that, set to 0, lets the document get past the refusal (it decodes, or
    /// fails for another reason). Nested objects and arrays are searched too: a `train` request's `seed` is one level
    /// down. Each try decodes the document again, so only a small document is searched (at most
    /// ``refusedNumberSearch`` numbers, 64 KiB): a request's error must never cost more than the request.
    private static func refusedNumber<T: Decodable>(_ type: T.Type, in json: Any?, bytes: Int) -> String? {
        guard let json, bytes <= 64 << 10 else { return nil }
        var leaves: [[JSONPathComponent]] = []
        var numbers = 0
        numericLeaves(json, at: [], into: &leaves, counting: &numbers)
        guard numbers <= refusedNumberSearch else { return nil }
        /// Whether the decoder refuses `node` as it refuses an out-of-range number (nil: it cannot be re-encoded).
        func refusesRange(_ node: Any) -> Bool? {
            guard JSONSerialization.isValidJSONObject(node), let data = try? JSONSerialization.data(withJSONObject: node)
            else { return nil }
            do {
                _ = try decoder.decode(type, from: data)
            } catch DecodingError.dataCorrupted(let c) where c.codingPath.isEmpty {
                return true
            } catch {}
            return false
        }
        // One number out of range: the document decodes once that number is 0.
        for path in leaves where refusesRange(replacing(path[...], in: json, with: 0)) == false {
            return JSONOutOfRangeNumber(path: path, text: "").pathDescription
        }
        // Several (`total_bytes` and `offset` both 2⁶³): each alone, every other number 0, names the first.
        for path in leaves {
            var alone = json
            for other in leaves where other != path { alone = replacing(other[...], in: alone, with: 0) }
            if refusesRange(alone) == true { return JSONOutOfRangeNumber(path: path, text: "").pathDescription }
        }
        return nil
    }

    /// The paths of the numbers in `node` that could be out of some key's range, object keys in sorted order, and in
    /// `numbers` how many numbers it holds; stops counting past ``refusedNumberSearch``. A value Foundation also reads
    /// as a `Bool` (`true`, `false`, `0`, `1`) is counted but never a candidate: 0 and 1 fit every numeric key, and
    /// setting a boolean to 0 would fail for its type, not its range.
    private static func numericLeaves(
        _ node: Any, at path: [JSONPathComponent], into leaves: inout [[JSONPathComponent]], counting numbers: inout Int
    ) {
        guard numbers <= refusedNumberSearch else { return }
        if let object = node as? [String: Any] {
            for key in object.keys.sorted() {
                numericLeaves(object[key]!, at: path + [.key(key)], into: &leaves, counting: &numbers)
            }
        } else if let array = node as? [Any] {
            for (index, element) in array.enumerated() {
                numericLeaves(element, at: path + [.index(index)], into: &leaves, counting: &numbers)
            }
        } else if node is NSNumber {
            numbers += 1
            if !(node is Bool) { leaves.append(path) }
        }
    }

    /// `node` with the value at `path` replaced by `value`.
    private static func replacing(_ path: ArraySlice<JSONPathComponent>, in node: Any, with value: Any) -> Any {
        guard let first = path.first else { return value }
        switch first {
        case .key(let key):
            guard var object = node as? [String: Any], let child = object[key] else { return node }
            object[key] = replacing(path.dropFirst(), in: child, with: value)
            return object
        case .index(let index):
            guard var array = node as? [Any], array.indices.contains(index) else { return node }
            array[index] = replacing(path.dropFirst(), in: array[index], with: value)
            return array
        }
    }

    /// The value at `codingPath` in the parsed document, found as ``wirePath(_:in:)`` finds its keys (nil: none).
    private static func wireValue(_ codingPath: [CodingKey], in json: Any?) -> Any? {
        var node = json
        for key in codingPath {
            if let index = key.intValue, let array = node as? [Any] {
                node = index < array.count ? array[index] : nil
                continue
            }
            let object = node as? [String: Any]
            node = object?[key.stringValue] ?? object?[snakeCase(key.stringValue)]
        }
        return node
    }

    /// `codingPath` as the frame spells it: at each level the key as written when the object holds it, otherwise its
    /// snake_case form (a missing key is named as a sender must write it); array positions as `[i]`.
    private static func wirePath(_ codingPath: [CodingKey], in json: Any?) -> String {
        var node = json
        var text = ""
        for key in codingPath {
            if let index = key.intValue, let array = node as? [Any] {
                text += "[\(index)]"
                node = index < array.count ? array[index] : nil
                continue
            }
            let object = node as? [String: Any]
            let name = object?[key.stringValue] != nil ? key.stringValue : snakeCase(key.stringValue)
            text += (text.isEmpty ? "" : ".") + name
            node = object?[name]
        }
        return text
    }

    /// The most top-level keys ``refusedNumber(_:in:bytes:)`` tries.
    static let refusedNumberSearch = 64

    /// `userFeatures` → `user_features`, `modelSHA256` → `model_sha256`, as the encoder writes keys
    /// (`convertToSnakeCase`): a word starts at an upper-case letter after a lower-case letter or digit, or at the
    /// last upper-case letter of a run followed by a lower-case one.
    public static func snakeCase(_ name: String) -> String {
        let scalars = Array(name.unicodeScalars)
        var out = ""
        for (i, scalar) in scalars.enumerated() {
            let upper = ("A"..."Z").contains(scalar)
            if upper && i > 0 {
                let previous = scalars[i - 1]
                let previousLowerOrDigit = ("a"..."z").contains(previous) || ("0"..."9").contains(previous)
                let nextLower = i + 1 < scalars.count && ("a"..."z").contains(scalars[i + 1])
                if previousLowerOrDigit || (("A"..."Z").contains(previous) && nextLower) { out += "_" }
            }
            out += upper ? String(scalar).lowercased() : String(scalar)
        }
        return out
    }

    private static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Double.Type, is Float.Type: "a number"
        case is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type, is UInt32.Type, is UInt16.Type, is UInt8.Type:
            "a whole number"
        case is [String: Any].Type, is NSDictionary.Type: "a JSON object"
        case is [Any].Type, is NSArray.Type: "a JSON array"
        default: "\(type)"
        }
    }

    /// What a parsed JSON value is, in words: `an array`, `a string`, `null`.
    private static func valueKind(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: "null"
        case is [String: Any]: "a JSON object"
        case is [Any]: "a JSON array"
        case is String: "a string"
        case is NSNumber: "a number or true or false"
        default: "a JSON value"
        }
    }
}
