import ArgumentParser
import RecWire

/// The online-learning flags (`--online` and its tunables), declared once for `recpool-broker`,
/// which reads them, and `recpool local`, which forwards them to the broker it starts.
///
/// The defaults here are the broker's. ``changedTunables`` and ``brokerArguments`` let a command
/// forward only what its user set, so the broker's own defaults stay the single source.
public struct OnlineOptions: ParsableArguments {
    /// Creates the options (ArgumentParser fills them in when it parses).
    public init() {}

    /// Whether to serve the online policy and learn from feedback.
    @Flag(help: "Serve the online policy and learn from FEEDBACK (needs --state-dir).")
    public var online = false

    /// T: the longest time between two syncs, ms (0: never by time, only by event count).
    @Option(help: "Sync the replicas' learnt weights at least this often, in ms (T; 0: only by event count).")
    public var onlineSyncIntervalMs: UInt64 = 10_000

    /// M: the feedback events that trigger a sync.
    @Option(help: "… or as soon as this many feedback events have reached the learners (M).")
    public var onlineSyncEvents = 500

    /// How long a sync waits for the replicas' learnt states, ms.
    @Option(
        help: """
            How long a sync waits for the replicas' learnt states, in ms. A live replica that has not answered by then, \
            while others have, is behind on learning and is waited for up to 12 times as long; a replica that answers \
            later still, or has left, is in no merge of that sync (its feedback goes to the replicas again). Raise it \
            when bursts of feedback keep replicas learning past that.
            """)
    public var onlineSyncTimeoutMs: UInt64 = 5_000

    /// The SNIPW guard's margin.
    @Option(
        help: "The guard rejects a candidate whose SNIPW estimate falls below the current version's by more than this.")
    public var onlineGuardMargin = 0.01

    /// Logged rows below which the guard accepts without comparing.
    @Option(help: "With fewer logged rows than this, the guard accepts a candidate without comparing.")
    public var onlineGuardMinRows = 200

    /// Impressions the log keeps.
    @Option(help: "Impressions the log keeps (older ones and their feedback are evicted).")
    public var impressionLogSize = 200_000

    /// How many of the newest online policy versions keep their weights (0: every one).
    @Option(
        help: """
            How many of the newest online policy versions keep their weights in the state directory; older ones are \
            pruned (their rows stay, named as pruned). 0 keeps every version.
            """)
    public var onlineKeepVersions = 50

    /// How long after an impression its feedback is accepted, seconds.
    @Option(help: "Feedback is accepted for this many seconds after an impression is served.")
    public var feedbackWindowS: UInt64 = 3600

    /// `epsilon_greedy` or `softmax`.
    @Option(help: "Exploration: epsilon_greedy or softmax.")
    public var exploration = "epsilon_greedy"

    /// ε of ε-greedy exploration.
    @Option(help: "ε for epsilon_greedy exploration, in [0, 1].")
    public var epsilon = OnlineOptions.defaultEpsilon

    /// The softmax temperature.
    @Option(help: "Temperature for softmax exploration, above 0.")
    public var temperature = OnlineOptions.defaultTemperature

    /// K: feedback events between two learning updates on a replica.
    @Option(help: "Feedback events between two learning updates on a replica (K).")
    public var onlineUpdateEvery = 16

    /// What the replicas learn: `contextual_bandit` (γ = 0) or `session_dqn`.
    @Option(
        help: "What the replicas learn: contextual_bandit (γ = 0, the default) or session_dqn (Double-DQN over the session).")
    public var onlineLearner = OnlineLearnerKind.contextualBandit.rawValue

    /// γ of the session DQN.
    @Option(help: "γ, the discount of the session DQN's target r + γ·Q_target(s′, a*), in [0, 1).")
    public var onlineGamma = OnlineOptions.defaultGamma

    /// Updates between two target network copies (session DQN).
    @Option(help: "Learning updates between two copies of the session DQN's online network into its target network.")
    public var onlineTargetUpdateEvery = OnlineOptions.defaultTargetUpdateEvery

    /// The seed of the simulator world whose items form the catalogue.
    @Option(help: "Seed of the simulator world whose items form the catalogue.")
    public var onlineWorldSeed: UInt64 = 7

