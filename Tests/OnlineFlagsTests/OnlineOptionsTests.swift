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

    /// `recpool-broker --online --exploration softmax --epsilon 0.5` started, listing ε 0.5 that nothing read.
    @Test("a tunable the chosen exploration or learner does not read is refused naming both", arguments: [
        (["--exploration", "softmax", "--epsilon", "0.5"], "--epsilon applies to epsilon_greedy exploration"),
        (["--temperature", "0.5"], "--temperature applies to softmax exploration"),
        (["--online-gamma", "0.5"], "--online-gamma applies to the session DQN"),
        (["--online-target-update-every", "3"], "--online-target-update-every applies to the session DQN"),
    ])
    func unreadTunables(arguments: [String], says: String) {
        let message = OnlineOptions.message(for: OnlineOptionsTests.parseError(["--online"] + arguments))
        #expect(message.contains(says), "\(message)")
        // Each is read where it belongs.
        #expect(throws: Never.self) { try OnlineOptions.parse(["--online", "--exploration", "softmax", "--temperature", "0.5"]) }
        #expect(throws: Never.self) {
            try OnlineOptions.parse(["--online", "--online-learner", "session_dqn", "--online-gamma", "0.5"])
        }
    }

    /// `recpool local --online-gamma nan` (no `--online`) was told the flag applies to the session DQN, not that it
    /// needs `--online`: without it nothing is judged here (the command names the missing flag). With it, a flag the
    /// learner does not read is named before its value (one error for one mistake); a value of a flag it reads is
    /// judged.
    @Test("without --online nothing is judged here; with it, a flag the learner does not read before its value",
        arguments: ["nan", "inf", "1", "1.5"])
    func valueAndCombination(gamma: String) throws {
        #expect(throws: Never.self) { try OnlineOptions.parse(["--online-gamma", gamma]) }
        let bandit = OnlineOptions.message(for: Self.parseError(["--online", "--online-gamma", gamma]))
        #expect(bandit.contains("--online-gamma applies to the session DQN"), "\(bandit)")
        let dqn = OnlineOptions.message(
            for: Self.parseError(["--online", "--online-learner", "session_dqn", "--online-gamma", gamma]))
        #expect(dqn.contains("--online-gamma") && dqn.contains("got "), "\(dqn)")
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

    /// A burst of feedback kept a replica learning past the fixed 5 s pull twice in a row, and its events were consumed
    /// without being learnt; nothing could raise the wait.
    @Test("--online-sync-timeout-ms is forwarded when changed and refused outside 100 ms to 1 hour, naming the flag")
    func syncTimeout() throws {
        #expect(try OnlineOptions.parse(["--online", "--online-sync-timeout-ms", "20000"]).brokerArguments
            == ["--online", "--online-sync-timeout-ms", "20000"])
        #expect(try OnlineOptions.parse(["--online", "--online-sync-timeout-ms", "5000"]).brokerArguments == ["--online"])
        for bad in ["99", "3600001"] {
            let error = Self.parseError(["--online", "--online-sync-timeout-ms", bad])
            let text = OnlineOptions.fullMessage(for: error)
            #expect(text.contains("--online-sync-timeout-ms") && text.contains("got \(bad)"), "\(text)")
        }
    }

    static func parseError(_ arguments: [String]) -> any Error {
        do {
            _ = try OnlineOptions.parse(arguments)
            return CancellationError()
        } catch { return error }
    }
}
