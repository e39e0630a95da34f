import Crypto
import RecData
import RecPolicy
import RecWire
import Testing

@testable import Worker

/// A worker registering with a broker drops any policy that broker does not serve (review fault F3), so RECOMMEND
/// falls back to what that broker serves instead of drawing slates the broker cannot log.
@Suite("Worker: the policy after a registration")
struct PolicyRegistrationTests {
    /// An online thread serving simulator-world policy version `version`, and that version's reference.
    static func serving(version: UInt64 = 2) throws -> (OnlineLearning, PolicyVersionReference) {
        let online = manualOnlineLearning()
        let installed = try #require(online.perform(.install(policyPayload(spec: onlineSpec(), version: version))))
        #expect(try decodePolicyState(installed).1.kind == .installed)
        let base = try #require(online.state.withLock { $0.base })
        return (online, PolicyVersionReference(version: base.version, weightsSha256: base.sha256))
    }

    @Test("a broker serving exactly the installed version and SHA-256 keeps it served")
    func sameVersionKept() throws {
        let (online, reference) = try Self.serving()
        #expect(online.perform(.registered(servedPolicy: reference)) == nil)
        #expect(online.snapshot.current?.version == 2)
        #expect(online.state.withLock { $0.base?.version } == 2)
    }

    @Test(
        "a broker serving no policy, another version or other statistics under the same number: the policy is dropped",
        arguments: [
            nil, PolicyVersionReference(version: 1, weightsSha256: "x"),
            PolicyVersionReference(version: 2, weightsSha256: String(repeating: "0", count: 64)),
        ])
    func otherPolicyDropped(broker: PolicyVersionReference?) throws {
        let (online, _) = try Self.serving()
        _ = online.perform(.hold(try PolicyCatalogueReferenceTests.installed(PolicyCatalogueReferenceTests.catalogue(3), version: 1)))
        #expect(online.perform(.registered(servedPolicy: broker)) == nil)
        #expect(online.snapshot.current == nil, "RECOMMEND falls back to the worker's model")
        let state = online.state.withLock { $0 }
        #expect(state.base == nil && state.learner == nil && state.sessionLearner == nil && state.held.isEmpty)
        // A pull now reports no policy, and LEARN events are dropped, as before the first POLICY.
        let pull = try decodePolicyState(try #require(online.perform(.pull(sync: 4))))
        #expect(pull.0.status == .notFound && pull.1.version == 0)
        // The broker's own POLICY installs afresh (whole pack).
        let again = try #require(online.perform(.install(policyPayload(spec: onlineSpec(), version: 1))))
        #expect(try decodePolicyState(again).1.kind == .installed)
        #expect(online.snapshot.current?.version == 1)
    }

    @Test("with no policy installed a registration drops the held catalogue versions, so a new registry's lower numbers are kept")
    func heldCataloguesDroppedWithoutPolicy() throws {
        let online = manualOnlineLearning()
        for version in 1...3 {
            _ = online.perform(
                .catalogue(try PolicyCatalogueReferenceTests.installed(PolicyCatalogueReferenceTests.catalogue(10 + version), version: UInt64(version))))
        }
        #expect(online.state.withLock { Set($0.held.keys) } == [2, 3])
        #expect(online.perform(.registered(servedPolicy: nil)) == nil)
        #expect(online.state.withLock { $0.held.isEmpty })
        // Registry B's version 1 is now kept, and a POLICY naming it installs.
        let b1 = try PolicyCatalogueReferenceTests.installed(PolicyCatalogueReferenceTests.catalogue(4), version: 1)
        _ = online.perform(.catalogue(b1))
        let payload = try PolicyCatalogueReferenceTests.payload(
            b1.catalogue, version: 1, reference: CatalogueReference(version: 1, sha256: b1.sha256))
        #expect(try decodePolicyState(#require(online.perform(.install(payload)))).1.kind == .installed)
        #expect(online.snapshot.current?.policy.spec.itemCount == 4)
    }

    @Test("the session thread's submit withdraws another version's snapshot at once, before the task runs")
    func submitWithdrawsAtOnce() throws {
        let (online, reference) = try Self.serving()
        online.submit(.registered(servedPolicy: reference))
        #expect(online.snapshot.current?.version == 2, "the broker's own version stays served")
        online.submit(.registered(servedPolicy: nil))
        #expect(online.snapshot.current == nil)
    }

    @Test("a policy serving a catalogue version does not move to another catalogue under that number, and says why")
    func catalogueSameNumberOtherHash() throws {
        let online = manualOnlineLearning()
        let v1 = try PolicyCatalogueReferenceTests.installed(PolicyCatalogueReferenceTests.catalogue(10), version: 1)
        _ = online.perform(.catalogue(v1))
        let payload = try PolicyCatalogueReferenceTests.payload(
            v1.catalogue, version: 2, reference: CatalogueReference(version: 1, sha256: v1.sha256))
        #expect(try decodePolicyState(#require(online.perform(.install(payload)))).1.kind == .installed)
        let impostor = try PolicyCatalogueReferenceTests.installed(PolicyCatalogueReferenceTests.catalogue(12), version: 1)
        let frames = try #require(online.perform(.catalogue(impostor)))
        let report = try WireJSON.decode(CatalogueState.self, from: frames[1])
        #expect(!report.installed && report.version == 1 && report.sha256 == impostor.sha256)
        let error = try #require(report.error)
        #expect(error.hasPrefix("the served policy cannot move to this catalogue: the served policy serves catalogue version 1"))
        #expect(error.contains(String(v1.sha256.prefix(12))) && error.contains(String(impostor.sha256.prefix(12))))
        #expect(online.state.withLock { $0.held[1]?.sha256 } == v1.sha256, "the served rows stay held")
        #expect(online.snapshot.current?.policy.spec.itemCount == 10)
    }
}
