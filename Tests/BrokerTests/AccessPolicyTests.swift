import Logging
import RecTransport
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

@Suite("Broker security: roles and ZAP answers")
struct AccessPolicyTests {
    let client: [UInt8] = [0xC1]

    @Test(
        "each role may send exactly its commands and CONTROL ops",
        arguments: [
            (PeerRole.client, "models", true), (.client, "fetch", true), (.client, "promote", false),
            (.client, "train", false), (.client, "drain", false), (.trainer, "promote", true), (.trainer, "train", true),
            (.trainer, "jobs", true), (.trainer, "bogus", false), (.worker, "jobs", false),
        ] as [(PeerRole, String, Bool)])
    func controlOps(role: PeerRole, op: String, allowed: Bool) {
        #expect(AccessPolicy.allowsControl(role, op: op) == allowed)
    }

    @Test("workers and unauthenticated peers may send nothing on the frontend")
    func frontendCommands() {
        for command in [Command.score, .recommend, .feedback, .status, .cancel, .control] {
            #expect(AccessPolicy.allows(.client, command: command))
            #expect(!AccessPolicy.allows(.worker, command: command))
            #expect(!AccessPolicy.allows(nil, command: command))
        }
        #expect(!AccessPolicy.allows(.trainer, command: .ready))
    }

    @Test("with roles enforced, the core answers UNAUTHORIZED and never forwards a refused CONTROL op")
    func coreEnforcesRoles() throws {
        var h = CoreHarness { $0.enforceRoles = true }
        let promote = WireMessage(
            header: Header(command: .control, requestId: 5),
            payload: [WireJSON.encode(ControlRequest(op: "promote", version: 1))])
        h.feed(.client(identity: client, frames: promote.frames(), userId: "client"))
        #expect(h.replies(to: client, id: 5).first?.header.status == .unauthorized)
        // The refusal says which key may (a new user's client key for `promote` was refused with no hint).
        #expect(h.replies(to: client, id: 5).first?.errorText == "client may not run CONTROL promote; a trainer's key (--allow-trainers) may")
        #expect(h.toControl.isEmpty)
        h.feed(.client(identity: client, frames: promote.frames(), userId: "trainer"))
        #expect(h.toControl.count == 1)
        let status = WireMessage(header: Header(command: .status, requestId: 6))
        h.feed(.client(identity: client, frames: status.frames(), userId: nil))
        #expect(h.replies(to: client, id: 6).first?.header.status == .unauthorized)
        #expect(h.core.counters[.unauthorizedRequests] == 2)
    }

