import RecData
import RecModel
import RecWire

/// Why a warm start cannot be trained or evaluated.
public enum WarmStartError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The logs name more items than the policy's catalogue has rows.
    case catalogueMismatch(logItems: Int, catalogueItems: Int)
    /// The logs have no rows to train on (or to evaluate on).
    case noRows(String)
    /// None of the `rows` rows evaluated is in the first slot, the one the check weighs; `numbering` names the log's
    /// slots. Said as "the logs have no first-slot evaluation (the log's slots are 1, 2, 3; …) rows", which listed
    /// slot 1 as present while refusing for want of it (it was in the training part only).
    case noFirstSlotRows(rows: Int, numbering: String)
    /// No logged row could be learnt from (every row's context or item was refused by the policy).
    case nothingLearnt(rows: Int, firstProblem: String)
    /// The policy's learner is not the contextual bandit, whose logistic last layer a warm start trains (the session
    /// DQN's statistics are a regression of Q-values on whole sessions: a warm start's factors would be on another
    /// scale).
    case notContextualBandit(OnlineLearnerKind)
    /// The policy could not be built from the learnt statistics.
    case policy(PolicyError)
    /// The off-policy check cannot score an evaluation row (`row`, 1-based among `of` first-slot rows of the evaluation
    /// part) of `dataset`: the policy refuses its context. Training counts and skips such rows; the check needs every
    /// one, and said only "unknown user feature 'region'", with no row or phase.
    case evaluationRow(dataset: String, row: Int, of: Int, PolicyError)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .catalogueMismatch(let logs, let catalogue):
            "the logs name \(logs) items, the policy's catalogue has \(catalogue) rows: warm-start on the catalogue the logs were logged from"
        case .noRows(let which): "the logs have no \(which) rows"
        case .noFirstSlotRows(let rows, let numbering):
            "none of the \(rows) rows evaluated (the part of the logs the check weighs, after the training part) is in "
                + "the first slot, the only one the check weighs (\(numbering))"
        case .nothingLearnt(let rows, let problem): "none of the \(rows) logged rows could be learnt from: \(problem)"
        case .notContextualBandit(let learner):
            "a warm start trains the contextual bandit's logistic last layer; this pool's learner is \(learner.rawValue), "
                + "whose statistics are Q-values learnt from whole sessions: warm-start a pool started with "
                + "--online-learner contextual_bandit (the default)"
        case .policy(let error): "\(error)"
        case .evaluationRow(let dataset, let row, let of, let error):
            "the off-policy evaluation cannot score its row \(row) of \(of) (\(dataset), first-slot rows): \(error); "
                + "every evaluated row needs a context the policy takes (a warm start refuses and counts such rows only "
                + "when training): leave the feature out of the schema, or use a policy whose catalogue has it"
        }
    }
}

/// A warm start: the online policy trained offline on a shop's logged impressions, so the pool does not begin from
/// the prior.
///
/// **A reward model, not importance weighting.** Each logged impression `(x, a, position, click)` adds the same
/// Laplace factor of a logistic likelihood the replicas' ``OnlineLearner`` adds for a FEEDBACK event (Bayesian
/// logistic regression of the click on `φ(x, a)`; Chapelle & Li 2011), in log order, re-linearising every
/// ``chunk`` rows. The model conditions on the context and the item, and the logging policy chooses items from the
/// context alone, so the logging policy does not bias it; dividing each row by its propensity (IPW) would keep it
/// unbiased where the model is misspecified but multiply its variance by up to `1/min propensity` (OBD's `bts`
/// propensities go below 10⁻³), and the statistics must stay unweighted evidence for online learning to add to.
/// Importance weights are used where they belong: to estimate the trained policy's value off-policy
/// (``WarmStartEvaluation``).
public enum WarmStart {
    /// What training produced.
    public struct Trained: Sendable {
        /// The trained policy, scoring with its posterior mean.
        public var policy: OnlinePolicy
        /// Logged rows learnt from.
        public var rows: Int
        /// Clicks among them.
        public var clicks: Int
        /// Rows the policy refused (an unknown item or user feature).
        public var refused: Int
        /// Why the first refused row was refused (`row 12: user feature 'age' is numeric: …`), or nil when none was
        /// (or only the learner's own checks refused rows, which give no reason).
        public var firstRefusal: String? = nil
    }

    /// Rows per re-linearisation: the learner solves its posterior and moves its linearisation point every this
    /// many rows (online, every `update_every` events).
    public static let chunk = 256

