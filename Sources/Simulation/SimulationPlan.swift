import RecClient
import RecData
import RecPolicy

/// What to simulate: how many new users, from which world and seed, and how many at once.
public struct SimulationPlan: Sendable, Equatable {
    /// Simulated users, each shown one slate.
    public var users: Int
    /// Seed of the user sequence (the environment); the baselines see the same users.
    public var seed: UInt64
    /// Users in flight against the backend at once.
    public var concurrency: Int
    /// Windows of the CTR-over-time series.
    public var windows: Int
    /// The simulated world; it must be the one whose catalogue the pool serves (``SimulatorCatalog``).
    public var world: SimulatorConfig
    /// Progress is reported after every this many finished users.
    public var progressEvery: Int
    /// One user at a time, waiting at a ``SyncBarrier`` every M events, so one seed gives one curve.
    public var deterministic = false

    /// Creates a plan over the default world (the one `recpool-broker --online` serves).
    public init(
        users: Int, seed: UInt64, concurrency: Int = 1, windows: Int = 10, world: SimulatorConfig = SimulatorConfig(),
        progressEvery: Int = 100
    ) {
        self.users = users
        self.seed = seed
        self.concurrency = concurrency
        self.windows = windows
        self.world = world
        self.progressEvery = progressEvery
    }

    /// The most simulated users of one run (the run keeps a record per user).
    public static let maximumUsers = 10_000_000

    /// Why the plan cannot run, or `nil` when it can.
    public var problem: String? {
        if !(1...Self.maximumUsers).contains(users) { return "users must be 1...\(Self.maximumUsers), got \(users)" }
        if !(1...10_000).contains(concurrency) { return "concurrency must be 1...10000, got \(concurrency)" }
        if windows < 1 || windows > users { return "windows must be in 1...\(users) (the users), got \(windows)" }
        if progressEvery < 1 { return "progress_every must be at least 1, got \(progressEvery)" }
        if deterministic && concurrency != 1 {
            return "concurrency must be 1 in a deterministic run (one client lane), got \(concurrency)"
        }
        return nil
    }
}

/// Why a simulation could not start.
public enum SimulationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The plan's values cannot be used; the text names the field.
    case invalidPlan(String)
    /// The served policy could not be fetched (for the fixed baseline and the catalogue check).
    case policyUnavailable(ClientError)
    /// The served policy's catalogue is not the simulated world's; the text says what differs.
    case catalogueMismatch(String)
    /// The served policy's weights do not fit its spec.
    case invalidPolicy(PolicyError)
    /// A deterministic run is impossible on this pool (the text names the flag), or its barrier failed, or a user of it
    /// was not served.
    case notDeterministic(String)
    /// The pool stopped serving mid-run: ``SimulationRunner/failedUsersLimit`` users in a row failed (the text says
    /// how, and after how many users the run stopped), so the rest would only have failed one timeout each.
    case poolStopped(String)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .invalidPlan(let why): "invalid simulation: \(why)"
        case .policyUnavailable(let error): "cannot fetch the served policy (online_policy): \(error)"
        case .catalogueMismatch(let why): "the pool's catalogue is not the simulated world's: \(why)"
        case .invalidPolicy(let error): "the served policy cannot be rebuilt: \(error)"
        case .notDeterministic(let why): "cannot run deterministically: \(why)"
        case .poolStopped(let why): "the pool stopped serving: \(why)"
        }
    }
}

/// Progress of a running simulation, for a live progress line.
public struct SimulationProgress: Sendable, Equatable {
    /// Users finished (served or failed).
    public var done: Int
    /// Users planned.
    public var users: Int
    /// Users that got a slate.
    public var served: Int
    /// Clicks so far.
    public var clicks: Int
    /// Clicks per served user over the most recent finished users (up to one window).
    public var recentCtr: Double
    /// Feedback events acknowledged.
    public var feedbackSent: Int
    /// Failed calls.
    public var errors: Int
    /// The highest policy version seen in a reply.
    public var version: UInt64

    /// Clicks per served user so far.
    public var ctr: Double { served > 0 ? Double(clicks) / Double(served) : 0 }
}
