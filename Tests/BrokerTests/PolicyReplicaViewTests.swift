import RecPolicy
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// The reactor learns which replicas may take RECOMMEND from the control plane: ``OnlineCore`` publishes the
/// replicas that reported an installed version with every view, so the set follows installs and departures.
@Suite("The online policy's replicas, as published to the reactor")
struct PolicyReplicaViewTests {
    static func published(_ actions: [OnlineAction]) -> [Set<[UInt8]>?] {
        actions.compactMap {
            if case .send(.policyReplicas(let replicas)) = $0 { return .some(replicas) }
            return nil
        }
    }

    static func installed(_ m: inout OnlineMachine, _ identity: [UInt8]) {
        let report = PolicyStateReport(
            kind: .installed, sync: 0, version: m.core.version, events: 0, updates: 0, weightsSha256: "sha-1")
        _ = m.feed(
            .policyState(
                identity: identity,
                message: WireMessage(header: Header(command: .policyState), payload: [WireJSON.encode(report)])))
    }

    @Test("registered replicas are not published until they report the install; a departed one leaves the set")
    func followsInstallsAndDepartures() throws {
        var m = try OnlineMachine()
        _ = m.feed(.workers([m.workerA, m.workerB]))
        #expect(Self.published(m.feed(.tick)).last == .some([]))
        Self.installed(&m, m.workerB.identity)
        #expect(Self.published(m.feed(.tick)).last == .some([m.workerB.identity]))
        Self.installed(&m, m.workerA.identity)
        #expect(Self.published(m.feed(.tick)).last == .some([m.workerA.identity, m.workerB.identity]))
        _ = m.feed(.workers([m.workerA]))
        #expect(Self.published(m.feed(.tick)).last == .some([m.workerA.identity]))
        // A late install report from the departed replica changes nothing.
        Self.installed(&m, m.workerB.identity)
        #expect(Self.published(m.feed(.tick)).allSatisfy { $0 == [m.workerA.identity] })
    }
}
