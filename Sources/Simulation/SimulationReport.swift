import Foundation

/// The click-through rate of consecutive users of a simulation, for the live pool and the baselines shown the
/// same users. JSON keys: `users`, `served`, `ctr`, `random_ctr`, `fixed_ctr`, `oracle_ctr`, `version`, `baselines`
/// (every baseline's CTR by name, ``SimulationReport/baselines``).
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
    /// The highest policy version that served a user of this window; nil (JSON `null`, text `-`) when none was
    /// served, since no version answered for it.
    public var version: UInt64?
    /// Every baseline's clicks per user in this window, by name (`random`, `fixed`, `logging`, `linucb`,
    /// `logistic_ts`, `egreedy_lr`, `feature_best`, `oracle`: those that ran).
    public var baselines: [String: Double] = [:]

    enum CodingKeys: String, CodingKey {
        case users, served, ctr, version, baselines
        case randomCtr = "random_ctr", fixedCtr = "fixed_ctr", oracleCtr = "oracle_ctr"
        case ctrUndefined = "ctr_undefined", fixedCtrUndefined = "fixed_ctr_undefined"
        case versionUndefined = "version_undefined"
    }

    /// Creates a window.
    public init(
        users: Int, served: Int, ctr: Double, randomCtr: Double, fixedCtr: Double, oracleCtr: Double, version: UInt64?
    ) {
        self.users = users
        self.served = served
        self.ctr = ctr
        self.randomCtr = randomCtr
        self.fixedCtr = fixedCtr
        self.oracleCtr = oracleCtr
        self.version = version
    }

    /// Encodes every key; `ctr` and `version` are `null` when no user of the window was served.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(users, forKey: .users)
        try c.encode(served, forKey: .served)
        try c.encode(served > 0 ? ctr : nil, forKey: .ctr)
        try c.encode(served > 0 ? nil : SimulationReport.noUserOfItServed, forKey: .ctrUndefined)
        try c.encode(randomCtr, forKey: .randomCtr)
        let noFixed = baselines["fixed"] == nil && !baselines.isEmpty
        try c.encode(noFixed ? nil : fixedCtr, forKey: .fixedCtr)
        try c.encode(noFixed ? "no fixed baseline ran" : nil, forKey: .fixedCtrUndefined)
        try c.encode(oracleCtr, forKey: .oracleCtr)
        try c.encode(version, forKey: .version)
        try c.encode(version == nil ? SimulationReport.noUserOfItServed : nil, forKey: .versionUndefined)
        try c.encode(baselines, forKey: .baselines)
    }

    /// Decodes what ``encode(to:)`` writes (a `null` ctr reads back as 0 with none served).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        users = try c.decode(Int.self, forKey: .users)
        served = try c.decode(Int.self, forKey: .served)
        ctr = try c.decodeIfPresent(Double.self, forKey: .ctr) ?? 0
        randomCtr = try c.decode(Double.self, forKey: .randomCtr)
        fixedCtr = try c.decodeIfPresent(Double.self, forKey: .fixedCtr) ?? 0
        oracleCtr = try c.decode(Double.self, forKey: .oracleCtr)
        version = try c.decodeIfPresent(UInt64.self, forKey: .version)
        baselines = try c.decodeIfPresent([String: Double].self, forKey: .baselines) ?? [:]
    }
}

/// One baseline's totals. JSON keys: `name`, `ctr`, `ctr_last_fifth`, `of_oracle` (`ctr` ÷ the oracle's CTR; `null`
/// when the oracle got no click, with `of_oracle_undefined` saying so; `null` when it is defined).
public struct BaselineSummary: Codable, Sendable, Equatable {
    /// `random`, `fixed`, `logging`, `linucb`, `logistic_ts`, `egreedy_lr`, `feature_best` or `oracle`.
    public var name: String
    /// Clicks per user over the whole run.
    public var ctr: Double
    /// Clicks per user over the last fifth of the users.
    public var ctrLastFifth: Double
    /// `ctr` ÷ the oracle's `ctr`; nil when the oracle got no click (``ofOracleUndefined``).
    public var ofOracle: Double?

