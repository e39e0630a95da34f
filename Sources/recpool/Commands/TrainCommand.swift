import ArgumentParser
import Crypto
import Foundation
import RecClient
import RecConfig
import RecData
import RecModel
import RecTransport
import RecWire

/// `recpool train`: submits a data-parallel training job to the pool.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Submit a training job: N workers train on shards and average every H local steps.",
        discussion: """
            DATASET is what every command's --dataset is: a built-in name (obd:random/all, \
            synthetic:users=100000,seed=7, …), a shop's CSV log with --schema (or in OBD's layout, detected), or a \
            CSV of numeric features with a `label` column, or the sha256:<hex> name of a feature CSV already uploaded \
            (by the Python client's upload). Local files are uploaded to the broker in checksummed chunks first; a log goes with its catalogue and schema, and the workers split it by time, fit the \
            feature specification on its training part and put it in the model, so promote then recommend work.
            """)

    @OptionGroup var connection: BrokerOptions

    @Option(help: "mlp or dqn.")
    var model = "mlp"

    @Option(help: "A built-in dataset name, a shop's CSV log (with --schema) or a numeric CSV with a label column.")
    var dataset: String

    @Option(help: "A schema (TOML) for a shop's CSV log; its catalogue file is uploaded too (docs/YOUR-DATA.md).")
    var schema: String?

    @Option(name: .customLong("data-dir"), help: "Directory holding obd/, to print a built-in dataset's split.")
    var dataDirectory: String?

    @Option(help: "Passes over each replica's shard.")
    var epochs = 10

    @Option(help: "Rows per local step.")
    var batch = 32

    @Option(help: "Adam learning rate.")
    var lr = 0.001

    @Option(help: "Hidden layer widths, comma-separated (default: d_in,64).")
    var hidden: String?

    @Option(help: "How many workers train.")
    var workers = 1

    @Option(help: "Local steps between averaging rounds (H).")
    var syncEvery = 50

    @Option(help: "Seed for initialisation, split and shuffling.")
    var seed: UInt64 = 0

    @Option(help: "Fraction of a feature matrix's rows held out at random (a log is split by time: refused for one, and for dqn).")
    var validation = FitCommand.defaultValidation

    @Option(help: "A round closes after this many ms with the replicas that answered.")
    var roundTimeoutMs: UInt64 = 30_000

    @Option(help: "DQN: discount γ in [0, 1) (default 0.9; 0 = contextual bandit).")
    var gamma: Double?

    @Option(help: "DQN: final exploration rate ε (ε decays linearly from 1; default 0.05).")
    var epsilonEnd: Double?

    @Option(help: "DQN: environment steps over which ε decays (default: half of each replica's steps).")
    var epsilonDecaySteps: Int?

    @Option(help: "DQN: replay buffer capacity per replica (default 10000).")
    var replayCapacity: Int?

    @Flag(help: "Serve the resulting model once the job completes.")
    var promote = false
    @Flag(
        inversion: .prefixedNo,
        help: "mlp: checkpoint the averaged state with the lowest validation loss (--no-restore-best: the last state).")
    var restoreBest = true

    @Flag(help: "Follow the job's progress until it ends.")
    var follow = false

    @Flag(help: "Machine output: JSON.")
    var json = false

    /// `--hidden` as widths; nil when it is not given.
    private func hiddenSizes() throws(ValidationError) -> [Int]? {
        guard let hidden else { return nil }
        // An empty entry (`4,,4`, a trailing comma) is a typo, never skipped.
        let parts = hidden.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--hidden must be positive integers separated by commas, got \(hidden)")
        }
        return parts.compactMap { $0 }
    }

    /// The job's settings checked as the broker checks them (``TrainJobSpec/problem``), before anything is read or
    /// uploaded, so `--print-config` refuses what a run refuses and a run refuses them before loading its dataset. The
    /// problem names the flag (`--sync-every`, not `sync_every`), so a value from a file or the environment is traced.
    func validate() throws {
        try PathName.validate([(dataDirectory, "--data-dir")], what: "a folder")
        // An empty path was read as a file named "" ("cannot open : No such file", after loading the dataset).
        try PathName.validate([(schema, "--schema")], what: "a file")
        try DatasetName.validate(dataset)
        if model == "dqn" && !dataset.hasPrefix("synthetic:") {
            throw ValidationError("dqn jobs train in the simulator: --dataset must be synthetic:…")
        }
        var spec = TrainJobSpec(
            model: model, dataset: "sha256:" + String(repeating: "0", count: 64), epochs: epochs, batch: batch, lr: lr,
            hidden: try hiddenSizes(), workers: workers, syncEvery: syncEvery, seed: seed, validation: validation,
            promote: promote, roundTimeoutMs: roundTimeoutMs)
        spec.gamma = gamma
        spec.epsilonEnd = epsilonEnd
        spec.epsilonDecaySteps = epsilonDecaySteps
        spec.replayCapacity = replayCapacity
        if !restoreBest { spec.restoreBest = false }
        if let problem = spec.problem { throw ValidationError(Self.flagNames(problem)) }
    }

    /// A job spec's problem with its fields named as this command's flags: `sync_every must be…` → `--sync-every
    /// must be…`, `hidden sizes` → `--hidden sizes`.
    static func flagNames(_ problem: String) -> String {
        let fields = [
            "round_timeout_ms", "epsilon_decay_steps", "epsilon_end", "replay_capacity", "sync_every", "restore_best",
            "validation", "workers", "epochs", "batch", "gamma", "hidden", "model", "promote", "lr",
        ]
        guard let field = fields.first(where: { problem.hasPrefix($0 + " ") }) else { return problem }
        let flag = field == "restore_best" ? "--no-restore-best" : "--" + field.replacingOccurrences(of: "_", with: "-")
        return flag + problem.dropFirst(field.count)
    }

    func run() async throws {
        try await reportingFailures {
            let hiddenSizes = try hiddenSizes()
            let local = try resolveLocally()  // before connecting: a bad dataset is reported at once
            let client = try await connection.connect()
            defer { client.close() }
            var name = dataset
            var logSchema: String? = nil
            var catalogue: String? = nil
            if let files = local {
                name = "sha256:" + (try await DatasetUpload.upload(path: files.log, client: client))
                catalogue = "sha256:" + (try await DatasetUpload.upload(path: files.catalogue, client: client))
                logSchema = files.schemaText
            } else if !dataset.hasPrefix("sha256:"), FileManager.default.fileExists(atPath: dataset) {
                name = "sha256:" + (try await DatasetUpload.upload(path: dataset, client: client))
            }
            var spec = TrainJobSpec(
                model: model, dataset: name, epochs: epochs, batch: batch, lr: lr, hidden: hiddenSizes, workers: workers,
                syncEvery: syncEvery, seed: seed, validation: validation, promote: promote, roundTimeoutMs: roundTimeoutMs)
            spec.gamma = gamma
            spec.epsilonEnd = epsilonEnd
            spec.epsilonDecaySteps = epsilonDecaySteps
            spec.replayCapacity = replayCapacity
            spec.schema = logSchema
            spec.catalogue = catalogue
            if !restoreBest { spec.restoreBest = false }
            if let problem = spec.problem { throw CommandFailure(problem, exitCode: .usage) }
            let job = try await client.control(ControlRequest(.train, train: spec), as: JobView.self)
            if follow {
                try await JobFollower.follow(job.job, client: client, json: json)
            } else if json {
                CommandOutput.printLine(try JSONOutput.encode(job))
            } else {
                CommandOutput.printLine(job.job)
            }
        }
    }
}

