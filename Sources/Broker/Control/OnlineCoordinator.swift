import BrokerCore
import Foundation
import Logging
import Metrics
import RecData
import RecPolicy
import RecStore
import RecWire

/// The shell around ``OnlineCore``: owned by the control thread, like ``JobCoordinator``, it feeds the
/// core its events, performs the actions it returns on the store, the guard and the reactor, and feeds
/// each store result back in as an event. It decides nothing itself.
final class OnlineCoordinator: ControlShell {
    let store: RecStore
    let logger: Logger
    let emit: (ControlOutput) -> Void
    /// Hands a case to the guard's thread; the verdict comes back through ``handleVerdict(sync:decision:nowMs:)``.
    var judge: (GuardJudge.Case) -> Void = { _ in }
    /// The state machine.
    var core: OnlineCore
    /// The first policy version of the lineage served now (``OnlineCore/lineageStart``): impressions logged under an
    /// earlier version name another catalogue's rows, and an `impressions` page only counts them.
    var lineageStart: UInt64 { core.lineageStart }
    /// Sends a registry catalogue version to a worker (CATALOGUE); false when the registry cannot.
    var shipCatalogue: (_ worker: [UInt8], _ version: UInt64) -> Bool = { _, _ in false }

    /// Creates a coordinator; ``start(nowMs:)`` loads or creates the served version.
    /// - Throws: ``PolicyError`` when the settings do not make a servable policy.
    init(settings: OnlineSettings, store: RecStore, logger: Logger, emit: @escaping (ControlOutput) -> Void) throws {
        self.store = store
        self.logger = logger
        self.emit = emit
        core = try OnlineCore(settings: settings, nowMs: 0)
    }

    /// Resumes the newest stored version (or stores the next version, the untrained policy) and the frozen flag.
    /// - Throws: ``StoreError`` when the store cannot be read or the new version written;
    ///   ``PolicyVersionExhausted`` when the stored version has no successor, ``StoredPolicyUnusable`` when the
    ///   newest stored version fits the configured policy but cannot be served (its statistics are not finite).
    func start(nowMs: UInt64) throws {
        core.intervalStartMs = nowMs
        sweepPrunedBlobs()
        core.frozen = try store.flag("online.frozen") ?? false
        (core.impressionCount, core.feedbackCount) = try store.onlineCounts()
        // A log larger than --impression-log-size (the setting lowered for this start) loses its oldest impressions
        // and their feedback at the next write, acknowledged feedback among them (all but what no sync consumed yet,
        // which stays until one has): said once here, where it happened with no word (a bounded log's steady trimming
        // of a few rows a write is not logged).
        if core.impressionCount > core.settings.impressionLogSize {
            logger.warning(
                """
                the impression log holds more than --impression-log-size: the oldest impressions and their feedback \
                are deleted at the next write, feedback no sync has learnt once it has or twice the size is passed (export \
                them first to keep them: recpool logs export)
                """,
                metadata: [
                    "impressions": "\(core.impressionCount)", "feedback": "\(core.feedbackCount)",
                    "impression_log_size": "\(core.settings.impressionLogSize)",
                    "to_delete": "\(core.impressionCount - core.settings.impressionLogSize)",
                ])
        }
        var stored: UInt64 = 0
        var carried: OnlinePolicy?
        var beginsLineage = false
        core.lineageStart = try store.lineageStart() ?? 1
        // Impressions name only stored versions; one past the newest stored row means rows were lost (a partial
        // restore, an edit), which stops the start below.
        let highestLogged = try store.highestImpressionVersion() ?? 0
        // The lineage start is stored with the version that begins it: one past every stored or logged version is
        // damage (it would leave every impression, this lineage's too, out of exports and refuse their feedback).
        let newest = max(try store.latestPolicyVersion()?.version ?? 0, highestLogged)
        if core.lineageStart > max(newest, 1) {
            throw StoreError.corruptColumn(
                table: "settings", row: "name = '\(RecStore.lineageStartSetting)'", column: "value",
                problem: "lineage start \(core.lineageStart) is past every policy version stored or logged (the newest is "
                    + "\(newest))")
        }
        let latest = try store.latestPolicyVersion()
        if latest == nil && highestLogged > 0 {
            // Impressions are logged only by a served version, and versions are never deleted: every version row is
            // gone (a table emptied by hand, a bad restore), and with them the only copy of the learnt weights. A
            // fresh policy numbered past them would serve the untrained model as if it had learnt.
            throw StoreError.corruptColumn(
                table: "policy_versions", row: "every row", column: "version",
                problem: "the table holds no version while impressions name versions up to \(highestLogged): the online "
                    + "policy's learnt weights are lost (they exist nowhere else)")
        }
        if let row = latest, highestLogged > row.version {
            // As above, for the newest versions only: impressions name a version past the newest row, so rows were
            // deleted (an edit, a partial restore), and with them the learnt weights of those versions. Resuming the
            // older row under a new number served its weights as the newest, and the feedback merged into the lost
            // versions stayed marked as learnt: acknowledged learning gone, with a warning.
            throw StoreError.corruptColumn(
                table: "policy_versions", row: "versions \(row.version + 1)…\(highestLogged)", column: "version",
                problem: "the newest stored version is \(row.version) while impressions name versions up to "
                    + "\(highestLogged): the learnt weights of the versions after \(row.version) are lost (they exist "
                    + "nowhere else)")
        }
        if let row = latest {
            let bytes = try storedWeights(of: row)
            let pack = try storedPack(of: row, bytes: bytes)
            // A stored spec that does not decode, or cannot be served, is an error naming it, never taken for a
            // changed spec.
            let storedSpec = try storedSpecAsStored(row)
            let relation = try catalogueRelation(stored: row.catalogueVersion, policyVersion: row.version)
            // The item scaling belongs to the lineage (fixed when it began, over the catalogue of that day): a
            // restart that continues it reads the items as the stored statistics were learnt, not as today's
            // catalogue would scale them. A start that turns out to begin a new lineage scales on today's.
            let configured = (spec: core.spec, policy: core.policy)
            if relation != .unrelated { core.inheritItemScaling(storedSpec.itemScaling) }
            switch try resumption(
                of: row, pack: pack, bytes: bytes, storedSpec: storedSpec, relation: relation, highestLogged: highestLogged)
            {
            case .resumed:
                // Resumed over a later catalogue version that extends the stored one's rows (items added while the
                // broker was down): the number now names that catalogue, stored as a running broker's move stores it
                // (``moveToCatalogue(_:version:sha256:)``). Left naming the earlier one, a later upload of only those
                // earlier rows (`upload --replace` that dropped the added items) read as extending this version, and
                // its next add took an added item's row: impressions that showed it were learnt as the new item.
                if let served = core.settings.served, row.catalogueVersion != served.version {
                    try store.movePolicyVersion(row.version, toCatalogue: served.version)
                }
                // A restart with a smaller --online-keep-versions prunes now, not at the next stored version.
                pruneStoredVersions(nowMs: nowMs)
                return try handOnUnlearnt(continuing: true)
            case .carried(let policy): carried = policy
            case .newLineage:
                (core.spec, core.policy) = configured
                beginsLineage = true
            }
            stored = row.version
        }
        stored = max(stored, highestLogged)
        guard stored < PolicyVersionExhausted.largestVersion else { throw PolicyVersionExhausted(version: stored) }
        if let carried { core.policy = carried }
        // Before the new version is stored: a start that stops between the two must not resume that version and then
        // hand it the events of a lineage it does not continue.
        try handOnUnlearnt(continuing: carried != nil)
        let bytes = PolicyWeights.pack(core.policy).encoded()
        let sha = try store.blobs.put(bytes)
        try store.savePolicyVersion(
            PolicyVersionRow(
                version: stored + 1, weightsSHA: sha, spec: String(decoding: WireJSON.encode(core.storedSpec), as: UTF8.self),
                decision: nil, catalogueVersion: core.catalogueVersion),
            createdMs: nowMs, beginsLineage: beginsLineage)
        if beginsLineage { core.lineageStart = stored + 1 }
        pruneStoredVersions(nowMs: nowMs)
        core.adopt(core.policy, version: stored + 1, pack: bytes, sha: sha)
        logger.info("online policy created", metadata: ["version": "\(stored + 1)", "frozen": "\(core.frozen)"])
    }

