import GRDB

/// One row of the impression log.
public struct ImpressionRow: Sendable, Equatable {
    /// Position in the log (increasing).
    public var seq: Int64
    /// The impression id.
    public var id: String
    /// When it was served, ms since the Unix epoch.
    public var createdMs: UInt64
    /// The display id of the worker that served it.
    public var worker: String
    /// The policy version that chose it.
    public var version: UInt64
    /// The impression record as the worker sent it (JSON).
    public var record: String
    /// Feedback received so far, item → click.
    public var clicks: [Int: Int]
    /// Dwell seconds reported with that feedback, item → seconds (only the items whose feedback had one).
    public var dwell: [Int: Double] = [:]
}

/// A stored online policy version.
public struct PolicyVersionRow: Sendable, Equatable {
    /// The version.
    public var version: UInt64
    /// SHA-256 of its weights pack, a key of ``RecStore/blobs``.
    public var weightsSHA: String
    /// Its spec (JSON).
    public var spec: String
    /// The guard's decision that admitted it (JSON), if any.
    public var decision: String?
    /// The registry's catalogue version it serves (`--online-catalogue`); nil for the simulator world's catalogue.
    public var catalogueVersion: UInt64?
    /// When retention deleted its weights (ms since the Unix epoch; ``RecStore/prunePolicyVersions(keepingNewest:nowMs:)``),
    /// nil while they are kept. A pruned version's row stays, so it is named as pruned, never as unknown.
    public var prunedMs: UInt64?

    /// Creates a row.
    public init(
        version: UInt64, weightsSHA: String, spec: String, decision: String?, catalogueVersion: UInt64? = nil,
        prunedMs: UInt64? = nil
    ) {
        self.version = version
        self.weightsSHA = weightsSHA
        self.spec = spec
        self.decision = decision
        self.catalogueVersion = catalogueVersion
        self.prunedMs = prunedMs
    }
}

extension RecStore {
    /// Appends impressions in one transaction, then trims the log to its newest `keep` rows (with their
    /// feedback).
    /// - Returns: the ids not stored because the log already holds an impression under them.
    @discardableResult
    public func appendImpressions(
        _ rows: [(id: String, createdMs: UInt64, worker: String, version: UInt64, record: String)], keep: Int
    ) throws(StoreError) -> Set<String> {
        try commitOnline(impressions: rows, keep: keep, feedback: []).repeatedImpressions
    }

    /// One feedback event to record.
    public struct FeedbackEvent: Sendable, Equatable {
        /// The impression.
        public var impressionId: String
        /// The item.
        public var item: Int
        /// 0 or 1.
        public var click: Int
        /// Dwell seconds, if reported.
        public var dwell: Double?
        /// When it arrived, ms since the Unix epoch.
        public var createdMs: UInt64
        /// Whether the event was checked against an impression of the same commit: it is then recorded only if that
        /// impression is stored, never against another slate the log already holds under the same id.
        public var needsItsImpression: Bool
        /// Whether the event goes to the learners (not while learning is frozen): it is stored as unlearnt until a
        /// finished sync consumes it (``RecStore/markLearnt(_:)``), so a restarted broker can hand it on again.
        public var toLearn: Bool

        /// Creates an event.
        public init(
            impressionId: String, item: Int, click: Int, dwell: Double?, createdMs: UInt64,
            needsItsImpression: Bool = false, toLearn: Bool = false
        ) {
            self.impressionId = impressionId
            self.item = item
            self.click = click
            self.dwell = dwell
            self.createdMs = createdMs
            self.needsItsImpression = needsItsImpression
            self.toLearn = toLearn
        }
    }

    /// One stored feedback event, named by its impression and item (the feedback table's key).
    public struct FeedbackKey: Sendable, Hashable {
        /// The impression.
        public var impressionId: String
        /// The item.
        public var item: Int