    /// The registered catalogue the policy serves, `latest` or a version number (`recpool catalogue upload`).
    @Option(
        help: "Serve the policy over a registered catalogue: a version number or latest (default: the simulator world's).",
        transform: VersionNumber.parseOrLatest)
    public var onlineCatalogue: String?

    /// Whether `recpool online sync --corrupt noise` may replace a candidate (guard testing).
    @Flag(help: "Let `recpool online sync --corrupt noise` replace a candidate with noise (to test the guard).")
    public var allowFaultInjection = false

    /// The exploration kind named by `--exploration`.
    /// - Throws: `ValidationError` naming the flag when it is neither `epsilon_greedy` nor `softmax`.
    public func explorationKind() throws -> ExplorationSpec.Kind {
        guard let kind = ExplorationSpec.Kind(rawValue: exploration) else {
            throw ValidationError("--exploration must be epsilon_greedy or softmax, got '\(exploration)'")
        }
        return kind
    }

    /// The learner named by `--online-learner`.
    /// - Throws: `ValidationError` naming the flag when it is neither `contextual_bandit` nor `session_dqn`.
    public func learnerKind() throws -> OnlineLearnerKind {
        guard let kind = OnlineLearnerKind(rawValue: onlineLearner) else {
            throw ValidationError("--online-learner must be contextual_bandit or session_dqn, got '\(onlineLearner)'")
        }
        return kind
    }

    /// The defaults of the tunables ``validate()`` checks against the chosen kinds.
    static let defaultEpsilon = 0.02
    static let defaultTemperature = 0.05
    static let defaultGamma = 0.9
    static let defaultTargetUpdateEvery = 8

    /// Checks what can be checked without the broker: the exploration and learner kinds, and that no tunable is
    /// changed that the chosen kinds do not read (`--epsilon` with softmax exploration was accepted and ignored).
    /// - Throws: `ValidationError` naming the flag.
    public func validate() throws {
        let exploring = try explorationKind()
        let learning = try learnerKind()
        // Against the defaults themselves: ``changedTunables`` parses a default instance, which validates again.
        var changed: Set<String> = []
        if epsilon != Self.defaultEpsilon { changed.insert("--epsilon") }
        if temperature != Self.defaultTemperature { changed.insert("--temperature") }
        if onlineGamma != Self.defaultGamma { changed.insert("--online-gamma") }
        if onlineTargetUpdateEvery != Self.defaultTargetUpdateEvery { changed.insert("--online-target-update-every") }
        // Without --online the command refuses every changed tunable as needing it (`--online-gamma nan` was told it
        // applies to the session DQN, not that it needs --online).
        guard online else { return }
        // A tunable the chosen kinds do not read first: its value does not matter, as it must not be given at all.
        if exploring == .softmax && changed.contains("--epsilon") {
            throw ValidationError("--epsilon applies to epsilon_greedy exploration; softmax exploration reads --temperature")
        }
        if exploring == .epsilonGreedy && changed.contains("--temperature") {
            throw ValidationError(
                "--temperature applies to softmax exploration (--exploration softmax); epsilon_greedy reads --epsilon")
        }
        if learning == .contextualBandit {
            for flag in ["--online-gamma", "--online-target-update-every"] where changed.contains(flag) {
                throw ValidationError(
                    "\(flag) applies to the session DQN (--online-learner session_dqn); a contextual bandit has γ = 0")
            }
        }
        // The values the broker refuses, refused when parsed by every command that takes these flags: `recpool local
        // --print-config` printed `--online-gamma 1` as valid, and its broker then refused it.
        if let problem = valueProblem(exploring: exploring, learning: learning) {
            throw ValidationError("online learning: \(Self.flagNames(problem))")
        }
    }