    /// The stored weights of `row`. A read that fails (permission denied, a directory in the blob's place, a disk
    /// error) leaves the served weights unknown: damaged state (``StoredPolicyUnusable``), never "a write that
    /// failed", which would start with online learning off and answer RECOMMEND from the MLP model. Kept out of
    /// ``start(nowMs:)``: a typed catch inline crashed Swift 6.3.1's ownership verifier.
    @inline(never)
    private func storedWeights(of row: PolicyVersionRow) throws -> [UInt8] {
        do {
            return try store.blobs.get(row.weightsSHA)
        } catch let error as StoreError {
            guard case .io(let path, let reason) = error else { throw error }
            throw StoredPolicyUnusable(version: row.version, unreadable: "\(path): \(reason)")
        }
    }

    /// The parameter pack of `row`'s weights. Bytes that are no pack (the row names another kind of blob: a model's
    /// checkpoint, a catalogue) are damaged state (``StoredPolicyUnusable``), never "a write that failed", which
    /// started the broker with online learning off. Out of line for the same reason as ``storedWeights(of:)``.
    @inline(never)
    private func storedPack(of row: PolicyVersionRow, bytes: [UInt8]) throws -> ParameterPack {
        do {
            return try ParameterPack(decoding: bytes)
        } catch {
            throw StoredPolicyUnusable(
                version: row.version, unreadable: "blob \(row.weightsSHA) is not a policy's parameter pack: \(error)")
        }
    }

