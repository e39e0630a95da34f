import Foundation

extension WireJSON {
    /// Whether the decimal `token` (JSON's number grammar) is exactly an integer: every digit after its decimal point,
    /// once the exponent has moved the point, is 0. `3`, `3.0`, `30e-1` and `3e2` are; `2.9999999999999999` is not,
    /// though a 64-bit float reads it as 3.
    static func isExactWholeNumber(_ token: ArraySlice<UInt8>) -> Bool {
        var digits: [UInt8] = []
        var point: Int?
        var exponent = 0
        var i = token.startIndex
        if i < token.endIndex, token[i] == UInt8(ascii: "-") { i += 1 }
        while i < token.endIndex {
            let byte = token[i]
            if byte == UInt8(ascii: ".") {
                point = digits.count
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                // An exponent beyond a few thousand is out of any float's range and refused elsewhere.
                exponent = Int(String(decoding: token[(i + 1)...], as: UTF8.self)) ?? 0
                break
            } else {
                digits.append(byte)
            }
            i += 1
        }
        // The digits at and after `wholeDigits` are the fraction.
        let wholeDigits = (point ?? digits.count).addingSaturating(exponent)
        return digits.indices.allSatisfy { $0 < wholeDigits || digits[$0] == UInt8(ascii: "0") }
    }

    /// The number tokens of `bytes` that a 64-bit float reads as a whole number although the text has a fraction
    /// (`0.99999999999999999`, `2.9999999999999999`, `1.0000000000000001`: 17 significant digits, more than a
    /// `Double` holds): a whole-number key would take them as 1, 3 and 1. Only a token of at least 16 digits can be
    /// one, so a document without such a run is not parsed at all.
    static func roundedWholeNumbers(in bytes: [UInt8]) -> [(number: JSONOutOfRangeNumber, range: Range<Int>)] {
        var run = 0
        var long = false
        for byte in bytes {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                run += 1
                if run >= 16 { long = true; break }
            } else if byte != UInt8(ascii: ".") {
                run = 0
            }
        }
        guard long else { return [] }
        return numberTokens(in: bytes) { value, token in
            value.isFinite && value == value.rounded(.towardZero)
                && token.filter({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }).count >= 16
                && !isExactWholeNumber(token)
        } ?? []
    }

    /// Refuses `frame` when a key that takes a whole number (an `Int`, a `UInt64`…) holds a number with a fraction
    /// that a 64-bit float rounds to a whole one (``roundedWholeNumbers(in:)``): Foundation's decoder reads the float
    /// and takes `"click": 0.99999999999999999` as 1 and `"top": 2.9999999999999999` as 3, where it refuses `0.5`. A
    /// key of a fractional type (a dwell time, a score) keeps such a number: each token is tried as itself plus ½,
    /// which a whole-number key refuses and a fractional one reads.
    /// - Throws: ``WireError/badDocument(_:)`` naming the key and the number as written.
    static func refuseRoundedWholeNumbers<T: Decodable>(_ type: T.Type, in frame: [UInt8], decoder: JSONDecoder)
        throws(WireError)
    {
        let tokens = roundedWholeNumbers(in: frame)
        guard !tokens.isEmpty else { return }
        func halfAbove(_ token: (number: JSONOutOfRangeNumber, range: Range<Int>)) -> (Range<Int>, [UInt8]) {
            // Beyond 2⁵³ a float has no halves: any such key is tried with ½ itself.
            let value = Double(token.number.text) ?? 0
            let tried = abs(value) < 0x1p53 ? value + (value < 0 ? -0.5 : 0.5) : 0.5
            return (token.range, Array("\(tried)".utf8))
        }
        func decodes(_ bytes: [UInt8]) -> Bool { (try? decoder.decode(type, from: Data(bytes))) != nil }
        if decodes(patching(frame, tokens.map(halfAbove))) { return }
        // At most 64 tries, one token each: a document of many such numbers is refused without naming the key.
        for token in tokens.prefix(64) where !decodes(patching(frame, [halfAbove(token)])) {
            let at = token.number.pathDescription
            throw .badDocument(
                (at.isEmpty ? "" : "\(at): ") + "the number \(token.number.text) is not a whole number (a 64-bit float "
                    + "would round it to \(String(format: "%.0f", Double(token.number.text) ?? 0)))")
        }
        throw .badDocument(
            "a whole-number key holds a number with a fraction that a 64-bit float would round to a whole number")
    }
}
