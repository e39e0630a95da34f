import Foundation
import RecModel

/// A dense float64 array in NumPy's `.npy` format (version 1.0/2.0/3.0, C order), as `numpy.save` writes it.
///
/// The format (numpy's `numpy.lib.format`): the magic `\x93NUMPY`, a major and minor version byte, a header
/// length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), a Python-literal header dictionary with
/// `descr`, `fortran_order` and `shape`, then the raw values. Only `<f8` and `<f4` (little-endian float64 and
/// float32) in C order are read; anything else is a typed error. No library for `.npy` is available to the
/// package, and the subset needed is a few lines.
public struct NumpyArray: Sendable, Equatable {
    /// The dimensions, outermost first.
    public var shape: [Int]
    /// The values in C (row-major) order; `values.count == shape.reduce(1, *)`.
    public var values: [Double]

    /// Creates an array; the count must match the shape.
    public init(shape: [Int], values: [Double]) {
        precondition(shape.reduce(1, *) == values.count, "NumpyArray: \(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    /// Reads a `.npy` file.
    /// - Throws: `NumpyArrayError` naming the file and the problem.
    public static func read(path: String) throws(NumpyArrayError) -> NumpyArray {
        let bytes: [UInt8]
        do {
            bytes = try CSVFile.readBytes(path: path)
        } catch {
            // The cause, as every other file a command reads says it ("No such file or directory", "Is a directory").
            throw .unreadable(path, reason: error.description)
        }
        return try decode(bytes, name: path)
    }

    /// Decodes `.npy` bytes; `name` labels errors.
    /// - Throws: `NumpyArrayError`.
    public static func decode(_ bytes: [UInt8], name: String) throws(NumpyArrayError) -> NumpyArray {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw .notNumpy(name) }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .notNumpy(name) }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default: throw .unsupported(name, "format version \(major)")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw .unsupported(
                name,
                "header: it says it is \(headerLength) bytes long, but the file holds \(bytes.count - headerStart) after the "
                    + "header length (a truncated or damaged file)")
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw .unsupported(name, "header: it is not UTF-8 text")
        }
        let parsed: (descr: String, fortranOrder: Bool, shape: [Int])
        do {
            parsed = try Self.header(header)
        } catch {
            throw .unsupported(name, "header: \(error.text)")
        }
        let width: Int
        switch parsed.descr {
        case "<f8": width = 8
        case "<f4": width = 4
        default: throw .unsupported(name, "dtype '\(parsed.descr)' (expected '<f8' or '<f4')")
        }
        guard !parsed.fortranOrder else { throw .unsupported(name, "Fortran order") }
        let shape = parsed.shape
        // The shape is the file's: multiply with overflow reported, so (2³², 2³²) is a size mismatch, not a trap.
        var count: Int? = 1
        for n in shape {
            guard n >= 0, let c = count else { count = nil; break }
            let (product, overflow) = c.multipliedReportingOverflow(by: n)
            count = overflow ? nil : product
        }
        let body = headerStart + headerLength
        guard let count, case let (size, false) = count.multipliedReportingOverflow(by: width), bytes.count - body == size
        else {
            throw .sizeMismatch(name, shape: shape, bytes: bytes.count - body)
        }
        var values = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var bits: UInt64 = 0
            for b in 0..<width { bits |= UInt64(bytes[body + i * width + b]) << (8 * UInt64(b)) }
            values[i] = width == 8 ? Double(bitPattern: bits) : Double(Float(bitPattern: UInt32(bits)))
        }
        return NumpyArray(shape: shape, values: values)
    }

    /// The `.npy` 1.0 bytes of this array as little-endian float64, which `numpy.load` reads; an array holding NaN or
    /// an infinity is refused, so no export is silently full of NaN.
    /// - Parameter path: The file the bytes are for, named in the error.
    /// - Throws: ``NumpyArrayError/notFinite(_:index:value:)`` naming the first value that is not finite.
    public func encoded(path: String) throws(NumpyArrayError) -> [UInt8] {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw .notFinite(path, index: shape.count > 1 ? Self.position(i, in: shape) : [i], value: values[i])
        }
        return encodedUnchecked()
    }

    /// The 0-based position in an array of `shape` of the `flat`-th value (row-major).
    static func position(_ flat: Int, in shape: [Int]) -> [Int] {
        var rest = flat
        var position = [Int](repeating: 0, count: shape.count)
        for d in shape.indices.reversed() where shape[d] > 0 {
            position[d] = rest % shape[d]
            rest /= shape[d]
        }
        return position
    }

    private func encodedUnchecked() -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (\(dims)), }"
        // The values start on a 64-byte boundary; the header ends with a newline (numpy.lib.format).
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        out += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + values.count * 8)
        for v in values {
            let bits = v.bitPattern
            for b in 0..<8 { out.append(UInt8((bits >> (8 * UInt64(b))) & 0xFF)) }
        }
        return out
    }

    /// Why a `.npy` header is not one numpy reads.
    struct HeaderProblem: Error { var text: String }

    /// Reads a `.npy` header: a Python dict literal with exactly the keys `descr` (a string), `fortran_order` (`True`
    /// or `False`) and `shape` (a tuple of whole numbers), each once, then spaces and a newline (numpy's format,
    /// `numpy.lib.format`). numpy refuses any other key, a missing one, or anything but a dict; a key written twice
    /// it reads as its last value, where a looser reading took the first (a file with `'shape': (360, 80, 3),
    /// 'shape': (1, 80, 3)` was evaluated as another array than numpy loads): refused here.
    static func header(_ text: String) throws(HeaderProblem) -> (descr: String, fortranOrder: Bool, shape: [Int]) {
        let c = Array(text.unicodeScalars)
        var i = 0
        func skipSpace() { while i < c.count, c[i] == " " || c[i] == "\t" || c[i] == "\n" || c[i] == "\r" { i += 1 } }
        func expect(_ s: Unicode.Scalar, _ what: String) throws(HeaderProblem) {
            skipSpace()
            guard i < c.count, c[i] == s else { throw HeaderProblem(text: "expected \(what) at character \(i)") }
            i += 1
        }
        func string() throws(HeaderProblem) -> String {
            skipSpace()
            guard i < c.count, c[i] == "'" || c[i] == "\"" else { throw HeaderProblem(text: "expected a quoted string at character \(i)") }
            let quote = c[i]
            var out = ""
            i += 1
            while i < c.count, c[i] != quote {
                guard c[i] != "\\" else { throw HeaderProblem(text: "a string with an escape at character \(i)") }
                out.unicodeScalars.append(c[i])
                i += 1
            }
            guard i < c.count else { throw HeaderProblem(text: "a string that is not closed") }
            i += 1
            return out
        }
        func word() -> String {
            skipSpace()
            var out = ""
            while i < c.count, c[i].properties.isAlphabetic || ("0"..."9").contains(c[i]) {
                out.unicodeScalars.append(c[i])
                i += 1
            }
            return out
        }
        func tuple() throws(HeaderProblem) -> [Int] {
            try expect("(", "'(' opening the shape")
            var values: [Int] = []
            var trailingComma = false
            while true {
                skipSpace()
                if i < c.count, c[i] == ")" { i += 1; break }
                let entry = word()
                guard let n = Int(entry) else {
                    throw HeaderProblem(text: "shape: '\(entry.isEmpty ? String(i < c.count ? Character(c[i]) : " ") : entry)' is not a whole number")
                }
                values.append(n)
                skipSpace()
                if i < c.count, c[i] == "," { i += 1; trailingComma = true; continue }
                trailingComma = false
                try expect(")", "',' or ')' in the shape")
                break
            }
            // `(3)` is the number 3 in Python, not a tuple: numpy refuses it as a shape.
            guard values.count != 1 || trailingComma else { throw HeaderProblem(text: "shape (\(values[0])) is a number, not a tuple; write (\(values[0]),)") }
            return values
        }
        try expect("{", "'{' opening the header's dict")
        var descr: String?
        var fortranOrder: Bool?
        var shape: [Int]?
        while true {
            skipSpace()
            if i < c.count, c[i] == "}" { i += 1; break }
            let key = try string()
            try expect(":", "':' after '\(key)'")
            switch key {
            case "descr":
                guard descr == nil else { throw HeaderProblem(text: "'descr' appears twice") }
                descr = try string()
            case "fortran_order":
                guard fortranOrder == nil else { throw HeaderProblem(text: "'fortran_order' appears twice") }
                switch word() {
                case "True": fortranOrder = true
                case "False": fortranOrder = false
                case let other: throw HeaderProblem(text: "fortran_order is '\(other)', not True or False")
                }
            case "shape":
                guard shape == nil else { throw HeaderProblem(text: "'shape' appears twice") }
                shape = try tuple()
            default:
                throw HeaderProblem(text: "it has the key '\(key)'; a .npy header has only descr, fortran_order and shape")
            }
            skipSpace()
            if i < c.count, c[i] == "," { i += 1; continue }
            try expect("}", "',' or '}' after '\(key)'")
            break
        }
        skipSpace()
        guard i == c.count else { throw HeaderProblem(text: "text after the header's dict at character \(i)") }
        guard let descr else { throw HeaderProblem(text: "it has no 'descr'") }
        guard let fortranOrder else { throw HeaderProblem(text: "it has no 'fortran_order'") }
        guard let shape else { throw HeaderProblem(text: "it has no 'shape'") }
        return (descr, fortranOrder, shape)
    }
}

/// Why a `.npy` file could not be read.
public enum NumpyArrayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is missing or unreadable: `reason` names the path and the operating system's error.
    case unreadable(String, reason: String)
    /// The bytes are not a `.npy` file.
    case notNumpy(String)
    /// A feature this reader does not handle (a dtype, Fortran order, a format version).
    case unsupported(String, String)
    /// The data length does not match the header's shape.
    case sizeMismatch(String, shape: [Int], bytes: Int)
    /// A value to be written is NaN or infinite, at the 0-based `index` (one number per dimension).
    case notFinite(String, index: [Int], value: Double)

    /// A one-line message naming the file.
    public var description: String {
        switch self {
        case .unreadable(_, let reason): return reason
        case .notNumpy(let path): return "\(path): not a .npy file (no \\x93NUMPY header)"
        case .unsupported(let path, let what): return "\(path): unsupported .npy \(what)"
        case .sizeMismatch(let path, let shape, let bytes):
            return "\(path): \(bytes) data bytes do not match shape \(shape)"
        case .notFinite(let path, let index, let value):
            return "\(path): value at index \(index) (0-based) is not a finite number (\(value.isNaN ? "nan" : "\(value)")); "
                + "nothing written"
        }
    }
}
