import OnlineFlags
import Testing

@Suite("Online flags")
struct OnlineOptionsTests {
    @Test("only the tunables a user changed are forwarded, after --online")
    func forwardsChangedTunables() throws {
        #expect(try OnlineOptions.parse([]).brokerArguments == [])
        #expect(try OnlineOptions.parse(["--online"]).brokerArguments == ["--online"])
        let options = try OnlineOptions.parse([
            "--online", "--epsilon", "0.2", "--online-sync-interval-ms", "300", "--allow-fault-injection",
        ])
        #expect(
            options.brokerArguments == [
                "--online", "--online-sync-interval-ms", "300", "--epsilon", "0.2", "--allow-fault-injection",
            ])
    }

    @Test("without --online the changed tunables are listed, so a command can refuse them")
    func changedWithoutOnline() throws {
        let options = try OnlineOptions.parse(["--exploration", "softmax", "--temperature", "0.5"])
        #expect(options.changedTunables.map(\.flag) == ["--exploration", "--temperature"])
        #expect(options.brokerArguments == [])
        // A value equal to the default is no change.
        #expect(try OnlineOptions.parse(["--epsilon", "0.02"]).changedTunables.isEmpty)
    }

    @Test("an unknown exploration kind is a validation error naming the flag")
    func badExploration() {
        #expect(throws: (any Error).self) { try OnlineOptions.parse(["--exploration", "greedy"]) }
        let message = OnlineOptions.message(for: OnlineOptionsTests.parseError(["--exploration", "greedy"]))
        #expect(message.contains("--exploration"))
    }

    /// Both learners are closed-form, so a step size or a number of gradient steps would be silently ignored (and
    /// would still have changed the stored spec, starting a new lineage for nothing): no flag takes them.
    @Test("no flag sets a step size or gradient steps that no learner takes", arguments: [
        "--online-learning-rate", "--online-steps-per-update",
    ])
    func noDeadLearningFlags(flag: String) {
        let message = OnlineOptions.message(for: Self.parseError(["--online", flag, "1"]))
        #expect(message.contains(flag), "\(message)")
    }

    static func parseError(_ arguments: [String]) -> any Error {
        do {
            _ = try OnlineOptions.parse(arguments)
            return CancellationError()
        } catch { return error }
    }
}
