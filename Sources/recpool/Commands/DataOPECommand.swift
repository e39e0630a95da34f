import ArgumentParser
import Foundation
import RecData
import Shared

/// `recpool data ope DATASET --policy uniform`: off-policy value of a simple policy on logged data.
struct DataOPECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ope",
        abstract: "Estimate a simple policy's value on logged data with DM, IPW, SNIPW and DR, split cold/warm.")

    @OptionGroup var options: DatasetOptions

    @Option(help: "uniform, or popular (always the training split's most clicked item).")
    var policy: String = "uniform"

    @Option(help: "Bootstrap resamples for the confidence intervals.")
    var resamples: Int = 1_000

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        try await reportingFailures { try await body() }
    }

    private func body() async throws {
        let data = try options.load()
        let distribution: ActionDistribution
        switch policy {
        case "uniform":
            distribution = .uniform(rows: data.rows, nActions: data.nActions)
        case "popular":
            let spec = try FeatureSpec.fit(on: data.split().train)
            let best = spec.popularity.indices.max { spec.popularity[$0] < spec.popularity[$1] } ?? 0
            var scores = [Double](repeating: 0, count: data.rows * data.nActions)
            for row in 0..<data.rows { scores[row * data.nActions + best] = 1 }
            distribution = .greedy(scores: scores, nActions: data.nActions)
        default:
            CommandOutput.printError("recpool: unknown policy '\(policy)' (uniform, popular)")
            throw ExitStatus.usage.exitCode
        }
        let report = OffPolicyEvaluation.evaluate(
            policy: distribution, policyName: policy, on: data, resamples: resamples)
        if json {
            CommandOutput.printLine(try JSONOutput.encode(report))
            return
        }
        CommandOutput.printLine("\(report.dataset): value of policy '\(report.policy)'")
        for line in OffPolicyText.lines(report) { CommandOutput.printLine(line) }
    }
}
