import Foundation
import RecTestKit
import Testing

/// `--print-config` output saved as a file loads back, at every option's extreme values, on real processes.
@Suite("Printed configurations load back at extreme values", .serialized)
struct PrintConfigRoundTripTests {
    /// The `key = value` part of each line of a report, by key (set keys only).
    static func assignments(_ report: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in report.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let equals = line.range(of: " = ") else { continue }
            let key = String(line[..<equals.lowerBound])
            let value = line[equals.upperBound...].split(separator: "#", maxSplits: 1).first ?? ""
            out[key] = value.trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// Every key of a report, set or not (`# key is not set`).
    static func keys(_ report: String) -> [String] {
        report.split(separator: "\n").compactMap { line in
            if line.hasPrefix("# "), line.hasSuffix(" is not set") {
                return String(line.dropFirst(2).dropLast(" is not set".count))
            }
            guard !line.hasPrefix("["), let equals = line.range(of: " = ") else { return nil }
            return String(line[..<equals.lowerBound])
        }
    }

    /// `recpool-worker --print-config --seed 18446744073709551615 > w.toml; recpool-worker --config w.toml
    /// --print-config` failed (TOMLKit reads integers as 64-bit signed), as did several broker options, and a float
    /// given as a huge whole number was printed as an integer literal. Every value an option accepts is printed so
    /// that it loads back to the same line.
    @Test("every option of the broker and the worker given an extreme value prints a file that loads back the same",
        arguments: ["recpool-broker", "recpool-worker"])
    func extremeValuesLoadBack(tool: String) throws {
        let directory = try TrainingTests.makeDirectory("print-config-extremes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let defaults = try runTool(tool, ["--print-config"])
        #expect(defaults.code == 0, "\(defaults.stderr)")
        let booleans = Set(Self.assignments(defaults.stdout).filter { $0.value == "true" || $0.value == "false" }.keys)
        let saved = directory.appendingPathComponent("saved.toml").path
        var accepted = 0
        for key in Self.keys(defaults.stdout) where !booleans.contains(key) {
            for extreme in ["18446744073709551615", "100000000000000000000000", "1e300"] {
                let first = try runTool(tool, ["--\(key)=\(extreme)", "--print-config"])
                guard first.code == 0 else { continue }  // out of the option's range: refused, nothing to load
                accepted += 1
                try Data(first.stdout.utf8).write(to: URL(fileURLWithPath: saved))
                let again = try runTool(tool, ["--config", saved, "--print-config"])
                #expect(again.code == 0, "\(tool) --\(key) \(extreme): \(again.stderr)\n\(first.stdout)")
                #expect(
                    Self.assignments(again.stdout)[key] == Self.assignments(first.stdout)[key],
                    "\(tool) --\(key) \(extreme): \(again.stdout)")
            }
        }
        #expect(accepted > 0)
    }
}