        /// Creates a key.
        public init(impressionId: String, item: Int) {
            self.impressionId = impressionId
            self.item = item
        }
    }

    /// A stored feedback event no finished sync has consumed, with its impression's record (JSON, as logged).
    public struct UnlearntFeedback: Sendable, Equatable {
        /// The impression.
        public var impressionId: String
        /// The item.
        public var item: Int
        /// 0 or 1.
        public var click: Int
        /// The impression record as the worker sent it (JSON).
        public var record: String
        /// The impression row's `created_ms` column, which its record repeats.
        public var createdMs: UInt64 = 0
        /// The impression row's `version` column, which its record repeats.
        public var version: UInt64 = 0
    }

    /// What a group commit (``commitOnline(impressions:keep:feedback:)``) stored.
    public struct OnlineCommitResult: Sendable, Equatable {
        /// The ids of impressions not stored because the log already holds an impression under that id (another
        /// slate's): nothing about them was written.
        public var repeatedImpressions: Set<String>
        /// For each feedback event, whether it was recorded: `false` for a duplicate (which changes nothing), and for
        /// an event that ``FeedbackEvent/needsItsImpression`` whose impression id is in ``repeatedImpressions``.
        public var feedbackNew: [Bool]
        /// Stored feedback events deleted with the impressions the log trimmed (`keep`): the stored count falls by
        /// this many.
        public var feedbackEvicted: Int
        /// Of ``feedbackEvicted``, the events no sync had consumed: deleted with impressions past twice the bound.
        public var unlearntEvicted: Int
        /// Impressions stored by this commit (those not in ``repeatedImpressions``).
        public var impressionsStored: Int
        /// Impressions the trim deleted: the stored count falls by this many. Fewer than the commit stored while the
        /// log holds impressions past the bound for a sync to learn their feedback, more when a log larger than
        /// `keep` is trimmed at once.
        public var impressionsEvicted: Int

        /// Creates a result.
        public init(
            repeatedImpressions: Set<String> = [], feedbackNew: [Bool] = [], feedbackEvicted: Int = 0,
            unlearntEvicted: Int = 0, impressionsStored: Int = 0, impressionsEvicted: Int = 0
        ) {
            self.repeatedImpressions = repeatedImpressions
            self.feedbackNew = feedbackNew
            self.feedbackEvicted = feedbackEvicted
            self.unlearntEvicted = unlearntEvicted
            self.impressionsStored = impressionsStored
            self.impressionsEvicted = impressionsEvicted
        }
    }

    /// The impressions a trim deletes (`id`, `seq`), given the cutoff and the ceiling sequence numbers: those at or
    /// below the cutoff with no feedback a sync has yet to consume, and all those at or below the ceiling.
    static let trimmedImpressions = """
        SELECT id, seq FROM impressions WHERE seq <= ? AND (seq <= ? OR NOT EXISTS
            (SELECT 1 FROM feedback WHERE feedback.impression_id = impressions.id AND +feedback.unlearnt = 1))
        """