    /// User features as a log line shows their encoding: `segment (values a, b; 1 shared column)`, `device (8 hashed
    /// columns)`, `age (numeric, mean 0, scale 1)`.
    static func encodings(_ features: [UserFeatureSpec]) -> String {
        features.map { f in
            switch f.kind {
            case .numeric: return "\(f.name) (numeric, mean \(f.mean), scale \(f.scale))"
            case .categorical:
                let shown = f.values.prefix(8).joined(separator: ", ") + (f.values.count > 8 ? ", … (\(f.values.count))" : "")
                return f.values.isEmpty
                    ? "\(f.name) (\(f.buckets) hashed columns)"
                    : "\(f.name) (values \(shown); \(f.buckets) shared column\(f.buckets == 1 ? "" : "s"))"
            }
        }.joined(separator: "; ")
    }

    /// `read(core)`, through a copy kept out of line: the optimiser's ownership verifier in Swift 6.3.1 crashed on
    /// reading the core's optional catalogue reference in place inside ``resumption(of:pack:bytes:storedSpec:relation:highestLogged:)``.
    @inline(never)
    static func read<Value>(_ core: OnlineCore, _ read: (OnlineCore) -> Value) -> Value { read(core) }

    /// What the start does with the newest stored version.
    enum Resumption {
        /// It is served under its own number.
        case resumed
        /// Its statistics are served as the next version (another spec, or an earlier catalogue version).
        case carried(OnlinePolicy)
        /// A new lineage starts (another catalogue, or statistics that do not fit).
        case newLineage
    }

    /// Decides how the newest stored version `row` (its weights `pack`, encoded as `bytes`, and its spec as stored)
    /// is resumed, adopting it when it is served under its own number. Kept out of ``start(nowMs:)``: with this
    /// typed `do`/`catch` inline, Swift 6.3.1's optimiser crashed in its ownership verifier building it for release.
    /// - Throws: ``StoredPolicyUnusable`` when the pack fits but cannot be served (its posterior is not finite).
    @inline(never)
    private func resumption(
        of row: PolicyVersionRow, pack: ParameterPack, bytes: [UInt8], storedSpec: OnlinePolicySpec,
        relation: CatalogueRelation, highestLogged: UInt64
    ) throws(StoredPolicyUnusable) -> Resumption {
        // The statistics are per context column: under another user encoding (a feature added or removed, values
        // declared where they were hashed) the same widths would mean other users, so nothing learnt is carried.
        let sameWidth = try sameItemWidth(storedCatalogue: row.catalogueVersion, policyVersion: row.version)
        let configuredUsers = Self.read(core) { $0.spec.userFeatures }
        // The stored weights must fit the stored spec itself, whatever is configured now: the shape is set by its user
        // encoding, `id_buckets`, `item_dims` and learner over the items' width. A pack that does not fit is damaged
        // (a byte of the spec changed, say a bucket count), never a schema or a setting that changed: the start is
        // refused, rather than serving the untrained policy, or carrying the weights on, in place of what was learnt.
        var asStored = Self.read(core) { $0.spec }
        asStored.userFeatures = storedSpec.userFeatures
        asStored.idBuckets = storedSpec.idBuckets
        asStored.itemDims = storedSpec.itemDims
        asStored.learning = storedSpec.learning
        if relation != .unrelated, sameWidth,
            let like = try? OnlinePolicy.initial(spec: asStored, catalogue: Self.read(core) { $0.policy.catalogue }),
            case .failure(let error) = Result(catching: { () throws(PolicyError) in
                try PolicyWeights.policy(pack, like: like)
            })
        {
            throw StoredPolicyUnusable(version: row.version, error: error)
        }
        if storedSpec.userFeatures != configuredUsers, relation == .unrelated {
            // Another catalogue as well (the simulator world's policy, then a shop's): that is the reason said, not
            // "the schema's user features are encoded otherwise" when the schema never changed.
            warnAnotherCatalogue(row)
            return .newLineage
        }
        if storedSpec.userFeatures != configuredUsers {
            logger.warning(
                "the schema's user features are encoded otherwise than the stored online policy's; starting a new lineage",
                metadata: [
                    "stored_version": "\(row.version)",
                    "stored_user_features": "\(Self.encodings(storedSpec.userFeatures))",
                    "configured_user_features": "\(Self.encodings(configuredUsers))",
                ])
            return .newLineage
        }
        let resumed: OnlinePolicy
        let configuredSpec = Self.read(core) { $0.storedSpec }
        // The contextual bandit's statistics are a logistic posterior in log-odds, the session DQN's a regression of
        // Q in reward units: carried across a switch, the bandit scored "click probabilities" near 0.6 against a 3.5%
        // click rate for thousands of events. Another learner starts a new lineage (numbered past the stored one).
        // The session DQN's Q-values scale with γ (about 1 / (1 − γ) clicks): another γ is another scale too.
        let (storedLearning, configuredLearning) = (storedSpec.learning, configuredSpec.learning)
        if relation != .unrelated,
            storedLearning.learner != configuredLearning.learner
                || (configuredLearning.learner == .sessionDQN && storedLearning.gamma != configuredLearning.gamma)
        {
            // Read into locals, not inside the log's metadata closure (Swift 6.3.1's optimiser, above).
            let stored = "\(storedLearning.learner.rawValue) (γ \(storedLearning.gamma))"
            let configured = "\(configuredLearning.learner.rawValue) (γ \(configuredLearning.gamma))"
            let storedVersion = row.version
            logger.warning(
                "the stored online policy was learnt by another learner or discount, whose statistics mean other numbers; the next version starts from the prior (the log and its feedback carry on)",
                metadata: ["stored_version": "\(storedVersion)", "stored_learner": "\(stored)", "configured_learner": "\(configured)"])
            // The same lineage (the catalogue's rows did not move: the log stays exported and its feedback is taken,
            // and learnt by the new learner), under the next number, with the configured policy's prior statistics.
            return .carried(core.policy)
        }
        switch Result(catching: { () throws(PolicyError) in try PolicyWeights.policy(pack, like: core.policy) }) {
        case .success(let policy):
            resumed = policy
        case .failure(let error)
        where relation != .unrelated && storedSpec == configuredSpec
            && sameWidth:
            // The same spec over the same catalogue's rows (or rows that extend them) gives weights of one shape:
            // a stored pack that does not fit them is damaged (a vector missing or cut short), never another
            // lineage. It is refused, not replaced by the untrained policy, which would throw away what the pool
            // learnt and start its version numbers again.
            throw StoredPolicyUnusable(version: row.version, error: error)
        case .failure(.weightsMismatch):
            // Another catalogue or feature spec: a new lineage.
            logger.warning(
                "stored online policy does not fit the configured catalogue; starting a new lineage",
                metadata: ["stored_version": "\(row.version)"])
            return .newLineage
        case .failure(let error):
            // The pack fits but cannot be served (its posterior is not finite): corrupt state is refused, never
            // replaced by an untrained policy that would throw away what the pool learnt.
            throw StoredPolicyUnusable(version: row.version, error: error)
        }
        // A version number names one policy: its statistics, its spec and its catalogue. Only when all three
        // are what this broker is configured to serve does it serve under the stored number. A catalogue
        // that extends the stored one's rows counts as the same (rows never move; a running broker moves the
        // served version to each new catalogue version the same way, `moveToCatalogue`).
        if relation == .extends && storedSpec == configuredSpec && highestLogged <= row.version {
            core.adopt(resumed, version: row.version, pack: bytes, sha: row.weightsSHA)
            logger.info("online policy resumed", metadata: ["version": "\(row.version)"])
            return .resumed
        } else if relation != .unrelated {
            // The spec changed (exploration, learner settings, seed), or the configured catalogue is an
            // earlier version of the stored one's (its rows a prefix of those): what the pool learnt is kept
            // (the statistics are per feature and per id bucket), under the next number, so impressions
            // logged under the old number keep meaning what its stored row says.
            if relation != .extends || storedSpec != configuredSpec {
                let configuredCatalogue = catalogueNames(of: row).configured
                logger.warning(
                    "the configured online policy differs from the stored version's; its statistics are served as a new version",
                    metadata: [
                        "stored_version": "\(row.version)",
                        "differs_in": "\(Self.differingFields(storedSpec, configuredSpec).joined(separator: ", "))",
                        "configured_catalogue": "\(configuredCatalogue)",
                    ])
            }
            return .carried(resumed)
        } else {
            warnAnotherCatalogue(row)
        }
        return .newLineage
    }