    /// Trains `start` (the pool's served policy: its spec and, usually, the prior) on `data`'s rows in log order.
    ///
    /// Logged action `a` is catalogue row `a` (the logs were read with the catalogue: OBD's item ids are its rows, a
    /// shop's log is mapped to its catalogue's rows by the loader); rows never move, so logs of an earlier catalogue
    /// version fit a later one (items added since have no logged rows). Each row's user features are its
    /// categorical columns by name.
    /// - Parameters:
    ///   - start: the policy to continue from.
    ///   - data: the logged impressions (clicks in `reward`).
    ///   - seed: the learner's stream (only its Thompson samples use it, not the statistics).
    /// - Returns: the trained policy, scoring with the posterior mean.
    /// - Throws: ``WarmStartError`` when the logs' items are not the catalogue's, there are no rows, or no row
    ///   could be used.
    public static func train(_ start: OnlinePolicy, on data: BanditDataset, seed: UInt64 = 1) throws(WarmStartError)
        -> Trained
    {
        guard data.nActions <= start.spec.itemCount else {
            throw .catalogueMismatch(logItems: data.nActions, catalogueItems: start.spec.itemCount)
        }
        guard start.spec.learning.learner == .contextualBandit else {
            throw .notContextualBandit(start.spec.learning.learner)
        }
        guard data.rows > 0 else { throw .noRows("training") }
        var learner = OnlineLearner(policy: start, version: 0, seed: seed)
        var firstProblem: String?
        // Rows whose context the policy refuses are counted here, with their clicks, and never reach the learner:
        // the clicks reported are those of the rows learnt from.
        var refusedRows = 0
        var refusedClicks = 0
        var batch: [LearnEvent] = []
        batch.reserveCapacity(chunk)
        for row in 0..<data.rows {
            let features = data.userContext(row)
            let viewed = data.viewedItems(row)
            do throws(WarmStartRowRefusal) {
                // The learner's own tests (`OnlineLearner.learn`), made here so a refused row's click is known.
                let z: [Double]
                do { z = try start.userVector(features, viewed: viewed) } catch { throw WarmStartRowRefusal(reason: "\(error)") }
                let phi = start.interactions(z: z, item: data.action[row], position: max(data.slotFromTop(row), 0))
                guard data.reward[row].isFinite, BayesianLastLayer.admits(phi) else {
                    throw WarmStartRowRefusal(reason: "its reward or features are beyond what the posterior admits")
                }
            } catch {
                if firstProblem == nil { firstProblem = "row \(row): \(error.reason)" }
                refusedRows += 1
                if BanditDataset.isClick(reward: data.reward[row]) { refusedClicks += 1 }
                if row == data.rows - 1, !batch.isEmpty {
                    _ = learner.learn(batch)
                    batch.removeAll(keepingCapacity: true)
                }
                continue
            }
            batch.append(
                LearnEvent(
                    impressionId: "log-\(row)", userFeatures: features, viewed: viewed, item: data.action[row],
                    position: max(data.slotFromTop(row), 0),
                    // The learner fits P(click): a reward log's amount (12.5, 1e9) is a click, as the labels count it.
                    reward: BanditDataset.isClick(reward: data.reward[row]) ? 1 : 0, propensity: data.pscore[row],
                    version: 0))
            if batch.count == chunk || row == data.rows - 1 {
                _ = learner.learn(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        let refused = refusedRows + learner.rejectedEvents
        guard refused < data.rows else {
            throw .nothingLearnt(rows: data.rows, firstProblem: firstProblem ?? "every row was refused")
        }
        do {
            let trained = try start.with(statistics: learner.learnt)
            return Trained(
                policy: trained, rows: data.rows - refused, clicks: data.clicks - refusedClicks, refused: refused,
                firstRefusal: firstProblem)
        } catch {
            throw .policy(error)
        }
    }
}

/// The off-policy check of a warm start against the logging policy, on held-out logged rows: the trained policy's
/// IPW, SNIPW and DR estimates with bootstrap intervals (``OffPolicyEvaluation``; its first-slot exploration
/// distribution, ``OnlinePolicy/actionDistribution(on:)``), beside the logging policy's own value on the same rows
/// (the mean logged click, with a bootstrap interval from the same resampling).
///
/// An item not in the logs' catalogue (added since) has no logging support: the probability a policy
/// gives it is reported (``unsupportedShare``) and counted as no click by every estimate, so each is then a lower
/// bound for that share. IPW, DM and DR count it so by construction (the distribution they read has no mass there);
/// SNIPW is scaled by the supported mass (``OffPolicyEstimator``): unscaled, a policy that put 98% of its choices on
/// new items was valued above the logging policy.
public struct WarmStartEvaluation: Sendable, Codable, Equatable {
    /// The trained policy's estimates on the held-out rows.
    public var candidate: OffPolicyReport
    /// The start policy's estimates on the same rows: the served version the warm start began from (what it would
    /// replace; untrained only in a pool that has learnt nothing yet).
    public var start: OffPolicyReport
    /// The logging policy's value on the same rows: the mean logged click.
    public var loggingValue: Double
    /// Its bootstrap percentile interval (nil without resamples or with too few rows: ``loggingIntervalUndefined``).
    public var loggingInterval: ConfidenceInterval?
    /// Why ``loggingInterval`` is nil (JSON `logging_interval_undefined`); nil when it is given.
    public var loggingIntervalUndefined: String?
    /// The trained policy's mean probability, over the rows, of items not in the logs' catalogue (added since): items
    /// of that catalogue the logs happen never to show are in the logging policy's support and not counted here.
    public var unsupportedShare: Double
    /// Clicked rows in the held-out logs.
    public var clicks: Int
    /// Clicked rows whose item the trained policy shows at least as often as the logging policy did
    /// (`π(a_i | x_i) ≥ propensity_i`, importance weight ≥ 1): the clicks its IPW, SNIPW and DR estimates rest on.
    /// With few of them the bootstrap cannot see the uncertainty (a click that never happened is in no resample),
    /// so ``verdict`` declines to compare below ``minimumFavouredClicks``.
    public var favouredClicks: Int

    /// Favoured clicks below which the verdict declines to compare with the logging policy.
    public static let minimumFavouredClicks = 10

    /// How the trained policy compares with the logging policy by SNIPW.
    public enum Verdict: String, Sendable, Codable {
        /// Its SNIPW interval lies above the logging policy's interval.
        case above
        /// Its SNIPW interval lies below the logging policy's interval.
        case below
        /// The intervals overlap.
        case indistinguishable
        /// Fewer than ``minimumFavouredClicks`` held-out clicks fall on items the policy favours.
        case tooFewClicks = "too_few_clicks"
        /// The logging policy's or the trained policy's SNIPW interval is missing (`--resamples 0`, too few rows, or
        /// SNIPW undefined; ``noIntervalReason`` says which): nothing to compare, however many clicks.
        case noIntervals = "no_intervals"
    }

    /// The comparison with the logging policy (see ``Verdict``).
    public var verdict: Verdict {
        guard favouredClicks >= Self.minimumFavouredClicks else { return .tooFewClicks }
        guard let mine = interval(.snipw), let logging = loggingInterval else { return .noIntervals }
        if mine.lower > logging.upper { return .above }
        if mine.upper < logging.lower { return .below }
        return .indistinguishable
    }

    /// Evaluates `trained` (and `start`) on `data`'s first-slot rows against the logging policy that wrote them.
    ///
    /// Only the first slot's rows: the policies are evaluated by their first-slot distribution, and a lower slot's
    /// logged propensity may be conditional on the items above it (`recpool logs export`), against which that
    /// distribution is not exact; in the first slot it is, whether the logs hold marginal or conditional ones.
    /// - Parameters:
    ///   - resamples: bootstrap resamples (0: no intervals).
    ///   - seed: the bootstrap's and the reward model's seed.
    /// - Throws: ``WarmStartError`` when the data has no rows or other items than the policy's catalogue.
    public static func evaluate(
        trained: OnlinePolicy, start: OnlinePolicy, on data: BanditDataset, resamples: Int = 1_000,
        seed: UInt64 = 12_345
    ) throws(WarmStartError) -> WarmStartEvaluation {
        let firstSlot = data.firstSlotRows
        guard !firstSlot.isEmpty else {
            // Named as `data ope --online` names it: the first slot by value, so a log of lower slots only has none.
            throw .noFirstSlotRows(rows: data.rows, numbering: data.slotNumberingText)
        }
        // Rows drawn from a candidate set are weighed against no policy: the candidate, the start and the logging
        // policy are all judged on the others.
        let data = (firstSlot.count == data.rows ? data : data.subset(firstSlot, name: "\(data.name), first slot"))
            .withoutConditionalRows()
        guard data.rows > 0 else { throw .noRows("first-slot evaluation (every row was drawn from a candidate set)") }
        guard data.nActions <= trained.spec.itemCount else {
            throw .catalogueMismatch(logItems: data.nActions, catalogueItems: trained.spec.itemCount)
        }
        let (candidate, unsupported) = try distribution(of: trained, on: data)
        let (initial, _) = try distribution(of: start, on: data)
        let report = OffPolicyEvaluation.evaluate(
            policy: candidate, policyName: "warm start", on: data, resamples: resamples, seed: seed)
        let startReport = OffPolicyEvaluation.evaluate(
            policy: initial, policyName: "untrained start", on: data, resamples: resamples, seed: seed)
        let logging = loggingTerms(data)
        let bootstrap = Bootstrap.intervalsWithReasons(logging, estimators: [.ipw], resamples: resamples, seed: seed)
        let interval = bootstrap.intervals[.ipw]
        let intervalUndefined =
            interval == nil
            ? (Bootstrap.undefinedReason(rows: data.rows, resamples: resamples) ?? bootstrap.undefined[.ipw]
                ?? "the bootstrap gave no interval") : nil
        return WarmStartEvaluation(
            candidate: report, start: startReport, loggingValue: logging.estimate(.ipw) ?? 0,
            loggingInterval: interval, loggingIntervalUndefined: intervalUndefined,
            unsupportedShare: unsupported.isEmpty ? 0 : unsupported.reduce(0, +) / Double(unsupported.count),
            clicks: data.clicks,
            favouredClicks: (0..<data.rows).filter {
                data.reward[$0] > 0 && candidate[$0, data.action[$0]] >= data.pscore[$0]
            }.count)
    }

    /// The policy's first-slot exploration distribution over its active items for each logged row's user,
    /// `π(a | x_i)` (the slot where it chooses among every item; an OBD row shows one item in one slot), restricted
    /// to the logs' items, and per row the probability left on the others.
    static func distribution(of policy: OnlinePolicy, on data: BanditDataset) throws(WarmStartError)
        -> (ActionDistribution, unsupported: [Double])
    {
        let k = data.nActions
        let pool = policy.activeRows
        var out = [Double](repeating: 0, count: data.rows * k)
        var outside = [Double](repeating: 0, count: data.rows)
        for row in 0..<data.rows {
            let p: [Double]
            do {
                p = policy.probabilities(
                    policy.scores(z: try policy.userVector(data.userContext(row), viewed: data.viewedItems(row)), items: pool),
                    items: pool)
            } catch {
                throw .evaluationRow(dataset: data.name, row: row + 1, of: data.rows, error)
            }
            for (index, item) in pool.enumerated() {
                if item < k { out[row * k + item] = p[index] } else { outside[row] += p[index] }
            }
        }
        return (ActionDistribution(nActions: k, probabilities: out), outside)
    }

    /// The logging policy evaluated on its own logs: a distribution that gives each row's logged item its logged
    /// propensity, so every importance weight is exactly 1 and IPW is the mean logged click.
    static func loggingTerms(_ data: BanditDataset) -> OPETerms {
        let k = data.nActions
        var p = [Double](repeating: 0, count: data.rows * k)
        for row in 0..<data.rows {
            let logged = data.pscore[row]
            let rest = k > 1 ? (1 - logged) / Double(k - 1) : 0
            for a in 0..<k { p[row * k + a] = a == data.action[row] ? logged : rest }
        }
        return OPETerms(
            reward: data.reward, action: data.action, pscore: data.pscore,
            policy: ActionDistribution(nActions: k, probabilities: p), estimatedRewards: nil)
    }

    /// The trained policy's estimate by `estimator` on all rows, or nil when it is undefined.
    public func value(_ estimator: OffPolicyEstimator) -> Double? {
        candidate.segments.first { $0.segment == .all }?.estimates.first { $0.estimator == estimator }?.value
    }

    /// The trained policy's interval by `estimator` on all rows.
    public func interval(_ estimator: OffPolicyEstimator) -> ConfidenceInterval? {
        candidate.segments.first { $0.segment == .all }?.estimates.first { $0.estimator == estimator }?.interval
    }

    /// Why the verdict is ``Verdict/noIntervals``: the logging policy's interval's reason when it has none (no
    /// resamples, too few rows), else the trained policy's SNIPW's (its estimate or its interval undefined); nil when
    /// both intervals exist.
    public var noIntervalReason: String? {
        if loggingInterval == nil { return loggingIntervalUndefined ?? "the logging policy's interval is undefined" }
        guard interval(.snipw) == nil else { return nil }
        let snipw = candidate.segments.first { $0.segment == .all }?.estimates.first { $0.estimator == .snipw }
        return snipw.flatMap { $0.undefined ?? $0.intervalUndefined }.map { "the warm start's SNIPW: \($0)" }
            ?? "the warm start's SNIPW interval is undefined"
    }
}

extension WarmStart {
    /// Where a log schema's user features are not what a warm start of `spec` encodes, one sentence each: the warm
    /// start trains the served policy, whose encoding was fixed when its catalogue was registered.
    /// - A user feature the policy does not have: the policy refuses every row that carries it (an unknown user
    ///   feature), so the warm start learns nothing from them.
    /// - A categorical feature whose declared `values` are not the served ones (compared as sets: the policy looks a
    ///   value up by name), or that the policy reads as numeric: the declaration is not used.
    /// - A numeric feature the policy encodes as categorical, or a categorical one (without values) it reads as
    ///   numeric; a numeric feature whose declared `mean` or `scale` is not the served one (values standardised
    ///   otherwise than the schema says, learnt as the policy standardises them).
    /// Empty when everything agrees.
    /// - Parameters:
    ///   - schema: the logs' schema (`--schema`).
    ///   - spec: the served policy's spec.
    public static func schemaValueNotes(schema: DataSchema, spec: OnlinePolicySpec) -> [String] {
        let served = Dictionary(spec.userFeatures.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return schema.logs.userFeatures.compactMap { feature -> String? in
            guard let policy = served[feature.name] else {
                return "the schema's user feature '\(feature.name)' is not one the served policy has "
                    + "(\(spec.userFeatures.map { "'\($0.name)'" }.joined(separator: ", "))): the policy refuses every row "
                    + "that carries it as an unknown user feature"
            }
            if let note = kindNote(feature, policy) { return note }
            guard let declared = feature.values, Set(declared) != Set(policy.values) else { return nil }
            let encoding: String
            switch (policy.kind, policy.values.isEmpty) {
            case (.numeric, _): encoding = "reads it as numeric"
            case (_, true): encoding = "hashes its values into \(policy.buckets) columns"
            case (_, false): encoding = "encodes the \(policy.values.count) values [\(policy.values.joined(separator: ", "))]"
            }
            return "the schema declares \(declared.count) values of user feature '\(feature.name)' "
                + "[\(declared.joined(separator: ", "))], but the served policy \(encoding): the warm start "
                + "trains the served encoding; register a catalogue with this schema (a new lineage) to use the declared values"
        }
    }
}

extension WarmStart {
    /// The note for a feature the schema and the served policy encode as different kinds, or a numeric one they
    /// standardise differently (a declared `mean` or `scale` other than the served one, relative difference over
    /// 1e-9: TOML and the stored spec's JSON both keep a double exactly); nil when they agree.
    static func kindNote(_ feature: DataSchema.Feature, _ policy: UserFeatureSpec) -> String? {
        let advice = "the warm start trains the served encoding; register a catalogue with this schema (a new lineage) "
            + "to use the declared one"
        switch (feature.kind, policy.kind) {
        case (.numeric, .categorical):
            return "the schema declares user feature '\(feature.name)' numeric, but the served policy encodes it as "
                + "categorical (each value a category): \(advice)"
        case (.categorical, .numeric) where feature.values == nil:
            return "the schema declares user feature '\(feature.name)' categorical, but the served policy reads it as "
                + "numeric (mean \(policy.mean), scale \(policy.scale)): \(advice)"
        case (.numeric, .numeric):
            func differs(_ declared: Double?, _ served: Double) -> Bool {
                guard let declared else { return false }
                return abs(declared - served) > 1e-9 * max(abs(declared), abs(served), 1e-300)
            }
            guard differs(feature.mean, policy.mean) || differs(feature.scale, policy.scale) else { return nil }
            return "the schema declares user feature '\(feature.name)' numeric with mean \(feature.mean ?? policy.mean), "
                + "scale \(feature.scale ?? policy.scale), but the served policy standardises it with mean "
                + "\(policy.mean), scale \(policy.scale): \(advice)"
        default:
            return nil
        }
    }
}

/// Why one logged row cannot be learnt from (``WarmStart/train(_:on:seed:)``).
struct WarmStartRowRefusal: Error {
    var reason: String
}
