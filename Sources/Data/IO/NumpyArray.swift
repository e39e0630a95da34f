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
        let descr = field("descr", in: header)
        let width: Int
        switch descr {
        case "'<f8'": width = 8
        case "'<f4'": width = 4
        default: throw .unsupported(name, "dtype \(descr ?? "missing") (expected '<f8' or '<f4')")
        }
        guard field("fortran_order", in: header) == "False" else { throw .unsupported(name, "Fortran order") }
        guard let shapeText = field("shape", in: header) else { throw .unsupported(name, "header: it has no 'shape'") }
        let entries = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        // Every entry must be a whole number: one that is not was dropped before, and the file was then reported as
        // a size mismatch against a shape it does not have.
        var shape: [Int] = []
        for entry in entries {
            guard let n = Int(entry) else { throw .unsupported(name, "shape (\(shapeText)): '\(entry)' is not a whole number") }
            shape.append(n)
        }
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

    /// The text after `'key':` up to the next top-level comma (a tuple counts as one value).
    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        var depth = 0
        var out = ""
        for ch in header[range.upperBound...] {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if (ch == "," && depth == 0) || ch == "}" { break }
            out.append(ch)
        }
        return out.trimmingCharacters(in: .whitespaces)
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