    /// Why ``ofOracle`` is undefined; nil when it is defined.
    public var ofOracleUndefined: String? { ofOracle == nil ? Self.oracleGotNoClick : nil }

    /// The reason a share of the oracle's CTR is undefined: it would divide by 0.
    public static let oracleGotNoClick = "the oracle got no click (0/0)"

    enum CodingKeys: String, CodingKey {
        case name, ctr
        case ctrLastFifth = "ctr_last_fifth", ofOracle = "of_oracle", ofOracleUndefined = "of_oracle_undefined"
    }

    /// Creates a summary.
    public init(name: String, ctr: Double, ctrLastFifth: Double, ofOracle: Double?) {
        self.name = name
        self.ctr = ctr
        self.ctrLastFifth = ctrLastFifth
        self.ofOracle = ofOracle
    }

    /// Encodes every key, `of_oracle` as `null` when absent with the reason in `of_oracle_undefined` (computed, so
    /// written but not read back).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(ctr, forKey: .ctr)
        try c.encode(ctrLastFifth, forKey: .ctrLastFifth)
        try c.encode(ofOracle, forKey: .ofOracle)
        try c.encode(ofOracleUndefined, forKey: .ofOracleUndefined)
    }

    /// Decodes what ``encode(to:)`` writes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        ctr = try c.decode(Double.self, forKey: .ctr)
        ctrLastFifth = try c.decode(Double.self, forKey: .ctrLastFifth)
        ofOracle = try c.decodeIfPresent(Double.self, forKey: .ofOracle)
    }
}

/// The outcome of `recpool simulate`. JSON keys (stable): `world`, `users`, `seed`, `concurrency`, `served`,
/// `clicks`, `ctr`, `ctr_first_fifth`, `ctr_last_fifth`, `random_ctr`, `fixed_ctr`, `oracle_ctr`, `fixed_version`,
/// `first_version`, `last_version`, `feedback_sent`, `feedback_duplicates`, `errors` (status name → count),
/// `elapsed_ms`, `baselines` (``BaselineSummary``), `windows` (``SimulationWindow``). The pool's CTRs and
/// `first_version`/`last_version` are `null` when no user was served (a run of the baselines only),
/// `ctr_first_fifth` and `ctr_last_fifth` when no user of that fifth was served, `fixed_ctr` and `fixed_version`
/// when the fixed baseline did not run: a version is never reported that no pool served.
///
/// A CTR is clicks per user: each simulated user is shown one slate and clicks at most one item. The pool's
/// CTR counts served users only; a user whose RECOMMEND failed is counted under `errors`.
public struct SimulationReport: Codable, Sendable, Equatable {
    /// The world the users came from: `simulator` or the logs a ``LoggedWorld`` was built from.
    public var world: String = "simulator"
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
    /// The pool's CTR over the first fifth of the users; nil when none of them was served.
    public var ctrFirstFifth: Double?
    /// The pool's CTR over the last fifth of the users; nil when none of them was served.
    public var ctrLastFifth: Double?
    /// The uniform random policy's CTR on the same users.
    public var randomCtr: Double
    /// The CTR of the policy the pool served at the start, served locally with the same exploration and
    /// never updated.
    public var fixedCtr: Double
    /// The oracle's CTR: each user's top items by ground-truth single-item click probability.
    public var oracleCtr: Double
    /// The version the fixed baseline froze; nil when no fixed baseline ran (`--baselines-only`).
    public var fixedVersion: UInt64?
    /// The lowest policy version that served a user; nil when none was served.
    public var firstVersion: UInt64?
    /// The highest policy version that served a user; nil when none was served.
    public var lastVersion: UInt64?
    /// Feedback events the pool acknowledged (durable), duplicates included.
    public var feedbackSent: Int
    /// Acknowledged events the pool reported as duplicates.
    public var feedbackDuplicates: Int
    /// Failed calls by status name (`NOT_FOUND`, `EXPIRED`, `TIMEOUT`, `BAD_SLATE`…).
    public var errors: [String: Int]
    /// Wall-clock duration of the live part, ms; `nil` (JSON `null`) when there was none (`--baselines-only`).
    public var elapsedMs: UInt64?
    /// Every baseline that ran, in report order (their CTR over time is in ``windows``).
    public var baselines: [BaselineSummary] = []
    /// CTR over time.
    public var windows: [SimulationWindow]

