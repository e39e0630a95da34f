import Foundation
import Logging
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// Drives a ``JobCoordinator`` (the registry's CONTROL operations) over a real store in a temporary
/// folder, capturing what it emits.
final class RegistryHarness {
    let directory: String
    var outputs: [ControlOutput] = []
    var store: RecStore!
    var coordinator: JobCoordinator!
    private var nextId: UInt64 = 1

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-registry-\(UUID())").path
        try reopen()
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Opens the store again and starts a new coordinator over it, as a broker restart does.
    func reopen() throws {
        store = try RecStore(directory: directory)
        coordinator = JobCoordinator(store: store, logger: Logger(label: "test")) { [unowned self] in
            self.outputs.append($0)
        }
        coordinator.start(nowMs: 1_000)
    }

    /// Sends a CONTROL request and returns the reply frames' message.
    func control(_ request: ControlRequest, bytes: [UInt8]? = nil) throws -> WireMessage {
        let header = Header(command: .control, requestId: nextId)
        nextId += 1
        let message = WireMessage(header: header, payload: [WireJSON.encode(request)] + (bytes.map { [$0] } ?? []))
        coordinator.handleClient(identity: [1], message: message, userId: nil, nowMs: 2_000)
        let replies: [WireMessage] = outputs.compactMap {
            if case .toClient(_, let frames) = $0 { return try? WireMessage(decoding: frames) }
            return nil
        }
        return try #require(replies.last { $0.header.requestId == header.requestId })
    }

    /// The rollouts emitted since the last call: (version, whether WEIGHTS frames came with it).
    func takeRollouts() -> [(version: UInt64, hasWeights: Bool)] {
        defer { outputs.removeAll() }
        return outputs.compactMap {
            if case .rollout(let version, let frames) = $0 { return (version, !frames.isEmpty) }
            return nil
        }
    }

    func corrupt(_ sha: String) throws {
        try Data("not the checkpoint".utf8).write(to: URL(fileURLWithPath: store.blobs.path(sha)))
    }

    static func checkpoint(_ tag: UInt8) -> [UInt8] { Array("RECPOOLM".utf8) + [tag, 1, 2, 3] }
}

