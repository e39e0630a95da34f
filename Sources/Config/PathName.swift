import ArgumentParser
import Foundation

/// The check every command makes of an option that names a file or folder, before it reads or writes anything: an
/// empty or blank value was read as a file named "" (`recpool-broker: : cannot read`, `cannot open : No such file`
/// after loading a dataset), far from the flag that gave it.
public enum PathName {
    /// Why `path` (the value of `flag`) names nothing, or nil: it is empty or only white space.
    /// - Parameter what: what the option must name, for the message (`"a file"`, `"a folder"`).
    public static func problem(_ path: String, flag: String, what: String) -> String? {
        path.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            ? "\(flag) must name \(what), got \(path.isEmpty ? "an empty string" : "only white space")" : nil
    }

    /// Throws a `ValidationError` (exit 64) for the first of `paths` (an option's value, nil when not given, and its
    /// flag) that names nothing (``problem(_:flag:what:)``).
    public static func validate(_ paths: [(path: String?, flag: String)], what: String) throws {
        for case let (path?, flag) in paths {
            if let problem = problem(path, flag: flag, what: what) { throw ValidationError(problem) }
        }
    }
}