    /// The catalogue version the stored version `row` serves and the one configured now, as the logs name them (a
    /// number, or "the simulator world's" for none). Read into locals, never inside a log's metadata closure: reading
    /// `core.catalogueVersion` there crashed Swift 6.3.1's optimiser (an ownership-verifier failure on the borrowed
    /// optional) in the release build.
    private func catalogueNames(of row: PolicyVersionRow) -> (stored: String, configured: String) {
        let configured = Self.read(core) { $0.catalogueVersion }.map { String($0) } ?? "the simulator world's"
        return (row.catalogueVersion.map { String($0) } ?? "the simulator world's", configured)
    }

    /// Logs that the stored version `row` serves another catalogue version than the configured one, so a new lineage
    /// starts.
    @inline(never)
    private func warnAnotherCatalogue(_ row: PolicyVersionRow) {
        let (stored, configured) = catalogueNames(of: row)
        let version = row.version
        logger.warning(
            "the stored online policy serves another catalogue version; starting a new lineage",
            metadata: [
                "stored_version": "\(version)", "stored_catalogue": "\(stored)", "configured_catalogue": "\(configured)",
            ])
    }

    /// The top-level fields of the policy spec (as JSON, `exploration`, `learning`, `seed`, …) in which `stored` and
    /// `configured` differ, sorted; `catalogue` when only the catalogue moved. The warning that a restart serves the
    /// statistics as a new version logged the whole configured spec (about 3 KB) and named no field.
    static func differingFields(_ stored: OnlinePolicySpec, _ configured: OnlinePolicySpec) -> [String] {
        func object(_ spec: OnlinePolicySpec) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(WireJSON.encode(spec)))) as? [String: Any] ?? [:]
        }
        let (a, b) = (object(stored), object(configured))
        let fields = Set(a.keys).union(b.keys).filter { key in
            switch (a[key], b[key]) {
            case (nil, nil): return false
            case (let x?, let y?): return !NSDictionary(dictionary: ["v": x]).isEqual(to: ["v": y])
            default: return true
            }
        }.sorted()
        return fields.isEmpty ? ["catalogue"] : fields
    }

    /// The replicas a restarted broker registers are sent its served version, which drops what they learnt since
    /// the last sync; the stored feedback no finished sync consumed is therefore held for the replicas again (in the
    /// order it was stored), so a restart of the broker, of the workers or of both loses no learning. A new lineage
    /// (another catalogue, an unrelated stored policy) does not learn the old one's events: they are marked consumed.
    /// A damaged row (a click other than 0 or 1, an impression record that does not decode) is logged naming it and
    /// skipped, and stays in the store: the broker starts and the readable rows are handed on.
    /// - Throws: ``StoreError`` when the log cannot be read or written.
    private func handOnUnlearnt(continuing: Bool) throws {
        guard continuing else { return try store.markAllLearnt() }
        let scan = try store.unlearntFeedback()
        var damaged = scan.damaged.map { "\($0)" }
        var events: [LearnEvent] = []
        events.reserveCapacity(scan.rows.count)
        var records: [String: ImpressionRecord] = [:]
        var earlierLineage: [RecStore.FeedbackKey] = []
        for row in scan.rows {
            // Feedback an earlier build took on an earlier lineage's impression: its rows name another catalogue's items.
            guard row.version >= core.lineageStart else {
                earlierLineage.append(RecStore.FeedbackKey(impressionId: row.impressionId, item: row.item))
                continue
            }
            let record: ImpressionRecord
            if let known = records[row.impressionId] {
                record = known
            } else {
                do {
                    record = try StoredImpressionRecord.decode(
                        row.record, id: row.impressionId, createdMs: row.createdMs, version: row.version)
                } catch {
                    damaged.append("\(error)")
                    continue
                }
                records[row.impressionId] = record
            }
            // The commit checked the item against the slate; a row that no longer matches is not learnt from.
            guard let slot = record.slate.firstIndex(of: row.item), slot < record.propensities.count else {
                damaged.append("feedback for item \(row.item) of impression \(row.impressionId), not in its slate")
                continue
            }
            events.append(
                LearnEvent(
                    impressionId: row.impressionId, userFeatures: record.userFeatures, viewed: record.viewed,
                    item: row.item, position: slot, reward: Double(row.click), propensity: record.propensities[slot],
                    version: record.version))
        }
        if !damaged.isEmpty {
            logger.error(
                "damaged feedback rows are not handed to the replicas again; they stay in the store",
                metadata: ["rows": "\(damaged.count)", "first": "\(damaged[0])"])
        }
        if !earlierLineage.isEmpty {
            // Marked consumed, so the next start neither reads nor reports them again.
            try store.markLearnt(earlierLineage)
            logger.warning(
                "feedback on an earlier lineage's impressions is not learnt: their items are another catalogue's rows",
                metadata: ["rows": "\(earlierLineage.count)", "lineage_start": "\(core.lineageStart)"])
        }
        guard !events.isEmpty else { return }
        core.held.append(contentsOf: events)
        logger.info(
            "feedback no sync consumed before the restart goes to the replicas again", metadata: ["events": "\(events.count)"])
    }

    /// How the configured catalogue relates to a stored version's (`nil`: the simulator world's catalogue).
    enum CatalogueRelation: Equatable {
        /// The same rows, or those rows and more after them (a later version: added, retired).
        case extends
        /// A prefix of the stored one's rows in an earlier version (a lower number).
        case precedes
        /// Rows that moved, or another kind of catalogue (a stored catalogue that cannot be read is damage: the start
        /// stops, ``StoredPolicyUnusable``).
        case unrelated
    }

    /// Whether the stored version's catalogue encodes items in as many columns as the configured one: the same ids
    /// under another encoding (an upload with a column more) give weights of another shape, a new lineage rather
    /// than damage. Unreadable counts as "not known to match".
    /// - Throws: ``StoredPolicyUnusable`` for stored policy version `policyVersion` when the registry does not hold
    ///   catalogue version `stored` or cannot read its row: damage, which read as "not the same width" began a new
    ///   lineage.
    func sameItemWidth(storedCatalogue stored: UInt64?, policyVersion: UInt64) throws(StoredPolicyUnusable) -> Bool {
        guard let stored, let configured = core.settings.served else {
            return stored == nil && core.settings.served == nil
        }
        let record: CatalogueRecord?
        do {
            record = try store.catalogue(stored)
        } catch {
            throw StoredPolicyUnusable(version: policyVersion, catalogue: stored, problem: "it cannot be read: \(error)")
        }
        guard let record else {
            throw StoredPolicyUnusable(
                version: policyVersion, catalogue: stored, problem: "the catalogue registry holds no such version")
        }
        return record.width == configured.catalogue.width
    }

    /// How the catalogue this broker is configured to serve relates to the registry's catalogue version `stored`,
    /// judged by their rows' item ids (rows never move), not by version numbers: an upload is a later number whose
    /// rows may have moved.
    /// - Throws: ``StoredPolicyUnusable`` for stored policy version `policyVersion` when the registry does not hold
    ///   catalogue version `stored`, or cannot read it or the versions between (exit 65 at start).
    func catalogueRelation(stored: UInt64?, policyVersion: UInt64) throws(StoredPolicyUnusable) -> CatalogueRelation {
        guard let stored, let configured = core.settings.served else {
            return stored == nil && core.settings.served == nil ? .extends : .unrelated
        }
        if stored == configured.version { return .extends }
        // The stored version's catalogue is part of its state: one the registry lost, or cannot read, is damage to
        // that state, never a catalogue the configuration changed to. Taken for `.unrelated`, it began a new lineage:
        // the untrained policy served under a new number, every logged impression moved to an earlier lineage.
        func unusable(_ problem: String) -> StoredPolicyUnusable {
            StoredPolicyUnusable(version: policyVersion, catalogue: stored, problem: problem)
        }
        do {
            // Adds and retires never move rows: a chain of them from the configured version back to the stored one
            // extends it, with no catalogue to read (one of a million items is megabytes to check and decode).
            var version: UInt64? = configured.version
            while let current = version, current > stored {
                guard let record = try store.catalogue(current), record.change != .upload else { break }
                version = record.parent
            }
            if version == stored { return .extends }
            guard let record = try store.catalogue(stored) else {
                throw unusable("the catalogue registry holds no such version")
            }
            let storedIds = try ItemCatalogue(canonical: store.blobs.get(record.sha256)).ids
            if configured.catalogue.ids.starts(with: storedIds) { return .extends }
            // An earlier version (a lower number, `--online-catalogue N`) whose rows the stored one extends. A later
            // upload whose rows are a prefix of the stored ones (`upload --replace` that dropped the last items) is
            // not: the next add takes a dropped item's row, and the impressions logged with that row would be
            // learnt and exported as the new item's. It starts a new lineage, as ONLINE.md says of `--replace`.
            if configured.version < stored, storedIds.starts(with: configured.catalogue.ids) { return .precedes }
        } catch let error as StoredPolicyUnusable {
            throw error
        } catch {
            throw unusable("it cannot be read: \(error)")
        }
        return .unrelated
    }

    /// Performs one action of the core's; a store result is fed back at once.
    func perform(_ action: OnlineAction, nowMs: UInt64) {
        switch action {
        case .send(let output):
            emit(output)
        case .log(let level, let message, let metadata):
            logger.log(level: level, "\(message)", metadata: metadata)
        case .commit(let commit):
            let result = Result { () throws(StoreError) in
                try store.commitOnline(impressions: commit.impressions, keep: commit.keep, feedback: commit.feedback)
            }
            run(.committed(result), nowMs: nowMs)
        case .lookUp(let query):
            run(
                .lookedUp(query, Result { () throws(StoreError) in try storedImpression(query.request.impressionId) }),
                nowMs: nowMs)
        case .judge(let c):
            // Read on the guard's thread: decoding thousands of stored impressions here held every slate and FEEDBACK.
            // Only what was logged by now: the two policies judged are copies taken now.
            let (store, limit, lineageStart) = (store, c.impressions, lineageStart)
            judge(
                GuardJudge.Case(
                    sync: c.sync, candidate: c.candidate, current: c.current,
                    evidence: {
                        try Self.guardEvidence(store: store, limit: limit, fromVersion: lineageStart, createdUpToMs: nowMs)
                    },
                    margin: c.margin, minimumRows: c.minimumRows, nowMs: nowMs))
        case .storeVersion(let v):
            let result = Result { () throws(StoreError) -> String in
                let sha = try store.blobs.put(v.pack)
                try store.savePolicyVersion(
                    PolicyVersionRow(
                        version: v.version, weightsSHA: sha, spec: v.spec, decision: v.decision,
                        catalogueVersion: v.catalogueVersion),
                    createdMs: nowMs, learnt: v.learnt)
                return sha
            }
            if case .failure = result { Counter(label: "recpool_broker_durable_write_failures_total").increment() }
            run(.versionStored(sync: v.sync, result), nowMs: nowMs)
            if case .success = result { pruneStoredVersions(nowMs: nowMs) }
        case .markLearnt(let keys):
            do {
                try store.markLearnt(keys)
            } catch {
                // They would be learnt again after a restart; the pool keeps serving.
                core.durableWriteFailures += 1
                Counter(label: "recpool_broker_durable_write_failures_total").increment()
                logger.error(
                    "cannot mark the synced feedback learnt; a restart would hand it to the replicas again",
                    metadata: ["events": "\(keys.count)", "error": "\(error)"])
            }
        case .storeFrozen(let freeze, let requester):
            let result = Result { () throws(StoreError) in
                try store.setSetting("online.frozen", freeze ? "true" : "false")
            }
            run(.frozenStored(freeze, requester: requester, result), nowMs: nowMs)
        case .answerImpressionPage(let requester, let after, let limit, let spec, let version):
            answerImpressionPage(requester, after: after, limit: limit, spec: spec, version: version)
        case .answerPolicyVersion(let requester, let version):
            answerPolicyVersion(requester, version: version)
        case .shipCatalogue(let worker, let version):
            if !shipCatalogue(worker, version) {
                logger.error("a replica's missing catalogue version cannot be sent", metadata: ["catalogue_version": "\(version)"])
            }
        }
    }

    /// An impression from the log, or `nil` when it is not there.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when its stored record does not decode or is
    ///   malformed (``ImpressionRecord/problem``).
    private func storedImpression(_ id: String) throws(StoreError) -> LoggedImpressionRow? {
        guard let row = try store.impression(id) else { return nil }
        let record = try StoredImpressionRecord.decode(row)
        return LoggedImpressionRow(
            record: record, createdMs: row.createdMs, worker: row.worker, answeredItems: Set(row.clicks.keys))
    }

    /// The newest logged impressions with feedback, as the guard reads them: only slates drawn from every active
    /// item (`retrieval` null, neither retrieval's candidates nor the request's), whose probability under the
    /// candidate policy the guard can compute exactly.
    static func guardEvidence(
        store: RecStore, limit: Int, fromVersion lineageStart: UInt64, createdUpToMs: UInt64 = .max
    ) throws(StoreError) -> GuardJudge.Evidence {
        var evidence: [GuardImpression] = []
        var leftOut = 0
        for row in try store.recentImpressionsWithFeedback(
            limit: limit, fromVersion: lineageStart, createdUpToMs: createdUpToMs)
        {
            // A record that does not decode is an error naming it, never left out of the evidence unseen.
            let record = try StoredImpressionRecord.decode(row)
            // Served from a subset of the items (retrieval's candidates, or the request's own): the candidate's
            // probability of this slate depends on those candidates, which are not logged (docs/ONLINE.md), so SNIPW
            // does not use it.
            guard record.retrieval == nil else {
                leftOut += 1
                continue
            }
            evidence.append(
                GuardImpression(
                    userFeatures: record.userFeatures, viewed: record.viewed, slate: record.slate,
                    propensities: record.propensities, clicks: row.clicks))
        }
        return (evidence, leftOut)
    }

    /// `online_policy` with a `version` other than the served one: that stored version's install order (learning
    /// off: it is not the version that learns) and weights; NOT_FOUND naming the version when it was never stored.
    private func answerPolicyVersion(_ requester: Requester, version: UInt64) {
        let refuse = { (status: Status, message: String) in
            let refusal = WireMessage.errorReply(to: requester.header, status: status, message: message)
            self.emit(.toClient(identity: requester.identity, frames: refusal.frames()))
        }
        let pack: [UInt8]
        let spec: OnlinePolicySpec
        let sha: String
        var catalogue: CatalogueReference?
        do {
            guard let row = try store.policyVersion(version) else {
                return refuse(
                    .notFound, "online policy version \(version) not found (the pool serves version \(core.version))")
            }
            if row.prunedMs != nil {
                return refuse(
                    .notFound,
                    "online policy version \(version) was pruned: retention (--online-keep-versions) deleted its "
                        + "weights; the pool serves version \(core.version)")
            }
            pack = try store.blobs.get(row.weightsSHA)
            sha = row.weightsSHA
            spec = try storedSpec(row)
            if let number = row.catalogueVersion, let record = try store.catalogue(number) {
                catalogue = CatalogueReference(version: number, sha256: record.sha256)
            }
        } catch {
            logger.error("online control failed", metadata: ["op": "online_policy", "error": "\(error)"])
            return refuse(.internal, "online_policy version \(version) cannot be read: \(error)")
        }
        var ok = requester.header.reply(status: .ok, modelVersion: version)
        ok.command = .control
        // The pack is the blob stored under its SHA-256 (checked when read), which names it as an install does.
        var document = PolicyInstall(version: version, spec: spec, learningEnabled: false, weightsSha256: sha)
        document.catalogue = catalogue
        emit(.toClient(identity: requester.identity, frames: [ok.encoded(), WireJSON.encode(document), pack]))
    }

    /// A stored version's spec with its items: a version stored over a registry catalogue holds its spec without
    /// items (``OnlinePolicySpec/withoutItems``) and names the catalogue version, whose rows are read back from the
    /// registry; a version stored before that (or over the simulator world) inlines them.
    /// - Throws: ``StoreError`` when the row, the catalogue version or its blob cannot be read;
    ///   ``WireError`` when the stored spec does not decode.
    ///   ``StoreError/corruptColumn(table:row:column:problem:)`` when the stored spec does not decode, or decodes but
    ///   cannot be served (``OnlinePolicySpec/problem``).
    func storedSpec(_ row: PolicyVersionRow) throws -> OnlinePolicySpec {
        var spec = try StoredJSON.decode(
            OnlinePolicySpec.self, from: row.spec, table: "policy_versions", row: "version = \(row.version)",
            column: "spec")
        if spec.itemsDetached, let version = row.catalogueVersion {
            guard let record = try store.catalogue(version) else { throw StoreError.unknownCatalogue(version) }
            spec.setCatalogue(try ItemCatalogue(canonical: store.blobs.get(record.sha256)))
        }
        try Self.checkServable(spec, version: row.version, itemsFrom: spec)
        return spec
    }

    /// A stored version's spec as stored (without its items over a registry catalogue), checked with the configured
    /// items: the start compares it with the configured spec. Kept out of ``start(nowMs:)``, whose optimised build
    /// crashed Swift 6.3.1's ownership verifier with this call inline.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when it does not decode or cannot be served.
    @inline(never)
    private func storedSpecAsStored(_ row: PolicyVersionRow) throws(StoreError) -> OnlinePolicySpec {
        let spec = try StoredJSON.decode(
            OnlinePolicySpec.self, from: row.spec, table: "policy_versions", row: "version = \(row.version)",
            column: "spec")
        try Self.checkServable(spec, version: row.version, itemsFrom: core.spec)
        // A spec stored without its items was learnt over a registry catalogue, which its row names: with the name
        // gone the statistics' rows belong to no known items, and the start took it for a change of configuration,
        // beginning a new lineage that served untrained weights.
        if spec.itemsDetached && row.catalogueVersion == nil {
            throw .corruptColumn(
                table: "policy_versions", row: "version = \(row.version)", column: "catalogue_version",
                problem: "NULL, but the version's spec was stored without its items, as over a registry catalogue: the "
                    + "catalogue version its statistics were learnt over is lost")
        }
        return spec
    }

    /// Refuses a stored spec that decodes but cannot be served (a slate size of 0, an exploration rate outside its
    /// range, …: ``OnlinePolicySpec/problem``), naming where it is stored, so a damaged row is never taken for a
    /// changed configuration and replaced by a new version built from the flags. A spec stored without its items
    /// (over a registry catalogue) is checked with the items of `itemsFrom`.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` naming `policy_versions`, the version's row
    ///   and `spec`.
    static func checkServable(_ spec: OnlinePolicySpec, version: UInt64, itemsFrom items: OnlinePolicySpec)
        throws(StoreError)
    {
        var checked = spec
        if spec.itemsDetached {
            checked.itemIds = items.itemIds
            checked.itemFeatures = items.itemFeatures
            checked.itemActive = items.itemActive
            // Items of another width (another catalogue encoding) make another lineage, not a damaged row: the stored
            // scaling is checked on its own width, and the start then begins a new lineage.
            if let scaling = spec.itemScaling, scaling.mean.count != items.itemWidth {
                if let problem = scaling.problem(itemWidth: scaling.mean.count) {
                    throw .corruptColumn(
                        table: "policy_versions", row: "version = \(version)", column: "spec",
                        problem: "the stored spec cannot be served: \(problem)")
                }
                checked.itemScaling = nil
            }
        }
        if let problem = checked.problem {
            throw .corruptColumn(
                table: "policy_versions", row: "version = \(version)", column: "spec",
                problem: "the stored spec cannot be served: \(problem)")
        }
    }

    /// `impressions`: a page of the impression log after a sequence number.
    private func answerImpressionPage(
        _ requester: Requester, after: Int64, limit: Int, spec: OnlinePolicySpec?, version: UInt64
    ) {
        let rows: [ImpressionRow]
        do {
            rows = try store.impressions(after: after, limit: limit)
        } catch {
            logger.error("online control failed", metadata: ["op": "impressions", "error": "\(error)"])
            let refusal = WireMessage.errorReply(
                to: requester.header, status: .internal, message: "impressions failed: \(error)")
            return emit(.toClient(identity: requester.identity, frames: refusal.frames()))
        }
        // A stored record that no longer decodes, or decodes malformed (a propensity of 0 would weigh an exported
        // row infinitely), is refused by name, never left out of the page: an export that silently skipped rows
        // would look complete.
        var logged: [LoggedImpression] = []
        var earlierLineage = 0
        for row in rows {
            // Logged by a policy over another catalogue (a new lineage began since): its slate's rows are not the
            // served catalogue's, so it is counted, never exported under the served catalogue's ids.
            guard row.version >= lineageStart else {
                earlierLineage += 1
                continue
            }
            let record: ImpressionRecord
            do {
                record = try StoredImpressionRecord.decode(
                    row, servedUnder: spec, fromRegistry: core.settings.catalogue != nil)
            } catch {
                logger.error(
                    "online control failed", metadata: ["op": "impressions", "impression": "\(row.id)", "error": "\(error)"])
                let refusal = WireMessage.errorReply(
                    to: requester.header, status: .internal,
                    message: "impressions failed: the stored record of impression \(row.id) (seq \(row.seq)) cannot be "
                        + "read: \(error)")
                return emit(.toClient(identity: requester.identity, frames: refusal.frames()))
            }
            logged.append(
                LoggedImpression(
                    seq: row.seq, record: record,
                    clicks: Dictionary(uniqueKeysWithValues: row.clicks.map { ("\($0.key)", $0.value) }),
                    dwell: Dictionary(uniqueKeysWithValues: row.dwell.map { ("\($0.key)", $0.value) })))
        }
        let page = ImpressionPage(
            impressions: logged, nextAfter: rows.count == limit ? rows.last?.seq : nil, spec: spec,
            earlierLineage: earlierLineage)
        var ok = requester.header.reply(status: .ok, modelVersion: version)
        ok.command = .control
        emit(.toClient(identity: requester.identity, frames: [ok.encoded(), WireJSON.encode(page)]))
    }
}
