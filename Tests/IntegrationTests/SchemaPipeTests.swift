import Foundation
import Testing

/// A schema given through a pipe (`--schema <(…)`) is read once, by the command: the check that outputs do not
/// overwrite inputs must not read it first and leave the command an empty file.
@Suite("A schema read from a pipe")
struct SchemaPipeTests {
    /// Runs `script` with `bash -c` in `folder`, the built `recpool` first on the PATH; returns the exit code and
    /// standard error.
    static func bash(_ script: String, in folder: String) throws -> (code: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = ProcessCluster.executable("recpool").deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "")
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    @Test("data describe, data features, fit, eval and data ope take --schema <(cat shop.toml)")
    func schemaThroughAPipe() throws {
        let folder = try DatasetVocabularyTests.shop("schema-pipe")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Through a pipe the schema has no folder of its own: it names its catalogue by an absolute path.
        let schema = try String(contentsOfFile: folder + "/shop.toml", encoding: .utf8)
            .replacingOccurrences(of: "file = \"catalogue.csv\"", with: "file = \"\(folder)/catalogue.csv\"")
        #expect(schema.contains(folder + "/catalogue.csv"), "\(schema)")
        try schema.write(toFile: folder + "/absolute.toml", atomically: true, encoding: .utf8)
        let commands = [
            "recpool data describe logs.csv --schema <(cat absolute.toml)",
            "recpool data features --dataset logs.csv --schema <(cat absolute.toml) --out features.csv",
            "recpool fit --dataset logs.csv --schema <(cat absolute.toml) --epochs 1 --out m.ckpt",
            "recpool eval --model m.ckpt --dataset logs.csv --schema <(cat absolute.toml)",
            "recpool data ope --dataset logs.csv --schema <(cat absolute.toml)",
        ]
        for command in commands {
            let run = try Self.bash(command, in: folder)
            #expect(run.code == 0, "\(command): \(run.stderr)")
        }
        #expect(FileManager.default.fileExists(atPath: folder + "/features.csv"))
    }
}
