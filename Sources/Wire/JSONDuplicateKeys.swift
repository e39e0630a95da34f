extension WireJSON {
    /// The first key that appears twice in one object of the JSON text `frame`, as written, or nil. RFC 8259 (§4)
    /// leaves duplicate names to the parser, and Foundation's decoder keeps one of them silently: `{"op": "jobs",
    /// "op": "models"}` was answered as `jobs`, and `{"op": "promote", "version": 1, "version": 2}` would promote one
    /// of two versions. One pass over the bytes, tracking each open object's keys (strings compared as written, so
    /// `"a"` and `"\u0061"` are not matched: a writer that escapes one spelling of a key is not refused for it).
    /// Text that is not JSON is left to the decoder, which names it.
    static func duplicateKey(in frame: [UInt8]) -> String? {
        // Per open container: the keys seen when it is an object (nil for an array), and whether a key comes next.
        var stack: [(keys: Set<ArraySlice<UInt8>>?, expectingKey: Bool)] = []
        var i = 0
        while i < frame.count {
            switch frame[i] {
            case UInt8(ascii: "{"):
                stack.append((keys: [], expectingKey: true))
            case UInt8(ascii: "["):
                stack.append((keys: nil, expectingKey: false))
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
                    let key = frame[start..<end]
                    if stack[last].keys!.contains(key) { return String(decoding: key, as: UTF8.self) }
                    stack[last].keys!.insert(key)
                    stack[last].expectingKey = false
                }
                i = end
            default:
                break
            }
            i += 1
        }
        return nil
    }
}
