import Foundation
import GRDB
import RecTestKit
import Testing

@testable import RecStore

/// A finished job's registration is one transaction: all of it is stored, or none of it.
@Suite("Job completion")
struct JobCompletionTests {
    /// A store with `job-1` after its last round (2 of 2) and its final checkpoint's blob.
    static func finishedJob(_ directory: String) throws -> (RecStore, JobRecord, checkpoint: String) {
        let store = try RecStore(directory: directory)
        var job = JobRecord(id: "job-1", model: "mlp", spec: #"{"dataset":"synthetic:"}"#, totalRounds: 2, createdAt: 1)
        try store.insertJob(job)
        job.state = .running
        for round in 1...2 {
            job.round = round
            job.stateSHA = try store.blobs.put([UInt8(round)])
            try store.completeRound(
                RoundRecord(
                    jobId: "job-1", round: round, loss: 0.5, samples: 8, replicas: 1, metrics: nil,
                    stateSHA: job.stateSHA!, seconds: 0.1),
                job: job)
        }
        return (store, job, try store.blobs.put([7, 7, 7]))
    }

    @Test("the version, the completed job, its last round's metrics and the promotion are stored together")
    func storedTogether() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let (store, job, checkpoint) = try Self.finishedJob(temporary.path)
        let model = try store.completeJob(
            job, datasetSHA: "d", metrics: #"{"auc":0.75}"#, checkpointSHA: checkpoint, promote: true)
        #expect(model.version == 1 && model.promoted && model.job == "job-1" && model.hyperparameters == job.spec)
        let stored = try #require(try store.job("job-1"))
        #expect(stored.state == .completed && stored.modelVersion == 1 && stored.metrics == #"{"auc":0.75}"#)
        #expect(stored.round == 2 && stored.error == nil)
        #expect(try store.rounds(of: "job-1").map(\.metrics) == [nil, #"{"auc":0.75}"#])
        #expect(try store.promotedVersion() == 1)
        #expect(try store.models().map(\.checkpointSHA) == [checkpoint])
    }

    /// A final state that measured nothing was stored as `{}` in its last round, and `recpool job --json` showed an
    /// empty object there.
    @Test("a final state that measured nothing leaves the job and its last round with no metrics, never {}")
    func unmeasuredFinalState() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let (store, job, checkpoint) = try Self.finishedJob(temporary.path)
        let model = try store.completeJob(job, datasetSHA: "d", metrics: nil, checkpointSHA: checkpoint, promote: false)
        #expect(model.metrics == "{}")
        #expect(try store.job("job-1")?.metrics == nil)
        #expect(try store.rounds(of: "job-1").map(\.metrics) == [nil, nil])
    }

    /// A job whose checkpoint is byte for byte one already imported registered a second version for it.
    @Test("a job whose checkpoint is already registered completes with that version, never a second number for it")
    func sameCheckpointSameVersion() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let (store, job, checkpoint) = try Self.finishedJob(temporary.path)
        let imported = try store.registerModel(
            job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: checkpoint)
        let model = try store.completeJob(job, datasetSHA: "d", metrics: "{}", checkpointSHA: checkpoint, promote: true)
        #expect(model.version == imported && model.promoted)
        #expect(try store.models().map(\.version) == [imported])
        #expect(try store.job("job-1")?.modelVersion == imported && store.job("job-1")?.state == .completed)
        #expect(try store.promotedVersion() == imported)
    }

    @Test("when the promotion cannot be stored, nothing is: no version, the job still running at its last round")
    func nothingWithoutThePromotion() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let (store, job, checkpoint) = try Self.finishedJob(temporary.path)
        let database = try DatabaseQueue(path: "\(temporary.path)/recpool.sqlite")
        try database.write { db in try db.execute(sql: "ALTER TABLE promotions RENAME TO promotions_lost") }
        #expect(throws: StoreError.self) {
            _ = try store.completeJob(job, datasetSHA: "d", metrics: "{}", checkpointSHA: checkpoint, promote: true)
        }
        try database.write { db in try db.execute(sql: "ALTER TABLE promotions_lost RENAME TO promotions") }
        let stored = try #require(try store.job("job-1"))
        #expect(stored.state == .running && stored.modelVersion == nil && stored.round == 2)
        #expect(try store.rounds(of: "job-1").map(\.metrics) == [nil, nil])
        #expect(try store.models().isEmpty)
    }

    @Test("an unknown job registers no version")
    func unknownJob() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let (store, job, checkpoint) = try Self.finishedJob(temporary.path)
        var other = job
        other.id = "job-9"
        #expect(throws: StoreError.unknownJob("job-9")) {
            _ = try store.completeJob(other, datasetSHA: "d", metrics: "{}", checkpointSHA: checkpoint, promote: false)
        }
        #expect(try store.models().isEmpty)
    }
}
