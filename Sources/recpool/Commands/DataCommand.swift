import ArgumentParser
import Foundation
import RecData
import RecTransport

/// `recpool data`: local tools for the datasets (no pool needed).
struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Describe datasets and run off-policy evaluation on them.",
        subcommands: [DataDescribeCommand.self, DataOPECommand.self, DataFeaturesCommand.self])
}

/// Flags shared by the data commands.
struct DatasetOptions: ParsableArguments {
    @Argument(
        help:
            "obd:POLICY/CAMPAIGN (e.g. obd:random/all), synthetic:users=N,seed=S[,items=,rows=,policy=] or a .csv path."
    )
    var dataset: String

    @Option(
        name: .customLong("data-dir"),
        help: "Directory holding obd/ (default: data/ in the current directory or a parent).")
    var dataDirectory: String?

    /// The `obd` directory: `--data-dir` (or its `obd/` child), else the nearest `data/obd` above the current directory.
    func obdDirectory() -> String {
        let fm = FileManager.default
        if let dir = dataDirectory {
            return fm.fileExists(atPath: dir + "/obd") ? dir + "/obd" : dir
        }
        var url = URL(fileURLWithPath: fm.currentDirectoryPath)
        while url.path != "/" {
            if fm.fileExists(atPath: url.appendingPathComponent("data/obd").path) {
                return url.appendingPathComponent("data/obd").path
            }
            url.deleteLastPathComponent()
        }
        return "data/obd"
    }

    /// Loads the dataset, printing a `DataError` and exiting ``ExitStatus/badInput`` on failure (``ExitStatus/usage``
    /// for a specification that does not parse).
    func load() throws -> BanditDataset {
        do {
            return try DatasetSpecifier(parsing: dataset).load(obdDirectory: obdDirectory())
        } catch {
            var message = "recpool: \(error.description)"
            if case .file(let file) = error, file.isFileNotFound, dataset.hasPrefix("obd:") {
                message += " (run scripts/fetch-obd, or pass --data-dir)"
            }
            CommandOutput.printError(message)
            if case .invalidSpecification = error { throw ExitStatus.usage.exitCode }
            throw ExitStatus.badInput.exitCode
        }
    }
}
