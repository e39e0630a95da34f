import Foundation

/// The click-through rate of consecutive users of a simulation, for the live pool and the three baselines
/// shown the same users. JSON keys: `users`, `served`, `ctr`, `random_ctr`, `fixed_ctr`, `oracle_ctr`, `version`.
public struct SimulationWindow: Codable, Sendable, Equatable {
    /// Users simulated by the end of this window (the x axis).
    public var users: Int
    /// Users of this window that got a slate from the pool.
    public var served: Int
    /// The pool's clicks per served user in this window (0 with none served, where it is undefined: JSON then
    /// holds `null` and text `undefined`).
    public var ctr: Double
    /// The uniform random policy's clicks per user on the same users.
    public var randomCtr: Double
    /// The fixed (non-learning) policy's clicks per user on the same users.
    public var fixedCtr: Double
    /// The oracle's clicks per user on the same users.
    public var oracleCtr: Double
    /// The highest policy version that served a user of this window (0 if none was served).
    public var version: UInt64

    enum CodingKeys: String, CodingKey {
        case users, served, ctr, version
        case randomCtr = "random_ctr", fixedCtr = "fixed_ctr", oracleCtr = "oracle_ctr"
    }

    /// Creates a window.
    public init(
        users: Int, served: Int, ctr: Double, randomCtr: Double, fixedCtr: Double, oracleCtr: Double, version: UInt64
    ) {
        self.users = users
        self.served = served
        self.ctr = ctr
        self.randomCtr = randomCtr
        self.fixedCtr = fixedCtr
        self.oracleCtr = oracleCtr
        self.version = version
    }

    /// Encodes every key; `ctr` is `null` when no user of the window was served.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(users, forKey: .users)
        try c.encode(served, forKey: .served)
        try c.encode(served > 0 ? ctr : nil, forKey: .ctr)
        try c.encode(randomCtr, forKey: .randomCtr)
        try c.encode(fixedCtr, forKey: .fixedCtr)
        try c.encode(oracleCtr, forKey: .oracleCtr)
        try c.encode(version, forKey: .version)
    }

    /// Decodes what ``encode(to:)`` writes (a `null` ctr reads back as 0 with none served).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        users = try c.decode(Int.self, forKey: .users)
        served = try c.decode(Int.self, forKey: .served)
        ctr = try c.decodeIfPresent(Double.self, forKey: .ctr) ?? 0
        randomCtr = try c.decode(Double.self, forKey: .randomCtr)
        fixedCtr = try c.decode(Double.self, forKey: .fixedCtr)
        oracleCtr = try c.decode(Double.self, forKey: .oracleCtr)
        version = try c.decode(UInt64.self, forKey: .version)
    }
}

/// The outcome of `recpool simulate`. JSON keys (stable): `users`, `seed`, `concurrency`, `served`, `clicks`,
/// `ctr`, `ctr_first_fifth`, `ctr_last_fifth`, `random_ctr`, `fixed_ctr`, `oracle_ctr`, `fixed_version`,
/// `first_version`, `last_version`, `feedback_sent`, `feedback_duplicates`, `errors` (status name → count),
/// `elapsed_ms`, `windows` (``SimulationWindow``).
///
/// A CTR is clicks per user: each simulated user is shown one slate and clicks at most one item. The pool's
/// CTR counts served users only; a user whose RECOMMEND failed is counted under `errors`.
public struct SimulationReport: Codable, Sendable, Equatable {
    /// Users simulated.
    public var users: Int
    /// Seed of the user sequence.
    public var seed: UInt64
    /// Users in flight at once.
    public var concurrency: Int
    /// Users that got a slate from the pool.
    public var served: Int
    /// Clicks on the pool's slates.
    public var clicks: Int
    /// The pool's clicks per served user over the whole run.
    public var ctr: Double
    /// The pool's CTR over the first fifth of the users.
    public var ctrFirstFifth: Double
    /// The pool's CTR over the last fifth of the users.
    public var ctrLastFifth: Double
    /// The uniform random policy's CTR on the same users.
    public var randomCtr: Double
    /// The CTR of the policy the pool served at the start, served locally with the same exploration and
    /// never updated.
    public var fixedCtr: Double
    /// The oracle's CTR: each user's top items by ground-truth single-item click probability.
    public var oracleCtr: Double
    /// The version the fixed baseline froze.
    public var fixedVersion: UInt64
    /// The lowest policy version that served a user (0 if none was served).
    public var firstVersion: UInt64
    /// The highest policy version that served a user.
    public var lastVersion: UInt64
    /// Feedback events the pool acknowledged (durable), duplicates included.
    public var feedbackSent: Int
    /// Acknowledged events the pool reported as duplicates.
    public var feedbackDuplicates: Int
    /// Failed calls by status name (`NOT_FOUND`, `EXPIRED`, `TIMEOUT`, `BAD_SLATE`…).
    public var errors: [String: Int]
    /// Wall-clock duration of the live part, ms.
    public var elapsedMs: UInt64
    /// CTR over time.
    public var windows: [SimulationWindow]

    enum CodingKeys: String, CodingKey {
        case users, seed, concurrency, served, clicks, ctr, errors, windows
        case ctrFirstFifth = "ctr_first_fifth", ctrLastFifth = "ctr_last_fifth", randomCtr = "random_ctr"
        case fixedCtr = "fixed_ctr", oracleCtr = "oracle_ctr", fixedVersion = "fixed_version"
        case firstVersion = "first_version", lastVersion = "last_version", feedbackSent = "feedback_sent"
        case feedbackDuplicates = "feedback_duplicates", elapsedMs = "elapsed_ms"
    }

    /// Failed calls in all.
    public var errorCount: Int { errors.values.reduce(0, +) }

    /// The report as one line of JSON with sorted keys.
    /// - Throws: the encoder's `EncodingError` if a figure is not finite, so a caller fails instead of printing `{}`.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A few lines for people.
    public var text: String {
        func f(_ v: Double) -> String { String(format: "%.4f", v) }
        var lines = [
            "users \(users) (served \(served)), seed \(seed), concurrency \(concurrency), \(elapsedMs) ms",
            "pool CTR \(f(ctr)): first fifth \(f(ctrFirstFifth)), last fifth \(f(ctrLastFifth)); "
                + "policy versions \(firstVersion)…\(lastVersion)",
            "baselines on the same users: random \(f(randomCtr)), fixed v\(fixedVersion) \(f(fixedCtr)), "
                + "oracle \(f(oracleCtr))",
            "feedback acknowledged \(feedbackSent) (duplicates \(feedbackDuplicates)), errors \(errorCount)"
                + (errors.isEmpty
                    ? ""
                    : " ("
                        + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                        .joined(separator: ", ") + ")"),
            "window  users   pool    random  fixed   oracle  version",
        ]
        for w in windows {
            let pool = w.served > 0 ? String(format: "%.4f", w.ctr) : "undefined (none served)"
            lines.append(
                String(format: "%6d  %6d  ", lines.count - 4, w.users) + pool
                    + String(format: "  %.4f  %.4f  %.4f  %llu", w.randomCtr, w.fixedCtr, w.oracleCtr, w.version))
        }
        return lines.joined(separator: "\n")
    }
}
