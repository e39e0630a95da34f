import Foundation

/// Finds the `null` figures of a JSON document that carry no reason.
///
/// RecPool's rule for its `--json` outputs (docs/OPERATIONS.md, docs/DATA.md): a figure that is undefined is `null`
/// with the reason beside it, either in `KEY_undefined` next to `KEY` or, for a whole object whose figures are all
/// undefined, in that object's `undefined` key. A reason key (`…_undefined`, `undefined`) is itself `null` when its
/// figure is defined, so it is never reported.
public enum NullReasons {
    /// The paths (`segments[1].roc`) of the `null` values in `json` that have no reason beside them, except keys named
    /// in `notApplicable` (figures documented as absent rather than undefined, such as simulator-only ones).
    /// - Parameter json: a document as `JSONSerialization` reads it.
    public static func unexplained(in json: Any, notApplicable: Set<String> = [], path: String = "") -> [String] {
        var found: [String] = []
        if let object = json as? [String: Any] {
            let objectReason = object["undefined"] as? String
            for key in object.keys.sorted() {
                let value = object[key]!
                let here = path.isEmpty ? key : "\(path).\(key)"
                if value is NSNull {
                    let isReason = key == "undefined" || key.hasSuffix("_undefined")
                    let explained = object["\(key)_undefined"] is String || objectReason != nil
                    if !isReason && !explained && !notApplicable.contains(key) { found.append(here) }
                } else {
                    found += unexplained(in: value, notApplicable: notApplicable, path: here)
                }
            }
        } else if let array = json as? [Any] {
            for (index, element) in array.enumerated() {
                found += unexplained(in: element, notApplicable: notApplicable, path: "\(path)[\(index)]")
            }
        }
        return found
    }

    /// ``unexplained(in:notApplicable:path:)`` of `value` encoded as the command line prints it (snake_case keys).
    public static func unexplained<T: Encodable>(encoding value: T, notApplicable: Set<String> = []) throws -> [String] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = try JSONSerialization.jsonObject(with: try encoder.encode(value))
        return unexplained(in: json, notApplicable: notApplicable)
    }
}
