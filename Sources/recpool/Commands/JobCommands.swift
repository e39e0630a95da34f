import ArgumentParser
import Foundation
import RecClient
import RecTransport
import RecWire

/// `recpool jobs`: lists training jobs.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List training jobs.")

    @OptionGroup var connection: BrokerOptions

    @Flag(help: "Machine output: {\"jobs\": [...]}.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let list = try await client.control(ControlRequest(.jobs), as: JobListView.self)
            if json {
                CommandOutput.printLine(try JSONOutput.encode(list))
                return
            }
            guard !list.jobs.isEmpty else {
                CommandOutput.printLine("no training job has been submitted (recpool train submits one)")
                return
            }
            CommandOutput.printLine("JOB        STATE      MODEL ROUND     LOSS      VERSION")
            for job in list.jobs {
                // A diverged job's loss (1e308) printed as 309 digits across the table: past 10⁴ in exponent form.
                let loss = job.loss.map(JobFollower.figure) ?? "-"
                CommandOutput.printLine(
                    [job.job.padded(10), job.state.padded(10), job.model.padded(5), "\(job.round)/\(job.totalRounds)".padded(9),
                     loss.padded(9), job.modelVersion.map(String.init) ?? "-"].joined(separator: " "))
            }
        }
    }
}

/// `recpool job ID`: one job's state and progress.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Show a training job; --follow streams progress.")

    @OptionGroup var connection: BrokerOptions

    @Argument(help: "The job id, such as job-1.")
    var id: String

    @Flag(help: "Stream progress until the job ends.")
    var follow = false

    func validate() throws {
        if id.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("the job id is empty (such as job-1)") }
        if let problem = WireText.nameProblem(id, field: "the job id") { throw ValidationError(problem) }
    }

    @Flag(help: "Machine output: JSON (with --follow, one object per update; the last is final).")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            if follow {
                try await JobFollower.follow(id, client: client, json: json)
                return
            }
            let job = try await client.control(ControlRequest(.job, job: id), as: JobView.self)
            if json {
                CommandOutput.printLine(try JSONOutput.encode(job))
            } else {
                CommandOutput.printLine(JobFollower.describe(job))
                for round in job.rounds ?? [] {
                    // A round's metrics are those of the averaged model after it, measured when the next round starts.
                    let metrics = round.metrics.map { m in
                        "validation after round \(round.round): "
                            + m.keys.sorted().map { "\($0)=\(JobFollower.metric($0, m[$0] ?? nil, among: m))" }.joined(separator: " ")
                    } ?? ""
                    CommandOutput.printLine(
                        "  round \(round.round): loss \(round.loss.map(JobFollower.figure) ?? "undefined (no gradient step)"), \(round.samples) samples, \(round.replicas) replica(s), \(String(format: "%.2f", round.seconds)) s \(metrics)")
                }
            }
        }
    }
}

/// `recpool cancel ID`: stops a training job.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a training job.")

    @OptionGroup var connection: BrokerOptions

    @Argument(help: "The job id.")
    var id: String

    func validate() throws {
        if id.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("the job id is empty (such as job-1)") }
        if let problem = WireText.nameProblem(id, field: "the job id") { throw ValidationError(problem) }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let job = try await client.control(ControlRequest(.cancelJob, job: id), as: JobView.self)
            CommandOutput.printLine("\(job.job) \(job.state)")
        }
    }
}

/// Polls a job and renders its progress: a bar with ETA for people, JSON lines for machines.
enum JobFollower {
    /// How long `--follow` keeps asking a broker that does not answer (a restart resumes the job within seconds)
    /// before it gives up with the timeout's error.
    static let unansweredGraceSeconds = 60.0

    /// How long to wait before the next read after `error`, when it is one a broker restart gives (seconds): none after
    /// a read that timed out (it waited already), the broker's hint (0.05 to 1 s) after its BUSY; nil for any other
    /// error, which ends the follow.
    static func restartPause(_ error: ClientError) -> Double? {
        switch error {
        case .timedOut: 0
        case .server(.busy, _, let retryAfterMs): min(max(Double(retryAfterMs) / 1000, 0.05), 1)
        default: nil
        }
    }

