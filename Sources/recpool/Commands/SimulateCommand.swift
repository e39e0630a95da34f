import ArgumentParser
import Foundation
import RecClient
import RecConfig
import RecData
import RecPolicy
import RecSimulation
import RecTransport

/// `recpool simulate`: simulated new users drive a live pool with online learning.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Drive a pool with simulated new users and report its click-through rate over time.",
        discussion: """
            Users come from the default simulator world, whose catalogue `recpool-broker --online` serves, or \
            with --world from a semi-synthetic world built from real logs (a click model fitted on them). Each \
            user gets one RECOMMEND, clicks at most one item by the world's ground truth, and FEEDBACK is sent \
            for every shown item. The same users (same --seed) are shown the local baselines: random, the pool's \
            policy at the start served without learning (fixed), the world's logging policy, LinUCB, logistic \
            Thompson sampling, ε-greedy logistic regression, the best feature-only policy and the oracle.
            """)

    @OptionGroup var connection: BrokerOptions

    @Option(help: "Simulated users (one slate each).")
    var users = 5000

    @Option(help: "Seed of the user sequence.")
    var seed: UInt64 = 1

    @Option(help: "Users in flight at once.")
    var concurrency = 1

    @Option(help: "Windows of the CTR-over-time series (default 10, or one per user when there are fewer users).")
    var windows: Int?

    /// ``windows`` as given, else 10, or one per user when there are fewer than 10 users.
    var windowCount: Int { windows ?? min(10, max(users, 1)) }

    @Flag(help: "Print the report as one JSON object (keys in docs/ONLINE.md).")
    var json = false

    @Option(help: "Write a self-contained HTML report with the CTR-over-time chart (inline SVG).")
    var report: String?

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    @Option(
        help: ArgumentHelp(
            """
            A world built from real logs: obd:POLICY/CAMPAIGN or a shop's log CSV (with --world-schema); or a \
            simulator world such as simulator:items=100000 (keys items, users, topics, seed).
            """,
            valueName: "logs"))
    var world: String?

    @Option(help: "The schema (TOML) of the --world log and its catalogue.")
    var worldSchema: String?

    @Option(help: "Factor on every click's odds in a --world built from logs (real click rates are low).")
    var clickScale = LoggedWorldDefaults.clickScale

    @Option(
        name: .customLong("data-dir"),
        help: "Directory holding obd/ for --world obd:… (default: data/ in the current directory or a parent).")
    var dataDirectory: String?

    @Option(
        help: ArgumentHelp(
            """
            Write the simulator world's catalogue (catalogue.csv) and a schema (schema.toml) into this folder for \
            `recpool catalogue upload`, then exit (no --broker needed).
            """, valueName: "folder"))
    var exportCatalogue: String?

    @Flag(help: "Run the baselines alone, without a pool (no --broker needed).")
    var baselinesOnly = false

    @Flag(
        help: """
            One user at a time, waiting for the pool to settle every M feedback events, so one seed gives one curve \
            (the broker needs --online-sync-interval-ms 0 and --online-update-every equal to --online-sync-events; \
            one worker with --exploration-seed).
            """)
    var deterministic = false

    @Flag(
        help: """
            Each user is a whole session of the simulator's online environment (a budget of 30 steps, a click gives \
            back 0.5, interests drift towards clicked items; --users sessions): report clicks per session, with the \
            random slate and the myopic oracle on the same users.
            """)
    var sessions = false

    func validate() throws {
        try PathOption.validateOutputs([(report, "--report")])
        try PathOption.validateDistinct(
            outputs: [(report, "--report")],
            inputs: [(world, "--world")] + PathOption.schemaInputs(worldSchema, flag: "--world-schema"))
        try PathName.validate([(world, "--world"), (worldSchema, "--world-schema")], what: "a world or file")
        try PathName.validate([(dataDirectory, "--data-dir")], what: "a folder")
        try PathName.validate([(exportCatalogue, "--export-catalogue")], what: "a folder")
        if sessions && (world != nil || baselinesOnly || deterministic || report != nil) {
            throw ValidationError(
                "--sessions runs the built-in simulator against a pool: no --world, --baselines-only, --deterministic or --report")
        }
        if deterministic && baselinesOnly {
            throw ValidationError("--deterministic paces a pool's live part; --baselines-only runs none: drop one")
        }
        var plan = SimulationPlan(users: users, seed: seed, concurrency: concurrency, windows: windowCount)
        plan.deterministic = deterministic
        // The plan names its fields as the flags spell them without the dashes (users, concurrency, windows).
        if let problem = plan.problem { throw ValidationError("--\(problem)") }
        if worldSchema != nil && world == nil { throw ValidationError("--world-schema needs --world") }
        if let world, world.hasPrefix(SimulatorConfig.specPrefix), worldSchema != nil {
            throw ValidationError("--world-schema is for worlds built from logs, not \(world)")
        }
        if exportCatalogue != nil, let world, !world.hasPrefix(SimulatorConfig.specPrefix) {
            throw ValidationError("--export-catalogue writes a simulator world's catalogue; \(world) has its own")
        }
        if exportCatalogue != nil {
            // It writes the catalogue and stops: no user is simulated, so a flag of a run would be dropped.
            var ignored: [String] = []
            if users != 5000 { ignored.append("--users") }
            if seed != 1 { ignored.append("--seed") }
            if concurrency != 1 { ignored.append("--concurrency") }
            if windows != nil { ignored.append("--windows") }
            if json { ignored.append("--json") }
            if report != nil { ignored.append("--report") }
            if baselinesOnly { ignored.append("--baselines-only") }
            if deterministic { ignored.append("--deterministic") }
            if sessions { ignored.append("--sessions") }
            if !ignored.isEmpty {
                throw ValidationError(
                    "--export-catalogue writes the world's catalogue and stops, simulating no user: drop "
                        + ignored.joined(separator: ", "))
            }
        }
        if !(clickScale.isFinite && clickScale > 0) {
            throw ValidationError("--click-scale must be a finite number above 0, got \(clickScale)")
        }
        // A flag the run never reads is refused, never silently dropped (its default, given or not, changes nothing).
        if clickScale != LoggedWorldDefaults.clickScale && (world.map { $0.hasPrefix(SimulatorConfig.specPrefix) } ?? true) {
            throw ValidationError("--click-scale scales the clicks of a --world built from logs; this run simulates none")
        }
        if sessions && windows != nil {
            throw ValidationError("--windows splits a run of users into windows; --sessions reports clicks per session")
        }
    }

    /// The world named by --world, loaded (nil: the default simulator world).
    func loadWorld() throws -> (any VisitorWorld)? {
        guard let world else { return nil }
        do throws(DataError) {
            if world.hasPrefix(SimulatorConfig.specPrefix) {
                return SimulatorWorld(config: try SimulatorConfig.parse(spec: world))
            }
            return try LoggedWorld.load(
                name: world, schemaPath: worldSchema, obdDirectory: obdDirectory(), clickScale: clickScale)
        } catch {
            let status: ExitStatus = if case .invalidSpecification = error { .usage } else { .badInput }
            throw CommandFailure("--world \(world): \(error)", exitCode: status)
        }
    }

    /// The `obd` directory for `--data-dir` (``OBDDirectory/locate(dataDirectory:currentDirectory:)``).
    func obdDirectory() -> String { OBDDirectory.locate(dataDirectory: dataDirectory) }

    func run() async throws {
        try await reportingFailures {
            let logged = try loadWorld()
            if let folder = exportCatalogue {
                let simulator = logged as? SimulatorWorld ?? SimulatorWorld(config: SimulatorConfig())
                let written = try SimulatorCatalogExport.write(world: simulator, folder: folder)
                CommandOutput.printLine("wrote \(written.items) items to \(written.catalogue) and the schema \(written.schema)")
                return
            }
            var plan = SimulationPlan(
                users: users, seed: seed, concurrency: concurrency, windows: windowCount,
                progressEvery: max(1, min(100, users / 50)))
            plan.deterministic = deterministic
            let line = SimulationProgressLine(enabled: !quiet)
            let client = baselinesOnly ? nil : try await connection.connect()
            defer { client?.close() }
            if sessions, let client {
                try await runSessions(client: client, plan: plan)
                return
            }
            let result: SimulationReport
            do throws(SimulationError) {
                if let client {
                    result = try await SimulationRunner.run(
                        backend: PoolBackend(client: client, timeoutMs: connection.timeoutMs), plan: plan, world: logged
                    ) { progress in line.show(progress) }
                } else {
                    result = try SimulationRunner.runBaselines(plan: plan, world: logged)
                }
            } catch {
                line.finish()
                let status: ExitStatus =
                    switch error {
                    case .policyUnavailable(let client): ExitStatus.of(client)
                    case .invalidPlan, .catalogueMismatch: .badInput
                    case .invalidPolicy: .failed
                    case .notDeterministic: .badInput
                    case .poolStopped: .errorsDominate
                    }
                throw CommandFailure(error.description, exitCode: status)
            }
            line.finish()
            CommandOutput.printLine(json ? try result.json() : result.text)
            if let path = report {
                let command = (["recpool"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
                try FileProblem.write(result.html(command: command), to: path)
                // Said as `eval --report` says it; not under --json, whose output is one JSON object.
                if !json { CommandOutput.printLine("wrote \(path)") }
            }
            if result.served == 0 && !baselinesOnly {
                throw CommandFailure("no simulated user was served (see errors)", exitCode: .errorsDominate)
            }
        }
    }
}

extension SimulateCommand {
    /// `--sessions`: whole sessions against the pool, reported as clicks per session.
    func runSessions(client: RecPoolClient, plan: SimulationPlan) async throws {
        let result: SessionReport
        let quiet = quiet
        let total = plan.users
        do throws(SimulationError) {
            result = try await SessionSimulation.run(
                backend: PoolBackend(client: client, timeoutMs: connection.timeoutMs), plan: plan
            ) { done in
                if !quiet { FileHandle.standardError.write(Data("sessions \(done)/\(total)\n".utf8)) }
            }
        } catch {
            let status: ExitStatus =
                switch error {
                case .policyUnavailable(let client): ExitStatus.of(client)
                case .invalidPlan, .catalogueMismatch, .notDeterministic: .badInput
                case .invalidPolicy: .failed
                case .poolStopped: .errorsDominate
                }
            throw CommandFailure(error.description, exitCode: status)
        }
        CommandOutput.printLine(json ? try result.json() : result.text)
        if result.completed == 0 {
            throw CommandFailure("no simulated session was completed (see errors)", exitCode: .errorsDominate)
        }
    }
}

/// The live progress line on stderr: redrawn in place on a terminal, one line per update otherwise.
struct SimulationProgressLine: Sendable {
    let enabled: Bool
    private let tty = isatty(2) != 0

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: SimulationProgress) {
        guard enabled else { return }
        // Before any user is served the CTRs are undefined and no version has answered: `-`, not 0 or v0.
        let served = p.served > 0
        let line =
            String(format: "users %ld/%ld  served %ld  ", p.done, p.users, p.served)
            + (served ? String(format: "CTR %.4f  recent %.4f", p.ctr, p.recentCtr) : "CTR -  recent -")
            + String(format: "  feedback %ld  errors %ld  ", p.feedbackSent, p.errors)
            + (served ? "policy v\(p.version)" : "policy -")
        FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        if enabled && tty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