    /// Appends impressions (trimming the log to `keep`) and records feedback, all in one transaction (a group
    /// commit: one fsync for everything that arrived together). The trim keeps, past `keep`, the impressions whose
    /// feedback no finished sync has consumed yet (``markLearnt(_:)``), until one has, or until they are `2 × keep`
    /// impressions old: an acknowledged event to learn is deleted unconsumed only then, and counted
    /// (``OnlineCommitResult/unlearntEvicted``). An impression whose id the log already holds is not
    /// stored (the stored one keeps its slate) and is named in the result, so its slate is never reported logged.
    /// - Returns: the impressions refused for a repeated id, and for each feedback event whether it was recorded.
    public func commitOnline(
        impressions rows: [(id: String, createdMs: UInt64, worker: String, version: UInt64, record: String)], keep: Int,
        feedback: [FeedbackEvent]
    ) throws(StoreError) -> OnlineCommitResult {
        guard !rows.isEmpty || !feedback.isEmpty else { return OnlineCommitResult() }
        return try write { db in
            var repeated = Set<String>()
            var stored = 0
            for row in rows {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO impressions (id, created_ms, worker, version, record)
                        VALUES (?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        row.id, Int64(clamping: row.createdMs), row.worker, Int64(clamping: row.version), row.record,
                    ])
                if db.changesCount == 0 { repeated.insert(row.id) } else { stored += 1 }
            }
            // The feedback first, then the trim, which keeps the impressions this write's feedback names: trimmed
            // first, an impression the broker had just accepted feedback on was deleted before its feedback was
            // inserted, which then stood as an orphan row, reported new (a repeat was learnt twice) and never exported.
            let recorded = try feedback.map { event in
                if event.needsItsImpression && repeated.contains(event.impressionId) { return false }
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO feedback (impression_id, item, click, dwell, created_ms, unlearnt)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        event.impressionId, event.item, event.click, event.dwell, Int64(clamping: event.createdMs),
                        event.toLearn ? 1 : 0,
                    ])
                return db.changesCount > 0
            }
            let newest = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM impressions") ?? 0
            let cutoff = newest - Int64(clamping: keep)  // seq ≥ 0: never past Int64.min
            // Past twice the bound an impression goes even with feedback no sync consumed (syncs failing for hours, a
            // damaged row no sync reads): the log stays bounded, and the events deleted unlearnt are counted.
            // `--impression-log-size` is bounded below only: 2 × a size past 2⁶² trapped on the first commit.
            let (twice, overflow) = Int64(clamping: keep).multipliedReportingOverflow(by: 2)
            let ceiling = overflow ? Int64.min : newest - twice
            var evicted = 0
            var unlearntEvicted = 0
            var impressionsEvicted = 0
            if try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM impressions") ?? 0 <= cutoff {
                let named = Set(feedback.map(\.impressionId))
                // An impression whose feedback no sync has consumed yet (`unlearnt` 1) stays past the bound until one
                // has: a restarted broker hands only stored feedback to the replicas again, and the trim deleted
                // acknowledged events a sync had not learnt (20 of 20, with no count and no log line).
                // `+unlearnt` keeps SQLite on the primary key (impression_id, item): through the partial index on
                // `unlearnt` it scanned every unlearnt row per impression (1 s a write at 5,000 of each).
                let old = try Row.fetchAll(db, sql: Self.trimmedImpressions, arguments: [cutoff, ceiling])
                for row in old {
                    let id: String = row["id"]
                    guard !named.contains(id) else { continue }
                    // Only an impression past the ceiling can go with unlearnt feedback: the others were chosen for
                    // having none.
                    if (row["seq"] as Int64) <= ceiling {
                        unlearntEvicted +=
                            try Int.fetchOne(
                                db, sql: "SELECT COUNT(*) FROM feedback WHERE impression_id = ? AND +unlearnt = 1",
                                arguments: [id]) ?? 0
                    }
                    try db.execute(sql: "DELETE FROM feedback WHERE impression_id = ?", arguments: [id])
                    evicted += db.changesCount
                    try db.execute(sql: "DELETE FROM impressions WHERE id = ?", arguments: [id])
                    impressionsEvicted += db.changesCount
                }
            }
            return OnlineCommitResult(
                repeatedImpressions: repeated, feedbackNew: recorded, feedbackEvicted: evicted,
                unlearntEvicted: unlearntEvicted, impressionsStored: stored, impressionsEvicted: impressionsEvicted)
        }
    }

    /// One impression with its feedback, or `nil` when it is not (or no longer) in the log.
    public func impression(_ id: String) throws(StoreError) -> ImpressionRow? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM impressions WHERE id = ?", arguments: [id])
            else { return nil }
            return try Self.impression(row, db)
        }
    }

    /// Records feedback unless the (impression, item) pair already has some.
    /// - Returns: `false` for a duplicate (nothing changed).
    public func recordFeedback(impressionId: String, item: Int, click: Int, dwell: Double?, createdMs: UInt64)
        throws(StoreError) -> Bool
    {
        try write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO feedback (impression_id, item, click, dwell, created_ms)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [impressionId, item, click, dwell, Int64(clamping: createdMs)])
            return db.changesCount > 0
        }
    }

    /// Up to `limit` impressions after `after`, oldest first.
    public func impressions(after: Int64, limit: Int) throws(StoreError) -> [ImpressionRow] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM impressions WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, limit]
            ).map { try Self.impression($0, db) }
        }
    }

    /// The newest `limit` impressions that received feedback, oldest first (the guard's evidence), logged under policy
    /// version `fromVersion` or later (the current lineage's: an earlier lineage's slates name another catalogue's rows)
    /// and stamped at `createdUpToMs` or before (the moment a sync handed its candidate to the guard, whose thread reads
    /// them later: a slate logged after a catalogue move since was drawn from a policy neither copy it judges holds).
    public func recentImpressionsWithFeedback(limit: Int, fromVersion: UInt64 = 1, createdUpToMs: UInt64 = .max)
        throws(StoreError) -> [ImpressionRow]
    {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM impressions WHERE id IN (SELECT DISTINCT impression_id FROM feedback) AND version >= ?
                    AND created_ms <= ? ORDER BY seq DESC LIMIT ?
                    """, arguments: [Int64(clamping: fromVersion), Int64(clamping: createdUpToMs), limit]
            ).reversed().map { try Self.impression($0, db) }
        }
    }

    /// Impressions in the log and feedback events stored.
    public func onlineCounts() throws(StoreError) -> (impressions: Int, feedback: Int) {
        try read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM impressions") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM feedback") ?? 0
            )
        }
    }

    /// Marks feedback events as consumed by a finished sync (merged into a version, or dropped with a rejected
    /// candidate), so a restarted broker does not hand them on again. Keys with no row are ignored.
    /// - Throws: ``StoreError`` when the write fails.
    public func markLearnt(_ keys: [FeedbackKey]) throws(StoreError) {
        guard !keys.isEmpty else { return }
        try write { db in try Self.markLearnt(keys, in: db) }
    }

    /// Marks every stored feedback event consumed (a new policy lineage does not learn another catalogue's events).
    /// - Throws: ``StoreError`` when the write fails.
    public func markAllLearnt() throws(StoreError) {
        // Damaged flags too (anything but 0): a new lineage learns none of the old events, so none is named again.
        try write { db in try db.execute(sql: "UPDATE feedback SET unlearnt = 0 WHERE unlearnt IS NOT 0") }
    }

    /// The feedback events no finished sync consumed, in the order they were stored, with their impressions' records.
    /// A damaged row (a click, or an `unlearnt` flag, other than 0 or 1) is not in ``UnlearntScan/rows``: it is named in
    /// ``UnlearntScan/damaged`` as ``StoreError/corruptColumn(table:row:column:problem:)``, never learnt as a reward
    /// of 7, and the readable rows are still returned.
    /// - Throws: ``StoreError`` when the read itself fails.
    public func unlearntFeedback() throws(StoreError) -> UnlearntScan {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT f.impression_id, f.item, f.click, f.unlearnt, i.record, i.created_ms, i.version
                    FROM feedback f JOIN impressions i ON i.id = f.impression_id
                    WHERE f.unlearnt IS NOT 0 ORDER BY f.rowid
                    """)
            var scan = UnlearntScan()
            for fetched in rows {
                let row = StoredRow(fetched, table: "feedback", key: "impression_id", "item")
                do throws(StoreError) {
                    // Every flag but 0 is read, so a damaged one (3, NULL, text) is named, never taken as "learnt".
                    let unlearnt: Int = try row.value("unlearnt")
                    guard unlearnt == 1 else { throw row.corrupt("unlearnt", "\(unlearnt) is neither 0 nor 1") }
                    let click: Int = try row.value("click")
                    guard click == 0 || click == 1 else { throw row.corrupt("click", "\(click) is neither 0 nor 1") }
                    scan.rows.append(
                        UnlearntFeedback(
                            impressionId: try row.value("impression_id"), item: try row.value("item"), click: click,
                            record: try row.value("record"), createdMs: try row.nonNegative("created_ms"),
                            version: try row.nonNegative("version")))
                } catch {
                    scan.damaged.append(error)
                }
            }
            return scan
        }
    }

    /// What ``unlearntFeedback()`` read: the readable rows in stored order, and each damaged row's error.
    public struct UnlearntScan: Sendable, Equatable {
        /// The readable rows, oldest first.
        public var rows: [UnlearntFeedback] = []
        /// One error per damaged row, naming it.
        public var damaged: [StoreError] = []
    }

    private static func markLearnt(_ keys: [FeedbackKey], in db: Database) throws {
        let statement = try db.makeStatement(sql: "UPDATE feedback SET unlearnt = 0 WHERE impression_id = ? AND item = ?")
        for key in keys { try statement.execute(arguments: [key.impressionId, key.item]) }
    }

    /// Stores a policy version; its weights must already be in ``blobs``. The feedback events `learnt` (the ones
    /// the version merged) are marked consumed in the same transaction, so a crash cannot leave them both in the
    /// stored version and due to be learnt again. With `beginsLineage`, the version is recorded as the first of a new
    /// lineage (``lineageStart()``) in that transaction too, so no crash leaves one without the other.
    public func savePolicyVersion(
        _ row: PolicyVersionRow, createdMs: UInt64, learnt: [FeedbackKey] = [], beginsLineage: Bool = false
    ) throws(StoreError) {
        guard blobs.contains(row.weightsSHA) else { throw .missingBlob(row.weightsSHA) }
        try write { db in
            try Self.markLearnt(learnt, in: db)
            if beginsLineage {
                try db.execute(
                    sql: "INSERT INTO settings(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    arguments: [Self.lineageStartSetting, String(row.version)])
            }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO policy_versions (version, weights_sha, spec, decision, created_ms, catalogue_version)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Int64(clamping: row.version), row.weightsSHA, row.spec, row.decision, Int64(clamping: createdMs),
                    row.catalogueVersion.map { Int64(clamping: $0) },
                ])
        }
    }

    /// Records that stored policy version `version` now serves catalogue version `catalogueVersion`: a running
    /// broker moves its served policy to each catalogue version that extends the served one (rows appended or
    /// retired, never moved), under the same number. Stored, so a restart knows which catalogue the number names.
    /// A version with no row is left as it is (a policy not stored yet records its catalogue when it is stored).
    /// - Throws: ``StoreError`` when the write fails.
    public func movePolicyVersion(_ version: UInt64, toCatalogue catalogueVersion: UInt64) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE policy_versions SET catalogue_version = ? WHERE version = ?",
                arguments: [Int64(clamping: catalogueVersion), Int64(clamping: version)])
        }
    }

    /// The newest policy version, if any.
    public func latestPolicyVersion() throws(StoreError) -> PolicyVersionRow? {
        try read { db in
            // A row numbered below 1 anywhere (version 14 renumbered 0 left 13 the newest) is refused by
            // ``checkPolicyVersionRows()``, which the broker's start runs before it reads the newest.
            return try Row.fetchOne(db, sql: "SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1")
                .map(Self.policyVersion)
        }
    }

    /// Reads every stored policy version's row (its number, weights' name, catalogue version, pruning time; the spec
    /// is read as text and decoded when the version is), as the broker's start does so that an older version's
    /// damaged row stops the start (exit 65), as the newest's does, instead of answering `online_policy N` and
    /// off-policy evaluation of it `INTERNAL` later. A version numbered below 1 beside newer ones is refused here:
    /// it left an older version the newest, resumed with no word, and the next sync stored other weights under the
    /// served number.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` naming the first damaged row.
    public func checkPolicyVersionRows() throws(StoreError) {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM policy_versions ORDER BY version")
            while let row = try rows.next() { _ = try Self.policyVersion(row) }
        }
    }

    /// A stored policy version by number, or `nil` when the store has no such version.
    public func policyVersion(_ version: UInt64) throws(StoreError) -> PolicyVersionRow? {
        guard let number = Int64(exactly: version) else { return nil }
        return try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM policy_versions WHERE version = ?", arguments: [number])
                .map(Self.policyVersion)
        }
    }

    private static func policyVersion(_ row: Row) throws(StoreError) -> PolicyVersionRow {
        let row = StoredRow(row, table: "policy_versions", key: "version")
        let pruned: Int64? = try row.value("pruned_ms")
        if let pruned, pruned < 0 { throw row.corrupt("pruned_ms", "\(pruned) is negative") }
        return PolicyVersionRow(
            version: try row.version("version"), weightsSHA: try row.sha256("weights_sha"), spec: try row.value("spec"),
            decision: try row.value("decision"), catalogueVersion: try row.versionIfPresent("catalogue_version"),
            prunedMs: pruned.map { UInt64($0) })
    }

    /// A named durable setting.
    public func setting(_ name: String) throws(StoreError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE name = ?", arguments: [name]) }
    }

    /// A named durable yes-or-no setting (written `"true"` or `"false"` by ``setSetting(_:_:)``), or `nil` when it
    /// was never set.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when the stored value is anything else: a
    ///   damaged flag is named, never read as false (an `online.frozen` of `yes` silently resumed learning).
    public func flag(_ name: String) throws(StoreError) -> Bool? {
        try read { db in
            guard let fetched = try Row.fetchOne(db, sql: "SELECT name, value FROM settings WHERE name = ?", arguments: [name])
            else { return nil }
            let row = StoredRow(fetched, table: "settings", key: "name")
            let value: String = try row.value("value")
            switch value {
            case "true": return true
            case "false": return false
            default: throw row.corrupt("value", "'\(value)' is neither true nor false")
            }
        }
    }

    /// Sets a named durable setting.
    public func setSetting(_ name: String, _ value: String) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "INSERT INTO settings(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                arguments: [name, value])
        }
    }

    private static func impression(_ row: Row, _ db: Database) throws -> ImpressionRow {
        let row = StoredRow(row, table: "impressions", key: "seq")
        let id: String = try row.value("id")
        var clicks: [Int: Int] = [:]
        var dwell: [Int: Double] = [:]
        for f in try Row.fetchAll(
            db, sql: "SELECT impression_id, item, click, dwell FROM feedback WHERE impression_id = ?", arguments: [id])
        {
            let f = StoredRow(f, table: "feedback", key: "impression_id", "item")
            let item: Int = try f.value("item")
            // Written only as FEEDBACK admits them (a click of 0 or 1, a dwell of 0…1e9 s): anything else is a damaged
            // row, named, never weighed by the guard as a reward of 7 or shown as a dwell of −3 s.
            let click: Int = try f.value("click")
            guard click == 0 || click == 1 else { throw f.corrupt("click", "\(click) is neither 0 nor 1") }
            clicks[item] = click
            if let seconds = try f.value("dwell", as: Double?.self) {
                guard seconds >= 0 && seconds <= 1e9 else { throw f.corrupt("dwell", "\(seconds) is not a dwell of 0…1e9 s") }
                dwell[item] = seconds
            }
        }
        return ImpressionRow(
            seq: try row.value("seq"), id: id, createdMs: try row.nonNegative("created_ms"),
            worker: try row.value("worker"), version: try row.nonNegative("version"),
            record: try row.value("record"), clicks: clicks, dwell: dwell)
    }
}
