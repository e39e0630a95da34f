import Crypto
import RecData
import RecWire
import Testing

@testable import Worker

/// What a worker holds from a broker starts afresh at each registration (review faults F3 and F7): the catalogue
/// is forgotten and the online thread is told which policy the broker serves; a CATALOGUE is installed as exactly
/// the (version, SHA-256) it names.
@Suite("Worker core: registration and catalogue identity")
struct WorkerCoreRegistrationTests {
    static func bytes(_ ids: [String]) throws -> [UInt8] {
        let encoding = ItemEncoding(categorical: [], numeric: ["price"])
        return try ItemCatalogue(encoding: encoding, ids: ids, features: ids.indices.map { Float($0) }).canonicalBytes()
    }

    static func sha(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    static func send(_ harness: inout WorkerHarness, version: UInt64, _ bytes: [UInt8]) {
        harness.receive(
            Header(command: .catalogue), [WireJSON.encode(CatalogueInstall(version: version, sha256: Self.sha(bytes))), bytes])
    }

    static func registeredTask(_ harness: WorkerHarness) -> PolicyVersionReference?? {
        for task in harness.online.reversed() {
            if case .registered(let served) = task { return .some(served) }
        }
        return nil
    }

    /// Pointed at a broker's client endpoint, a worker took the BAD_REQUEST replies to its READY and heartbeats for
    /// the broker's heartbeats and waited for ever, without a word above debug.
    @Test("an error reply to READY or HEARTBEAT ends the worker: the endpoint is no broker's backend")
    func errorReplyToRegistration() {
        for command in [Command.ready, .heartbeat] {
            var harness = WorkerHarness()
            harness.feed(.connected)
            var reply = Header(command: command).reply(status: .badRequest)
            reply.command = command
            harness.receive(reply, [Array("\(command.name) is not a client command".utf8)])
            #expect(harness.exits == [.notABackend(answer: "BAD_REQUEST \"\(command.name) is not a client command\"")])
        }
        // A broker's own heartbeat (no reply bit) registers as before.
        var harness = WorkerHarness()
        harness.register()
        #expect(harness.exits.isEmpty)
    }

    /// Once registered, one such message (which no broker sends) made a serving worker exit 64 as if `--broker` named
    /// a client endpoint.
    @Test("a registered worker ignores an error reply to READY or HEARTBEAT, and keeps serving")
    func errorReplyAfterRegistration() {
        var harness = WorkerHarness.registered()
        for (command, status) in [(Command.heartbeat, Status.badRequest), (.ready, .unauthorized), (.heartbeat, .busy)] {
            var reply = Header(command: command).reply(status: status)
            reply.command = command
            harness.receive(reply, [Array("x".utf8)])
        }
        #expect(harness.exits.isEmpty)
        #expect(harness.logs.filter { $0.level == .warning && $0.message.hasPrefix("ignored a reply to") }.count == 3)
    }

    /// A registration whose document did not decode (or was missing) was taken silently, and the worker kept the
    /// policy and catalogue it held from another broker.
    @Test("a registration that does not decode still starts afresh, as one naming no served policy, and is logged")
    func undecodableRegistration() {
        for payload: [[UInt8]] in [[Array("{".utf8)], [Array(#"{"worker_id":"w1","waiting_for_version":"x"}"#.utf8)], []] {
            var harness = WorkerHarness()
            harness.feed(.connected)
            harness.receive(Header(command: .heartbeat), payload)
            #expect(Self.registeredTask(harness) == .some(nil), "\(payload)")
            #expect(harness.logs.contains { $0.level == .error && $0.message.contains("registration does not decode") })
        }
    }

    /// A CATALOGUE whose notice read but whose bytes were missing was dropped with no answer (the broker waited for
    /// a CATALOGUE_STATE), and every malformed WEIGHTS, TRAIN_ROUND or CATALOGUE was logged without why.
    @Test("a CATALOGUE without its bytes is checked as no bytes (answered); malformed messages are logged with why")
    func catalogueWithoutBytes() throws {
        var harness = WorkerHarness.registered()
        harness.receive(
            Header(command: .catalogue),
            [WireJSON.encode(CatalogueInstall(version: 7, sha256: String(repeating: "a", count: 64)))])
        let received = harness.online.contains { task in
            if case .received(let notice, let bytes) = task { return notice.version == 7 && bytes.isEmpty }
            return false
        }
        #expect(received)
        for command in [Command.weights, .trainRound, .catalogue] {
            harness.logs.removeAll()
            harness.receive(Header(command: command), [Array(#"{"version": 1.5}"#.utf8), [1]])
            #expect(harness.logs.contains { $0.level == .error && $0.message.contains("malformed") }, "\(command)")
        }
    }

    @Test("each registration tells the online thread which policy the broker serves, or none")
    func registrationNamesThePolicy() throws {
        var harness = WorkerHarness()
        let served = PolicyVersionReference(version: 3, weightsSha256: "abc")
        harness.register(servedPolicy: served)
        #expect(Self.registeredTask(harness) == .some(served))
        // The broker forgot us (it restarted without --online): the re-registration says it serves none.
        harness.receive(Header(command: .disconnect))
        harness.online.removeAll()
        harness.receive(Header(command: .heartbeat), [WireJSON.encode(WorkerRegistration(workerId: "w1", requestedId: nil))])
        #expect(Self.registeredTask(harness) == .some(nil))
        // Later heartbeats are not registrations.
        harness.online.removeAll()
        harness.receive(Header(command: .heartbeat))
        #expect(harness.online.isEmpty)
    }

    @Test("a worker that outlives a registry forgets its catalogue and installs the new registry's lower version")
    func outlivesRegistry() throws {
        var harness = WorkerHarness.registered(relay: manualOnlineLearning())
        // Registry A: versions 1…3; the worker serves version 3.
        let a3 = try Self.bytes(["A", "B", "C"])
        Self.send(&harness, version: 3, a3)
        #expect(WorkerCoreCatalogueTests.newest(harness)?.version == 3)
        // Registry B (a fresh state folder): the worker registers again and B sends its version 1.
        harness.feed(.connected)
        harness.receive(Header(command: .heartbeat), [WireJSON.encode(WorkerRegistration(workerId: "w1", requestedId: nil))])
        #expect(WorkerCoreCatalogueTests.newest(harness) == nil)
        _ = harness.takeSent()
        let b1 = try Self.bytes(["X"])
        Self.send(&harness, version: 1, b1)
        let confirmed = try #require(try WorkerCoreCatalogueTests.state(&harness))
        #expect(confirmed.installed && confirmed.version == 1 && confirmed.error == nil, "installed, not held")
        let installed = try #require(WorkerCoreCatalogueTests.newest(harness))
        #expect(installed.version == 1 && installed.sha256 == Self.sha(b1) && installed.catalogue.ids == ["X"])
        // B's version 2 (add NEW-1) is installed too: the worker serves exactly what it confirms.
        let b2 = try Self.bytes(["X", "NEW-1"])
        Self.send(&harness, version: 2, b2)
        #expect(try WorkerCoreCatalogueTests.state(&harness)?.installed == true)
        #expect(WorkerCoreCatalogueTests.newest(harness)?.version == 2 && WorkerCoreCatalogueTests.newest(harness)?.sha256 == Self.sha(b2))
    }

    @Test("the same version number under another SHA-256 replaces the installed one; the same bytes are confirmed as they are")
    func sameNumberOtherHash() throws {
        let relay = manualOnlineLearning()
        var harness = WorkerHarness.registered(relay: relay)
        let first = try Self.bytes(["A", "B"])
        let other = try Self.bytes(["P", "Q", "R"])
        Self.send(&harness, version: 2, first)
        _ = harness.takeSent()
        Self.send(&harness, version: 2, first)
        let again = try #require(try WorkerCoreCatalogueTests.state(&harness))
        #expect(again.installed && again.version == 2 && again.sha256 == Self.sha(first) && again.error == nil)
        #expect(relay.state.withLock { $0.held[2]?.sha256 } == Self.sha(first))
        guard case .answer(let state, let hold) = relay.state.withLock({ state in
            state.receiver.admit(CatalogueReceiver.verify(CatalogueInstall(version: 2, sha256: Self.sha(first)), bytes: first))
        }) else {
            Issue.record("the version served already is answered at once")
            return
        }
        #expect(state.installed && hold?.sha256 == Self.sha(first), "held again, for the POLICY the broker may have sent it for")
        Self.send(&harness, version: 2, other)
        #expect(try WorkerCoreCatalogueTests.state(&harness)?.installed == true)
        let replaced = try #require(WorkerCoreCatalogueTests.newest(harness))
        #expect(replaced.sha256 == Self.sha(other) && replaced.catalogue.count == 3)
    }

    @Test("a refusal names its reason and is logged")
    func refusalIsNamedAndLogged() throws {
        let logs = CapturedLogs()
        var harness = WorkerHarness.registered(relay: manualOnlineLearning(logs: logs))
        let bytes = try Self.bytes(["A"])
        harness.receive(
            Header(command: .catalogue),
            [WireJSON.encode(CatalogueInstall(version: 1, sha256: String(repeating: "0", count: 64))), bytes])
        let refused = try #require(try WorkerCoreCatalogueTests.state(&harness))
        #expect(!refused.installed)
        #expect(refused.error == "the catalogue's bytes hash to \(Self.sha(bytes)), not \(String(repeating: "0", count: 64))")
        #expect(logs.all.contains { $0.level == .warning && $0.message == "catalogue not installed" })
    }
}

/// A CATALOGUE whose canonical document wrote a key twice (`"ids"` twice, or `"numeric"` and `"\u006eumeric"`) was
/// hashed, decoded as one of the two values and confirmed installed: a plain decoder does not check keys.
@Suite("Worker: a catalogue's canonical bytes are one JSON document with each key once")
struct CatalogueDocumentTests {
    @Test("a key written twice, or text that is not JSON, is refused naming it; the broker's own bytes verify", arguments: [
        ("ids", #","ids":["z","y"]"#, "the key `ids` appears twice"),
        ("numeric", #","\u006eumeric":["cost"]"#, "appears twice"),
        ("number", #","extra":01"#, "leading zero"),
    ])
    func refused(name: String, insert: String, says: String) throws {
        let good = try WorkerCoreRegistrationTests.bytes(["a", "b"])
        #expect(throws: Never.self) {
            try CatalogueReceiver.verify(CatalogueInstall(version: 1, sha256: WorkerCoreRegistrationTests.sha(good)), bytes: good)
                .outcome.get()
        }
        var bad = good
        bad.removeLast()  // the closing brace
        bad += Array(insert.utf8) + [UInt8(ascii: "}")]
        let verified = CatalogueReceiver.verify(
            CatalogueInstall(version: 1, sha256: WorkerCoreRegistrationTests.sha(bad)), bytes: bad)
        guard case .failure(let reason) = verified.outcome else {
            Issue.record("\(name): installed")
            return
        }
        #expect(reason.description.contains(says), "\(reason)")
    }
}