    enum CodingKeys: String, CodingKey {
        case world, users, seed, concurrency, served, clicks, ctr, errors, windows, baselines
        case ctrFirstFifth = "ctr_first_fifth", ctrLastFifth = "ctr_last_fifth", randomCtr = "random_ctr"
        case fixedCtr = "fixed_ctr", oracleCtr = "oracle_ctr", fixedVersion = "fixed_version"
        case firstVersion = "first_version", lastVersion = "last_version", feedbackSent = "feedback_sent"
        case feedbackDuplicates = "feedback_duplicates", elapsedMs = "elapsed_ms"
        case ctrUndefined = "ctr_undefined", ctrFirstFifthUndefined = "ctr_first_fifth_undefined"
        case ctrLastFifthUndefined = "ctr_last_fifth_undefined", fixedCtrUndefined = "fixed_ctr_undefined"
        case versionsUndefined = "versions_undefined", elapsedMsUndefined = "elapsed_ms_undefined"
        case fixedVersionUndefined = "fixed_version_undefined", firstVersionUndefined = "first_version_undefined"
        case lastVersionUndefined = "last_version_undefined"
    }

    /// Why a pool figure of a window or fifth is undefined.
    public static let noUserOfItServed = "no user of it served"
    /// Why the pool's figures are undefined.
    public static let noUserServed = "no user served"

    /// Failed calls in all.
    public var errorCount: Int { errors.values.reduce(0, +) }

    /// The served versions for people: `3…5`, or `none (no user served)`.
    var versionRange: String {
        guard served > 0, let firstVersion, let lastVersion else { return "none (no user served)" }
        return "\(firstVersion)…\(lastVersion)"
    }

    /// The fixed baseline's label: `fixed v3`, naming the version it froze (`fixed` alone if it is unknown).
    var fixedLabel: String { fixedVersion.map { "fixed v\($0)" } ?? "fixed" }

    /// A baseline's summary by name.
    public func baseline(_ name: String) -> BaselineSummary? { baselines.first { $0.name == name } }

