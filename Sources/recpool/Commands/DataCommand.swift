import ArgumentParser
import Foundation
import RecConfig
import RecData
import RecTransport

/// `recpool data`: local tools for the datasets (no pool needed).
struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Describe datasets and run off-policy evaluation on them.",
        subcommands: [DataDescribeCommand.self, DataOPECommand.self, DataFeaturesCommand.self, DataSchemaCommand.self])
}

/// Flags shared by the data commands.
struct DatasetOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The dataset, as --dataset gives it (give one of the two).", valueName: "dataset"))
    var positionalDataset: String?

    @Option(
        name: .customLong("dataset"),
        help:
            "obd:POLICY/CAMPAIGN (e.g. obd:random/all), synthetic:users=N,seed=S[,items=,rows=,policy=], or a CSV log (with --schema, or in OBD's layout)."
    )
    var datasetOption: String?

    /// Whether `--dataset` was typed on the command line, rather than set by `RECPOOL_DATASET` or a configuration
    /// file's `[client]` table (which reach the parser as a `--dataset` placed before the user's own arguments).
    static var datasetTyped: Bool {
        CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains { $0 == "--dataset" || $0.hasPrefix("--dataset=") }
    }

    /// The dataset: `--dataset NAME` or the positional `NAME` (``validate()`` ensures exactly one was typed). The
    /// command line wins over the environment and the file, the positional form as much as the flag.
    var dataset: String {
        if let positionalDataset, !Self.datasetTyped { return positionalDataset }
        return datasetOption ?? positionalDataset ?? ""
    }

    /// Requires the dataset exactly once on the command line: as `--dataset NAME` or as the first argument.
    /// - Throws: `ValidationError` (exit 64) naming `--dataset` when it is missing or given twice.
    func validate() throws {
        // An empty --data-dir (an unset variable) was read as `/` (its obd/ child, `/obd`).
        try PathName.validate([(dataDirectory, "--data-dir")], what: "a folder")
        // An empty path was read as a file named "" ("cannot open : No such file", after loading the dataset).
        try PathName.validate([(schema, "--schema")], what: "a file")
        switch (positionalDataset, datasetOption) {
        case (nil, nil):
            throw ValidationError("missing --dataset NAME (or the dataset as the first argument)")
        case (_, _) where DatasetName.problem(dataset) != nil:
            throw ValidationError(DatasetName.problem(dataset) ?? "")
        case (.some, .some) where !Self.datasetTyped:
            return
        case (let positional?, let option?):
            throw ValidationError(
                "the dataset is given twice (\"\(positional)\" and --dataset \"\(option)\"): give it once, with --dataset")
        default:
            return
        }
    }

    @Option(
        name: .customLong("data-dir"),
        help: "Directory holding obd/ (default: data/ in the current directory or a parent).")
    var dataDirectory: String?

    /// The `obd` directory for `--data-dir` (``OBDDirectory/locate(dataDirectory:currentDirectory:)``).
    func obdDirectory() -> String { OBDDirectory.locate(dataDirectory: dataDirectory) }

    @Option(help: "A schema (TOML) naming the roles of a shop's log columns and its catalogue (docs/YOUR-DATA.md).")
    var schema: String?

    /// The resolver every command uses.
    func resolver() -> DatasetResolver { DatasetResolver(obdDirectory: obdDirectory()) }

    /// Resolves the dataset to logged impressions split by time, printing its kind and split sizes on stderr.
    /// A `DataError` is printed and exits ``ExitStatus/badInput`` (``ExitStatus/usage`` for a specification that
    /// does not parse).
    func logs() throws -> SplitDataset {
        let (data, kind) = try Self.reporting(dataset) { () throws(DataError) in
            try resolver().logs(dataset, schemaPath: schema)
        }
        Self.announce(dataset, kind: kind, sizes: data.sizes)
        return data
    }

    /// Resolves the dataset to any kind (logs or a feature matrix), printing its kind (and split) on stderr.
    func resolve() throws -> DatasetResolver.Resolved {
        let resolved = try Self.reporting(dataset) { () throws(DataError) in
            try resolver().resolve(dataset, schemaPath: schema)
        }
        if case .logs(let data, let kind, _) = resolved { Self.announce(dataset, kind: kind, sizes: data.sizes) }
        if case .matrix = resolved { CommandOutput.printError("dataset \(dataset): \(resolved.kind.rawValue)") }
        return resolved
    }

    /// All rows of the logged dataset (`loadtest` draws from every row).
    func load() throws -> BanditDataset { try logs().all }

    /// The line every command prints for a logged dataset: its kind and the split by time.
    static func announce(_ name: String, kind: DatasetResolver.Kind, sizes: DatasetSplit.Sizes) {
        CommandOutput.printError("dataset \(name): \(kind.rawValue); \(sizes)")
    }

    /// Runs `body`, turning a `DataError` into a message and an exit status.
    static func reporting<T>(_ dataset: String, _ body: () throws(DataError) -> T) throws -> T {
        do {
            return try body()
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
