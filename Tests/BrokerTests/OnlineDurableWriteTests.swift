import Foundation
import RecPolicy
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// An accepted online version that cannot be stored is never reported as accepted (issue #15).
@Suite("Online coordinator: durable writes")
struct OnlineDurableWriteTests {
    @Test("a candidate the guard accepts but the store cannot write is rejected, counted and explained")
    func unstorableVersion() throws {
        var settings = OnlineSettings()
        settings.syncEvents = 1
        let h = try OnlineHarness(settings: settings)
        h.coordinator.updateWorkers([h.workerA], nowMs: 1_000)
        h.serve("imp-1", worker: "w-a")
        _ = h.feedback("imp-1", item: 3)
        h.coordinator.tick(nowMs: 2_000)
        let pull = try #require(
            h.take().compactMap { output -> UInt64? in
                guard case .toWorker(_, let frames) = output, let m = try? WireMessage(decoding: frames),
                    m.header.command == .policyPull
                else { return nil }
                return m.header.requestId
            }.first)
        // The blob folder becomes a plain file: the weights cannot be written (even as root).
        let blobs = h.coordinator.store.blobs.directory
        try FileManager.default.moveItem(atPath: blobs, toPath: blobs + ".away")
        #expect(FileManager.default.createFile(atPath: blobs, contents: Data()))
        let pack = PolicyWeights.pack(h.coordinator.policy)
        let report = PolicyStateReport(
            kind: .sync, sync: pull, version: 1, events: 1, updates: 1,
            weightsSha256: PolicyWeights.sha256(of: pack.encoded()))
        h.coordinator.handleWorker(
            identity: h.workerA.identity,
            message: WireMessage(
                header: Header(command: .policyState, requestId: pull),
                payload: [WireJSON.encode(report), pack.encoded()]),
            nowMs: 2_100)
        #expect(h.coordinator.version == 1)
        #expect(h.coordinator.durableWriteFailures == 1)
        let decision = try #require(h.coordinator.view.lastDecision)
        #expect(!decision.accepted)
        #expect(decision.reason.contains("could not be stored durably"), "\(decision.reason)")
        #expect(h.coordinator.view.syncs == 0)
    }
}
