import Foundation

/// Clicks per session of a session run (``SessionSimulation``). JSON keys: `sessions`, `completed`, `steps`,
/// `clicks`, `clicks_per_session`, `clicks_per_session_sd`, `clicks_per_session_first_fifth`,
/// `clicks_per_session_last_fifth`, `steps_per_session`, `ctr_per_step`, `random_clicks_per_session`,
/// `oracle_clicks_per_session`, `learner`, `gamma`, `version` (`null` when no step was served), `errors`, `seed`,
/// `elapsed_ms`. A figure over the
/// completed sessions is `null` (text: `undefined (REASON)`) when no session completed, the standard deviation
/// when fewer than 2 did, a fifth's mean when no session of that fifth completed, and the CTR per step with no step.
public struct SessionReport: Codable, Sendable, Equatable {
    /// Sessions run.
    public var sessions: Int
    /// Sessions that ran until their budget was spent.
    public var completed: Int
    /// Steps over every session.
    public var steps: Int
    /// Clicks over every session.
    public var clicks: Int
    /// Mean clicks per completed session; nil with none completed.
    public var clicksPerSession: Double?
    /// Their sample standard deviation across completed sessions; nil with fewer than 2.
    public var clicksPerSessionSd: Double?
    /// Mean clicks per completed session among the first fifth of the sessions (by index); nil with none completed
    /// there.
    public var clicksPerSessionFirstFifth: Double?
    /// … and among the last fifth.
    public var clicksPerSessionLastFifth: Double?
    /// Mean steps per completed session; nil with none completed.
    public var stepsPerSession: Double?
    /// Clicks per step over every session; nil with no step.
    public var ctrPerStep: Double?
    /// The uniform random slate's clicks per session on the same users: the sessions the pool completed, as its own
    /// figure is (a session the pool failed is in neither); nil when none completed.
    public var randomClicksPerSession: Double?
    /// The myopic oracle's clicks per session on the same users (the completed sessions); nil when none completed.
    public var oracleClicksPerSession: Double?
    /// The pool's learner at the start (`contextual_bandit` or `session_dqn`).
    public var learner: String
    /// Its γ (0 for the contextual bandit).
    public var gamma: Double
    /// The highest policy version that served a step; nil (JSON `null`, text `none`) when no step was served.
    public var version: UInt64?
    /// Failed calls by status name.
    public var errors: [String: Int]
    /// The seed of the users.
    public var seed: UInt64
    /// Wall-clock time of the pool's sessions, ms.
    public var elapsedMs: UInt64

    /// Summarises outcomes and the references' clicks (one per session, same order).
    init(
        plan: SimulationPlan, outcomes: [SessionOutcome], random: [Int], oracle: [Int], learner: String, gamma: Double,
        elapsedMs: UInt64
    ) {
        let done = outcomes.filter(\.completed)
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        let perSession = done.map { Double($0.clicks) }
        let fifth = max(1, outcomes.count / 5)
        sessions = outcomes.count
        completed = done.count
        steps = outcomes.reduce(0) { $0 + $1.steps }
        clicks = outcomes.reduce(0) { $0 + $1.clicks }
        clicksPerSession = mean(perSession)
        clicksPerSessionSd = clicksPerSession.flatMap { m in
            perSession.count > 1
                ? (perSession.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(perSession.count - 1)).squareRoot() : nil
        }
        clicksPerSessionFirstFifth = mean(outcomes.prefix(fifth).filter(\.completed).map { Double($0.clicks) })
        clicksPerSessionLastFifth = mean(outcomes.suffix(fifth).filter(\.completed).map { Double($0.clicks) })
        stepsPerSession = mean(done.map { Double($0.steps) })
        ctrPerStep = steps > 0 ? Double(clicks) / Double(steps) : nil
        // One reference per session, in the sessions' order: averaged over the sessions the pool completed, so the
        // three figures are on the same users (the pool's failed sessions counted for the baselines alone).
        let served = outcomes.indices.filter { outcomes[$0].completed && $0 < random.count && $0 < oracle.count }
        randomClicksPerSession = mean(served.map { Double(random[$0]) })
        oracleClicksPerSession = mean(served.map { Double(oracle[$0]) })
        self.learner = learner
        self.gamma = gamma
        version = outcomes.filter { $0.steps > 0 }.map(\.version).max()
        errors = outcomes.reduce(into: [:]) { total, o in total.merge(o.errors, uniquingKeysWith: +) }
        seed = plan.seed
        self.elapsedMs = elapsedMs
    }

    private enum CodingKeys: String, CodingKey {
        case sessions, completed, steps, clicks, clicksPerSession, clicksPerSessionSd, clicksPerSessionFirstFifth
        case clicksPerSessionLastFifth, stepsPerSession, ctrPerStep, randomClicksPerSession, oracleClicksPerSession
        case learner, gamma, version, errors, seed, elapsedMs
    }

