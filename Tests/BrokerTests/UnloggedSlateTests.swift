import Foundation
import Logging
import RecStore
import RecTestKit
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// A policy slate the broker cannot log never reaches a client (review fault F3): the core always holds it for
/// the control plane, which refuses it with CONFLICT naming why online learning is off; and a worker registering
/// is told which policy the broker serves, so it can drop any other.
@Suite("Broker: slates the broker cannot log")
struct UnloggedSlateTests {
    static func onlineView(version: UInt64, sha: String) -> OnlineView {
        OnlineView(
            enabled: true, frozen: false, version: version, weightsSha256: sha, syncs: 0, rejected: 0, lastSyncMs: 0,
            syncIntervalMs: 1000, syncEvents: 100, impressions: 0, feedback: 0, duplicates: 0, pendingEvents: 0,
            lastDecision: nil, replicas: [])
    }

    static func registerPolicyWorker(_ h: inout CoreHarness) {
        let hello = WorkerHello(
            workerId: "w7", services: ["RECOMMEND", "POLICY"], slots: 2, inputWidth: 2, modelVersion: 1, host: "h", pid: 1)
        h.feed(
            .worker(
                identity: [7], frames: WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames(),
                peerAddress: nil))
    }

    /// A client's policy RECOMMEND (request id 5, from client `[1]`) dispatched to the registered policy worker,
    /// whose answer, carrying an impression, is now held for the control plane.
    static func holdPolicySlate(_ h: inout CoreHarness) throws {
        let query = WireMessage(header: Header(command: .recommend, requestId: 5), payload: [Array("{}".utf8)])
        h.feed(.client(identity: [1], frames: query.frames(), userId: nil))
        let dispatched = try #require(h.sentToWorkers.last { $0.message.header.command == .recommend })
        let reply = WireMessage(
            header: dispatched.message.header.reply(status: .ok, modelVersion: 2),
            payload: [Array("{\"items\":[]}".utf8), Array("{\"impression_id\":\"x\"}".utf8)])
        h.feed(.worker(identity: [7], frames: reply.frames(), peerAddress: nil))
    }

    static func registration(_ h: CoreHarness) throws -> WorkerRegistration {
        let answer = try #require(h.sentToWorkers.last { $0.identity == [7] && $0.message.header.command == .heartbeat })
        return try WireJSON.decode(WorkerRegistration.self, from: try #require(answer.message.payload.first))
    }

    @Test("without online learning a policy RECOMMEND reply is still held for the control plane, never sent to the client")
    func heldWithoutOnline() throws {
        var h = CoreHarness()
        #expect(h.core.onlineView == nil)
        Self.registerPolicyWorker(&h)
        let query = WireMessage(header: Header(command: .recommend, requestId: 5), payload: [Array("{}".utf8)])
        h.feed(.client(identity: [1], frames: query.frames(), userId: nil))
        let dispatched = try #require(h.sentToWorkers.last { $0.message.header.command == .recommend })
        let record = Array("{\"impression_id\":\"x\"}".utf8)
        let reply = WireMessage(
            header: dispatched.message.header.reply(status: .ok, modelVersion: 2),
            payload: [Array("{\"items\":[]}".utf8), record])
        h.feed(.worker(identity: [7], frames: reply.frames(), peerAddress: nil))
        #expect(h.replies(to: [1], id: 5).isEmpty)
        let held = h.toControl.compactMap { input -> [UInt8]? in
            if case .heldImpression(_, let bytes, let client, _, _) = input, client == [1] { return bytes }
            return nil
        }
        #expect(held == [record])
        #expect(h.core.outstandingRequests == 1)
    }

    @Test("the registration answer names the served policy's version and SHA-256, and null without online learning")
    func registrationNamesServedPolicy() throws {
        var off = CoreHarness()
        Self.registerPolicyWorker(&off)
        #expect(try Self.registration(off).servedPolicy == nil)
        let encoded = String(decoding: WireJSON.encode(try Self.registration(off)), as: UTF8.self)
        #expect(encoded.contains("\"served_policy\":null"))

        var on = CoreHarness()
        on.core.onlineView = Self.onlineView(version: 4, sha: "abc")
        Self.registerPolicyWorker(&on)
        #expect(try Self.registration(on).servedPolicy == PolicyVersionReference(version: 4, weightsSha256: "abc"))

        var disabled = CoreHarness()
        var view = Self.onlineView(version: 4, sha: "abc")
        view.enabled = false
        disabled.core.onlineView = view
        Self.registerPolicyWorker(&disabled)
        #expect(try Self.registration(disabled).servedPolicy == nil)
    }

    @Test("a registration document without served_policy (an older broker) reads as serving no policy")
    func olderRegistrationDecodes() throws {
        let old = Array("{\"worker_id\":\"w1\",\"requested_id\":null,\"waiting_for_version\":null}".utf8)
        #expect(try WireJSON.decode(WorkerRegistration.self, from: old).servedPolicy == nil)
    }

    /// Routes a held slate through a control router with no online coordinator and returns the reply sent instead.
    static func routeHeld(onlineOff: String?) throws -> WireMessage {
        let directory = try TemporaryDirectory("unlogged-slate")
        defer { directory.remove() }
        let store = try RecStore(directory: directory.path)
        let outputs = LockedOutputs()
        let jobs = JobCoordinator(store: store, logger: Logger(label: "test")) { outputs.append($0) }
        var router = ControlRouter(jobs: jobs, online: nil, catalogues: nil)
        router.onlineOff = onlineOff
        let header = Header(command: .recommend, requestId: 5, modelVersion: 2).reply(status: .ok, modelVersion: 2)
        let slate = [header.encoded(), Array("{\"items\":[{\"item\":3}],\"source\":\"policy\"}".utf8)]
        router.route(
            .heldImpression(worker: "w7", record: Array("{\"impression_id\":\"x\"}".utf8), client: [1], frames: slate),
            nowMs: 1)
        let sent = outputs.values.compactMap { output -> [[UInt8]]? in
            if case .heldReply(let identity, let frames) = output, identity == [1] { return frames }
            return nil
        }
        #expect(sent.count == 1)
        #expect(sent.first != slate, "the slate itself never reaches the client")
        return try WireMessage(decoding: try #require(sent.first))
    }

    @Test("with no online coordinator the held slate is answered CONFLICT naming why online learning is off")
    func refusedNamingTheReason() throws {
        let failed = try Self.routeHeld(onlineOff: "the online policy could not start: version 2's blob is corrupt")
        #expect(failed.header.status == .conflict && failed.header.requestId == 5)
        let text = try #require(failed.errorText)
        #expect(text.contains("worker w7 served a policy slate this broker cannot log"))
        #expect(text.contains("online learning is off: the online policy could not start: version 2's blob is corrupt"))

        let notConfigured = try Self.routeHeld(onlineOff: nil)
        #expect(notConfigured.header.status == .conflict)
        #expect(notConfigured.errorText?.contains("this broker does not run online learning") == true)
    }
}

/// Collects a coordinator's outputs (it emits on the calling thread in these tests).
final class LockedOutputs {
    private(set) var values: [ControlOutput] = []
    func append(_ output: ControlOutput) { values.append(output) }
}
