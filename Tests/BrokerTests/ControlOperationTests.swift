import Foundation
import Logging
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// CONTROL operations as one typed enum (issue #15): decoded once at the edge, routed by case, and
/// the wire names spelled in one place.
@Suite("CONTROL operations")
struct ControlOperationTests {
    @Test(
        "every operation encodes under its wire name and decodes back to itself", arguments: ControlOperation.allCases)
    func roundTrip(operation: ControlOperation) throws {
        let frame = WireJSON.encode(ControlRequest(operation))
        let text = String(decoding: frame, as: UTF8.self)
        #expect(text.contains(#""op":"\#(operation.name)""#), "\(text)")
        #expect(try WireJSON.decode(ControlRequest.self, from: frame).operation == operation)
    }

    @Test("wire names are the documented snake_case ones, each once")
    func names() {
        let names = ControlOperation.allCases.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(
            Set(names) == [
                "train", "upload", "jobs", "job", "cancel_job", "models", "promote", "import", "fetch", "rollback",
                "drain",
                "online", "online_freeze", "online_unfreeze", "online_sync", "online_policy", "online_register",
                "impressions",
                "catalogue_upload", "catalogues", "catalogue", "catalogue_add", "catalogue_retire",
            ])
        #expect(ControlRequest(op: "bogus").operation == nil)
    }

    @Test("the access rules cover every operation: read-only ones for clients, the rest for trainers")
    func access() {
        #expect(AccessPolicy.readOnlyControlOps.isDisjoint(with: AccessPolicy.trainerControlOps))
        #expect(
            AccessPolicy.readOnlyControlOps.union(AccessPolicy.trainerControlOps)
                == Set(ControlOperation.allCases.map(\.name)))
        for operation in ControlOperation.allCases {
            #expect(AccessPolicy.allowsControl(.client, operation) == (operation.access == .readOnly))
            #expect(AccessPolicy.allowsControl(.trainer, operation))
            #expect(!AccessPolicy.allowsControl(.worker, operation))
        }
        #expect(!AccessPolicy.allowsControl(.trainer, op: "bogus"))
    }

    @Test("an unknown op is refused BAD_REQUEST naming it, and a frame that is no request names the problem")
    func unknownOp() throws {
        let h = try RegistryHarness()
        let refused = try h.control(ControlRequest(op: "bogus"))
        #expect(refused.header.status == .badRequest)
        #expect(refused.errorText == #"unknown CONTROL op "bogus""#)
        // An online operation sent to the job coordinator is not one of its operations.
        #expect(try h.control(ControlRequest(.onlineSync)).errorText == #"unknown CONTROL op "online_sync""#)
    }

    @Test("the router refuses unknown ops and online ops on a broker without online learning")
    func router() throws {
        let h = try RegistryHarness()
        let router = ControlRouter(jobs: h.coordinator, online: nil, catalogues: nil)
        func send(_ frame: [UInt8], id: UInt64) throws -> WireMessage {
            let message = WireMessage(header: Header(command: .control, requestId: id), payload: [frame])
            router.route(.client(identity: [1], message: message, userId: nil), nowMs: 2_000)
            let replies: [WireMessage] = h.outputs.compactMap {
                if case .toClient(_, let frames) = $0 { return try? WireMessage(decoding: frames) }
                return nil
            }
            return try #require(replies.last { $0.header.requestId == id })
        }
        let unknown = try send(WireJSON.encode(ControlRequest(op: "bogus")), id: 1)
        #expect(unknown.header.status == .badRequest && unknown.errorText == #"unknown CONTROL op "bogus""#)
        let online = try send(WireJSON.encode(ControlRequest(.online)), id: 2)
        #expect(
            online.header.status == .badRequest && online.errorText?.contains("does not run online learning") == true)
        let garbage = try send(Array("{".utf8), id: 3)
        #expect(garbage.header.status == .badRequest)
        let models = try send(WireJSON.encode(ControlRequest(.models)), id: 4)
        #expect(models.header.status == .ok)
    }
}

