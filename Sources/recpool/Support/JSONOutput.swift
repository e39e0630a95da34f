import Foundation
import RecWire

/// Encodes `--json` output with snake_case keys, sorted, one line; a key with no value is `null`.
enum JSONOutput {
    /// The JSON text of `value`.
    /// - Throws: ``CommandFailure`` with ``ExitStatus/notFinite`` when the value holds NaN or an infinity (JSON has
    ///   no such numbers; the encoder's message names the key path), so a command never prints `{}` in its place.
    static func encode<T: Encodable>(_ value: T) throws(CommandFailure) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try NullEncoding.encode(value, with: encoder), as: UTF8.self)
        } catch let EncodingError.invalidValue(value, context) {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            throw CommandFailure(
                "cannot print JSON: \(path.isEmpty ? "a value" : path) is \(value), which JSON cannot hold",
                exitCode: .notFinite)
        } catch {
            throw CommandFailure("cannot print JSON: \(error)", exitCode: .failed)
        }
    }
}
