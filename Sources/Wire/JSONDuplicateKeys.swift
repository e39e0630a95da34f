import Foundation

extension WireJSON {
    /// The first key that appears twice in one object of the JSON text `frame`, as the decoder reads it, or nil.
    /// RFC 8259 (§4) leaves duplicate names to the parser, and Foundation's decoder keeps one of them silently:
    /// `{"op": "jobs", "op": "models"}` was answered as `jobs`, and `{"op": "promote", "version": 1, "version": 2}`
    /// would promote one of two versions. One pass over the bytes, tracking each open object's keys as the decoder
    /// sees them (``decodedKey(_:foldsSnakeCase:)``): unescaped, so `"click"` and `"\u0063lick"` are one key, and, in
    /// an object that decodes into a struct, converted from snake case, so `"impression_id"` and `"impressionId"` are
    /// too. The decoder leaves a dictionary's keys as written, so the keys of a map (``mapKeys``: `user_features`,
    /// `fields`, …, and the whole document when `mapAtTop`) are compared unescaped only: `sku_1` and `sku1` are two.
    /// Text that is not JSON is left to the decoder, which names it.
    static func duplicateKey(in frame: [UInt8], mapAtTop: Bool = false) -> String? {
        if case .duplicate(let key) = keyProblem(in: frame, mapAtTop: mapAtTop, keyLimit: nil) { return key }
        return nil
    }

    /// Why the JSON text `bytes` (a file a command reads: score rows, a feature specification) is not a document
    /// RecPool accepts although Foundation's decoder would take it: text that is not JSON (``JSONGrammar``: a trailing
    /// comma, `01`, an escape JSON does not have), or a key that appears twice in one object (the decoder keeps one
    /// silently); nil when neither. Keys are compared unescaped and never converted from snake case, as a plain
    /// `JSONDecoder` reads them: `sku_1` and `sku1` are two keys.
    public static func fileKeyProblem(in bytes: [UInt8]) -> String? {
        // A file may start with a UTF-8 byte-order mark (an editor's), which Foundation's decoder skips: so does this.
        let text = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        if let violation = JSONGrammar.violation(in: text) { return violation.description }
        return keyProblem(in: text, mapAtTop: true, keyLimit: nil)?.description
    }

    /// What ``keyProblem(in:mapAtTop:keyLimit:)`` found.
    enum KeyProblem: Equatable, CustomStringConvertible {
        /// A key that appears twice in one object, as written.
        case duplicate(String)
        /// The document holds more object keys than the limit (the scan stopped there).
        case tooManyKeys(limit: Int)

        /// The problem in a sentence, as an error names it.
        var description: String {
            switch self {
            case .duplicate(let key): "the key `\(key)` appears twice in one object; each key may appear once"
            case .tooManyKeys(let limit):
                "the document holds more than \(limit) object keys, the most a request may hold (a view event counts two)"
            }
        }
    }

