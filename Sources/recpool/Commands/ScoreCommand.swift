import ArgumentParser
import Foundation
import RecClient
import RecConfig
import RecTransport
import RecWire

/// `recpool score`: scores feature rows from a file through the pool.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Score feature rows (CSV or JSON) and print one probability per row.")

    @OptionGroup var connection: BrokerOptions

    @Option(help: "CSV (optional header; a `label` column is ignored) or JSON rows; - for stdin.")
    var input: String

    @Option(help: "Require at least this model version (or exactly, with --exact).", transform: VersionNumber.parse)
    var modelVersion: UInt64?

    @Flag(help: "With --model-version: require exactly that version.")
    var exact = false

    @Flag(help: "Print one JSON object: {\"model_version\": N, \"scores\": [...]}.")
    var json = false

    func validate() throws {
        try PathName.validate([(input, "--input")], what: "a file (or - for standard input)")
        if exact && modelVersion == nil { throw ValidationError("--exact needs --model-version: the version to require") }
        // Versions are numbered from 1: `--model-version 0` is refused when parsed (``VersionNumber``).
    }

    func run() async throws {
        try await reportingFailures {
            let rows = try RowsFile.read(input)
            let client = try await connection.connect()
            defer { client.close() }
            var requirement = VersionRequirement.any
            if let modelVersion { requirement = exact ? .exactly(modelVersion) : .atLeast(modelVersion) }
            // More rows than one request holds are split across requests, as the Python client splits them.
            let scores = try await client.scoreSplit(rows: rows, version: requirement)
            try ScoreOutput.check(scores.values, rows: rows.count, source: input)
            if json {
                CommandOutput.printLine(
                    try JSONOutput.encode(ScoreOutput(modelVersion: scores.modelVersion, scores: scores.values)))
            } else {
                CommandOutput.printLine("model version \(scores.modelVersion)")
                // The shortest text that reads back as the same float, as `predict` and `--json` print it: six fixed decimals
                // printed 1.4e-09 as 0.000000 and made distinct scores equal.
                for value in scores.values { CommandOutput.printLine("\(value)") }
            }
        }
    }
}

/// The stable `--json` shape of `recpool score` and `recpool predict`.
struct ScoreOutput: Codable {
    var modelVersion: UInt64
    var scores: [Float]

    /// Checks scores before anything is printed: one per row read (never a silently dropped row) and every one
    /// finite (the row is named otherwise).
    /// - Throws: ``CommandFailure`` (``ExitStatus/failed``) for a count mismatch, ``NonFiniteResult`` for NaN or
    ///   infinity.
    static func check(_ scores: [Float], rows: Int, source: String) throws {
        guard scores.count == rows else {
            throw CommandFailure("\(source): read \(rows) rows but got \(scores.count) scores; nothing printed")
        }
        try NonFiniteResult.check(scores, name: "score")
    }
}