@Suite("Registry: verified blobs and one version per content hash")
struct RegistryCoordinatorTests {
    @Test("promoting a version whose blob is corrupt is refused CONFLICT, quarantined, and nothing rolls out")
    func corruptPromotion() throws {
        let h = try RegistryHarness()
        var promote1 = ControlRequest(op: "promote")
        promote1.version = 1
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        #expect(try h.control(promote1).header.status == .ok)
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(2))
        _ = h.takeRollouts()
        let sha2 = try #require(try h.store.model(2)).checkpointSHA
        try h.corrupt(sha2)
        var promote2 = ControlRequest(op: "promote")
        promote2.version = 2
        let refused = try h.control(promote2)
        #expect(refused.header.status == .conflict)
        #expect(refused.errorText?.contains("corrupt") == true)
        #expect(try h.store.promotedVersion() == 1)
        #expect(h.takeRollouts().isEmpty)
        #expect(!h.store.blobs.contains(sha2))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: h.store.blobs.quarantineDirectory))?.count == 1)
        // Importing the same content again repairs the blob under the same version; then it promotes.
        let again = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(2))
        #expect(again.header.status == .ok)
        #expect(try WireJSON.decode(ModelView.self, from: again.payload[0]).version == 2)
        #expect(try h.store.models().count == 2)
        #expect(try h.store.blobs.get(sha2) == RegistryHarness.checkpoint(2))
        #expect(try h.control(promote2).header.status == .ok)
        #expect(h.takeRollouts().map(\.version) == [2])
    }

    @Test("rolling back to a version whose blob is corrupt is refused and the promotion stays")
    func corruptRollback() throws {
        let h = try RegistryHarness()
        for tag: UInt8 in [1, 2] { _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(tag)) }
        for version: UInt64 in [1, 2] {
            var promote = ControlRequest(op: "promote")
            promote.version = version
            _ = try h.control(promote)
        }
        try h.corrupt(try #require(try h.store.model(1)).checkpointSHA)
        #expect(try h.control(ControlRequest(op: "rollback")).header.status == .conflict)
        #expect(try h.store.promotedVersion() == 2)
    }

    @Test("after a restart with the promoted blob corrupt, the version is announced without weights")
    func corruptAtStart() throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        var promote = ControlRequest(op: "promote")
        promote.version = 1
        _ = try h.control(promote)
        try h.corrupt(try #require(try h.store.model(1)).checkpointSHA)
        _ = h.takeRollouts()
        try h.reopen()
        let rollouts = h.takeRollouts()
        #expect(rollouts.map(\.version) == [1])
        #expect(rollouts.map(\.hasWeights) == [false])
        // Importing the file again repairs it and rolls the weights out.
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        #expect(h.takeRollouts().map(\.hasWeights) == [true])
    }

    @Test("importing the same checkpoint twice names one version")
    func oneVersionPerHash() throws {
        let h = try RegistryHarness()
        let first = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(7))
        let second = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(7))
        #expect(try WireJSON.decode(ModelView.self, from: first.payload[0]).version == 1)
        #expect(try WireJSON.decode(ModelView.self, from: second.payload[0]).version == 1)
        #expect(try h.store.models().count == 1)
        // Nothing trained it here and nothing was measured: null, never "" or {} (issue 13, "never `{}`").
        let text = String(decoding: second.payload[0], as: UTF8.self)
        #expect(text.contains(#""job":null"#) && text.contains(#""metrics":null"#), "\(text)")
        #expect(text.contains(#""dataset_sha256":null"#) && !text.contains("{}") && !text.contains(#""""#), "\(text)")
    }

    @Test("fetching a corrupt version is refused CONFLICT naming the corruption, never sent")
    func corruptFetch() throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        try h.corrupt(try #require(try h.store.model(1)).checkpointSHA)
        var fetch = ControlRequest(op: "fetch")
        fetch.version = 1
        let reply = try h.control(fetch)
        #expect(reply.header.status == .conflict)
        #expect(reply.errorText?.contains("corrupt") == true)
    }

    @Test("a training job on an uploaded dataset whose blob is corrupt is refused CONFLICT, and nothing is queued")
    func corruptDataset() throws {
        let h = try RegistryHarness()
        let sha = try h.store.blobs.put(Array("a,label\n1,0\n".utf8))
        try h.corrupt(sha)
        let reply = try h.control(ControlRequest(op: "train", train: TrainJobSpec(dataset: "sha256:\(sha)")))
        #expect(reply.header.status == .conflict)
        #expect(reply.errorText?.contains("corrupt") == true)
        #expect(try h.store.jobs().isEmpty)
    }

    @Test("a stored metric that is undefined (null) reaches `models` as null, and the other metrics with it")
    func undefinedMetricSurvivesStorage() throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        var record = try #require(try h.store.model(1))
        // What the broker stores for a worker's report on validation rows of one class.
        let measured: MetricValues = ["auc": nil, "pr_auc": nil, "val_loss": 0.31]
        record.metrics = String(decoding: WireJSON.encode(measured), as: UTF8.self)
        #expect(record.metrics.contains(#""auc":null"#), "\(record.metrics)")
        #expect(JobCoordinator.metrics(record.metrics) == measured)
        let view = h.coordinator.view(record)
        #expect(view.metrics == measured)
        let frame = WireJSON.encode(view)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any])
        let metrics = try #require(object["metrics"] as? [String: Any])
        #expect(metrics["auc"] is NSNull && metrics["val_loss"] as? Double == 0.31)
        #expect(try WireJSON.decode(ModelView.self, from: frame).metrics == measured)
    }
}
