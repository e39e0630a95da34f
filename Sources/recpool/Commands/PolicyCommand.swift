import ArgumentParser
import Foundation
import RecClient
import RecData
import RecPolicy
import RecTransport
import RecWire

/// `recpool policy warmstart`: the online policy trained offline on a shop's logs (docs/ONLINE.md, "Warm start
/// from your logs").
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Train the online policy offline: a warm start from logged impressions.",
        subcommands: [PolicyWarmStartCommand.self])
}

/// `recpool policy warmstart DATASET --catalogue VERSION [--register]`.
struct PolicyWarmStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warmstart",
        abstract: "Warm-start the pool's online policy from logged impressions, check it off-policy, register it.",
        discussion: """
            Fetches the policy the pool at --broker serves (it must serve --catalogue, the catalogue the logs were \
            logged from), adds every logged impression of the first 60% of the logs by time to its Bayesian \
            logistic last layer (the replicas' own update: a reward model, not importance weighting), and \
            estimates the trained policy's value on the last 30% with IPW, SNIPW and DR (bootstrap 95% intervals, \
            the logs' propensities) beside the logging policy's mean logged click and the untrained policy's \
            estimates. With --register the pool stores it as its next online version, recording the catalogue \
            version, serves it on every replica and continues learning from it.
            """)

    @OptionGroup var logs: DatasetOptions

    @Option(
        help: """
            The catalogue version the pool serves (--online-catalogue; `recpool online status`): the policy is \
            trained for it and registered on it. Logs of an earlier version of it fit, since rows never move.
            """, transform: VersionNumber.parse)
    var catalogue: UInt64

    @Flag(help: "Register the trained policy as the pool's next online version (online learning continues from it).")
    var register = false

    @Option(help: "Bootstrap resamples for the confidence intervals (0: none).")
    var resamples = 1_000

    @Flag(help: "Print one JSON object (keys in docs/ONLINE.md).")
    var json = false

    @OptionGroup var connection: BrokerOptions

    func validate() throws {
        guard catalogue >= 1 else { throw ValidationError("--catalogue is a catalogue version, from 1") }
        try BootstrapResamples.validate(resamples)
    }

    /// The `--json` document.
    struct Output: Encodable {
        var dataset: String
        var catalogueVersion: UInt64
        var startVersion: UInt64
        var trainedRows: Int
        var trainedClicks: Int
        var refusedRows: Int
        /// Why the first refused training row was refused (absent when none was, or no reason is known).
        var firstRefusal: String?
        var evaluatedRows: Int
        /// Bootstrap resamples behind the intervals (`--resamples`; 0: none).
        var resamples: Int
        var evaluation: WarmStartEvaluation
        var verdict: WarmStartEvaluation.Verdict
        /// Why the verdict is `no_intervals` (null for every other verdict).
        var noIntervalReason: String?
        var registeredVersion: UInt64?
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            // The pool is asked first: a catalogue it does not serve is refused before a large log is read.
            let view = try await client.online()
            guard view.enabled else {
                throw CommandFailure("the pool does not run online learning (start the broker with --online)", exitCode: .conflict)
            }
            guard view.catalogueVersion == catalogue else {
                throw try await Self.notServed(catalogue, serving: view.catalogueVersion, client: client)
            }
            let parts = try logs.logs()
            let (install, pack) = try await client.onlinePolicy()
            // Declared values the served policy does not encode are not used: say so, rather than ignore them.
            if let path = logs.schema, let schema = try? DataSchema.read(path: path) {
                for note in WarmStart.schemaValueNotes(schema: schema, spec: install.spec) {
                    CommandOutput.printError("warning: \(note)")
                }
            }
            // The trained policy's pack is as large as the served one's: one a client may not send is refused before the
            // training, naming the cause, instead of TOO_LARGE after it.
            let sendable = WireLimits.standard.maxMessageBytes - (1 << 20)
            let packBytes = pack.vectors.reduce(0) { $0 + $1.values.count } * MemoryLayout<Float>.size
            if register && packBytes > sendable {
                throw CommandFailure(
                    "--register: the policy's weights are \(packBytes) bytes, more than the \(sendable) a client may "
                        + "send: its schema's \(install.spec.userWidth) user columns make its interaction features too wide; declare "
                        + "fewer values (every value not listed shares one column) or fewer categorical user features",
                    exitCode: .badInput)
            }
            let start: OnlinePolicy
            let trained: WarmStart.Trained
            let evaluation: WarmStartEvaluation
            do {
                start = try OnlinePolicy.served(spec: install.spec, weights: pack)
                // The policy's items are its catalogue's rows; a log numbers ids 0..<n by id (in any file order).
                trained = try WarmStart.train(start, on: parts.train.itemsAsCatalogueRows(ids: install.spec.itemIds, numberedByRow: install.catalogue == nil))
                evaluation = try WarmStartEvaluation.evaluate(
                    trained: trained.policy, start: start,
                    on: parts.test.itemsAsCatalogueRows(ids: install.spec.itemIds, numberedByRow: install.catalogue == nil), resamples: resamples)
            } catch let error as WarmStartError {
                // The pool's learner, not the logs, is what a warm start cannot train: its state, as a pool without online
                // learning is (CONFLICT, exit 21).
                if case .notContextualBandit = error { throw CommandFailure("warm start: \(error)", exitCode: .conflict) }
                throw CommandFailure("warm start: \(error)", exitCode: .badInput)
            } catch let error as DataError {
                throw CommandFailure("warm start: \(error)", exitCode: .badInput)
            } catch {
                throw CommandFailure("warm start: the served policy: \(error)", exitCode: .badInput)
            }
            var registered: OnlineView?
            if register {
                registered = try await client.onlineRegister(
                    PolicyWeights.pack(trained.policy), catalogueVersion: catalogue, startVersion: install.version,
                    timeoutMs: connection.changeTimeoutMs)
            }
            let output = Output(
                dataset: logs.dataset, catalogueVersion: catalogue, startVersion: install.version,
                trainedRows: trained.rows, trainedClicks: trained.clicks, refusedRows: trained.refused,
                firstRefusal: trained.firstRefusal,
                evaluatedRows: evaluation.candidate.segment(.all)?.rows ?? 0, resamples: resamples, evaluation: evaluation,
                verdict: evaluation.verdict,
                // Whatever the verdict: a too-few-clicks verdict with every interval missing said null here.
                noIntervalReason: evaluation.noIntervalReason,
                registeredVersion: registered?.version)
            CommandOutput.printLine(json ? try JSONOutput.encode(output) : Self.text(output))
        }
    }

    /// Why `--catalogue` cannot be used: no such version (`NOT_FOUND`), or the pool serves another version
    /// (`CONFLICT`; named with the version to pass when the requested one is an earlier version of it).
    static func notServed(_ catalogue: UInt64, serving: UInt64?, client: RecPoolClient) async throws -> CommandFailure {
        let list = try await client.control(ControlRequest(.catalogues), as: CatalogueList.self)
        let versions = Dictionary(list.catalogues.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        let servingText = serving.map { "catalogue version \($0)" } ?? "the simulator world's catalogue"
        guard versions[catalogue] != nil else {
            let known = list.catalogues.isEmpty
                ? "none is registered" : "versions \(list.catalogues.map(\.version).min()!)…\(list.catalogues.map(\.version).max()!)"
            return CommandFailure(
                "no catalogue version \(catalogue) is registered (\(known)); the pool serves \(servingText)",
                exitCode: .notFound)
        }
        var ancestor = serving.flatMap { versions[$0]?.parent }
        while let version = ancestor, version != catalogue { ancestor = versions[version]?.parent }
        if let serving, ancestor == catalogue {
            return CommandFailure(
                "the pool serves catalogue version \(serving), a later version of \(catalogue): pass --catalogue \(serving) "
                    + "(logs of version \(catalogue) fit it, since rows never move)",
                exitCode: .conflict)
        }
        return CommandFailure(
            "the pool serves \(servingText), not catalogue version \(catalogue): warm-start on the catalogue it serves "
                + "(start the broker with --online-catalogue \(catalogue) to serve that one)",
            exitCode: .conflict)
    }

    /// The report as text.
    static func text(_ o: Output) -> String {
        let e = o.evaluation
        func ci(_ c: ConfidenceInterval?) -> String { intervalText(c, "%.5f") }
        var lines = [
            "warm start from \(o.dataset) on catalogue version \(o.catalogueVersion), from online policy version "
                + "\(o.startVersion): learnt \(o.trainedRows) logged rows (\(o.trainedClicks) clicks, \(o.refusedRows) refused), "
                + "the first 60% by time" + (o.firstRefusal.map { "; first refused: \($0)" } ?? ""),
            "off-policy check on the \(o.evaluatedRows) first-slot rows of the last 30% by time, clicks per shown item, "
                + (o.resamples > 0 ? "95% bootstrap intervals from \(o.resamples) resamples:" : "no intervals (--resamples 0):"),
            "  logging policy (mean logged click) " + String(format: "%.5f", e.loggingValue) + ci(e.loggingInterval)
                // Its missing interval said why, as every other figure's is (it was left blank under the heading
                // "95% bootstrap intervals").
                + (e.loggingInterval == nil && o.resamples > 0
                    ? " (no interval: \(e.loggingIntervalUndefined ?? "the bootstrap gave none"))" : ""),
            "  warm-started policy:",
        ]
        lines += OffPolicyText.lines(e.candidate, indent: "    ")
        if e.unsupportedShare > 0 {
            lines.append(
                String(format: "  %.1f%% of the warm start's choices are items added since the logs' catalogue (no logged support; counted as no click)",
                    100 * e.unsupportedShare))
        }
        // The served version the warm start began from: untrained only in a pool that has learnt nothing yet.
        lines.append("  start policy (online version \(o.startVersion), as served):")
        lines += OffPolicyText.lines(e.start, indent: "    ")
        if let snipw = e.value(.snipw) {
            let comparison = String(
                format: "verdict: the warm start's SNIPW %.5f against the logging policy's %.5f: ", snipw, e.loggingValue)
            switch e.verdict {
            case .above: lines.append(comparison + "above the logging policy (the 95% intervals do not overlap)")
            case .below: lines.append(comparison + "below the logging policy (the 95% intervals do not overlap)")
            case .indistinguishable:
                lines.append(comparison + "not distinguishable from the logging policy on these rows (the intervals overlap)")
            case .tooFewClicks:
                lines.append(
                    comparison + "cannot tell: only \(e.favouredClicks) of the \(e.clicks) held-out clicks are on items "
                        + "this policy shows at least as often as the logging policy did (fewer than "
                        + "\(WarmStartEvaluation.minimumFavouredClicks); the bootstrap cannot see what so few clicks leave out)")
            case .noIntervals:
                lines.append(comparison + "not compared: no interval to compare (\(e.noIntervalReason ?? "none was computed"))")
            }
        }
        if let version = o.registeredVersion {
            lines.append("registered as online policy version \(version) on catalogue version \(o.catalogueVersion)")
        } else {
            lines.append("not registered (pass --register to serve it)")
        }
        return lines.joined(separator: "\n")
    }
}
