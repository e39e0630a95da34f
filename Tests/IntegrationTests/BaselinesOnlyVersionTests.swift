import Foundation
import Testing

/// `recpool simulate --baselines-only` runs no pool: it reports no policy version, never a fake 0.
@Suite("simulate --baselines-only names no version")
struct BaselinesOnlyVersionTests {
    @Test("the JSON's fixed, first, last and window versions are null; text and HTML say none or -")
    func noVersionWithoutAPool() throws {
        let directory = try TemporaryDirectory("baselines-only").url
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = try runTool("recpool", ["simulate", "--baselines-only", "--users", "100", "--windows", "2", "--json"])
        #expect(json.code == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        for key in ["fixed_version", "first_version", "last_version", "ctr"] {
            #expect(object.keys.contains(key) && object[key] is NSNull, "\(key): \(object[key] ?? "missing")")
        }
        let windows = try #require(object["windows"] as? [[String: Any]])
        #expect(windows.count == 2 && windows.allSatisfy { $0["version"] is NSNull })
        let report = directory.appendingPathComponent("report.html").path
        let text = try runTool(
            "recpool", ["simulate", "--baselines-only", "--users", "100", "--windows", "2", "--report", report])
        #expect(text.code == 0, "\(text.stderr)")
        #expect(!text.stdout.contains("fixed v0") && text.stdout.contains("pool: no user served"))
        // The last line says where the report went, as `eval --report` does.
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.last.map(String.init) == "wrote \(report)", "\(text.stdout)")
        let windowLines = lines.dropLast().suffix(2)
        #expect(windowLines.allSatisfy { $0.hasSuffix("-") }, "\(windowLines)")
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("policy versions none (no user served)") && !html.contains("policy versions 0"))
    }

    @Test("fewer users than the default 10 windows: one window per user, not a refusal; too many given is refused")
    func fewUsersDefaultWindows() throws {
        let json = try runTool("recpool", ["simulate", "--baselines-only", "--users", "3", "--json"])
        #expect(json.code == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["windows"] as? [[String: Any]])?.count == 3)
        let refused = try runTool("recpool", ["simulate", "--baselines-only", "--users", "3", "--windows", "4"])
        #expect(refused.code == 64 && refused.stderr.contains("windows must be in 1...3"), "\(refused.stderr)")
    }
}