    /// ``duplicateKey(in:mapAtTop:)``, and, with a `keyLimit`, whether the document holds more object keys in all
    /// than that: the scan stops at the first key past it, so a document of a million keys costs no more than one
    /// of `keyLimit` keys beyond reading its bytes.
    static func keyProblem(in frame: [UInt8], mapAtTop: Bool = false, keyLimit: Int?) -> KeyProblem? {
        var keyCount = 0
        // Per open container: the keys seen when it is an object (nil for an array), whether a key comes next,
        // whether its keys fold snake case (a struct's), and the last key read (what a nested value belongs to).
        var stack: [(keys: Set<ArraySlice<UInt8>>?, expectingKey: Bool, folds: Bool, lastKey: ArraySlice<UInt8>)] = []
        var i = 0
        while i < frame.count {
            let byte = frame[i]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let parent = stack.last
                // A container inside a map's value, or the map itself, does not fold; a struct's does.
                var folds = parent?.folds ?? !mapAtTop
                if let parent, parent.keys != nil, Self.mapKeys.contains(parent.lastKey) { folds = false }
                if frame[i] == UInt8(ascii: "{") {
                    // A struct nested in a map's value (none on the wire) would fold again; maps are leaves here.
                    stack.append((keys: [], expectingKey: true, folds: folds, lastKey: []))
                } else {
                    stack.append((keys: nil, expectingKey: false, folds: folds, lastKey: []))
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","):
                if let last = stack.indices.last, stack[last].keys != nil { stack[last].expectingKey = true }
            case UInt8(ascii: "\""):
                let start = i + 1
                var end = start
                while end < frame.count && frame[end] != UInt8(ascii: "\"") {
                    end += frame[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard end < frame.count else { return nil }
                if let last = stack.indices.last, stack[last].expectingKey, stack[last].keys != nil {
                    keyCount += 1
                    if let keyLimit, keyCount > keyLimit { return .tooManyKeys(limit: keyLimit) }
                    let key = decodedKey(frame[start..<end], foldsSnakeCase: stack[last].folds)
                    if stack[last].keys!.contains(key) { return .duplicate(String(decoding: frame[start..<end], as: UTF8.self)) }
                    stack[last].keys!.insert(key)
                    stack[last].expectingKey = false
                    stack[last].lastKey = key
                }
                i = end
            default:
                break
            }
            i += 1
        }
        return nil
    }

    /// The keys (as the decoder reads them) whose values are dictionaries on the wire: their own keys are data (user
    /// feature names, item fields, counters, metrics), kept as written by the decoder.
    static let mapKeys: Set<ArraySlice<UInt8>> = Set(
        ["userFeatures", "fields", "clicks", "dwell", "counters", "metrics"].map { Array($0.utf8)[...] })

    /// A key's text (between its quotes, as written) as `WireJSON`'s decoder matches it: escapes resolved, then
    /// Foundation's `convertFromSnakeCase` (leading and trailing underscores kept; the words between them joined, the
    /// first lowercased and each later one capitalised). A key with neither `\\` nor `_` is returned as it is, without
    /// copying; a key of ASCII letters and underscores is converted byte by byte (one small buffer), the rest through
    /// `String`.
    static func decodedKey(_ written: ArraySlice<UInt8>, foldsSnakeCase: Bool = true) -> ArraySlice<UInt8> {
        var lettersAndUnderscores = true
        var plain = true
        for byte in written {
            let letter = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            if !letter && byte != UInt8(ascii: "_") { lettersAndUnderscores = false }
            if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "_") { plain = false }
        }
        if plain { return written }
        if !foldsSnakeCase {
            guard written.contains(UInt8(ascii: "\\")) else { return written }
            guard let unescaped = try? JSONDecoder().decode(String.self, from: Data([UInt8(ascii: "\"")] + written + [UInt8(ascii: "\"")]))
            else { return written }
            return ArraySlice(unescaped.utf8)
        }
        // Foundation's `capitalized` also starts a word after a digit or punctuation (`9b` → `9B`): only keys of ASCII
        // letters and underscores, which every RecPool key is, take the byte path.
        if lettersAndUnderscores { return asciiFromSnakeCase(written) }
        var key = String(decoding: written, as: UTF8.self)
        if written.contains(UInt8(ascii: "\\")) {
            // The quoted text is a JSON string; a malformed escape is left to the decoder, which names it.
            guard let unescaped = try? JSONDecoder().decode(String.self, from: Data([UInt8(ascii: "\"")] + written + [UInt8(ascii: "\"")]))
            else { return written }
            key = unescaped
        }
        return ArraySlice(convertFromSnakeCase(key).utf8)
    }

    /// ``convertFromSnakeCase(_:)`` of a key of ASCII letters and underscores, on its bytes.
    static func asciiFromSnakeCase(_ key: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let underscore = UInt8(ascii: "_")
        guard let first = key.firstIndex(where: { $0 != underscore }) else { return key }
        var last = key.index(before: key.endIndex)
        while last > first && key[last] == underscore { last -= 1 }
        let words = key[first...last].split(separator: underscore)
        guard words.count > 1 else { return key }
        var out: [UInt8] = []
        out.reserveCapacity(key.count)
        out.append(contentsOf: key[..<first])
        for (w, word) in words.enumerated() {
            for (k, byte) in word.enumerated() {
                let upper = byte >= 0x41 && byte <= 0x5A
                let lower = byte >= 0x61 && byte <= 0x7A
                if w > 0 && k == 0 {
                    out.append(lower ? byte - 0x20 : byte)
                } else {
                    out.append(upper ? byte + 0x20 : byte)
                }
            }
        }
        out.append(contentsOf: key[key.index(after: last)...])
        return out[...]
    }

    /// Foundation's `JSONDecoder.KeyDecodingStrategy.convertFromSnakeCase` applied to one key.
    static func convertFromSnakeCase(_ key: String) -> String {
        guard let first = key.firstIndex(where: { $0 != "_" }) else { return key }
        var last = key.index(before: key.endIndex)
        while last > first && key[last] == "_" { last = key.index(before: last) }
        let words = key[first...last].split(separator: "_")
        guard words.count > 1 else { return key }
        let joined = words[0].lowercased() + words.dropFirst().map { $0.capitalized }.joined()
        return String(key[..<first]) + joined + String(key[key.index(after: last)...])
    }
}
