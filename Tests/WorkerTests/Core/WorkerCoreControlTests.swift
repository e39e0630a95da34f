import RecWire
import Testing

@testable import Worker

/// How the worker core routes the broker's control messages, without sockets.
@Suite("Worker core: control messages")
struct WorkerCoreControlTests {
    @Test("WEIGHTS for another version or hash go to the compute thread; the served ones and malformed ones do not")
    func weights() {
        var harness = WorkerHarness.registered()
        let served = WeightsNotice(version: 0, sha256: "")
        harness.core.replica.checkpointSHA256 = ""
        harness.receive(Header(command: .weights), [WireJSON.encode(served), [1]])
        #expect(harness.background.isEmpty)
        harness.receive(Header(command: .weights, modelVersion: 3), [WireJSON.encode(WeightsNotice(version: 3, sha256: "ab")), [1, 2]])
        #expect(harness.background.count == 1)
        if case .weights(let notice, let bytes, let receivedAt) = harness.background.first {
            #expect(notice.version == 3 && bytes == [1, 2] && receivedAt == harness.now.monotonicMicros)
        } else {
            Issue.record("expected a WEIGHTS task")
        }
        harness.receive(Header(command: .weights), [Array("{".utf8)])
        #expect(harness.background.count == 1)
        #expect(harness.logs.contains { $0.level == .error && $0.message == "malformed WEIGHTS message ignored" })
    }

    @Test("a replica built for a rollout the broker replaced (a rollback during the build) is not wanted")
    func supersededBuild() {
        var harness = WorkerHarness.registered()
        harness.core.replica.checkpointSHA256 = "s0"
        var building = harness.core.replica
        building.version = 5
        building.checkpointSHA256 = "s5"
        // Nothing asked on this connection yet: the broker wants what is served, which a build is not.
        #expect(!harness.core.wants(building))
        harness.receive(Header(command: .weights, modelVersion: 5), [WireJSON.encode(WeightsNotice(version: 5, sha256: "s5")), [1]])
        #expect(harness.core.wants(building))
        // Rolled back to the served version before the build landed: no new build, and the one running is dropped.
        harness.receive(Header(command: .weights, modelVersion: 0), [WireJSON.encode(WeightsNotice(version: 0, sha256: "s0")), [1]])
        #expect(harness.background.count == 1)
        #expect(!harness.core.wants(building))
        #expect(harness.core.wants(harness.core.replica))
    }

    /// A seeded worker that reconnected while it built WEIGHTS for an earlier broker's rollout swapped that build in
    /// (heartbeats then said version 6, width 4096), though the broker it registered with never sent WEIGHTS.
    @Test("after a reconnect, a seeded worker drops a build the new connection never asked for")
    func seededReconnect() {
        for reconnect in ["a new connection", "DISCONNECT from a restarted broker"] {
            var harness = WorkerHarness.registered()
            #expect(harness.core.replica.checkpointSHA256 == nil)
            var building = harness.core.replica
            building.version = 6
            building.checkpointSHA256 = "s6"
            // The last broker asked for version 6; its build is running.
            harness.receive(Header(command: .weights, modelVersion: 6), [WireJSON.encode(WeightsNotice(version: 6, sha256: "s6")), [1]])
            #expect(harness.core.wants(building))
            if reconnect == "a new connection" {
                harness.feed(.connected)
            } else {
                harness.receive(Header(command: .disconnect))
            }
            #expect(!harness.core.wants(building), "\(reconnect)")
            // The broker it registered with asks for it again: wanted.
            harness.receive(Header(command: .weights, modelVersion: 6), [WireJSON.encode(WeightsNotice(version: 6, sha256: "s6")), [1]])
            #expect(harness.core.wants(building), "\(reconnect)")
        }
    }

    @Test("TRAIN_ROUND goes to the compute thread with its state and, when included, its dataset")
    func trainRound() throws {
        var harness = WorkerHarness.registered()
        var assignment = RoundAssignment(
            job: "j1", round: 2, shard: 0, shards: 1, fromStep: 0, steps: 5, spec: TrainJobSpec(dataset: "synthetic:"),
            stateSHA: "", evaluate: false, finalize: false, datasetIncluded: true)
        harness.receive(Header(command: .trainRound, requestId: 2, attempt: 3), [WireJSON.encode(assignment), [4], [5]])
        assignment.datasetIncluded = false
        harness.receive(Header(command: .trainRound), [WireJSON.encode(assignment), [6], [7]])
        #expect(harness.background.count == 2)
        if case .round(let first, let state, let dataset, let catalogue, let request) = harness.background[0] {
            #expect(first.round == 2 && state == [4] && dataset == [5] && catalogue == nil)
            // The request's id and dispatch attempt travel with the round, for the ROUND_RESULT to echo.
            #expect(request.requestId == 2 && request.attempt == 3)
        } else {
            Issue.record("expected a round")
        }
        if case .round(_, let state, let dataset, let catalogue, _) = harness.background[1] {
            #expect(state == [6] && dataset == nil && catalogue == nil)
        } else {
            Issue.record("expected a round")
        }
        // A shop's log brings its catalogue as frame 4, only with the dataset.
        assignment.datasetIncluded = true
        harness.receive(Header(command: .trainRound), [WireJSON.encode(assignment), [4], [5], [8]])
        if case .round(_, _, let dataset, let catalogue, _) = harness.background[2] {
            #expect(dataset == [5] && catalogue == [8])
        } else {
            Issue.record("expected a round")
        }
        harness.receive(Header(command: .trainRound), [Array("{}".utf8)])
        #expect(harness.background.count == 3)
        #expect(harness.logs.contains { $0.message == "malformed TRAIN_ROUND message ignored" })
        // Nothing names the round it would answer: no reply.
        #expect(!harness.sent.contains { $0.message.header.command == .roundResult })
    }

