import Foundation
import GRDB
import RecStore
import RecWire
import Testing

@testable import Broker

/// A stored document or name that does not decode is answered INTERNAL naming where it is stored, never shown as
/// absent (`null`, `{}`) or as another value.
@Suite("Unreadable stored documents reach the client as INTERNAL")
struct StoredJSONTests {
    /// What to damage, the operation that reads it, and where the error must say it is.
    static let damages: [(sql: String, op: String, named: String)] = [
        ("UPDATE models SET metrics = 'not json'", "models", "table models, row version = 1, column metrics"),
        (
            #"UPDATE models SET hyperparameters = '{"epochs": "ten"}'"#, "models",
            "table models, row version = 1, column hyperparameters"
        ),
        ("UPDATE jobs SET metrics = '[1, 2]'", "jobs", #"table jobs, row id = "job-1", column metrics"#),
        ("UPDATE jobs SET spec = '{'", "jobs", #"table jobs, row id = "job-1", column spec"#),
        ("UPDATE jobs SET state = 'paused'", "jobs", #"table jobs, row id = "job-1", column state"#),
        ("UPDATE jobs SET round = 'abc'", "job", #"table jobs, row id = "job-1", column round"#),
        (
            #"UPDATE rounds SET metrics = '{"auc": "high"}'"#, "job",
            #"table rounds, row job_id = "job-1", round = 1, column metrics"#
        ),
    ]

    @Test("models, jobs and job answer INTERNAL naming the table, row and column", arguments: damages)
    func internalNamingTheValue(_ damage: (sql: String, op: String, named: String)) throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        let spec = String(decoding: WireJSON.encode(TrainJobSpec(dataset: "synthetic:")), as: UTF8.self)
        var job = JobRecord(id: "job-1", model: "mlp", spec: spec, totalRounds: 2, createdAt: 1)
        job.state = .cancelled
        try h.store.insertJob(job)
        job.round = 1
        job.stateSHA = try h.store.blobs.put([1])
        try h.store.completeRound(
            RoundRecord(
                jobId: "job-1", round: 1, loss: 0.5, samples: 8, replicas: 1, metrics: #"{"auc":0.5}"#,
                stateSHA: job.stateSHA!, seconds: 0.1),
            job: job)
        var request = ControlRequest(op: damage.op)
        // Only `job` takes the job id: `models` and `jobs` refuse an argument they do not read.
        if damage.op == "job" { request.job = "job-1" }
        #expect(try h.control(request).header.status == .ok)
        try DatabaseQueue(path: "\(h.directory)/recpool.sqlite").write { db in try db.execute(sql: damage.sql) }
        let reply = try h.control(request)
        #expect(reply.header.status == .internal)
        #expect(reply.errorText?.contains(damage.named) == true, "\(reply.errorText ?? "answered")")
    }

    @Test("an imported version's hyperparameters ({}) are shown as none, not as an error")
    func importedHasNoHyperparameters() throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        let reply = try h.control(ControlRequest(op: "models"))
        #expect(reply.header.status == .ok)
        let list = try WireJSON.decode(ModelList.self, from: try #require(reply.payload.first))
        #expect(list.models.count == 1 && list.models[0].hyperparameters == nil && list.models[0].metrics == nil)
    }
}
