import Foundation

extension ItemCatalogue {
    /// ``canonicalBytes()`` of this catalogue, made from `previous`'s canonical bytes when this catalogue is `previous`
    /// changed as the registry changes one (`add` appends rows, `retire` clears flags; rows never move): the bytes
    /// after the change are the earlier bytes with the new rows' values appended to the `active`, `features` and `ids`
    /// arrays and the flags that changed rewritten, each fragment encoded by the same `JSONEncoder` as the whole
    /// document. So the result is byte for byte what ``canonicalBytes()`` gives (the same SHA-256 names the version),
    /// in time proportional to the bytes copied: a whole encode of 200,000 items took 1.6 s on the control plane's
    /// thread, which also commits impressions, and every policy slate waited for it (docs/OPERATIONS.md, "Catalogue
    /// size").
    ///
    /// Falls back to ``canonicalBytes()`` when this catalogue is not such a change of `previous` (another encoding,
    /// fewer rows, an earlier row's id or features changed, compared byte for byte) or when `previousBytes` are not
    /// laid out as that document is.
    /// - Parameters:
    ///   - previous: the catalogue `previousBytes` encode.
    ///   - previousBytes: `previous.canonicalBytes()`, as stored.
    /// - Throws: ``DataError/inconsistent(_:)`` as ``canonicalBytes()`` does.
    public func canonicalBytes(changing previous: ItemCatalogue, bytes previousBytes: [UInt8]) throws(DataError) -> [UInt8] {
        guard let spliced = try splicedCanonicalBytes(changing: previous, bytes: previousBytes) else {
            return try canonicalBytes()
        }
        return spliced
    }

    /// The spliced bytes, or nil when the change or the earlier bytes do not allow a splice.
    func splicedCanonicalBytes(changing previous: ItemCatalogue, bytes old: [UInt8]) throws(DataError)
        -> [UInt8]?
    {
        let oldCount = previous.count
        guard oldCount > 0, count >= oldCount, features.count == count * width,
            previous.features.count == oldCount * width, Self.sameBytes(encoding, previous.encoding)
        else { return nil }
        // Every earlier id as the same bytes (Swift's `==` calls canonically equivalent spellings equal, and the bytes
        // written are the earlier version's): a replace upload that renamed an item, or swapped two rows, is no splice.
        guard ids.prefix(oldCount).elementsEqual(previous.ids, by: { $0.utf8.elementsEqual($1.utf8) }) else { return nil }
        // Rows never move: the earlier rows' features are the same values (checked, as they decide the bytes).
        guard features.withUnsafeBufferPointer({ new in
            previous.features.withUnsafeBufferPointer { was in
                memcmp(new.baseAddress!, was.baseAddress!, was.count * MemoryLayout<Float>.stride) == 0
            }
        }) else { return nil }
        let open = Array(#"{"active":["#.utf8)
        let afterActive = Array(#"],"categorical":"#.utf8)
        let featuresKey = Array(#""features":["#.utf8)
        let afterFeatures = Array(#"],"format":""#.utf8) + Array(Self.canonicalFormat.utf8) + Array(#"","ids":["#.utf8)
        let tail = Array(#"],"numeric":"#.utf8) + (try Self.fragment(encoding.numeric)) + Array(#","width":"#.utf8)
            + Array(String(width).utf8) + Array("}".utf8)
        guard old.starts(with: open), old.count > open.count + tail.count, old.suffix(tail.count).elementsEqual(tail),
            let activeEnd = Self.find(afterActive, in: old, from: open.count),
            let featuresStart = Self.find(featuresKey, in: old, from: activeEnd).map({ $0 + featuresKey.count }),
            let featuresEnd = Self.find(afterFeatures, in: old, from: featuresStart)
        else { return nil }
        let idsStart = featuresEnd + afterFeatures.count
        let idsEnd = old.count - tail.count
        guard idsStart <= idsEnd else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(old.count + (count - oldCount) * (16 + 12 * width) + 64)
        out += open
        // The flags: each earlier row's token kept or rewritten, then the new rows' (strings hold no `,`: a flag
        // array is `true` and `false` between commas).
        let changed = (0..<oldCount).filter { active[$0] != previous.active[$0] }
        if changed.isEmpty {
            out += old[open.count..<activeEnd]
        } else {
            var row = 0
            var start = open.count
            var next = changed.makeIterator()
            var wanted = next.next()
            for index in open.count...activeEnd where index == activeEnd || old[index] == UInt8(ascii: ",") {
                if row == wanted {
                    out += Array((active[row] ? "true" : "false").utf8)
                    wanted = next.next()
                } else {
                    out += old[start..<index]
                }
                if index < activeEnd { out.append(UInt8(ascii: ",")) }
                start = index + 1
                row += 1
            }
            guard row == oldCount else { return nil }
        }
        try Self.append(Array(active[oldCount...]), to: &out)
        out += old[activeEnd..<featuresEnd]
        try Self.append(Array(features[(oldCount * width)...]), to: &out)
        out += old[featuresEnd..<idsEnd]
        try Self.append(Array(ids[oldCount...]), to: &out)
        out += tail
        return out
    }

    /// Whether two encodings name the same features with the same bytes (not only canonically equivalent text).
    private static func sameBytes(_ a: ItemEncoding, _ b: ItemEncoding) -> Bool {
        let text: (String, String) -> Bool = { $0.utf8.elementsEqual($1.utf8) }
        return a.numeric.elementsEqual(b.numeric, by: text)
            && a.categorical.elementsEqual(b.categorical) { x, y in
                text(x.name, y.name) && x.values.elementsEqual(y.values, by: text)
            }
    }

    /// `values` encoded as the whole document encodes them, as a JSON array's bytes.
    private static func fragment<T: Encodable>(_ values: [T]) throws(DataError) -> [UInt8] {
        try canonicalJSON(values)
    }

    /// Appends `values` to a JSON array whose earlier elements `out` ends with (one at least): `,` and the elements as
    /// ``fragment(_:)`` encodes them, without its brackets.
    private static func append<T: Encodable>(_ values: [T], to out: inout [UInt8]) throws(DataError) {
        guard !values.isEmpty else { return }
        let array = try fragment(values)
        out.append(UInt8(ascii: ","))
        out += array[1..<(array.count - 1)]
    }

    /// The first index at or after `start` where `needle` occurs in `haystack`.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