    /// A SCORE's tensor is held uncopied and the shell keeps 16 frames: a SCORE of 40 frames was scored, and a
    /// RECOMMEND of 40 refused as "16 frames".
    @Test("a message of more frames than the limit is refused TOO_LARGE naming its whole count, SCORE included")
    func frameLimitCountsWholeMessage() throws {
        var harness = WorkerHarness.registered()
        let limit = WireLimits.workerInbound.maxFrames
        for (command, id) in [(Command.score, UInt64(7)), (.recommend, 8)] {
            let frames = WireMessage(
                header: Header(command: command, requestId: id, attempt: 1),
                payload: [Tensor(rows: 1, cols: 2, values: [1, 2]).encoded()]).frames()
            harness.feed(.message(frames, frameCount: 40))
            let reply = try #require(harness.sent.last { $0.message.header.requestId == id })
            #expect(reply.message.header.status == .tooLarge)
            #expect(reply.message.errorText == "40 frames exceed the limit of \(limit)")
        }
        #expect(harness.sent.allSatisfy { $0.message.header.status == .tooLarge })
    }

    /// An assignment the worker cannot read was only logged: the broker waited out `round_timeout_ms`, then sent it
    /// again, as often, before the job failed as "no answer".
    @Test("a TRAIN_ROUND whose assignment does not decode is answered with a failed ROUND_RESULT naming why")
    func undecodableAssignment() throws {
        var harness = WorkerHarness.registered()
        let document = #"{"job": "job-7", "round": 3, "shard": 1, "steps": "many"}"#
        harness.receive(Header(command: .trainRound, requestId: 3, attempt: 2), [Array(document.utf8), []])
        #expect(harness.background.isEmpty)
        let reply = try #require(harness.sent.first { $0.message.header.command == .roundResult })
        #expect(reply.message.header.status == .badRequest)
        #expect(reply.message.header.requestId == 3 && reply.message.header.attempt == 2)
        let report = try WireJSON.decode(RoundReport.self, from: try #require(reply.message.payload.first))
        #expect(report.job == "job-7" && report.round == 3 && report.shard == 1)
        #expect(report.error?.hasPrefix("this worker cannot read the round's assignment: ") == true, "\(report)")
        #expect(reply.message.payload.count == 1, "a failed round carries no pack")
    }

    @Test("POLICY, LEARN and POLICY_PULL go to the online thread in arrival order; RECOMMEND to the shell")
    func online() {
        var harness = WorkerHarness.registered()
        harness.receive(Header(command: .policy), [[1], [2]])
        harness.receive(Header(command: .learn), [[3]])
        harness.receive(Header(command: .learn))
        harness.receive(Header(command: .policyPull, requestId: 11))
        harness.receive(Header(command: .recommend, requestId: 12), [Array("{}".utf8)])
        #expect(harness.online.count == 3)
        if case .install(let payload) = harness.online[0] {
            #expect(payload == [[1], [2]])
        } else {
            Issue.record("install")
        }
        if case .learn(let batch) = harness.online[1] { #expect(batch == [3]) } else { Issue.record("learn") }
        if case .pull(let sync) = harness.online[2] { #expect(sync == 11) } else { Issue.record("pull") }
        #expect(harness.logs.contains { $0.message == "malformed LEARN message ignored" })
        #expect(harness.recommends.map(\.header.requestId) == [12])
    }

    @Test("a request whose header does not decode is refused naming the problem and echoing its attempt")
    func malformedRequest() {
        var harness = WorkerHarness.registered()
        var frame = Header(command: .score, requestId: 77, attempt: 3).encoded()
        frame[3] = 99  // an unsupported protocol version
        harness.feed(.message([frame]))
        let sent = harness.takeSent()
        #expect(sent.count == 1 && sent[0].mode == .bestEffort)
        #expect(sent[0].message.header.requestId == 77 && sent[0].message.header.attempt == 3)
        #expect(sent[0].message.header.status != .ok)
        // Garbage that names no request is only logged.
        harness.feed(.message([[1, 2]]))
        #expect(harness.sent.isEmpty)
        #expect(harness.logs.filter { $0.message == "malformed message from broker" }.count == 2)
        // A fuzzing helper's case: a SCORE with the reply bit is no request, whatever else is wrong with its header
        // (another version, a cut header): it was answered BAD_REQUEST or UNSUPPORTED_VERSION.
        var reply = Header(command: .score, isReply: true, requestId: 78).encoded()
        reply[3] = 99
        harness.feed(.message([reply]))
        harness.feed(.message([Array(Header(command: .score, isReply: true, requestId: 79).encoded().prefix(40))]))
        #expect(harness.sent.isEmpty)
        #expect(harness.logs.filter { $0.message == "malformed message from broker" }.count == 4)
    }

    @Test("replies and messages the worker does not handle are ignored")
    func ignored() {
        var harness = WorkerHarness.registered()
        harness.receive(Header(command: .score, isReply: true, requestId: 1))
        harness.feed(.tick)
        #expect(harness.sent.isEmpty && harness.core.pending.isEmpty)
        #expect(harness.logs.contains { $0.message == "ignored message" })
    }
}
