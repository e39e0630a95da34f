import ArgumentParser
import Broker
import RecWire

/// The broker's online-learning flags (`--online` and its tunables).
struct OnlineOptions: ParsableArguments {
    @Flag(help: "Serve the online policy and learn from FEEDBACK (needs --state-dir).")
    var online = false

    @Option(help: "Sync the replicas' learnt weights at least this often, in ms (T).")
    var onlineSyncIntervalMs: UInt64 = 10_000

    @Option(help: "… or as soon as this many feedback events have reached the learners (M).")
    var onlineSyncEvents = 500

    @Option(help: "The guard rejects a candidate whose SNIPW estimate falls below the current version's by more than this.")
    var onlineGuardMargin = 0.01

    @Option(help: "With fewer logged rows than this, the guard accepts a candidate without comparing.")
    var onlineGuardMinRows = 200

    @Option(help: "Impressions the log keeps (older ones and their feedback are evicted).")
    var impressionLogSize = 200_000

    @Option(help: "Feedback is accepted for this many seconds after an impression is served.")
    var feedbackWindowS: UInt64 = 3600

    @Option(help: "Exploration: epsilon_greedy or softmax.")
    var exploration = "epsilon_greedy"

    @Option(help: "ε for epsilon_greedy exploration, in [0, 1].")
    var epsilon = 0.1

    @Option(help: "Temperature for softmax exploration, above 0.")
    var temperature = 0.05

    @Option(help: "Feedback events between two learning updates on a replica (K).")
    var onlineUpdateEvery = 16

    @Option(help: "Gradient steps per learning update.")
    var onlineStepsPerUpdate = 4

    @Option(help: "Adam learning rate of online learning.")
    var onlineLearningRate = 0.003

    @Option(help: "Seed of the simulator world whose items form the catalogue.")
    var onlineWorldSeed: UInt64 = 7

    @Flag(help: "Let `recpool online sync --corrupt noise` replace a candidate with noise (to test the guard).")
    var allowFaultInjection = false

    func validate() throws {
        _ = try settings()
    }

    /// The settings, or a validation error naming the flag.
    func settings() throws -> OnlineSettings? {
        guard online else { return nil }
        var s = OnlineSettings()
        s.syncIntervalMs = onlineSyncIntervalMs
        s.syncEvents = onlineSyncEvents
        s.guardMargin = onlineGuardMargin
        s.guardMinimumRows = onlineGuardMinRows
        s.impressionLogSize = impressionLogSize
        s.feedbackWindowMs = feedbackWindowS.multipliedSaturating(by: 1000)
        guard let kind = ExplorationSpec.Kind(rawValue: exploration) else {
            throw ValidationError("--exploration must be epsilon_greedy or softmax, got '\(exploration)'")
        }
        s.exploration = ExplorationSpec(kind: kind, epsilon: epsilon, temperature: temperature)
        s.learning = OnlineLearningSpec(
            updateEvery: onlineUpdateEvery, batchSize: 64, stepsPerUpdate: onlineStepsPerUpdate,
            learningRate: onlineLearningRate)
        s.world.seed = onlineWorldSeed
        s.allowFaultInjection = allowFaultInjection
        if let problem = s.problem { throw ValidationError("online learning: \(problem)") }
        return s
    }
}
