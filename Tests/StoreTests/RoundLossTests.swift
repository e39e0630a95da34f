import Foundation
import GRDB
import RecTestKit
import Testing

@testable import RecStore

/// A round in which no replica took a gradient step has no loss: stored as NULL, read back as nil, never 0.
@Suite("Rounds without a loss")
struct RoundLossTests {
    @Test("a round with no loss is stored as null and read back as nil, beside one with a loss")
    func noLossRoundTrips() throws {
        let temporary = try TemporaryDirectory("round-loss")
        defer { temporary.remove() }
        do {
            let store = try RecStore(directory: temporary.path)
            var job = JobRecord(id: "job-1", model: "dqn", spec: "{}", totalRounds: 2, createdAt: 1)
            try store.insertJob(job)
            job.state = .running
            for (round, loss) in [(1, nil), (2, 0.25)] as [(Int, Double?)] {
                job.round = round
                job.loss = loss
                let state = try store.blobs.put([UInt8(round)])
                job.stateSHA = state
                try store.completeRound(
                    RoundRecord(
                        jobId: "job-1", round: round, loss: loss, samples: 20, replicas: 2, metrics: nil,
                        stateSHA: state, seconds: 0.1),
                    job: job)
            }
        }
        let reopened = try RecStore(directory: temporary.path)
        #expect(try reopened.rounds(of: "job-1").map(\.loss) == [nil, 0.25])
        #expect(try reopened.round(of: "job-1", number: 1)?.loss == nil)
        #expect(try reopened.job("job-1")?.loss == 0.25)
    }

    @Test("a state directory from before nullable round losses keeps its rounds and their losses")
    func migrationKeepsRounds() throws {
        let temporary = try TemporaryDirectory("round-loss-migration")
        defer { temporary.remove() }
        let path = "\(temporary.path)/recpool.sqlite"
        do {
            let queue = try DatabaseQueue(path: path)
            try RecStore.migrator.migrate(queue, upTo: "v4-policy-catalogue")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO jobs VALUES ('job-1', 'mlp', 'completed', '{}', 1, 1, 5, 1, 0.5, NULL, NULL, NULL,
                            'abababababababababababababababababababababababababababababababab', 1, 2);
                        INSERT INTO rounds VALUES ('job-1', 1, 0.5, 64, 2, '{"auc":0.7}', 'abababababababababababababababababababababababababababababababab', 0.25);
                        """)
            }
        }
        let store = try RecStore(directory: temporary.path)
        let round = try #require(try store.round(of: "job-1", number: 1))
        #expect(round.loss == 0.5 && round.samples == 64 && round.metrics == #"{"auc":0.7}"# && round.seconds == 0.25)
        var job = try #require(try store.job("job-1"))
        job.round = 2
        job.loss = nil
        try store.completeRound(
            RoundRecord(
                jobId: "job-1", round: 2, loss: nil, samples: 0, replicas: 1, metrics: nil, stateSHA: String(repeating: "ab", count: 32),
                seconds: 0.1),
            job: job)
        #expect(try store.rounds(of: "job-1").map(\.loss) == [0.5, nil])
    }
}
