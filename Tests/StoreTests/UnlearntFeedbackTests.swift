import Foundation
import GRDB
import RecTestKit
import Testing

@testable import RecStore

/// The feedback a finished sync has not consumed, as a restarted broker reads it.
@Suite("Store: unlearnt feedback")
struct UnlearntFeedbackTests {
    static func impression(_ id: String) -> (id: String, createdMs: UInt64, worker: String, version: UInt64, record: String) {
        (id, 1_000, "w-a", 1, "{\"impression_id\":\"\(id)\"}")
    }

    /// A helper's race: a RECOMMEND's impression pushed the oldest out of the log in the same write as a feedback on
    /// that oldest one. The trim ran first, so the feedback was inserted with no impression: reported new (a repeat of
    /// an acknowledged event was learnt twice), never exported, and counted for ever.
    @Test("feedback on the impression a write would trim keeps it: stored with it, a repeat is a duplicate, no orphan row")
    func feedbackKeepsItsImpressionThroughTheTrim() throws {
        let temporary = try TemporaryDirectory("store-trim-race")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        _ = try store.commitOnline(impressions: [Self.impression("i1"), Self.impression("i2")], keep: 2, feedback: [])
        let first = RecStore.FeedbackEvent(impressionId: "i1", item: 3, click: 1, dwell: nil, createdMs: 2_000, toLearn: true)
        // i3 makes the log hold 3 of 2: the trim would take i1, whose feedback arrives in the same write.
        let racing = try store.commitOnline(impressions: [Self.impression("i3")], keep: 2, feedback: [first])
        #expect(racing.feedbackNew == [true])
        #expect(try store.impression("i1")?.clicks == [3: 1], "the feedback's impression was trimmed under it")
        // The repeat is a duplicate, whatever the log holds by then.
        let repeated = try store.commitOnline(impressions: [Self.impression("i4")], keep: 2, feedback: [first])
        #expect(repeated.feedbackNew == [false])
        // Every stored feedback row has its impression: the counts agree with what an export reads.
        let orphans = try DatabaseQueue(path: temporary.path + "/recpool.sqlite").read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM feedback WHERE impression_id NOT IN (SELECT id FROM impressions)")
        }
        #expect(orphans == 0)
        // Once a sync has consumed the feedback, a later write that names none of them trims the log to its size, the
        // feedback with its impression.
        try store.markLearnt([RecStore.FeedbackKey(impressionId: "i1", item: 3)])
        let later = try store.commitOnline(impressions: [Self.impression("i5")], keep: 2, feedback: [])
        #expect(try store.onlineCounts().impressions == 2)
        #expect(try store.impression("i1") == nil && later.feedbackEvicted == 1)
    }

    @Test("events to learn stay unlearnt, in stored order, until a sync marks them; frozen ones never are; reopened alike")
    func unlearntUntilMarked() throws {
        let temporary = try TemporaryDirectory("store-unlearnt")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let result = try store.commitOnline(
            impressions: [Self.impression("i1"), Self.impression("i2")], keep: 100,
            feedback: [
                .init(impressionId: "i1", item: 3, click: 1, dwell: nil, createdMs: 2_000, toLearn: true),
                .init(impressionId: "i2", item: 5, click: 0, dwell: nil, createdMs: 2_001, toLearn: true),
                .init(impressionId: "i1", item: 4, click: 0, dwell: nil, createdMs: 2_002, toLearn: false),
            ])
        #expect(result.feedbackNew == [true, true, true])
        let unlearnt = try store.unlearntFeedback().rows
        #expect(unlearnt.map(\.impressionId) == ["i1", "i2"] && unlearnt.map(\.item) == [3, 5])
        #expect(unlearnt.map(\.click) == [1, 0] && unlearnt[0].record == Self.impression("i1").record)

        // A version stored with the events it merged marks them in the same write.
        let sha = try store.blobs.put([1, 2, 3])
        try store.savePolicyVersion(
            PolicyVersionRow(version: 2, weightsSHA: sha, spec: "{}", decision: nil, catalogueVersion: nil),
            createdMs: 3_000, learnt: [RecStore.FeedbackKey(impressionId: "i1", item: 3)])
        #expect(try store.unlearntFeedback().rows.map(\.impressionId) == ["i2"])
        let reopened = try RecStore(directory: temporary.path)
        #expect(try reopened.unlearntFeedback().rows.map(\.impressionId) == ["i2"])
        try reopened.markLearnt([RecStore.FeedbackKey(impressionId: "i2", item: 5)])
        #expect(try reopened.unlearntFeedback() == RecStore.UnlearntScan())
    }

    @Test(
        "a damaged click or unlearnt flag is named, never learnt as a reward of 7 nor read as 'already learnt'; the other rows are read",
        arguments: [
            ("click = 7", "click", "7 is neither 0 nor 1"), ("unlearnt = 3", "unlearnt", "3 is neither 0 nor 1"),
            ("unlearnt = -1", "unlearnt", "-1 is neither 0 nor 1"),
        ])
    func damagedRowNamed(assignment: String, column: String, problem: String) throws {
        let temporary = try TemporaryDirectory("store-unlearnt-damaged")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        _ = try store.commitOnline(
            impressions: [Self.impression("i1"), Self.impression("i2")], keep: 100,
            feedback: [
                .init(impressionId: "i1", item: 3, click: 1, dwell: nil, createdMs: 2_000, toLearn: true),
                .init(impressionId: "i2", item: 5, click: 0, dwell: nil, createdMs: 2_001, toLearn: true),
            ])
        try UnreadableValueTests.damage(temporary.path, "UPDATE feedback SET \(assignment) WHERE impression_id = 'i1'")
        let scan = try store.unlearntFeedback()
        #expect(scan.rows.map(\.impressionId) == ["i2"] && scan.rows.map(\.click) == [0])
        #expect(
            scan.damaged == [
                StoreError.corruptColumn(
                    table: "feedback", row: #"impression_id = "i1", item = 3"#, column: column, problem: problem)
            ])
        // A new lineage clears the damaged flag with the rest: it is not named again at every start.
        try store.markAllLearnt()
        #expect(try store.unlearntFeedback() == RecStore.UnlearntScan())
    }

    /// A helper's loss: 20 acknowledged events, their impressions then pushed out of a log of 20 by 25 more slates
    /// before a sync, and a broker restart: the trim had deleted them with their impressions, and the restart, which
    /// hands on only stored feedback, learnt none of them, with no count and no log line.
    @Test("the trim keeps an impression whose feedback no sync consumed, past the bound, until a sync has")
    func trimKeepsUnconsumedFeedback() throws {
        let temporary = try TemporaryDirectory("store-trim-unlearnt")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        // The count a broker keeps from the results (its `status`) is the stored one at every step, past the bound too.
        var counted = 0
        func commit(_ id: String, _ feedback: [RecStore.FeedbackEvent] = [], also: String? = nil) throws -> RecStore.OnlineCommitResult {
            let result = try store.commitOnline(
                impressions: [Self.impression(id)] + (also.map { [Self.impression($0)] } ?? []), keep: 2, feedback: feedback)
            counted += result.impressionsStored - result.impressionsEvicted
            #expect(try counted == store.onlineCounts().impressions, "after \(id)")
            return result
        }
        let learnt = RecStore.FeedbackEvent(impressionId: "i0", item: 1, click: 1, dwell: nil, createdMs: 2_000, toLearn: true)
        let frozen = RecStore.FeedbackEvent(impressionId: "i1", item: 1, click: 1, dwell: nil, createdMs: 2_000, toLearn: false)
        _ = try commit("i0", [learnt, frozen], also: "i1")
        for i in 2..<4 { _ = try commit("i\(i)") }
        // i0's event is still to learn: it and its impression stay; i1's (frozen, never to be learnt) went with it.
        #expect(try store.impression("i0")?.clicks == [1: 1] && store.impression("i1") == nil)
        #expect(try store.unlearntFeedback().rows.map(\.impressionId) == ["i0"])
        #expect(try store.onlineCounts().impressions == 3 && counted == 3)
        // A sync consumed it: the next write trims the log to its size.
        try store.markLearnt([RecStore.FeedbackKey(impressionId: "i0", item: 1)])
        let next = try commit("i6")
        #expect(try next.feedbackEvicted == 1 && store.impression("i0") == nil)
        #expect(next.impressionsStored == 1 && next.impressionsEvicted == 2)
        #expect(try store.onlineCounts().impressions == 2)
        // Held no longer than twice the bound: the log stays bounded when no sync consumes anything, and what it
        // deleted unconsumed is counted.
        let held = RecStore.FeedbackEvent(impressionId: "i7", item: 2, click: 0, dwell: nil, createdMs: 3_000, toLearn: true)
        _ = try commit("i7", [held])
        var dropped = 0
        for i in 8..<14 { dropped += try commit("i\(i)").unlearntEvicted }
        #expect(try store.impression("i7") == nil && dropped == 1)
        #expect(try store.onlineCounts().impressions == 2 && counted == 2)
    }

    /// A reviewer's reading: `--impression-log-size` is bounded below only, and twice a size past 2⁶² trapped.
    @Test("a log size past 2⁶² keeps every impression and traps nowhere")
    func hugeLogSize() throws {
        let temporary = try TemporaryDirectory("store-trim-huge")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        for i in 0..<3 {
            _ = try store.commitOnline(impressions: [Self.impression("h\(i)")], keep: Int.max, feedback: [])
        }
        #expect(try store.onlineCounts().impressions == 3)
    }

    /// A reviewer's measure: through the partial index on `unlearnt` the trim's check scanned every unlearnt row per
    /// impression; by the primary key it reads one impression's rows.
    @Test("the trim's check of unconsumed feedback reads the primary key, not every unlearnt row")
    func trimUsesThePrimaryKey() throws {
        let temporary = try TemporaryDirectory("store-trim-plan")
        defer { temporary.remove() }
        _ = try RecStore(directory: temporary.path)
        let rows = try DatabaseQueue(path: temporary.path + "/recpool.sqlite").read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + RecStore.trimmedImpressions, arguments: [5, 3]).map { "\($0["detail"] ?? "")" }.joined(separator: "\n")
        }
        #expect(rows.contains("(impression_id=?)") && !rows.contains("feedback_unlearnt"), "\(rows)")
    }

    @Test("a trim reports the feedback it deleted with its impressions, so a running count matches the stored one")
    func trimReportsEvictedFeedback() throws {
        let temporary = try TemporaryDirectory("store-evicted-feedback")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        var running = 0
        for i in 0..<6 {
            let result = try store.commitOnline(
                impressions: [Self.impression("i\(i)")], keep: 2,
                feedback: [
                    .init(impressionId: "i\(i)", item: 1, click: 1, dwell: nil, createdMs: 2_000, toLearn: false),
                    .init(impressionId: "i\(i)", item: 2, click: 0, dwell: nil, createdMs: 2_000, toLearn: false),
                ])
            running += result.feedbackNew.filter { $0 }.count - result.feedbackEvicted
        }
        // Two impressions kept, each with two events: the running figure is the stored one a restart counts.
        let stored = try store.onlineCounts()
        #expect(stored.impressions == 2 && stored.feedback == 4 && running == 4)
    }

    @Test("a new lineage marks every event learnt")
    func markAll() throws {
        let temporary = try TemporaryDirectory("store-unlearnt-all")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        _ = try store.commitOnline(
            impressions: [Self.impression("i1")], keep: 100,
            feedback: [.init(impressionId: "i1", item: 3, click: 1, dwell: nil, createdMs: 2_000, toLearn: true)])
        #expect(try store.unlearntFeedback().rows.count == 1)
        try store.markAllLearnt()
        #expect(try store.unlearntFeedback() == RecStore.UnlearntScan())
    }

    @Test("a state directory from before the unlearnt mark keeps its feedback, all of it counted as consumed")
    func migrationKeepsFeedback() throws {
        let temporary = try TemporaryDirectory("store-unlearnt-migration")
        defer { temporary.remove() }
        do {
            let queue = try DatabaseQueue(path: "\(temporary.path)/recpool.sqlite")
            try RecStore.migrator.migrate(queue, upTo: "v5-round-loss-nullable")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO impressions (id, created_ms, worker, version, record)
                            VALUES ('i0', 1000, 'w-a', 1, '{"impression_id":"i0"}');
                        INSERT INTO feedback VALUES ('i0', 3, 1, 2.5, 2000);
                        INSERT INTO feedback VALUES ('i0', 4, 0, NULL, 2001);
                        """)
            }
        }
        let store = try RecStore(directory: temporary.path)
        // Stored before the mark existed: no sync is known to be missing them, so none is handed on again.
        #expect(try store.unlearntFeedback() == RecStore.UnlearntScan())
        let clicks = try store.read { db in
            try Row.fetchAll(db, sql: "SELECT item, click, dwell, unlearnt FROM feedback ORDER BY item").map {
                [$0["item"] as Int, $0["click"] as Int, $0["unlearnt"] as Int]
            }
        }
        #expect(clicks == [[3, 1, 0], [4, 0, 0]])
        // And the migrated table takes new rows to learn, with a repeated key still a duplicate.
        let result = try store.commitOnline(
            impressions: [Self.impression("i1")], keep: 100,
            feedback: [
                .init(impressionId: "i0", item: 3, click: 0, dwell: nil, createdMs: 3_000, toLearn: true),
                .init(impressionId: "i1", item: 5, click: 1, dwell: nil, createdMs: 3_001, toLearn: true),
            ])
        #expect(result.feedbackNew == [false, true])
        #expect(try store.unlearntFeedback().rows.map(\.impressionId) == ["i1"])
    }
}
