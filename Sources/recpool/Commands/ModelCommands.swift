import ArgumentParser
import Crypto
import Foundation
import RecClient
import RecConfig
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
        try PathName.validate([(model, "--model")], what: "a checkpoint file")
    }

    /// How the broker's refusal of a file's content begins (`JobCoordinator.importModel`).
    static let contentRefusal = "import needs a checkpoint a scoring replica can serve"


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
            // The advice was "import it without --promote to keep it in the registry", which the broker refuses too:
            // the registry takes a file no replica can serve only as the content of a version it already holds (a
            // DQN job's own checkpoint, imported again to repair its stored copy).
            if promote, let problem = checkpoint.interestModelProblem {
                throw CommandFailure(
                    "\(model): --promote: \(problem), so no replica can serve it, and the registry takes such a file "
                        + "only as a version it already holds (a training job's own checkpoint)", exitCode: .badInput)
            }
            let client = try await connection.connect()
            defer { client.close() }
            // The same content imported again is the version that holds it (one content hash, one version): said so,
            // where "imported version N" read as a new registration each time.
            let sha = DatasetUpload.hex(SHA256.hash(data: data))
            let held = try await client.control(ControlRequest(.models), as: ModelListView.self).models.first {
                $0.checkpointSha256 == sha
            }
            let registered: ModelView
            do {
                registered = try await client.control(ControlRequest(.importModel), bytes: [UInt8](data), as: ModelView.self)
            } catch ClientError.server(.badRequest, let message, _) where message.hasPrefix(Self.contentRefusal) {
                // The broker refuses the file's content (a model no replica serves): named as the file, as the
                // checks above name it, not as a bare BAD_REQUEST. Its other refusals (no --state-dir) are its own.
                throw CommandFailure("\(model): \(message)", exitCode: .badInput)
            }
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
            } else if held?.version == registered.version {
                let unservable = checkpoint.interestModelProblem.map { " (\($0): no replica serves it)" } ?? ""
                CommandOutput.printLine(
                    "version \(registered.version) already holds this checkpoint\(unservable); nothing new is registered, "
                        + "and its stored copy is verified (or repaired)")
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
            // The file keeps the number it was written with (an imported `fit` checkpoint's 1 or --version; a job's
            // 0): said when it is not this version's, so `eval`'s "checkpoint version 5" is not read as registry
            // version 5, another model.
            let written = (try? Checkpoint(decoding: bytes)).map(\.version)
            let note =
                written.map { $0 == 0 || $0 == version ? "" : "; the file itself says version \($0), the number it was "
                    + "written with, not the registry's (recpool models numbers the registry's versions)" } ?? ""
            CommandOutput.printLine("wrote version \(version) to \(out) (\(bytes.count) bytes)\(note)")
        }
    }
}
