import Foundation
import Testing

@testable import RecStore
import RecTestKit

@Suite("Durable store")
struct RecStoreTests {
    @Test("jobs, rounds and models survive reopening the store")
    func survivesReopen() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        do {
            let store = try RecStore(directory: directory)
            var job = JobRecord(id: "job-1", model: "mlp", spec: "{}", totalRounds: 3, createdAt: 1)
            try store.insertJob(job)
            job.state = .running
            job.round = 1
            let state = try store.blobs.put([1, 2, 3])
            job.stateSHA = state
            try store.completeRound(
                RoundRecord(jobId: "job-1", round: 1, loss: 0.5, samples: 64, replicas: 2, metrics: nil, stateSHA: state, seconds: 0.1),
                job: job)
            let checkpoint = try store.blobs.put([9, 9])
            let version = try store.registerModel(
                job: "job-1", datasetSHA: "d", hyperparameters: "{}", metrics: "{}", checkpointSHA: checkpoint)
            #expect(version == 1)
            try store.promote(version)
        }
        let reopened = try RecStore(directory: directory)
        let job = try #require(try reopened.job("job-1"))
        #expect(job.state == .running && job.round == 1)
        #expect(try reopened.rounds(of: "job-1").map(\.loss) == [0.5])
        #expect(try reopened.blobs.get(try #require(job.stateSHA)) == [1, 2, 3])
        #expect(try reopened.promotedVersion() == 1)
        #expect(try reopened.models().map(\.promoted) == [true])
    }

    /// A registration that failed (a full disk) left the job's final checkpoint in `blobs/`, named by no version.
    @Test("an unregistered checkpoint's blob is released; a registered version's is kept")
    func unregisteredCheckpointReleased() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let orphan = try store.blobs.put([1, 2, 3, 4])
        #expect(store.releaseUnregisteredCheckpoint(orphan) && !store.blobs.contains(orphan))
        try store.insertJob(JobRecord(id: "job-1", model: "mlp", spec: "{}", totalRounds: 1, createdAt: 1))
        let kept = try store.blobs.put([9, 9, 9])
        _ = try store.registerModel(job: "job-1", datasetSHA: "d", hyperparameters: "{}", metrics: "{}", checkpointSHA: kept)
        #expect(!store.releaseUnregisteredCheckpoint(kept) && store.blobs.contains(kept))
    }

    /// Jobs submitted in one burst share `created_at`; ordered by the id as text, `jobs` listed job-10 before job-8.
    @Test("jobs are listed oldest first by their number, also when submitted within one millisecond")
    func jobsOldestFirst() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        for n in [9, 10, 8, 100, 2] {
            try store.insertJob(JobRecord(id: "job-\(n)", model: "mlp", spec: "{}", totalRounds: 1, createdAt: 1_796_564_403.177))
        }
        #expect(try store.jobs().map(\.id) == ["job-2", "job-8", "job-9", "job-10", "job-100"])
    }

    @Test("promote and rollback move between versions; rollback with no history is an error")
    func promotion() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        let store = try RecStore(directory: directory)
        #expect(throws: StoreError.nothingToRollBack) { try store.rollback() }
        let blob = try store.blobs.put([1])
        let v1 = try store.registerModel(job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: blob)
        let v2 = try store.registerModel(job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: blob)
        #expect(throws: StoreError.unknownModel(9)) { try store.promote(9) }
        try store.promote(v1)
        try store.promote(v2)
        #expect(try store.rollback() == v1)
        #expect(try store.promotedVersion() == v1)
    }

    /// A second rollback went forward again (1, 2, 3, rollback → 2, rollback → 3): rollbacks now walk the history back.
    @Test("rollbacks walk back through the promotion history, and a promotion after one starts a new branch")
    func rollbackHistory() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let blob = try store.blobs.put([1])
        let versions = try (1...4).map { _ in
            try store.registerModel(job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: blob)
        }
        for v in versions.prefix(3) { try store.promote(v) }
        #expect(try store.rollback() == versions[1])
        #expect(try store.rollback() == versions[0])
        #expect(throws: StoreError.nothingToRollBack) { try store.rollback() }
        #expect(try store.promotedVersion() == versions[0])
        try store.promote(versions[3])
        #expect(try store.rollbackTarget() == versions[0])
        // Promoting the version already served changes nothing to roll back to; the history survives a reopen.
        try store.promote(versions[3])
        let reopened = try RecStore(directory: temporary.path)
        #expect(try reopened.rollback() == versions[0])
    }

    @Test("uploads arrive in checksummed chunks, tolerate retries and verify the whole")
    func upload() throws {
        let temporary = try TemporaryDirectory("store")
        defer { temporary.remove() }
        let directory = temporary.path
        let store = try RecStore(directory: directory)
        let content = [UInt8]((0..<1000).map { UInt8($0 % 251) })
        let sha = BlobStore.digest(content)
        let first = Array(content[0..<600]), second = Array(content[600...])
        #expect(try !store.appendUpload(sha256: sha, name: "d.csv", totalBytes: 1000, offset: 0, chunk: first, chunkSHA256: BlobStore.digest(first)))
        #expect(try !store.appendUpload(sha256: sha, name: "d.csv", totalBytes: 1000, offset: 0, chunk: first, chunkSHA256: BlobStore.digest(first)))
        #expect(throws: StoreError.self) {
            try store.appendUpload(sha256: sha, name: "d.csv", totalBytes: 1000, offset: 600, chunk: second, chunkSHA256: BlobStore.digest(first))
        }
        #expect(try store.appendUpload(sha256: sha, name: "d.csv", totalBytes: 1000, offset: 600, chunk: second, chunkSHA256: BlobStore.digest(second)))
        #expect(try store.blobs.get(sha) == content)
        let wrong = BlobStore.digest([0])
        #expect(throws: StoreError.self) {
            try store.appendUpload(sha256: wrong, name: "x", totalBytes: 3, offset: 0, chunk: [1, 2, 3], chunkSHA256: BlobStore.digest([1, 2, 3]))
        }
        // A client's total of Int.max is refused for room (it once overflowed adding the headroom), and nothing stays.
        let huge = BlobStore.digest([7])
        #expect {
            try store.appendUpload(sha256: huge, name: "h", totalBytes: Int.max, offset: 0, chunk: [7], chunkSHA256: BlobStore.digest([7]))
        } throws: { error in
            if case StoreError.noSpace = error { return true }
            return false
        }
        #expect(!FileManager.default.fileExists(atPath: store.blobs.path(huge) + ".part"))
    }
}