    static func follow(_ id: String, client: RecPoolClient, json: Bool) async throws {
        var last: JobView? = nil
        // The first round seen and when: the ETA is measured from rounds that ran while following, never from the
        // rounds a job had run before it was followed (they took time this command did not see).
        var firstSeen: (round: Int, at: Date)? = nil
        let terminal = isatty(1) != 0
        var silentSince: Date? = nil
        while true {
            let job: JobView
            do {
                job = try await client.control(ControlRequest(.job, job: id), as: JobView.self)
                if silentSince != nil { CommandOutput.printError("recpool: the broker answers again; following \(id)") }
                silentSince = nil
            } catch {
                // A broker restart: a draining broker answers BUSY ("retry against its successor"), a stopped one
                // nothing, and the job resumes from its last stored round; so keep following it for a while.
                guard let pause = Self.restartPause(error) else { throw error }
                let since = silentSince ?? Date()
                if silentSince == nil {
                    CommandOutput.printError(
                        "recpool: \(error); still following \(id) for up to \(Int(unansweredGraceSeconds)) s "
                            + "(a restarted broker resumes the job)")
                }
                silentSince = since
                if Date().timeIntervalSince(since) >= unansweredGraceSeconds { throw error }
                if pause > 0 { try await Task.sleep(nanoseconds: UInt64(pause * 1e9)) }
                continue
            }
            let final = ["completed", "failed", "cancelled"].contains(job.state)
            if json {
                if job != last || final { CommandOutput.printLine(try JSONOutput.encode(Summary(job))) }
            } else {
                let now = Date()
                if firstSeen == nil || job.round < firstSeen!.round { firstSeen = (job.round, now) }
                let ran = job.round - firstSeen!.round
                let secondsPerRound = ran > 0 ? now.timeIntervalSince(firstSeen!.at) / Double(ran) : nil
                let line = progressLine(job, secondsPerRound: secondsPerRound)
                if terminal {
                    FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + line).utf8))
                    if final { CommandOutput.printLine("") }
                } else if job.round != last?.round || final {
                    CommandOutput.printLine(line)
                }
            }
            last = job
            if final {
                if !json { CommandOutput.printLine(describe(job)) }
                if job.state != "completed" { throw CommandFailure("job \(id) \(job.state)\(job.error.map { ": \($0)" } ?? "")", exitCode: .jobFailed) }
                return
            }
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    /// One progress line; the ETA is the rounds left at `secondsPerRound` (measured while following; none before
    /// a round has run since, or once the job no longer runs).
    static func progressLine(_ job: JobView, secondsPerRound: Double?) -> String {
        let total = max(job.totalRounds, job.round)
        // The broker's numbers: a negative round must not make a negative bar (which would trap).
        let fraction = total > 0 ? min(1, max(0, Double(job.round) / Double(total))) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        // An estimate of the time left only while rounds run: a cancelled or failed job has none left.
        let eta =
            job.state == "running" && fraction < 1 && total > 0 && secondsPerRound != nil
            ? String(format: "ETA %.0fs", secondsPerRound! * Double(total - job.round)) : ""
        let loss = job.loss.map { "loss " + figure($0) } ?? ""
        let waiting = job.waiting.map { " (waiting: \($0))" } ?? ""
        return "\(job.job) [\(bar)] round \(job.round)/\(total > 0 ? String(total) : "?") epoch \(job.epoch) \(loss) \(eta)\(waiting)"
    }

    /// One metric as text: a count (`val_rows`, `val_rows_cold`, `…_clicks`, `…_samples`, a DQN's `episodes`) as an integer, any other
    /// figure with four decimals, and one that is undefined (`null`: an AUC on rows of one class) as `undefined (REASON)`.
    /// - Parameter all: every metric of the same round, so the reason for an undefined one can tell a segment with no
    ///   rows (`val_rows_warm` 0) from rows of one class.
    static func metric(_ name: String, _ value: Double?, among all: [String: Double?] = [:]) -> String {
        guard let value, value.isFinite else {
            return figureText(nil, "%.4f", undefined: undefinedReason(name, among: all))
        }
        // A verdict stored as 1/0 among the metrics (JSON keeps the number): yes or no, never "1.0000".
        if name == "beats_constant", let verdict = JobView.constantVerdict(value, among: all) { return verdict }
        // A count's name has a count word among its parts, before any segment suffix (`val_rows_cold`).
        let isCount = name.split(separator: "_").contains { ["rows", "clicks", "samples", "count", "episodes"].contains(String($0)) }
        if isCount, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return figure(value)
    }

    /// A loss or metric for a line of text: four decimals, or past 10⁴ in exponent form (a diverged job's loss of
    /// 1e308 printed as 309 digits across `recpool jobs`' table).
    static func figure(_ value: Double) -> String {
        abs(value) < 10_000 ? String(format: "%.4f", value) : String(format: "%.4g", value)
    }

    /// Why metric `name` can be undefined, for its text: an AUC needs a click and a non-click among the rows it is
    /// computed on; any other figure needs rows (a `_cold` or `_warm` metric, rows of that segment).
    /// A segment whose row count (`val_rows`, `val_rows_cold`, `val_rows_warm`) is 0 among `all` has no rows at all, which
    /// is the reason for an AUC too.
    static func undefinedReason(_ name: String, among all: [String: Double?] = [:]) -> String {
        let suffix = name.hasSuffix("_cold") ? "_cold" : name.hasSuffix("_warm") ? "_warm" : ""
        let segment = suffix == "_cold" ? " of cold-start users" : suffix == "_warm" ? " of warm users" : ""
        let rows = all["val_rows" + suffix] ?? nil
        if name.contains("auc") && rows != 0 { return "the validation rows\(segment) hold no click or no non-click" }
        if name == "ctr" || name == "reward" { return "no item could be shown" }
        if name == "train_click_rate" { return "no training rows" }
        return "no validation rows\(segment)"
    }

    /// The one-line summary of a job: state, progress, loss, model version, validation metrics and error.
    static func describe(_ job: JobView) -> String {
        var parts = ["\(job.job): \(job.state)", "round \(job.round)/\(job.totalRounds)", "epoch \(job.epoch)", "step \(job.step)"]
        if let loss = job.loss { parts.append("loss " + figure(loss)) }
        if let version = job.modelVersion { parts.append("model version \(version)") }
        if let metrics = job.metrics, !metrics.isEmpty {
            // Which model the figures describe: the registered one once completed, else the newest average measured.
            let label = job.metricsLabel
            parts.append(label + " " + metrics.keys.sorted().map { "\($0) \(metric($0, metrics[$0] ?? nil, among: metrics))" }.joined(separator: ", "))
        }
        if let warning = job.constantWarning { parts.append(warning) }
        // The error quotes what a file held (a CSV cell): escaped, so it prints as text on a terminal.
        if let error = job.error { parts.append("error: \(CommandOutput.escapingControls(error))") }
        if let waiting = job.waiting { parts.append("waiting: \(waiting)") }
        return parts.joined(separator: ", ")
    }

    /// The `--follow --json` line: at least job, state, model_version and metrics.
    struct Summary: Codable {
        var job: String
        var state: String
        var modelVersion: UInt64?
        /// `null` before any metric was measured (a job that failed before its first round), never `{}`.
        var metrics: MetricValues?
        var round: Int
        var totalRounds: Int
        var loss: Double?
        var error: String?
        /// Why a queued or running job makes no progress now (no live training worker), or `null`.
        var waiting: String?

        init(_ view: JobView) {
            job = view.job
            state = view.state
            modelVersion = view.modelVersion
            metrics = view.metrics
            round = view.round
            totalRounds = view.totalRounds
            loss = view.loss
            error = view.error
            waiting = view.waiting
        }
    }
}

/// The reply to `jobs`, as the command line decodes it.
struct JobListView: Codable {
    var jobs: [JobView]
}

extension String {
    func padded(_ width: Int) -> String { padding(toLength: max(width, count), withPad: " ", startingAt: 0) }
}
