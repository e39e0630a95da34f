import Foundation
import Testing

/// Names and endpoints given on the command line are checked as the wire checks them: blank names, control
/// characters, a header column with spaces around its name, and a missing default catalogue are named, not passed on.
@Suite("Names and paths the commands are given")
struct InputNameTests {
    @Test("a blank key or worker name, and a control character in --broker, are usage errors naming the flag")
    func blankAndControlNames() throws {
        let folder = try TemporaryDirectory("names")
        defer { folder.remove() }
        let blank = try runTool("recpool", ["keygen", "--out", folder.path, "--name", " "])
        #expect(blank.code == 64 && blank.stderr.contains("--name is only white space"), "\(blank.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        let worker = try runTool("recpool-worker", ["--broker", "tcp://127.0.0.1:1", "--id", "  "])
        #expect(worker.code == 64 && worker.stderr.contains("--id is only white space"), "\(worker.stderr)")
        let control = try runTool("recpool", ["status", "--broker", "tcp://127.0.0.1:5555\u{1}"])
        #expect(control.code == 64 && control.stderr.contains("U+0001"), "\(control.stderr)")
        // A negative number is the option's value, refused by name (it was taken for a flag: "Missing value").
        for (option, says) in [("--click", "click must be 0 or 1, got -1"), ("--item", "item must be a catalogue row")] {
            var arguments = ["feedback", "--impression", "X", "--item", "1", "--click", "1"]
            arguments[arguments.firstIndex(of: option)! + 1] = "-1"
            let run = try runTool("recpool", arguments)
            #expect(run.code == 64 && run.stderr.contains(says), "\(option): \(run.stderr)")
        }
        // An item id that looks like a negative number: the refusal says how to pass it as text.
        let retire = try runTool("recpool", ["catalogue", "retire", "-5", "--broker", "tcp://127.0.0.1:1"])
        #expect(retire.code == 64 && retire.stderr.contains("give it after '--', with every option before it"), "\(retire.stderr)")
        // A numeric host needs no lookup, and a closed port is a timeout as before (exit 3), not a usage error.
        let closed = try runTool("recpool", ["status", "--broker", "tcp://127.0.0.1:1", "--timeout-ms", "200"])
        #expect(closed.code == 3, "\(closed.stderr)")
    }

    @Test("a header name with spaces around it is named; schema --infer without a catalogue says to pass one")
    func headerSpacesAndDefaultCatalogue() throws {
        let folder = try DatasetVocabularyTests.shop("spaced-header")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = try String(contentsOfFile: folder + "/logs.csv", encoding: .utf8)
        let header = log.prefix { $0 != "\n" }
        try (header.replacingOccurrences(of: ",device", with: ", device") + log.dropFirst(header.count))
            .write(toFile: folder + "/spaced.csv", atomically: true, encoding: .utf8)
        let spaced = try runTool("recpool", ["data", "describe", folder + "/spaced.csv", "--schema", folder + "/shop.toml"])
        #expect(spaced.code == 2 && spaced.stderr.contains("there is \" device\": remove the spaces"), "\(spaced.stderr)")
        // A name that differs only in case was reported missing, as if the log had no such column.
        try (header.replacingOccurrences(of: ",device", with: ",Device") + log.dropFirst(header.count))
            .write(toFile: folder + "/cased.csv", atomically: true, encoding: .utf8)
        let cased = try runTool("recpool", ["data", "describe", folder + "/cased.csv", "--schema", folder + "/shop.toml"])
        #expect(cased.code == 2 && cased.stderr.contains("there is \"Device\": column names are matched exactly, case included"),
            "\(cased.stderr)")
        let infer = try runTool("recpool", ["data", "schema", "--infer", folder + "/logs.csv"])
        #expect(infer.code == 2 && infer.stderr.contains("pass the shop's item CSV with --catalogue"), "\(infer.stderr)")
    }

    /// A folder given as a key, configuration or model file was "permissions 0755 are too open" or Foundation's
    /// "NSCocoaErrorDomain error 256"; a missing file "could not be completed".
    @Test("a folder or device where a file is read says so, with the operating system's reason")
    func foldersAndDevicesAreNamed() throws {
        let folder = try TemporaryDirectory("not-files")
        defer { folder.remove() }
        let runs: [(String, [String], String)] = [
            ("recpool-worker", ["--broker", "tcp://127.0.0.1:1", "--curve-server-key", folder.path, "--curve-key", folder.path],
             "it is a folder, not a key file"),
            ("recpool-worker", ["--config", folder.path, "--print-config"], "Is a directory"),
            ("recpool-worker", ["--config", "/dev/null", "--print-config"], "it is a device, not a file"),
            ("recpool", ["import", "--model", folder.path, "--broker", "tcp://127.0.0.1:1"], "Is a directory"),
            ("recpool", ["status", "--broker", "tcp://127.0.0.1:1", "--curve-server-key", folder.path + "/none.pub",
                         "--curve-key", folder.path + "/none.key"], "No such file or directory"),
        ]
        for (tool, arguments, says) in runs {
            let run = try runTool(tool, arguments)
            #expect(run.code != 0 && run.stderr.contains(says) && !run.stderr.contains("NSCocoaErrorDomain"),
                    "\(tool) \(arguments): \(run.code) \(run.stderr)")
        }
    }
}
