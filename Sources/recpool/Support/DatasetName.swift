import ArgumentParser
import Foundation
import RecData

/// The one parse-time check of a dataset name, for every command that takes `--dataset` (or the dataset as its first
/// argument): a built-in name (`obd:…`, `synthetic:…`) must parse and an upload's name (`sha256:…`) must be 64
/// lowercase hex digits. A file is checked when it is read.
///
/// It was checked only when the dataset was loaded: `--print-config` printed `synthetic:users=abc` and exited 0,
/// `loadtest` connected first and exited 3, and the message named neither `--dataset` nor where the value came from.
/// A `ValidationError` naming `--dataset` exits 64 and gets its note ("--dataset came from environment
/// RECPOOL_DATASET").
enum DatasetName {
    /// Why `name` is no dataset, naming `flag`, or nil.
    static func problem(_ name: String, flag: String = "--dataset") -> String? {
        if name.hasPrefix("sha256:") {
            let hex = name.dropFirst("sha256:".count)
            guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                return "\(flag): \(name) is not sha256: and 64 lowercase hexadecimal digits"
            }
            return nil
        }
        // The resolver's own test: `synthetic_clicks.tsv` is a file, not a synthetic dataset's name.
        guard name.hasPrefix("obd:") || name.hasPrefix("synthetic:") || name == "synthetic" else {
            // As the resolver judges it: a word that names no file and looks like no path is a misspelt name.
            if !FileManager.default.fileExists(atPath: name) && !name.contains("/") && !name.contains(".") {
                return "\(flag): '\(name)': expected obd:POLICY/CAMPAIGN, synthetic:KEY=VALUE,… or a CSV file"
            }
            return nil
        }
        do {
            _ = try DatasetSpecifier(parsing: name)
            return nil
        } catch {
            return "\(flag): \(error)"
        }
    }

    /// Throws ``problem(_:flag:)`` as a `ValidationError` (exit 64).
    static func validate(_ name: String?, flag: String = "--dataset") throws {
        if let name, let problem = problem(name, flag: flag) { throw ValidationError(problem) }
    }
}