extension TrainCommand {
    /// Resolves the dataset as every command does and prints its kind and split; returns the files to upload for a
    /// log read from disk (`nil` for a built-in name or a feature matrix). A built-in name the client cannot read
    /// (the workers hold the data) is passed on without a split line.
    func resolveLocally() throws -> DatasetResolver.LogFiles? {
        // An upload's name (`sha256:<hex>`, which `recpool upload` and the Python client's `upload` print) is passed on
        // as it is, as PROTOCOL.md's train spec takes it: the broker holds the bytes. A log under it needs its catalogue
        // too, which only a local file names (--schema).
        if dataset.hasPrefix("sha256:") {
            let hex = dataset.dropFirst("sha256:".count)
            guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw CommandFailure(
                    "--dataset: \(dataset) is not sha256: and 64 lowercase hexadecimal digits", exitCode: .usage)
            }
            guard schema == nil else {
                throw CommandFailure(
                    "--schema reads a log and its catalogue from files: give the log's path, not its upload's name",
                    exitCode: .usage)
            }
            return nil
        }
        let isFile = !(dataset.hasPrefix("obd:") || dataset.hasPrefix("synthetic"))
        // A name that does not parse (`synthetic:foo=1`, `obd:random/nope`) is a usage error here, as `fit` and `eval`
        // report it, never a request the broker answers BAD_REQUEST.
        var specifier: DatasetSpecifier? = nil
        if !isFile {
            do {
                specifier = try DatasetSpecifier(parsing: dataset)
            } catch {
                throw CommandFailure("--dataset: \(error)", exitCode: .usage)
            }
        }
        if model == "dqn" {
            if validation != FitCommand.defaultValidation {
                throw CommandFailure(
                    "--validation holds out rows of a feature matrix for an mlp job; a dqn job trains in the simulator",
                    exitCode: .usage)
            }
            return nil
        }
        var options = try DatasetOptions.parse([dataset])
        options.dataDirectory = dataDirectory
        options.schema = schema
        if let specifier, schema == nil {
            try refuseValidationForLogs()
            // A simulated log's split follows from its row count; there is no need to simulate it here.
            if case .synthetic(_, let rows, _) = specifier {
                DatasetOptions.announce(dataset, kind: .synthetic, sizes: DatasetSplit.standard.sizes(rows: rows))
                return nil
            }
            guard let resolved = try? options.resolver().resolve(dataset), case .logs(let data, let kind, _) = resolved
            else { return nil }
            DatasetOptions.announce(dataset, kind: kind, sizes: data.sizes)
            try Self.check(data, name: dataset)
            return nil
        }
        let resolved = try options.resolve()
        if case .logs = resolved { try refuseValidationForLogs() }
        if case .matrix(let path) = resolved {
            // Refused here, naming the file, before the upload: no rows, no feature column, a repeated column name.
            let data = try NumericCSV.read(path: path, headerRequired: true).labeledData()
            // A model too large for the file's width, with fit's check and message: it was submitted and failed on the
            // worker.
            if let problem = MLP.sizeProblem(inputWidth: data.inputs.cols, hiddenSizes: try hiddenSizes()) {
                throw CommandFailure("\(dataset): \(problem) (--hidden)", exitCode: .usage)
            }
            return nil
        }
        guard case .logs(let data, _, let files) = resolved else { return nil }
        try Self.check(data, name: dataset)  // before the upload, naming the file
        return files
    }

    /// Refuses `--validation` set for a log, which is split by time whatever it says (``FitCommand/logValidationRefusal``).
    func refuseValidationForLogs() throws {
        if validation != FitCommand.defaultValidation {
            throw CommandFailure(FitCommand.logValidationRefusal, exitCode: .usage)
        }
    }

    /// Refuses a log whose training part is empty and warns when it has no click, before anything is uploaded.
    /// - Throws: ``RecData/FeatureSpecError/emptyTrainingPart(log:fraction:rows:needed:)``.
    static func check(_ data: SplitDataset, name: String) throws(FeatureSpecError) {
        try data.requireTrainingRows(name: name)
        if let warning = data.noPositiveWarning(name: name) { CommandOutput.printError(warning) }
    }
}

/// Uploads a local file to the broker in checksummed 1 MiB chunks.
enum DatasetUpload {
    static func upload(path: String, client: RecPoolClient) async throws -> String {
        try await upload(bytes: try FileProblem.read(path), named: path, client: client)
    }

    /// Uploads bytes already read from `path` (a file read once, so a pipe is not read twice); `path` names the upload.
    static func upload(bytes: [UInt8], named path: String, client: RecPoolClient) async throws -> String {
        let sha = hex(SHA256.hash(data: bytes))
        let chunkSize = 1 << 20
        var offset = 0
        repeat {
            let chunk = Array(bytes[offset..<min(offset + chunkSize, bytes.count)])
            let request = ControlRequest(
                .upload,
                upload: UploadChunk(
                    sha256: sha, name: (path as NSString).lastPathComponent, totalBytes: bytes.count, offset: offset,
                    chunkSha256: hex(SHA256.hash(data: chunk))))
            let answer = try await client.control(request, bytes: chunk, as: [String: Bool].self)
            offset += chunk.count
            if answer["complete"] == true { break }
        } while offset < bytes.count
        return sha
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
