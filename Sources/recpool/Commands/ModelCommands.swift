import ArgumentParser
import Foundation
import RecModel
import RecTransport
import RecWire

/// `recpool models`: the registered model versions.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "List registered model versions.")

    @OptionGroup var connection: BrokerOptions

    @Flag(help: "Machine output: {\"models\": [...]}.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let list = try await client.control(ControlRequest(.models), as: ModelListView.self)
            if json {
                CommandOutput.printLine(try JSONOutput.encode(list))
                return
            }
            guard !list.models.isEmpty else {
                CommandOutput.printLine(
                    "no model version is registered (recpool import registers a checkpoint; a training job registers its model)")
                return
            }
            CommandOutput.printLine("VERSION  JOB        PROMOTED  METRICS")
            for model in list.models {
                let measured = model.metrics ?? [:]
                let metrics = Self.headline(measured.keys).map {
                    "\($0)=\(JobFollower.metric($0, measured[$0] ?? nil, among: measured))"
                }
                // An imported checkpoint has no job and so no metrics: said, never a blank cell.
                let shown =
                    metrics.isEmpty
                    ? (model.job == nil ? "none (no training job)" : "none (its job measured none)") : metrics.joined(separator: " ")
                CommandOutput.printLine(
                    "\(String(model.version).padded(8)) \((model.job ?? "imported").padded(10)) \((model.promoted ? "yes" : "").padded(9)) \(shown)")
            }
        }
    }
}

extension ModelsCommand {
    /// The metrics the table's one cell has room for: the model's validation log-loss beside the constant
    /// predictor's and the verdict, then the AUC (the figures `recpool fit` reports first), then any others by name
    /// (a DQN's); four at most. `--json` lists every metric.
    static func headline(_ names: some Collection<String>) -> [String] {
        let first = ["log_loss", "constant_log_loss", "beats_constant", "auc"]
        let present = Set(names)
        return Array((first.filter(present.contains) + names.filter { !first.contains($0) }.sorted()).prefix(4))
    }
}

/// `recpool promote VERSION`: sets the version scoring uses; every replica loads it.
struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "promote", abstract: "Serve a model version on every replica.")

    @OptionGroup var connection: BrokerOptions

    @Argument(help: "The model version.", transform: VersionNumber.parse)
    var version: UInt64

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let model = try await client.control(ControlRequest(.promote, version: version), as: ModelView.self)
            CommandOutput.printLine("promoted version \(model.version)")
        }
    }
}

/// `recpool rollback`: goes back to the previously promoted version.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Serve the previously promoted version again.")

    @OptionGroup var connection: BrokerOptions

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let model = try await client.control(ControlRequest(.rollback), as: ModelView.self)
            CommandOutput.printLine("rolled back to version \(model.version)")
        }
    }
}

/// The reply to `models`, as the command line decodes it.
struct ModelListView: Codable {
    var models: [ModelView]
}

/// `recpool import`: registers a checkpoint written by `recpool fit` as a new model version.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Register a checkpoint from `recpool fit` as a new model version.")

    @OptionGroup var connection: BrokerOptions

    @Option(help: "The checkpoint file.")
    var model: String

    @Flag(help: "Serve it on every replica at once.")
    var promote = false

    func validate() throws {
        try PathOption.validateNamed([(model, "--model")], what: "a checkpoint file")
    }

    func run() async throws {
        try await reportingFailures {
            // Checked here, as `catalogue upload` checks its file: a damaged checkpoint is named as the file it is
            // (exit 2), not as "frame 2" in the broker's refusal, nor hidden behind an unreachable broker. Its header
            // is checked before the file is read (a 3 GB file is refused from its first bytes, never read whole).
            let data: Data
            let checkpoint: Checkpoint
            do throws(CheckpointError) {
                let decoded = try Checkpoint.decodeFile(model)
                (data, checkpoint) = (Data(decoded.bytes), decoded.checkpoint)
            } catch {
                throw CommandFailure(error.description, exitCode: .badInput)
            }
            // A model no replica can serve (a DQN) is refused --promote before anything is stored: the import went
            // through and the advice "promote once the cause is fixed" could never be followed.
            if promote, let problem = checkpoint.interestModelProblem {
                throw CommandFailure(
                    "\(model): --promote: \(problem), so no replica can serve it; import it without --promote to keep it "
                        + "in the registry", exitCode: .badInput)
            }
            let client = try await connection.connect()
            defer { client.close() }
            let registered = try await client.control(ControlRequest(.importModel), bytes: [UInt8](data), as: ModelView.self)
            if promote {
                do {
                    _ = try await client.control(ControlRequest(.promote, version: registered.version), as: ModelView.self)
                } catch {
                    // The import is stored: say so, with its number, before the promotion's own error.
                    CommandOutput.printError(
                        "recpool: imported version \(registered.version), but promoting it failed (run "
                            + "`recpool promote \(registered.version)` once the cause below is fixed)")
                    throw error
                }
                CommandOutput.printLine("imported and promoted version \(registered.version)")
            } else {
                CommandOutput.printLine("imported version \(registered.version)")
            }
        }
    }
}

/// `recpool pull VERSION --out FILE`: downloads a registered version's checkpoint.
struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Download a registered model version's checkpoint file.")

    @OptionGroup var connection: BrokerOptions

    @Argument(help: "The model version.", transform: VersionNumber.parse)
    var version: UInt64

    @Option(help: "Where to write the checkpoint.")
    var out: String

    func validate() throws {
        try PathOption.validateOutputs([(out, "--out")])
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let (_, bytes) = try await client.fetchModel(version: version)
            try FileProblem.write(Data(bytes), to: out)
            CommandOutput.printLine("wrote version \(version) to \(out) (\(bytes.count) bytes)")
        }
    }
}
