import Foundation
import RecTestKit
import Testing

/// The `--help` of every program and subcommand, on real processes.
@Suite("Help texts", .serialized)
struct HelpTextTests {
    /// The subcommand names a help text lists under SUBCOMMANDS.
    static func subcommands(_ help: String) -> [String] {
        guard let start = help.range(of: "SUBCOMMANDS:") else { return [] }
        return help[start.upperBound...].split(separator: "\n").prefix { !$0.isEmpty && $0.hasPrefix(" ") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0 != "help" && !$0.hasPrefix("(") }
    }

    /// `recpool catalogue --help` had runs of 13 spaces inside sentences (source lines joined without their `\`):
    /// no help text holds a run of spaces between two words of a sentence.
    @Test("no help text holds a run of spaces inside a sentence")
    func noSpaceRuns() throws {
        var helps: [(String, String)] = []
        for tool in ["recpool-broker", "recpool-worker"] {
            helps.append((tool, try runTool(tool, ["--help"]).stdout))
        }
        let top = try runTool("recpool", ["--help"]).stdout
        helps.append(("recpool", top))
        for command in Self.subcommands(top) {
            let help = try runTool("recpool", [command, "--help"]).stdout
            helps.append((command, help))
            for sub in Self.subcommands(help) {
                helps.append(("\(command) \(sub)", try runTool("recpool", [command, sub, "--help"]).stdout))
            }
        }
        #expect(helps.count > 20)
        let run = try Regex(#"[a-z,.;:)] {4,}[a-z(]"#)
        for (name, help) in helps {
            for line in help.split(separator: "\n") {
                let text = line.drop { $0 == " " }
                // An option's line aligns its help in a column after the option's name.
                if text.hasPrefix("-") || text.hasPrefix("<") { continue }
                #expect(text.firstMatch(of: run) == nil, "\(name): \(line)")
            }
        }
    }
}
