import Foundation
import RecTestKit
import Testing

/// The help texts of every program and subcommand, read from ArgumentParser's own description of them.
@Suite("Help texts", .serialized)
struct HelpTextTests {
    /// Every abstract and discussion in a described command tree, with where it is.
    static func texts(_ node: Any, path: String, into out: inout [(String, String)]) {
        if let object = node as? [String: Any] {
            let name = (object["commandName"] as? String).map { path + " " + $0 } ?? path
            for key in ["abstract", "discussion"] {
                if let text = object[key] as? String { out.append((name + " " + key, text)) }
            }
            for (key, value) in object where key != "abstract" && key != "discussion" {
                texts(value, path: name, into: &out)
            }
        } else if let array = node as? [Any] {
            for item in array { texts(item, path: path, into: &out) }
        }
    }

    /// `recpool catalogue --help` had runs of 13 spaces inside sentences (source lines joined without their `\`), as
    /// did `recpool online sync --help`: no help text of any program holds a run of spaces between two words.
    @Test("no help text holds a run of spaces inside a sentence")
    func noSpaceRuns() throws {
        var texts: [(String, String)] = []
        for tool in ["recpool", "recpool-broker", "recpool-worker"] {
            let dump = try runTool(tool, ["--experimental-dump-help"])
            #expect(dump.code == 0, "\(tool): \(dump.stderr)")
            Self.texts(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)), path: tool, into: &texts)
        }
        #expect(texts.count > 100)
        let run = try Regex(#"\S {3,}\S"#)
        for (place, text) in texts {
            for line in text.split(separator: "\n") {
                #expect(line.firstMatch(of: run) == nil, "\(place): \(line)")
            }
        }
    }
}
