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
    /// one. A first pass reads only such long runs of number characters (an encoder writes ordinary doubles with 16–17
    /// digits, which are not whole, so they are dismissed by one float parse each); only when one is whole and not
    /// exactly so is the document walked with its keys, strings skipped.
    static func roundedWholeNumbers(in bytes: [UInt8]) -> [(number: JSONOutOfRangeNumber, range: Range<Int>)] {
        func isNumberByte(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-")
        }
        func suspicious(_ value: Double, _ token: ArraySlice<UInt8>) -> Bool {
            value.isFinite && value == value.rounded(.towardZero)
                && token.lazy.filter({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }).count >= 16
                && isJSONNumber(token) && !isExactWholeNumber(token)
        }
        var candidate = false
        var i = 0
        while i < bytes.count, !candidate {
            guard isNumberByte(bytes[i]) else { i += 1; continue }
            var end = i
            var digits = 0
            while end < bytes.count, isNumberByte(bytes[end]) {
                if bytes[end] >= UInt8(ascii: "0") && bytes[end] <= UInt8(ascii: "9") { digits += 1 }
                end += 1
            }
            if digits >= 16, let value = Double(String(decoding: bytes[i..<end], as: UTF8.self)),
                suspicious(value, bytes[i..<end])
            {
                candidate = true
            }
            i = end
        }
        guard candidate else { return [] }
        return numberTokens(in: bytes, where: suspicious) ?? []
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
            // From 2⁵² on a float has no halves (value + ½ rounds to a whole number, and would pass as one): any such
            // key is tried with ½ itself.
            let value = Double(token.number.text) ?? 0
            let tried = abs(value) < 0x1p52 ? value + (value < 0 ? -0.5 : 0.5) : 0.5
            return (token.range, Array("\(tried)".utf8))
        }
        func decodes(_ bytes: [UInt8]) -> Bool { (try? decoder.decode(type, from: Data(bytes))) != nil }
        if decodes(patching(frame, tokens.map(halfAbove))) { return }
        // At most 64 tries, one token each, and only in a document of at most 64 KiB (each try decodes it whole): a
        // larger one, or one of many such numbers, is refused without naming the key.
        for token in tokens.prefix(frame.count <= 64 << 10 ? 64 : 0) where !decodes(patching(frame, [halfAbove(token)])) {
            let at = token.number.pathDescription
            throw .badDocument(
                (at.isEmpty ? "" : "\(at): ") + "the number \(token.number.text) is not a whole number (a 64-bit float "
                    + "would round it to \(String(format: "%.0f", Double(token.number.text) ?? 0)))")
        }
        throw .badDocument(
            "a whole-number key holds a number with a fraction that a 64-bit float would round to a whole number")
    }
}