/// A job record write that fails is never swallowed (issue #15): it is logged, counted and shown in the job's view.
@Suite("Durable writes of job records")
struct DurableWriteTests {
    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "disk full (injected)" }
    }

    @Test("a job whose start or failure cannot be stored says so in its view, and the failures are counted")
    func failedWritesSurface() throws {
        let h = try RegistryHarness()
        let accepted = try h.control(ControlRequest(.train, train: TrainJobSpec(dataset: "synthetic:")))
        #expect(accepted.header.status == .ok)
        let id = try WireJSON.decode(JobView.self, from: accepted.payload[0]).job
        h.coordinator.writeJob = { _ in throw DiskFull() }
        h.coordinator.updateWorkers([TrainingWorker(identity: [5], id: "w5")], nowMs: 3_000)
        #expect(h.coordinator.durableWriteFailures == 1)
        var view = try WireJSON.decode(JobView.self, from: try h.control(ControlRequest(.job, job: id)).payload[0])
        #expect(view.state == "running")
        #expect(view.error == "not stored durably: disk full (injected)")
        #expect(try h.store.job(id)?.state == .queued)

        h.coordinator.fail(id, "boom")
        #expect(h.coordinator.durableWriteFailures == 2)
        view = try WireJSON.decode(JobView.self, from: try h.control(ControlRequest(.job, job: id)).payload[0])
        #expect(view.state == "failed")
        // The store still holds it queued: a restart resumes it, and the view says so (it was shown failed only).
        #expect(
            view.error
                == "boom; not stored durably: disk full (injected); the state directory still records it as queued, so "
                + "the broker's next start resumes it")
        let listed = try WireJSON.decode(JobList.self, from: try h.control(ControlRequest(.jobs)).payload[0])
        #expect(listed.jobs.first { $0.job == id }?.error == view.error)
    }

    @Test("once a later write succeeds the view is the stored record again")
    func recovers() throws {
        let h = try RegistryHarness()
        let accepted = try h.control(ControlRequest(.train, train: TrainJobSpec(dataset: "synthetic:")))
        let id = try WireJSON.decode(JobView.self, from: accepted.payload[0]).job
        h.coordinator.writeJob = { _ in throw DiskFull() }
        h.coordinator.updateWorkers([TrainingWorker(identity: [5], id: "w5")], nowMs: 3_000)
        h.coordinator.writeJob = { record in try h.store.updateJob(record) }
        h.coordinator.fail(id, "boom")
        let view = try WireJSON.decode(JobView.self, from: try h.control(ControlRequest(.job, job: id)).payload[0])
        #expect(view.state == "failed" && view.error == "boom")
        #expect(try h.store.job(id)?.state == .failed)
        #expect(h.coordinator.durableWriteFailures == 1)
    }
}

/// `train` with a `validation` a log or a dqn job never reads was accepted and the fraction silently replaced.
@Suite("A train spec's validation where it has no effect")
struct TrainValidationTests {
    @Test("a log's job takes the default or its own split; another fraction is refused naming the split", arguments: [
        ("synthetic:users=50,rows=400,seed=1", "mlp", 0.5, false), ("synthetic:users=50,rows=400,seed=1", "mlp", 0.2, true),
        ("synthetic:users=50,rows=400,seed=1", "mlp", 0.1, true), ("obd:random/all", "mlp", 0.3, false),
        ("synthetic:users=50,rows=400,seed=1", "dqn", 0.3, false), ("synthetic:users=50,rows=400,seed=1", "dqn", 0.2, true),
    ])
    func validation(dataset: String, model: String, fraction: Double, accepted: Bool) throws {
        let h = try RegistryHarness()
        var spec = TrainJobSpec(dataset: dataset, validation: fraction)
        spec.model = model
        let reply = try h.control(ControlRequest(.train, train: spec))
        if accepted {
            #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
        } else {
            #expect(reply.header.status == .badRequest)
            #expect(reply.errorText?.contains("validation holds out rows of a feature matrix") == true, "\(reply.errorText ?? "")")
        }
    }
}

/// A DQN spec naming an upload (`sha256:…`) was accepted, then failed at round 1 as an "unknown dataset … or a .csv
/// path", where `obd:` was refused at once: a DQN trains in the simulator, whatever it is given.
@Suite("A dqn job's dataset")
struct DQNDatasetTests {
    @Test("an upload or an OBD file is refused at submission, naming the simulator; synthetic is accepted", arguments: [
        ("sha256:" + String(repeating: "ab", count: 32), false), ("obd:random/all", false),
        ("synthetic:users=50,rows=400,seed=1", true),
    ])
    func dataset(name: String, accepted: Bool) throws {
        let h = try RegistryHarness()
        var spec = TrainJobSpec(dataset: name)
        spec.model = "dqn"
        let reply = try h.control(ControlRequest(.train, train: spec))
        if accepted {
            #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
        } else {
            #expect(reply.header.status == .badRequest)
            #expect(reply.errorText?.contains("a dqn job trains in the simulator") == true, "\(reply.errorText ?? "")")
        }
    }
}