    /// Why a tunable's value cannot be used, in the broker's words (`OnlineSettings.problem`), or nil.
    func valueProblem(exploring: ExplorationSpec.Kind, learning: OnlineLearnerKind) -> String? {
        if onlineSyncEvents < 1 { return "online sync events must be at least 1" }
        if !(100...3_600_000).contains(onlineSyncTimeoutMs) {
            return "the online sync timeout must be 100 ms to 1 hour (--online-sync-timeout-ms), got \(onlineSyncTimeoutMs)"
        }
        // SNIPW is a click rate in [0, 1]: a margin past 1 rejects nothing, as 1 does, and reads as a setting of another
        // scale (1e3 was taken and switched the guard off with no word).
        if !(onlineGuardMargin.isFinite && onlineGuardMargin >= 0 && onlineGuardMargin <= 1) {
            return "--online-guard-margin must be 0…1 (SNIPW is a click rate in [0, 1]; 1 accepts every candidate), got \(onlineGuardMargin)"
        }
        if onlineGuardMinRows < 0 {
            return "online guard minimum rows must be ≥ 0 (--online-guard-min-rows), got \(onlineGuardMinRows)"
        }
        if impressionLogSize < 1 { return "the impression log must keep at least 1 impression" }
        if onlineKeepVersions < 0 {
            return "--online-keep-versions must be 0 (keep every version) or more, got \(onlineKeepVersions)"
        }
        if feedbackWindowS < 1 { return "the feedback window must be at least 1 s (--feedback-window-s)" }
        let spec = OnlineLearningSpec(
            updateEvery: onlineUpdateEvery, batchSize: 64, learner: learning, gamma: onlineGamma,
            targetUpdateEvery: onlineTargetUpdateEvery)
        return ExplorationSpec(kind: exploring, epsilon: epsilon, temperature: temperature).problem ?? spec.problem
    }

    /// A settings problem with the flag that sets its value named (`epsilon must be…` → `--epsilon must be…`), so a
    /// value from a configuration file or the environment is traced to its source; problems that name their flag
    /// already are kept.
    public static func flagNames(_ problem: String) -> String {
        let fields: [(field: String, flag: String)] = [
            ("online sync events", "--online-sync-events"), ("online guard margin", "--online-guard-margin"),
            ("the impression log", "--impression-log-size"), ("target_update_every", "--online-target-update-every"),
            ("update_every", "--online-update-every"), ("epsilon", "--epsilon"), ("temperature", "--temperature"),
            ("gamma", "--online-gamma"),
        ]
        guard !problem.contains("(--"), let match = fields.first(where: { problem.hasPrefix($0.field + " ") }) else {
            return problem
        }
        let named = match.flag == "--" + match.field ? match.flag : match.flag + " (\(match.field))"
        return named + problem.dropFirst(match.field.count)
    }

    /// Every tunable as `(flag, value)`, in declaration order (`--online` itself excluded; a set
    /// boolean flag has an empty value).
    var tunables: [(flag: String, value: String)] {
        var out: [(String, String)] = [
            ("--online-sync-interval-ms", "\(onlineSyncIntervalMs)"), ("--online-sync-events", "\(onlineSyncEvents)"),
            ("--online-sync-timeout-ms", "\(onlineSyncTimeoutMs)"), ("--online-guard-margin", "\(onlineGuardMargin)"), ("--online-guard-min-rows", "\(onlineGuardMinRows)"),
            ("--impression-log-size", "\(impressionLogSize)"), ("--online-keep-versions", "\(onlineKeepVersions)"),
            ("--feedback-window-s", "\(feedbackWindowS)"),
            ("--exploration", exploration), ("--epsilon", "\(epsilon)"), ("--temperature", "\(temperature)"),
            ("--online-update-every", "\(onlineUpdateEvery)"), ("--online-learner", onlineLearner),
            ("--online-gamma", "\(onlineGamma)"), ("--online-target-update-every", "\(onlineTargetUpdateEvery)"),
            ("--online-world-seed", "\(onlineWorldSeed)"),
        ]
        if let onlineCatalogue { out.append(("--online-catalogue", onlineCatalogue)) }
        if allowFaultInjection { out.append(("--allow-fault-injection", "")) }
        return out
    }

    /// The tunables whose value differs from the default, as `(flag, value)`.
    public var changedTunables: [(flag: String, value: String)] {
        let defaults = (try? Self.parse([]))?.tunables ?? []
        return tunables.filter { tunable in !defaults.contains { $0.flag == tunable.flag && $0.value == tunable.value }
        }
    }

    /// The flags to pass to `recpool-broker`: `--online` and every changed tunable, or nothing
    /// without `--online`.
    public var brokerArguments: [String] {
        guard online else { return [] }
        return ["--online"] + changedTunables.flatMap { $0.value.isEmpty ? [$0.flag] : [$0.flag, $0.value] }
    }
}
