import ArgumentParser
import Foundation
import RecClient
import RecData
import RecModel
import RecPolicy
import RecTransport
import RecWire

/// `recpool data ope DATASET [--policy uniform|popular | --model F.ckpt | --version N | --online [--online-version N]
/// | --action-dist F.npy]`:
/// off-policy value of a candidate policy on logged data.
struct DataOPECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ope",
        abstract: "Estimate a candidate policy's value on logged data with DM, IPW, SNIPW and DR, split cold/warm.",
        discussion: """
            The candidate is one of: --policy uniform|popular; --model (a checkpoint's greedy, or ε-greedy with \
            --epsilon, policy at each row's logged slot); --version (the same for a registered model version, \
            fetched from the broker); --online (the online policy version the broker serves, or with --online-version N an earlier \
            version it accepted); --action-dist (a .npy float64 array of shape rows × items × positions, \
            Open Bandit Pipeline's action_dist, for the rows of --split in time order). The logging policy's \
            propensities come from the logs. The effective sample size is always printed, with a warning below 100.
            """)

    @OptionGroup var options: DatasetOptions

    @Option(help: "uniform, or popular (always the training split's most clicked item; items tied for the most clicks share the choice equally); the default candidate.")
    var policy: String?

    @Option(help: "A checkpoint with its feature spec: evaluate its greedy (or --epsilon) policy.")
    var model: String?

    @Option(help: "A registered model version: fetched from --broker, evaluated like --model.", transform: VersionNumber.parse)
    var version: UInt64?

    @Flag(
        help: """
            The online policy version the pool at --broker serves now: its first-slot exploration distribution, \
            evaluated on the rows logged in the first slot only (the logs' items must be its catalogue).
            """)
    var online = false

    @Option(
        name: .customLong("online-version"),
        help: """
            With --online (implied): this online policy version, one the pool accepted and stored, instead of the \
            one it serves now.
            """, transform: VersionNumber.parse)
    var onlineVersion: UInt64?

    /// Whether the candidate is an online policy version (`--online`, `--online-version` or both).
    private var onlineCandidate: Bool { online || onlineVersion != nil }

    @Option(
        name: .customLong("action-dist"),
        help: "A .npy float64 array (rows, items, positions): the candidate's probability of each item at each slot.")
    var actionDist: String?

    @Option(help: "With --model or --version: ε of an ε-greedy policy around the model's best item (0: greedy).")
    var epsilon: Double = 0

    @Option(help: "Rows to estimate on: all (default), train, validation or test (the split by time: 60/10/30%).")
    var split: String = "all"

    @Option(help: "Bootstrap resamples for the confidence intervals.")
    var resamples: Int = 1_000

    @Option(
        name: .customLong("rewards-out"),
        help: "Also write the reward model's q̂ (rows × items, at each row's logged slot) as a .npy file.")
    var rewardsOut: String?

    @Option(
        name: .customLong("policy-out"),
        help: "Also write the candidate's probabilities at each row's logged slot (rows × items) as a .npy file.")
    var policyOut: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var connection: BrokerOptions

    func validate() throws {
        try PathOption.validateOutputs([(rewardsOut, "--rewards-out"), (policyOut, "--policy-out")])
        try PathOption.validateDistinct(
            outputs: [(rewardsOut, "--rewards-out"), (policyOut, "--policy-out")],
            inputs: [(options.dataset, "--dataset"), (actionDist, "--action-dist"), (model, "--model")]
                + PathOption.schemaInputs(options.schema))
        let given = [policy != nil, model != nil, version != nil, actionDist != nil, onlineCandidate].filter { $0 }.count
        guard given <= 1 else {
            throw ValidationError("give one candidate: --policy, --model, --version, --online or --action-dist")
        }
        guard epsilon >= 0 && epsilon <= 1 else { throw ValidationError("--epsilon must be in [0, 1], got \(epsilon)") }
        if epsilon > 0 && model == nil && version == nil {
            throw ValidationError("--epsilon needs --model or --version: it mixes a model's greedy policy with uniform")
        }
        guard ["all", "train", "validation", "test"].contains(split) else {
            throw ValidationError("--split must be all, train, validation or test, got '\(split)'")
        }
        try BootstrapResamples.validate(resamples)
        if let rewardsOut, let policyOut,
            URL(fileURLWithPath: rewardsOut).standardizedFileURL == URL(fileURLWithPath: policyOut).standardizedFileURL
        {
            throw ValidationError("--rewards-out and --policy-out name the same file: the second would overwrite the first")
        }
        // Checked before the logs are read (they were refused only after loading them), and by --print-config.
        guard ["all", "train", "validation", "test"].contains(split) else {
            throw ValidationError("--split must be all, train, validation or test, got '\(split)'")
        }
        if let policy, !["uniform", "popular"].contains(policy) {
            throw ValidationError("unknown --policy '\(policy)' (uniform, popular)")
        }
    }

    func run() async throws {
        try await reportingFailures { try await body() }
    }

    private func body() async throws {
        let parts = try options.logs()
        guard var data = parts.part(split) else {
            CommandOutput.printError("recpool: --split must be all, train, validation or test")
            throw ExitStatus.usage.exitCode
        }
        // Rows drawn from a candidate set are weighed against no policy (their propensities are conditional on it):
        // left out before the candidate's distribution is computed, so `--policy-out` and `--rewards-out` are the
        // evaluated rows'.
        let splitRows = data.rows
        data = data.withoutConditionalRows()
        // A split with no rows at all is reported as eval reports it (every segment `no rows`); one whose rows were
        // all drawn from candidate sets has nothing a policy can be weighed on.
        guard data.rows > 0 || splitRows == 0 else {
            throw CommandFailure(
                "\(parts.all.name): every row of the \(split) split was drawn from a candidate set (its `retrieval` "
                    + "column): no row's propensity is the logging policy's over every item, so no policy can be evaluated",
                exitCode: .badInput)
        }
        if onlineCandidate {
            // The online policy's first-slot distribution is exact only against first-slot rows: a lower slot's
            // logged propensity (`recpool logs export`) is conditional on the items above it, which the first-slot
            // distribution is not. So the candidate is its first slot, evaluated on the rows logged there.
            // The first slot by its slot value, not its rank in the file: a log without slot 1 has its slot 2 at rank 0.
            let first = data.firstSlotRows
            guard !first.isEmpty || data.rows == 0 else {
                throw CommandFailure(
                    "\(data.name): no row was logged in the first slot, where the online policy is evaluated "
                        + "(\(data.slotNumberingText))",
                    exitCode: .badInput)
            }
            data = data.subset(first, name: "\(data.name), first slot")
        }
        let (distribution, name) = try await candidate(data: data, train: parts.train)
        var (report, rewards) = OffPolicyEvaluation.evaluateWithRewards(
            policy: distribution, policyName: name, on: data, resamples: resamples)
        // Logs of an earlier catalogue version: say how much of the policy's choice went to items added since.
        let rows = max(distribution.rows, 1)
        let unsupported = 1 - distribution.probabilities.reduce(0, +) / Double(rows)
        if onlineCandidate, distribution.rows > 0, unsupported > ActionDistribution.sumTolerance {
            report.notes.append(
                "the policy puts \(figureText(unsupported * 100, "%.1f"))% of its choices on items the logs never held (added "
                    + "since): every estimate counts them as no click, so each is a lower bound")
        }
        // Both outputs encoded (and checked finite) before either is written: a NaN in the second left the first
        // written beside "nothing written".
        var encoded: [(path: String, bytes: [UInt8])] = []
        for (path, values) in [(rewardsOut, rewards), (policyOut, distribution.probabilities)] {
            guard let path, let values else { continue }
            do {
                encoded.append((path, try NumpyArray(shape: [data.rows, data.nActions], values: values).encoded(path: path)))
            } catch {
                // A NaN export is refused (exit status not-finite), never written for numpy to read as data.
                guard case .notFinite(let file, let index, let value) = error else { throw error }
                throw NonFiniteResult(what: "\(file): the value at index \(index) (0-based)", value: value)
            }
        }
        try FileProblem.writeAll(encoded.map { (Data($0.bytes), $0.path) })
        if json {
            CommandOutput.printLine(try JSONOutput.encode(report))
        } else {
            CommandOutput.printLine("\(report.dataset): value of policy '\(report.policy)'")
            for line in OffPolicyText.lines(report) { CommandOutput.printLine(line) }
        }
        // Asked for and not written (it exited 0, leaving any older file at the path to be read as this run's).
        if let rewardsOut, rewards == nil {
            throw CommandFailure(
                "--rewards-out \(rewardsOut) was not written: no reward model could be fitted on these rows (DM and DR "
                    + "are undefined; the report above says why)", exitCode: .badInput)
        }
    }

    /// The candidate's action distribution on `data` and its label.
    private func candidate(data: BanditDataset, train: BanditDataset) async throws -> (ActionDistribution, String) {
        let greedyLabel = epsilon > 0 ? "epsilon-greedy(\(epsilon))" : "greedy"
        if let model {
            let (checkpoint, spec) = try evaluationStep { () throws(CheckpointEvaluationError) in
                try CheckpointEvaluation.load(model)
            }
            return (
                try policy(checkpoint, spec, data),
                "\(greedyLabel) of \(CheckpointEvaluation.label(path: model, checkpoint: checkpoint))"
            )
        }
        if let version {
            let client = try await connection.connect()
            defer { client.close() }
            let (_, bytes) = try await client.fetchModel(version: version)
            let (checkpoint, spec) = try evaluationStep { () throws(CheckpointEvaluationError) in
                try CheckpointEvaluation.load(bytes: bytes)
            }
            return (try policy(checkpoint, spec, data), "\(greedyLabel) of registry version \(version)")
        }
        if onlineCandidate {
            let client = try await connection.connect()
            defer { client.close() }
            let (install, pack) = try await client.onlinePolicy(version: onlineVersion)
            // Simulated logs name no item ids: they are matched to the served catalogue item for item, so another
            // world's (another seed or shape) was evaluated as the pool's without a word. Their items' features
            // must be the served ones.
            if case .synthetic(let config, _, _)? = try? DatasetSpecifier(parsing: options.dataset) {
                let logged = SimulatorCatalog.catalogue(world: SimulatorWorld(config: config))
                let served = install.spec.itemFeatures
                let differs =
                    logged.width != served.width
                    ? 0 : (0..<min(logged.count, served.count)).first { item in
                        Array(logged.features[(item * logged.width)..<((item + 1) * logged.width)]) != Array(served[item])
                    }
                if logged.width != served.width || differs != nil {
                    throw CommandFailure(
                        "\(options.dataset): the logs are another world's than the items online policy version "
                            + "\(install.version) serves (item \(differs ?? 0)'s features differ: another seed or shape?); "
                            + "evaluate on logs of the served catalogue", exitCode: .badInput)
                }
            }
            do {
                let served = try OnlinePolicy.served(spec: install.spec, weights: pack)
                // The policy's items are its catalogue's rows, while a log numbers ids 0..<n by id (in any file
                // order): the distribution is computed over rows and read back in the log's item numbers.
                let byRow = try served.actionDistribution(on: data.itemsAsCatalogueRows(ids: install.spec.itemIds, numberedByRow: install.catalogue == nil))
                let ids = install.spec.itemIds
                let rowOfItem =
                    ids.count >= data.nActions
                    ? ItemCatalogue.rowsOfLoggedItems(ids: Array(ids.prefix(data.nActions))) : Array(0..<data.nActions)
                let k = data.nActions
                var probabilities = [Double](repeating: 0, count: byRow.rows * k)
                for r in 0..<byRow.rows { for item in 0..<k { probabilities[r * k + item] = byRow[r, rowOfItem[item]] } }
                return (
                    ActionDistribution(nActions: k, probabilities: probabilities), "online policy version \(install.version)"
                )
            } catch {
                throw CommandFailure("online policy version \(install.version): \(error)", exitCode: .badInput)
            }
        }
        if let actionDist {
            do {
                let array = try NumpyArray.read(path: actionDist)
                return (try ActionDistribution(actionDist: array, for: data), "action distribution \(actionDist)")
            } catch let error as NumpyArrayError {
                throw CommandFailure(error.description, exitCode: .badInput)
            } catch let error as ActionDistributionError {
                throw CommandFailure("\(actionDist): \(error.description)", exitCode: .badInput)
            }
        }
        switch policy ?? "uniform" {
        case "uniform":
            return (.uniform(rows: data.rows, nActions: data.nActions), "uniform")
        case "popular":
            // With no click in the training split there is no most clicked item: refused, never item 0 by a tie.
            guard train.clicks > 0 else {
                throw CommandFailure(
                    "--policy popular: the training split (\(train.rows) row\(train.rows == 1 ? "" : "s")) has no click, so no item is the most "
                        + "clicked; use --policy uniform or a model", exitCode: .badInput)
            }
            // Items tied for the most clicks share the choice equally (never the lowest row by a tie).
            return (.popular(in: train, rows: data.rows), "popular")
        case let other:
            CommandOutput.printError("recpool: unknown policy '\(other)' (uniform, popular)")
            throw ExitStatus.usage.exitCode
        }
    }

    private func policy(_ checkpoint: Checkpoint, _ spec: FeatureSpec, _ data: BanditDataset) throws
        -> ActionDistribution
    {
        try evaluationStep { () throws(CheckpointEvaluationError) in
            try CheckpointEvaluation.policy(checkpoint: checkpoint, spec: spec, data: data, epsilon: epsilon)
        }
    }

    /// Runs a checkpoint step, turning its typed error into the command's exit code.
    private func evaluationStep<T>(_ step: () throws(CheckpointEvaluationError) -> T) throws -> T {
        do {
            return try step()
        } catch {
            if case .nonFiniteScore = error { throw CommandFailure(error.description, exitCode: .notFinite) }
            let source = model ?? version.map { "registry version \($0)" } ?? "the checkpoint"
            throw CommandFailure(error.description(command: "data ope", checkpoint: source), exitCode: .badInput)
        }
    }
}
