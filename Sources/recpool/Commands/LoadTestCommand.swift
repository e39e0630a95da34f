import ArgumentParser
import Foundation
import RecClient
import RecConfig
import RecData
import RecLoad
import RecModel
import RecTransport
import RecWire

/// `recpool loadtest`: drives a pool with an open or closed loop, or sweeps levels like perf_analyzer.
struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Load-test a pool: open loop (--rate), closed loop (--concurrency) or a --sweep of either.",
        discussion: """
            Latency counts from each request's intended send time, so an overloaded pool cannot hide its \
            queueing (no coordinated omission). Requests still unanswered when the run ends are reported as lost.

            SCORE rows are built for the served model's input width, read from STATUS; rows of any other \
            width (--width, or a --dataset's features) are refused before anything is sent (exit 2). \
            The run exits 5 when errors dominate it: nothing completed, or more than --max-error-fraction \
            (default 0.5) of the sent requests failed or were lost (in a sweep, judged on the first level).
            """)

    @OptionGroup var connection: BrokerOptions

    @Option(help: "Open loop: requests per second (the first level with --sweep).")
    var rate: Double?

    @Flag(help: "Open loop: Poisson arrivals instead of constant spacing.")
    var poisson = false

    @Option(help: "Closed loop: requests in flight (the first level with --sweep). Default 1 when no --rate.")
    var concurrency: Int?

    @Flag(help: "Raise the rate or concurrency level by level until p99 passes --slo-p99.")
    var sweep = false

    @Option(help: "Sweep: each level is the previous times this factor (default 2).")
    var sweepFactor: Double?

    @Option(help: "Sweep: at most this many levels (default 10).")
    var maxLevels: Int?

    @Option(
        parsing: .unconditional, help: "Sweep: window length (a level is stable when 3 windows agree within 10%; default 1s).")
    var window: String?

    @Option(help: "Sweep: give up on stability after this many windows (default 10).")
    var maxWindows: Int?

    @Option(parsing: .unconditional, help: "How long to send (e.g. 10s, 500ms; default 10s). A sweep's levels last until stable.")
    var duration: String?

    @Option(parsing: .unconditional, help: "How long to wait for outstanding replies after sending stops before counting them lost.")
    var drain = "2s"

    @Option(
        help: """
            Open loop: the most requests in flight. An arrival that finds more outstanding is not sent and counts as \
            the error IN_FLIGHT_LIMIT (dropped at the client), so a rate nobody keeps up with cannot exhaust memory \
            (default 10000).
            """)
    var maxInFlight: Int?

    @Option(parsing: .unconditional, help: "Latency objective on p99 (goodput counts replies within it; a sweep stops past it).")
    var sloP99 = "10ms"

    // The options a mode may not be given are optional, so that one given at its default value is refused as well.
    var sweepFactorValue: Double { sweepFactor ?? 2 }
    var maxLevelsValue: Int { maxLevels ?? 10 }
    var windowValue: String { window ?? "1s" }
    var maxWindowsValue: Int { maxWindows ?? 10 }
    var durationValue: String { duration ?? "10s" }
    var maxInFlightValue: Int { maxInFlight ?? 10_000 }
    var seedValue: UInt64 { seed ?? 1 }

    @Option(help: "Rows per SCORE request.")
    var batch = 1

    @Option(help: "Features per random row (default: the served model's input width, from STATUS).")
    var width: Int?

    @Option(help: "Exit 5 when more than this fraction of sent requests fail or are lost (0 to 1).")
    var maxErrorFraction = 0.5

    @Option(help: "Draw rows from logged impressions: obd:random/all, synthetic:users=N,… or a shop's log with --schema (default: random rows).")
    var dataset: String?

    @Option(help: "A schema (TOML) for a shop's CSV log given as --dataset (docs/YOUR-DATA.md).")
    var schema: String?

    @Option(name: .customLong("data-dir"), help: "Directory holding obd/.")
    var dataDirectory: String?

    @Flag(help: "Send RECOMMEND documents instead of SCORE tensors.")
    var recommend = false

    @Option(help: "Client sockets (one I/O thread each) to spread requests over.")
    var connections = 1

    @Option(help: "Seed of the Poisson schedule.")
    var seed: UInt64?

    @Flag(help: "Print one JSON object (a sweep prints {\"levels\": [...]}).")
    var json = false

    @Flag(help: "Print CSV: a header and one row per run or level.")
    var csv = false

    @Option(help: "Write a self-contained HTML report (latency curve and distribution as inline SVG).")
    var report: String?

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    func validate() throws {
        try DatasetName.validate(dataset)
        if json && csv { throw ValidationError("give --json or --csv, not both: stdout would parse as neither") }
        try PathOption.validateOutputs([(report, "--report")])
        try PathOption.validateDistinct(
            outputs: [(report, "--report")], inputs: [(dataset, "--dataset")] + PathOption.schemaInputs(schema))
        try PathName.validate([(dataset, "--dataset"), (schema, "--schema")], what: "a dataset or file")
        try PathName.validate([(dataDirectory, "--data-dir")], what: "a folder")
        if rate != nil && concurrency != nil { throw ValidationError("give --rate or --concurrency, not both") }
        // Every number is bounded here, so the schedule's arithmetic (intervals in µs, start + duration, the sweep's
        // levels and windows, rows × width) cannot overflow further on.
        if let rate, !(rate >= 0.01 && rate <= 10_000_000) {
            throw ValidationError("--rate must be 0.01…10000000 requests per second, got \(rate)")
        }
        if let concurrency, !(1...100_000).contains(concurrency) {
            throw ValidationError("--concurrency must be 1…100000, got \(concurrency)")
        }
        guard sweepFactorValue > 1, sweepFactorValue <= 100 else { throw ValidationError("--sweep-factor must be in (1, 100], got \(sweepFactorValue)") }
        guard (1...100).contains(maxLevelsValue) else { throw ValidationError("--max-levels must be 1…100, got \(maxLevelsValue)") }
        // A level is stable when 3 windows agree: fewer could never be.
        guard (3...10_000).contains(maxWindowsValue) else {
            throw ValidationError("--max-windows must be 3…10000 (a level is stable when 3 windows agree), got \(maxWindowsValue)")
        }
        guard (1...1_000_000).contains(maxInFlightValue) else {
            throw ValidationError("--max-in-flight must be 1…1000000, got \(maxInFlightValue)")
        }
        if sweep {
            // The last level a sweep may reach stays within the same bounds as the first (rate × factor^(levels − 1)).
            var last = rate ?? Double(concurrency ?? 1)
            for _ in 1..<maxLevelsValue {
                last = rate == nil ? max(last + 1, (last * sweepFactorValue).rounded(.up)) : last * sweepFactorValue
            }
            let bound = rate == nil ? 100_000.0 : 10_000_000.0
            guard last <= bound else {
                throw ValidationError(
                    "the sweep's last level would be \(last) (\(rate == nil ? "in flight" : "requests per second")), "
                        + "above \(Int(bound)): lower --max-levels or --sweep-factor")
            }
        }
        guard maxErrorFraction >= 0 && maxErrorFraction <= 1 else {
            throw ValidationError("--max-error-fraction must be in [0, 1], got \(maxErrorFraction)")
        }
        // Each flag named alone, with its range and the value given.
        // More rows than a request may carry would be refused TOO_LARGE, every one (docs/PROTOCOL.md, "Limits").
        for (flag, value, upper, why) in [
            ("--batch", batch, WireLimits.standard.maxRows, " (the rows a request may carry)"),
            ("--width", width ?? 1, WireLimits.standard.maxColumns, " (the features a SCORE row may hold)"), ("--connections", connections, 256, ""),
        ] where !(1...upper).contains(value) {
            throw ValidationError("\(flag) must be 1…\(upper)\(why), got \(value)")
        }
        // A flag the chosen mode never reads is refused, never silently dropped (its default, given or not, is no change).
        if rate == nil && (poisson || seed != nil || maxInFlight != nil) {
            throw ValidationError(
                "--poisson, --seed and --max-in-flight shape an open loop's arrivals: give --rate, or drop them")
        }
        if !poisson && seed != nil {
            throw ValidationError("--seed draws Poisson arrivals: give --poisson, or drop it (a constant rate has no draws)")
        }
        if sweep && duration != nil {
            throw ValidationError(
                "a sweep's levels last until they are stable (--window × up to --max-windows): --duration is not read")
        }
        if recommend && width != nil {
            throw ValidationError("--width sets a SCORE row's features; --recommend sends RECOMMEND documents")
        }
        if dataset != nil && width != nil {
            throw ValidationError("--dataset's rows have the dataset's width: drop --width")
        }
        // --data-dir is not judged here: it is where OBD lives for every command (RECPOOL_DATA_DIR, a configuration
        // file), and a run without an obd: --dataset reads none, as fit ignores it for a synthetic dataset (an exported
        // RECPOOL_DATA_DIR refused every loadtest without --dataset).
        if dataset == nil && schema != nil {
            throw ValidationError("--schema reads a --dataset: give one, or drop it")
        }
        if !sweep && (sweepFactor != nil || maxLevels != nil || window != nil || maxWindows != nil) {
            throw ValidationError(
                "--sweep-factor, --max-levels, --window and --max-windows shape a sweep: give --sweep, or drop them")
        }
        if recommend && batch != 1 {
            throw ValidationError("--batch sets the rows of a SCORE; --recommend sends one RECOMMEND document a request")
        }
        // A run, a window or an SLO of no time measures nothing (throughput over 0 s is not a number); only the drain
        // may be 0.
        for (name, text) in [("--duration", durationValue), ("--drain", drain), ("--slo-p99", sloP99), ("--window", windowValue)]
        {
            do {
                _ = try LoadDuration.micros(text, flag: name, allowsZero: name == "--drain")
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    func run() async throws {
        try await reportingFailures {
            var clients: [RecPoolClient] = []
            for _ in 0..<connections { clients.append(try await connection.connect()) }
            defer { clients.forEach { $0.close() } }
            // With --width and no --dataset, rows need no STATUS: a pool that does not answer it (a
            // reference pool speaking only SCORE, as in bench/peers) is still loaded at that width.
            // RECOMMEND documents from a dataset are checked against the model that ranks them (STATUS names it),
            // unless an online policy answers RECOMMEND instead.
            let status: StatusDocument? =
                if recommend {
                    dataset == nil ? nil : try? await clients[0].status()
                } else if width != nil && dataset == nil {
                    try? await clients[0].status()
                } else { try await clients[0].status() }
            let served = status.map(ServedWidth.widths(in:)) ?? []
            let ranksByModel = !recommend || status?.online.map { !$0.enabled } ?? true
            let servedSpec = ranksByModel ? try await servedFeatureSpec(status, client: clients[0]) : nil
            let (command, payloads, rows) = try buildPayloads(served: served, servedSpec: servedSpec)
            let target = RecPoolTarget(
                clients: clients, command: command, payloads: payloads, rowsPerRequest: rows,
                timeoutMs: connection.timeoutMs)
            let mode: LoadMode =
                if let rate { .open(rate: rate, poisson: poisson) } else { .closed(concurrency: concurrency ?? 1) }
            let plan = LoadPlan(
                mode: mode, durationMicros: try LoadDuration.micros(durationValue, flag: "--duration"), drainMicros: try LoadDuration.micros(drain, flag: "--drain", allowsZero: true),
                objectiveMicros: try LoadDuration.micros(sloP99, flag: "--slo-p99"), batch: rows, seed: seedValue, maxInFlight: maxInFlightValue)
            let progress = ProgressLine(enabled: !quiet)
            let commandLine = (["recpool"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
            if sweep {
                let sweepPlan = SweepPlan(
                    start: mode, factor: sweepFactorValue, maxLevels: maxLevelsValue, windowMicros: try LoadDuration.micros(windowValue, flag: "--window"),
                    maxWindows: maxWindowsValue)
                let levels = await SweepRunner.run(
                    target: target, sweep: sweepPlan, base: plan,
                    onWindow: { index, stats in
                        progress.show(stats, prefix: "level \(index + 1) \(sweepPlan.mode(level: index).label)")
                    },
                    onLevel: { level in
                        progress.finish()
                        if !json && !csv {
                            CommandOutput.printLine(level.summary.text + (level.stable ? "" : "\n  (not stable)"))
                        }
                    })
                try emit(levels.map(\.summary), levels: levels, command: commandLine)
                if let first = levels.first?.summary { try checkErrors(first) }
                // A later level that sent nothing measured nothing either (a window too short for its first request):
                // the sweep's last figure is then no level at all, refused as the first level's would be.
                if let empty = SweepLevel.firstUnmeasured(levels)?.summary { try checkErrors(empty) }
            } else {
                let summary = await LoadRunner.run(target: target, plan: plan) { stats in
                    progress.show(stats, prefix: mode.label)
                    return true
                }
                progress.finish()
                if !json && !csv { CommandOutput.printLine(summary.text) }
                try emit([summary], levels: [], command: commandLine)
                try checkErrors(summary)
            }
        }
    }

    private func emit(_ runs: [LoadSummary], levels: [SweepLevel], command: String) throws {
        if json {
            if levels.isEmpty {
                CommandOutput.printLine(try runs[0].json(includeDistribution: true))
            } else {
                CommandOutput.printLine(try JSONOutput.encode(SweepDocument(levels: levels)))
            }
        }
        if csv {
            CommandOutput.printLine(LoadSummary.csvHeader)
            for run in runs { CommandOutput.printLine(run.csvRow) }
        }
        if let path = report {
            let page = LoadReport(title: "RecPool load test", command: command, levels: levels, runs: runs).html()
            try FileProblem.write(page, to: path)
        }
    }

    /// Fails with ``ExitStatus/errorsDominate`` when errors dominate `run` (after its figures were printed).
    private func checkErrors(_ run: LoadSummary) throws {
        guard run.errorsDominate(threshold: maxErrorFraction) else { return }
        guard run.sent > 0 else {
            // No failure share to state: nothing was measured at all.
            throw CommandFailure(
                "nothing was sent in \(run.label): no request to measure ("
                    + (sweep ? "a longer --window sends some" : "a longer --duration or a higher --rate sends some") + ")",
                exitCode: .errorsDominate)
        }
        let errors = run.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        // `+ 0` prints a `--max-error-fraction -0` as 0.0%, never -0.0%.
        let share = String(format: "%.1f%% > %.1f%%", 100 * run.failureFraction + 0, 100 * maxErrorFraction + 0)
        // The most frequent error's first message: which value the pool refused, and why.
        let commonest = run.errors.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
        let why = commonest.flatMap { name in run.errorMessages[name].map { " (first \(name): \($0))" } } ?? ""
        throw CommandFailure(
            "errors dominate the run: \(run.errorCount + run.lost) of \(run.sent) requests failed or got no reply "
                + "(\(share))\(errors.isEmpty ? "" : ": " + errors)\(why)",
            exitCode: .errorsDominate)
    }

    /// The feature specification of the registered model the SCORE workers serve, read from its checkpoint, so
    /// that `--dataset` rows are built the way that model expects them (its width, its categories); `nil`
    /// without a dataset, when the workers serve no single registered version, or when its checkpoint carries
    /// no specification (rows are then built from a specification fitted on the dataset, and checked for width).
    private func servedFeatureSpec(_ status: StatusDocument?, client: RecPoolClient) async throws
        -> (spec: FeatureSpec, version: UInt64)?
    {
        guard dataset != nil, let status else { return nil }
        // The promoted version is what every SCORE request is served by (the broker holds rows back from a
        // replica still on another version); without one, the single registered version the workers serve.
        let versions = Set(status.workers.filter { $0.services.contains("SCORE") }.map(\.modelVersion))
        let single = versions.count == 1 ? versions.first : nil
        guard let version = status.promotedVersion ?? single, version > 0 else { return nil }
        let (_, bytes) = try await client.fetchModel(version: version)
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint(decoding: bytes) } catch {
            throw CommandFailure("model version \(version) from the broker is unreadable: \(error)", exitCode: .protocolViolation)
        }
        guard !checkpoint.featureSpec.isEmpty else { return nil }
        do { return (try FeatureSpec.decode(checkpoint.featureSpec), version) } catch {
            throw CommandFailure(
                "model version \(version) carries an unreadable feature specification: \(error)", exitCode: .badInput)
        }
    }

    private func buildPayloads(served: [Int], servedSpec model: (spec: FeatureSpec, version: UInt64)?) throws
        -> (Command, [[UInt8]], Int)
    {
        let servedSpec = model?.spec
        /// Why the dataset's rows cannot be sent to the served model, naming the model and what to do.
        func unfit(_ error: any Error, what: String) -> CommandFailure {
            let by = model.map { " for model version \($0.version), the one served" } ?? ""
            return CommandFailure(
                "cannot build \(what) from \(dataset ?? "")\(by): \(error); serve a model trained on this dataset, or "
                    + "drop --dataset", exitCode: .badInput)
        }
        var data: BanditDataset?
        if let dataset {
            var options = try DatasetOptions.parse([dataset])
            options.dataDirectory = dataDirectory
            options.schema = schema
            data = try options.load()
        }
        if recommend {
            // Its viewed items are the dataset's: a model that knows fewer items refuses them (BAD_REQUEST "unknown
            // item"), a share of the run small enough to pass --max-error-fraction unnoticed.
            if let data, let servedSpec {
                do { try CheckpointEvaluation.check(spec: servedSpec, data: data, catalogue: false) } catch {
                    throw unfit(error, what: "RECOMMEND documents")
                }
            }
            return (.recommend, RequestPayloads.recommend(data), 1)
        }
        guard let data else {
            let rowWidth = try resolveWidth(served: served, dataset: nil)
            try checkMessageBytes(width: rowWidth)
            return (.score, RequestPayloads.randomScore(batch: batch, width: rowWidth), batch)
        }
        let payloads: [[UInt8]]
        let featureWidth: Int
        do {
            // Rows of the model's shape: a load test's rows need not be the model's own items. Its slots are read as
            // the model's positions, as eval reads them.
            var rows = data
            if let servedSpec {
                rows = try CheckpointEvaluation.aligned(data, to: servedSpec)
                try CheckpointEvaluation.check(spec: servedSpec, data: rows, catalogue: false)
            }
            (payloads, featureWidth) = try RequestPayloads.datasetScore(rows, batch: batch, servedSpec: servedSpec)
        } catch {
            throw unfit(error, what: "rows")
        }
        // Rows built with the served model's own specification fit it by construction (a replica still on an
        // older version is not sent them); rows from a specification fitted here are checked against STATUS.
        if servedSpec == nil { _ = try resolveWidth(served: served, dataset: (dataset ?? data.name, featureWidth)) }
        try checkMessageBytes(width: featureWidth)
        return (.score, payloads, batch)
    }

    /// Refuses a `--batch` whose SCORE at `width` would be over the message-byte limit: every request would be
    /// answered TOO_LARGE, and building them takes memory and time out of all proportion to `--duration`.
    private func checkMessageBytes(width: Int) throws {
        let bytes = Header.size + 8 + batch * width * 4
        guard bytes <= WireLimits.standard.maxMessageBytes else {
            throw CommandFailure(
                "--batch \(batch) at width \(width) makes \(bytes)-byte requests, over the \(WireLimits.standard.maxMessageBytes)-byte "
                    + "message limit: every one would be TOO_LARGE; use at most "
                    + "\((WireLimits.standard.maxMessageBytes - Header.size - 8) / (width * 4)) rows",
                exitCode: .usage)
        }
    }

    private func resolveWidth(served: [Int], dataset: (name: String, width: Int)?) throws -> Int {
        do {
            return try ServedWidth.resolve(served: served, requested: width, dataset: dataset)
        } catch {
            throw CommandFailure("\(error)", exitCode: error == .noScoringWorker ? .noWorker : .badInput)
        }
    }
}

/// The live progress line on stderr: redrawn in place on a terminal, one line per window otherwise.
struct ProgressLine: Sendable {
    let enabled: Bool
    private let tty = isatty(2) != 0

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ s: WindowStats, prefix: String) {
        guard enabled else { return }
        // A window with no OK reply has no latency: its stored 0 is never shown as a p99 (docs/LOADTEST.md).
        let p99 = s.windowCompleted > 0 ? String(format: "%.3f ms", Double(s.p99Micros) / 1000) : "undefined (no OK reply)"
        let line = String(
            format: "%@  %6.1fs  sent %ld  completed %ld  errors %ld  %.0f req/s  p99 %@", prefix,
            Double(s.elapsedMicros) / 1e6, s.sent, s.completed, s.errors, s.throughput, p99)
        FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        if enabled && tty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
