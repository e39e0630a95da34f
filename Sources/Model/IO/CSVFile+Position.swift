extension CSVFile {
    /// Where byte `index` of `bytes` is, as an error names it: the 1-based line, lines ending in `\n`, `\r\n` or a
    /// lone `\r` as the reader ends records, and the 1-based column in Unicode scalars (each byte that does not
    /// continue a UTF-8 sequence starts one).
    static func position<Bytes: Collection<UInt8>>(of index: Bytes.Index, in bytes: Bytes) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var cursor = bytes.startIndex
        while cursor < index {
            let byte = bytes[cursor]
            let next = bytes.index(after: cursor)
            switch byte {
            case 0x0A:
                line += 1
                column = 1
            case 0x0D:
                // `\r\n` is one line end, counted at its `\n`.
                if next == bytes.endIndex || bytes[next] != 0x0A {
                    line += 1
                    column = 1
                }
            default:
                if byte & 0xC0 != 0x80 { column += 1 }
            }
            cursor = next
        }
        return (line, column)
    }

    /// The index of the first byte of `bytes` that does not begin a valid UTF-8 scalar, or nil when all of it is UTF-8.
    static func firstInvalidUTF8<Bytes: Collection<UInt8>>(in bytes: Bytes) -> Bytes.Index? {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar):
                offset += scalar.count
            case .emptyInput:
                return nil
            case .error:
                return bytes.index(bytes.startIndex, offsetBy: offset)
            }
        }
    }
}