    /// The report as one line of JSON with sorted keys.
    /// - Throws: the encoder's `EncodingError` if a figure is not finite, so a caller fails instead of printing `{}`.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A few lines for people: the run, the pool, every baseline with its CTR and ÷ oracle, and the windows.
    public var text: String {
        func f(_ v: Double) -> String { String(format: "%.4f", v) }
        let oracle = oracleCtr
        let undefinedShare = "undefined (\(BaselineSummary.oracleGotNoClick))"
        func share(_ v: Double) -> String { oracle > 0 ? String(format: "%.2f", v / oracle) : undefinedShare }
        // The last fifth against the oracle's last fifth: the same users (every policy meets the same user and the
        // same draw); against the oracle's whole run it mixed two sets of users (0.1833 ÷ 0.3667 read 0.50 where the
        // oracle made 0.2833 on those users: 0.65).
        let oracleLast = baseline("oracle")?.ctrLastFifth ?? 0
        func shareOfLast(_ v: Double) -> String {
            oracleLast > 0
                ? String(format: "%.2f", v / oracleLast) : "undefined (the oracle got no click in the last fifth)"
        }
        let unserved = "undefined (no user of it served)"
        var lines = ["world \(world), users \(users) (served \(served)), seed \(seed), concurrency \(concurrency), \(elapsedMs.map { "\($0) ms" } ?? "no live part")"]
        if served > 0 {
            lines.append(
                "pool CTR \(f(ctr)) (÷ oracle \(share(ctr))): first fifth \(ctrFirstFifth.map(f) ?? unserved), last "
                    + "fifth \(ctrLastFifth.map(f) ?? unserved) (÷ oracle's last fifth \(ctrLastFifth.map(shareOfLast) ?? unserved)); "
                    + "policy versions \(versionRange)")
        } else {
            lines.append("pool: no user served")
        }
        // With a live part that served nobody the baselines are over every user (``SimulationReport/init(plan:world:outcomes:baselines:fixedVersion:elapsedMs:)``): said
        // so, never headed as the pool's users.
        lines.append(
            served > 0 && served < users
                ? "baselines on the same users, the \(served) served (CTR, last fifth, ÷ oracle):"
                : served == 0 && elapsedMs != nil
                    ? "baselines on every user, as the pool served none (CTR, last fifth, ÷ oracle):"
                    : "baselines on the same users (CTR, last fifth, ÷ oracle):")
        for b in baselines {
            let label = b.name == "fixed" ? fixedLabel : b.name
            lines.append(
                "  " + label.padding(toLength: 14, withPad: " ", startingAt: 0)
                    + "\(f(b.ctr))  \(f(b.ctrLastFifth))  \(b.ofOracle.map { String(format: "%.2f", $0) } ?? undefinedShare)")
        }
        // Baselines.run leaves the per-item learners out of a large world: say so rather than list fewer rows.
        if baseline("oracle") != nil && baseline("linucb") == nil {
            lines.append(
                "  (linucb, logistic_ts, egreedy_lr and feature_best left out: the world has more than "
                    + "\(Baselines.perItemLimit) items)")
        }
        lines.append(
            "feedback acknowledged \(feedbackSent) (duplicates \(feedbackDuplicates)), errors \(errorCount)"
                + (errors.isEmpty
                    ? ""
                    : " ("
                        + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                        .joined(separator: ", ") + ")"))
        let names = baselines.map(\.name)
        lines.append((["window", " users", "  pool  "] + names.map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) } + ["version"]).joined(separator: "  "))
        for (index, w) in windows.enumerated() {
            let pool = w.served > 0 ? String(format: "%.4f", w.ctr) : (served > 0 ? "undefined (none served)" : "   -  ")
            let cells = names.map { (w.baselines[$0].map(f) ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0) }
            lines.append(
                ([String(format: "%6ld", index + 1), String(format: "%6ld", w.users), pool] + cells + [w.version.map { "\($0)" } ?? "-"])
                    .joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}

extension SimulationReport {
    /// Encodes every key; the pool's CTRs and versions are `null` with none served, `fixed_ctr` and `fixed_version`
    /// without a fixed baseline.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let pool = served > 0
        try c.encode(world, forKey: .world)
        try c.encode(users, forKey: .users)
        try c.encode(seed, forKey: .seed)
        try c.encode(concurrency, forKey: .concurrency)
        try c.encode(served, forKey: .served)
        try c.encode(clicks, forKey: .clicks)
        try c.encode(pool ? ctr : nil, forKey: .ctr)
        try c.encode(pool ? ctrFirstFifth : nil, forKey: .ctrFirstFifth)
        try c.encode(pool ? ctrLastFifth : nil, forKey: .ctrLastFifth)
        try c.encode(randomCtr, forKey: .randomCtr)
        try c.encode(baseline("fixed") == nil && !baselines.isEmpty ? nil : fixedCtr, forKey: .fixedCtr)
        try c.encode(oracleCtr, forKey: .oracleCtr)
        try c.encode(fixedVersion, forKey: .fixedVersion)
        try c.encode(pool ? firstVersion : nil, forKey: .firstVersion)
        try c.encode(pool ? lastVersion : nil, forKey: .lastVersion)
        try c.encode(feedbackSent, forKey: .feedbackSent)
        try c.encode(feedbackDuplicates, forKey: .feedbackDuplicates)
        try c.encode(errors, forKey: .errors)
        try c.encode(elapsedMs, forKey: .elapsedMs)
        try c.encode(baselines, forKey: .baselines)
        try c.encode(windows, forKey: .windows)
        // Every null above with its reason beside it (`*_undefined`, null when the figure is defined), as the
        // baselines' `of_oracle_undefined` and loadtest's `latency_undefined` say theirs.
        try c.encode(pool ? nil : Self.noUserServed, forKey: .ctrUndefined)
        try c.encode(
            !pool ? Self.noUserServed : ctrFirstFifth == nil ? Self.noUserOfItServed : nil, forKey: .ctrFirstFifthUndefined)
        try c.encode(
            !pool ? Self.noUserServed : ctrLastFifth == nil ? Self.noUserOfItServed : nil, forKey: .ctrLastFifthUndefined)
        try c.encode(
            baseline("fixed") == nil && !baselines.isEmpty ? "no fixed baseline ran" : nil, forKey: .fixedCtrUndefined)
        try c.encode(pool ? nil : Self.noUserServed, forKey: .versionsUndefined)
        // Each version's own reason too, as every other null has one beside it.
        try c.encode(fixedVersion == nil ? "no fixed baseline ran" : nil, forKey: .fixedVersionUndefined)
        try c.encode(pool ? nil : Self.noUserServed, forKey: .firstVersionUndefined)
        try c.encode(pool ? nil : Self.noUserServed, forKey: .lastVersionUndefined)
        try c.encode(elapsedMs == nil ? "no live part (the baselines alone)" : nil, forKey: .elapsedMsUndefined)
    }

    /// Decodes what ``encode(to:)`` writes (`null` CTRs read back as 0, the fifths' as nil).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        world = try c.decodeIfPresent(String.self, forKey: .world) ?? "simulator"
        users = try c.decode(Int.self, forKey: .users)
        seed = try c.decode(UInt64.self, forKey: .seed)
        concurrency = try c.decode(Int.self, forKey: .concurrency)
        served = try c.decode(Int.self, forKey: .served)
        clicks = try c.decode(Int.self, forKey: .clicks)
        ctr = try c.decodeIfPresent(Double.self, forKey: .ctr) ?? 0
        ctrFirstFifth = try c.decodeIfPresent(Double.self, forKey: .ctrFirstFifth)
        ctrLastFifth = try c.decodeIfPresent(Double.self, forKey: .ctrLastFifth)
        randomCtr = try c.decode(Double.self, forKey: .randomCtr)
        fixedCtr = try c.decodeIfPresent(Double.self, forKey: .fixedCtr) ?? 0
        oracleCtr = try c.decode(Double.self, forKey: .oracleCtr)
        fixedVersion = try c.decodeIfPresent(UInt64.self, forKey: .fixedVersion)
        firstVersion = try c.decodeIfPresent(UInt64.self, forKey: .firstVersion)
        lastVersion = try c.decodeIfPresent(UInt64.self, forKey: .lastVersion)
        feedbackSent = try c.decode(Int.self, forKey: .feedbackSent)
        feedbackDuplicates = try c.decode(Int.self, forKey: .feedbackDuplicates)
        errors = try c.decode([String: Int].self, forKey: .errors)
        elapsedMs = try c.decodeIfPresent(UInt64.self, forKey: .elapsedMs)
        baselines = try c.decodeIfPresent([BaselineSummary].self, forKey: .baselines) ?? []
        windows = try c.decode([SimulationWindow].self, forKey: .windows)
    }

}