    @Test("with roles enforced, an op this build does not know goes to the control plane (BAD_REQUEST there), not UNAUTHORIZED")
    func unknownOpIsNotAPermissionProblem() throws {
        var h = CoreHarness { $0.enforceRoles = true }
        func bogus(_ id: UInt64) -> WireMessage {
            WireMessage(header: Header(command: .control, requestId: id), payload: [Array(#"{"op":"nope"}"#.utf8)])
        }
        for (id, role) in [(UInt64(7), "client"), (8, "trainer")] {
            h.feed(.client(identity: client, frames: bogus(id).frames(), userId: role))
        }
        #expect(h.replies(to: client, id: 7).isEmpty && h.replies(to: client, id: 8).isEmpty && h.toControl.count == 2)
        #expect(h.core.counters[.unauthorizedRequests] == 0)
        // A peer with no CONTROL role at all is still refused by its role, whatever the op.
        h.feed(.client(identity: client, frames: bogus(9).frames(), userId: nil))
        #expect(h.replies(to: client, id: 9).first?.header.status == .unauthorized)
    }

    @Test("a User-Id names its role and key (a Z85 key may hold ':'); a revoked key has no role and is refused per message")
    func revokedKeys() {
        #expect(PeerRole(userId: "client:ab:c") == .client && PeerRole.key(inUserId: "client:ab:c") == "ab:c")
        #expect(PeerRole(userId: "trainer") == .trainer && PeerRole.key(inUserId: "trainer") == nil)
        #expect(PeerRole(userId: PeerRole.revokedUserId(key: "k")) == nil && PeerRole(userId: nil) == nil)
        var h = CoreHarness { $0.enforceRoles = true }
        let status = WireMessage(header: Header(command: .status, requestId: 9))
        h.feed(.client(identity: client, frames: status.frames(), userId: PeerRole.revokedUserId(key: "k")))
        let reply = h.replies(to: client, id: 9).first
        #expect(reply?.header.status == .unauthorized)
        #expect(reply.flatMap { String(decoding: (try? $0.frame(0)) ?? [], as: UTF8.self) }?.contains("no longer admit") == true)
        let hello = WorkerHello(
            workerId: "x", services: ["SCORE"], slots: 1, inputWidth: 2, modelVersion: 0, host: "h", pid: 1)
        let ready = WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames()
        h.feed(.worker(identity: [1], frames: ready, peerAddress: nil, userId: PeerRole.revokedUserId(key: "w")))
        #expect(h.core.liveWorkerCount == 0)
        h.feed(.worker(identity: [1], frames: ready, peerAddress: nil, userId: PeerRole.worker.userId(key: "w")))
        #expect(h.core.liveWorkerCount == 1)
    }

    @Test("with roles enforced, backend messages from a non-worker are dropped")
    func coreDropsNonWorkers() {
        var h = CoreHarness { $0.enforceRoles = true }
        let hello = WorkerHello(
            workerId: "x", services: ["SCORE"], slots: 1, inputWidth: 2, modelVersion: 0, host: "h", pid: 1)
        let ready = WireMessage(header: Header(command: .ready), payload: [WireJSON.encode(hello)]).frames()
        h.feed(.worker(identity: [1], frames: ready, peerAddress: nil, userId: "client"))
        #expect(h.core.liveWorkerCount == 0)
        h.feed(.worker(identity: [1], frames: ready, peerAddress: nil, userId: "worker"))
        #expect(h.core.liveWorkerCount == 1)
    }

    @Test("the ZAP handler admits allow-listed keys per domain with ROLE:KEY as User-Id, and refuses the rest")
    func zapAnswers() throws {
        let worker = try ZMQContext.generateCurveKeyPair()
        let client = try ZMQContext.generateCurveKeyPair()
        let security = BrokerSecurity(
            keyPair: try ZMQContext.generateCurveKeyPair(), clients: [client.publicKey], trainers: [],
            workers: [worker.publicKey])
        let handler = ZAPHandler(context: ZMQContext(), security: security, logger: Logger(label: "test"))
        func request(_ domain: String, _ key: String, mechanism: String = "CURVE", version: String = "1.0") -> [[UInt8]] {
            [[1], [], Array(version.utf8), [7], Array(domain.utf8), Array("10.0.0.1".utf8), [], Array(mechanism.utf8),
             z85Decode(key)]
        }
        func status(_ reply: [[UInt8]]?) -> (String, String) {
            guard let reply, reply.count == 8 else { return ("none", "") }
            return (String(decoding: reply[4], as: UTF8.self), String(decoding: reply[6], as: UTF8.self))
        }
        #expect(status(handler.answer(request(BrokerSecurity.backendDomain, worker.publicKey))) == ("200", "worker:\(worker.publicKey)"))
        #expect(status(handler.answer(request(BrokerSecurity.frontendDomain, client.publicKey))) == ("200", "client:\(client.publicKey)"))
        #expect(status(handler.answer(request(BrokerSecurity.backendDomain, client.publicKey))).0 == "400")
        #expect(status(handler.answer(request(BrokerSecurity.frontendDomain, worker.publicKey))).0 == "400")
        #expect(status(handler.answer(request(BrokerSecurity.backendDomain, worker.publicKey, mechanism: "NULL"))).0 == "400")
        #expect(status(handler.answer(request(BrokerSecurity.backendDomain, worker.publicKey, version: "2.0"))).0 == "500")
        #expect(handler.answer([[1], []]) == nil)
    }
}

/// Z85 decoding (ZeroMQ RFC 32), for building ZAP requests in tests.
func z85Decode(_ text: String) -> [UInt8] {
    let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    var index = [UInt8: UInt32]()
    for (i, c) in alphabet.enumerated() { index[c] = UInt32(i) }
    let chars = Array(text.utf8)
    var bytes: [UInt8] = []
    for chunk in stride(from: 0, to: chars.count, by: 5) {
        var value: UInt32 = 0
        for c in chars[chunk..<chunk + 5] { value = value &* 85 &+ index[c]! }
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
    return bytes
}