    /// The reasons beside the figures that may be null (encoded only).
    private enum UndefinedKeys: String, CodingKey {
        case clicksPerSessionUndefined, clicksPerSessionSdUndefined, clicksPerSessionFirstFifthUndefined
        case clicksPerSessionLastFifthUndefined, stepsPerSessionUndefined, ctrPerStepUndefined, versionUndefined
        case randomClicksPerSessionUndefined, oracleClicksPerSessionUndefined
    }

    /// Encodes every key, an undefined figure as `null` with its reason in the key's `_undefined` twin.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sessions, forKey: .sessions)
        try c.encode(completed, forKey: .completed)
        try c.encode(steps, forKey: .steps)
        try c.encode(clicks, forKey: .clicks)
        try c.encode(clicksPerSession, forKey: .clicksPerSession)
        try c.encode(clicksPerSessionSd, forKey: .clicksPerSessionSd)
        try c.encode(clicksPerSessionFirstFifth, forKey: .clicksPerSessionFirstFifth)
        try c.encode(clicksPerSessionLastFifth, forKey: .clicksPerSessionLastFifth)
        try c.encode(stepsPerSession, forKey: .stepsPerSession)
        try c.encode(ctrPerStep, forKey: .ctrPerStep)
        try c.encode(randomClicksPerSession, forKey: .randomClicksPerSession)
        try c.encode(oracleClicksPerSession, forKey: .oracleClicksPerSession)
        try c.encode(learner, forKey: .learner)
        try c.encode(gamma, forKey: .gamma)
        try c.encode(version, forKey: .version)
        try c.encode(errors, forKey: .errors)
        try c.encode(seed, forKey: .seed)
        try c.encode(elapsedMs, forKey: .elapsedMs)
        // Each null above with its reason (`*_undefined`; null when the figure is defined).
        var u = encoder.container(keyedBy: UndefinedKeys.self)
        let noSession = "no session completed"
        try u.encode(clicksPerSession == nil ? noSession : nil, forKey: .clicksPerSessionUndefined)
        try u.encode(
            clicksPerSessionSd != nil ? nil : completed == 0 ? noSession : "fewer than 2 sessions completed",
            forKey: .clicksPerSessionSdUndefined)
        try u.encode(
            clicksPerSessionFirstFifth == nil ? "no session of the first fifth completed" : nil,
            forKey: .clicksPerSessionFirstFifthUndefined)
        try u.encode(
            clicksPerSessionLastFifth == nil ? "no session of the last fifth completed" : nil,
            forKey: .clicksPerSessionLastFifthUndefined)
        try u.encode(stepsPerSession == nil ? noSession : nil, forKey: .stepsPerSessionUndefined)
        try u.encode(ctrPerStep == nil ? "no step taken" : nil, forKey: .ctrPerStepUndefined)
        try u.encode(version == nil ? "no step taken" : nil, forKey: .versionUndefined)
        try u.encode(randomClicksPerSession == nil ? noSession : nil, forKey: .randomClicksPerSessionUndefined)
        try u.encode(oracleClicksPerSession == nil ? noSession : nil, forKey: .oracleClicksPerSessionUndefined)
    }

    /// The report as one JSON object (snake_case keys).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The report for people; an undefined figure reads `undefined (REASON)`.
    public var text: String {
        let errorText =
            errors.isEmpty
            ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        func figure(_ value: Double?, _ format: String, _ reason: String) -> String {
            value.map { String(format: format, $0) } ?? "undefined (\(reason))"
        }
        let none = "no session completed"
        return [
            "sessions \(sessions) (seed \(seed)), completed \(completed), learner \(learner), γ \(gamma), policy "
                + (version.map { "v\($0)" } ?? "none (no step served)"),
            "clicks per session \(figure(clicksPerSession, "%.3f", none))"
                + " ± \(figure(clicksPerSessionSd, "%.3f", completed == 0 ? none : "fewer than 2 sessions completed"))"
                + " (first fifth \(figure(clicksPerSessionFirstFifth, "%.3f", "no session of it completed")),"
                + " last fifth \(figure(clicksPerSessionLastFifth, "%.3f", "no session of it completed"))),"
                + " steps per session \(figure(stepsPerSession, "%.2f", none)),"
                + " CTR per step \(figure(ctrPerStep, "%.4f", "no step"))",
            "same users (the sessions completed): random \(figure(randomClicksPerSession, "%.3f", none)), myopic oracle "
                + "\(figure(oracleClicksPerSession, "%.3f", none)) clicks per session",
            "errors: \(errorText), elapsed \(elapsedMs) ms",
        ].joined(separator: "\n")
    }
}
