import ArgumentParser
import Foundation
import RecSimulation
import RecTransport

/// `recpool simulate`: simulated new users drive a live pool with online learning.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Drive a pool with simulated new users and report its click-through rate over time.",
        discussion: """
            Users come from the default simulator world, whose catalogue `recpool-broker --online` serves. Each \
            user gets one RECOMMEND, clicks at most one item by the simulator's ground truth, and FEEDBACK is \
            sent for every shown item. The same users (same --seed) are shown three local baselines: the uniform \
            random policy, the pool's policy at the start served without learning (fixed), and the oracle.
            """)

    @OptionGroup var connection: BrokerOptions

    @Option(help: "Simulated users (one slate each).")
    var users = 5000

    @Option(help: "Seed of the user sequence.")
    var seed: UInt64 = 1

    @Option(help: "Users in flight at once.")
    var concurrency = 1

    @Option(help: "Windows of the CTR-over-time series.")
    var windows = 10

    @Flag(help: "Print the report as one JSON object (keys in docs/ONLINE.md).")
    var json = false

    @Option(help: "Write a self-contained HTML report with the CTR-over-time chart (inline SVG).")
    var report: String?

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    func validate() throws {
        let plan = SimulationPlan(users: users, seed: seed, concurrency: concurrency, windows: windows)
        if let problem = plan.problem { throw ValidationError(problem) }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try await connection.connect()
            defer { client.close() }
            let plan = SimulationPlan(
                users: users, seed: seed, concurrency: concurrency, windows: windows,
                progressEvery: max(1, min(100, users / 50)))
            let line = SimulationProgressLine(enabled: !quiet)
            let result: SimulationReport
            do throws(SimulationError) {
                result = try await SimulationRunner.run(
                    backend: PoolBackend(client: client, timeoutMs: connection.timeoutMs), plan: plan
                ) { progress in line.show(progress) }
            } catch {
                line.finish()
                let status: ExitStatus =
                    switch error {
                    case .policyUnavailable(let client): ExitStatus.of(client)
                    case .invalidPlan, .catalogueMismatch: .badInput
                    case .invalidPolicy: .failed
                    }
                throw CommandFailure(error.description, exitCode: status)
            }
            line.finish()
            CommandOutput.printLine(json ? try result.json() : result.text)
            if let path = report {
                let command = (["recpool"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
                do {
                    try result.html(command: command).write(toFile: path, atomically: true, encoding: .utf8)
                } catch {
                    throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
                }
            }
            if result.served == 0 {
                throw CommandFailure("no simulated user was served (see errors)", exitCode: .errorsDominate)
            }
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
        let line = String(
            format: "users %d/%d  served %d  CTR %.4f  recent %.4f  feedback %d  errors %d  policy v%llu", p.done,
            p.users, p.served, p.ctr, p.recentCtr, p.feedbackSent, p.errors, p.version)
        FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        if enabled && tty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
