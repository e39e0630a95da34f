import Foundation
import GRDB
import Logging
import RecData
import RecModel
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
        try coordinator.start(nowMs: 1_000)
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
        takeRolloutWidths().map { ($0.version, $0.hasWeights) }
    }

    /// The rollouts emitted since the last call, with the input width each carried.
    func takeRolloutWidths() -> [(version: UInt64, hasWeights: Bool, inputWidth: Int?)] {
        defer { outputs.removeAll() }
        return outputs.compactMap {
            if case .rollout(let version, let frames, let width) = $0 { return (version, !frames.isEmpty, width) }
            return nil
        }
    }

    func corrupt(_ sha: String) throws {
        try Data("not the checkpoint".utf8).write(to: URL(fileURLWithPath: store.blobs.path(sha)))
    }

    /// A small servable checkpoint (an MLP 2 → 3 → 1), distinct per `tag`.
    static func checkpoint(_ tag: UInt8) -> [UInt8] {
        Checkpoint(model: .mlp(MLP(inputWidth: 2, hiddenSizes: [3], seed: UInt64(tag)))).encoded()
    }
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
        let rollouts = h.takeRolloutWidths()
        #expect(rollouts.map(\.version) == [2])
        // The promoted model's width goes with its WEIGHTS (the checkpoints here take rows of 2 features).
        #expect(rollouts.map(\.inputWidth) == [2])
    }

    /// A model of 5,000 features was imported and promoted: every worker installed it, and every SCORE was refused
    /// TOO_LARGE (a row holds at most 4,096 columns) until someone rolled back.
    @Test("a model wider than a SCORE row may be (and with no feature specification) is refused at import, naming the limit")
    func tooWideForScore() throws {
        let h = try RegistryHarness()
        let wide = Checkpoint(model: .mlp(MLP(inputWidth: 4_097, hiddenSizes: [1], seed: 1))).encoded()
        let refused = try h.control(ControlRequest(op: "import"), bytes: wide)
        #expect(refused.header.status == .badRequest)
        #expect(refused.errorText?.contains("4097 features") == true && refused.errorText?.contains("at most 4096") == true,
            "\(refused.errorText ?? "")")
        #expect(try h.store.models().isEmpty)
        let edge = Checkpoint(model: .mlp(MLP(inputWidth: 4_096, hiddenSizes: [1], seed: 1))).encoded()
        #expect(try h.control(ControlRequest(op: "import"), bytes: edge).header.status == .ok)
    }

    /// A helper's case: a `models` row edited to another version's checkpoint served that version's weights under its
    /// own number. A job's checkpoint names its job, so a row naming another job's file is refused, never served.
    @Test("a version whose registry row names a job other than the one its checkpoint was written by is not served")
    func checkpointOfAnotherJob() throws {
        let h = try RegistryHarness()
        var file = Checkpoint(model: .mlp(MLP(inputWidth: 2, hiddenSizes: [3], seed: 4)))
        file.metadata["job"] = "job-4"
        let sha = try h.store.blobs.put(file.encoded())
        let version = try h.store.registerModel(
            job: "job-2", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: sha)
        var request = ControlRequest(op: "promote")
        request.version = version
        let refused = try h.control(request)
        #expect(refused.header.status == .conflict)
        #expect(
            refused.errorText?.contains("its registry row names job job-2, but the checkpoint file was written by job job-4")
                == true, "\(refused.errorText ?? "")")
        #expect(h.takeRollouts().isEmpty)
        // The job's own file (or an import, which names no job) is served.
        let own = try h.store.registerModel(
            job: "job-4", datasetSHA: "", hyperparameters: "{}", metrics: "{}",
            checkpointSHA: try h.store.blobs.put({ var f = file; f.metadata["note"] = "own"; return f.encoded() }()))
        request.version = own
        #expect(try h.control(request).header.status == .ok)
        #expect(ServableCheckpoint.problem(file.encoded(), job: "") == nil)
    }

    /// A registered version whose checkpoint file was deleted answered NOT_FOUND "no stored blob", the same as a
    /// version that does not exist; it is CONFLICT naming the version and how to repair it.
    @Test("promoting or fetching a version whose checkpoint file is missing is CONFLICT naming it and the repair")
    func missingCheckpoint() throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        _ = h.takeRollouts()
        let sha = try #require(try h.store.model(1)).checkpointSHA
        try FileManager.default.removeItem(atPath: h.store.blobs.path(sha))
        for op in ["promote", "fetch"] {
            var request = ControlRequest(op: op)
            request.version = 1
            let refused = try h.control(request)
            #expect(refused.header.status == .conflict, "\(op)")
            #expect(refused.errorText?.contains("model version 1's checkpoint") == true, "\(refused.errorText ?? "")")
            #expect(refused.errorText?.contains("missing from the state directory") == true)
        }
        #expect(h.takeRollouts().isEmpty)
        // Importing the same file repairs it under the same version.
        let again = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        #expect(try WireJSON.decode(ModelView.self, from: again.payload[0]).version == 1)
        var promote = ControlRequest(op: "promote")
        promote.version = 1
        #expect(try h.control(promote).header.status == .ok)
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

    /// The broker's rollback recorded a plain promotion, so a second rollback went forward again (1, 2, 3,
    /// rollback → 2, rollback → 3) though the store's history replay was right.
    @Test("two rollbacks through the broker walk back 3 → 2 → 1, and a third has nothing to roll back to")
    func rollbacksWalkBack() throws {
        let h = try RegistryHarness()
        for tag: UInt8 in [1, 2, 3] {
            _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(tag))
            var promote = ControlRequest(op: "promote")
            promote.version = UInt64(tag)
            #expect(try h.control(promote).header.status == .ok)
        }
        for expected: UInt64 in [2, 1] {
            let reply = try h.control(ControlRequest(op: "rollback"))
            #expect(reply.header.status == .ok)
            #expect(try WireJSON.decode(ModelView.self, from: reply.payload[0]).version == expected)
            #expect(try h.store.promotedVersion() == expected)
        }
        #expect(try h.control(ControlRequest(op: "rollback")).header.status == .conflict)
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
        #expect(try StoredJSON.metrics(record.metrics, table: "models", row: "version = 1", column: "metrics") == measured)
        let view = try h.coordinator.view(record)
        #expect(view.metrics == measured)
        let frame = WireJSON.encode(view)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any])
        let metrics = try #require(object["metrics"] as? [String: Any])
        #expect(metrics["auc"] is NSNull && metrics["val_loss"] as? Double == 0.31)
        #expect(try WireJSON.decode(ModelView.self, from: frame).metrics == measured)
    }

    @Test(
        "a checkpoint no scoring replica can serve is refused at import (BAD_REQUEST naming why) and never registered",
        arguments: RegistryHarness.unservable)
    func unservableImport(_ input: (label: String, bytes: [UInt8], reason: String)) throws {
        let h = try RegistryHarness()
        let reply = try h.control(ControlRequest(op: "import"), bytes: input.bytes)
        #expect(reply.header.status == .badRequest, "\(input.label)")
        #expect(reply.errorText?.contains(input.reason) == true, "\(input.label): \(reply.errorText ?? "")")
        #expect(try h.store.models().isEmpty)
        #expect(h.takeRollouts().isEmpty)
    }

    @Test("a registered version no scoring replica can serve is refused at promote and rollback (CONFLICT)")
    func unservablePromotion() throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        var promote = ControlRequest(op: "promote")
        promote.version = 1
        #expect(try h.control(promote).header.status == .ok)
        // A DQN job's checkpoint, registered as a job's would be (import now refuses it).
        let dqn = RegistryHarness.unservable[1].bytes
        let sha = try h.store.blobs.put(dqn)
        let version = try h.store.registerModel(
            job: "job-1", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: sha)
        _ = h.takeRollouts()
        promote.version = version
        let refused = try h.control(promote)
        #expect(refused.header.status == .conflict)
        #expect(refused.errorText?.contains("model version \(version) cannot be served: it holds a DQN") == true)
        #expect(try h.store.promotedVersion() == 1)
        #expect(h.takeRollouts().isEmpty)
    }

    @Test("a dqn job may not ask to be promoted: its checkpoint is not served by scoring replicas")
    func dqnJobPromote() throws {
        let h = try RegistryHarness()
        let reply = try h.control(
            ControlRequest(op: "train", train: TrainJobSpec(model: "dqn", dataset: "synthetic:users=10", promote: true)))
        #expect(reply.header.status == .badRequest)
        #expect(reply.errorText?.contains("promote applies to mlp jobs") == true)
        #expect(try h.store.jobs().isEmpty)
    }

    @Test(
        "a missing argument is BAD_REQUEST naming it; an unknown one NOT_FOUND",
        arguments: [("job", "job"), ("cancel_job", "job"), ("fetch", "version"), ("promote", "version")])
    func missingArguments(_ input: (op: String, argument: String)) throws {
        let h = try RegistryHarness()
        let missing = try h.control(ControlRequest(op: input.op))
        #expect(missing.header.status == .badRequest, "\(input.op): \(missing.errorText ?? "")")
        #expect(missing.errorText?.contains("`\(input.argument)`") == true, "\(missing.errorText ?? "")")
        var named = ControlRequest(op: input.op)
        if input.argument == "job" { named.job = "job-9" } else { named.version = 9 }
        let unknown = try h.control(named)
        #expect(unknown.header.status == .notFound, "\(unknown.errorText ?? "")")
    }

    @Test(
        "a dataset name no worker can resolve is BAD_REQUEST before a job is stored",
        arguments: [
            ("nope:xx", "mlp", "expected sha256:<hex>"), ("data/logs.csv", "mlp", "reads no file by path"),
            ("synthetic:users=0", "mlp", "users=0"), ("obd:random/all", "dqn", "trains in the simulator"),
        ])
    func unresolvableDatasets(_ input: (dataset: String, model: String, words: String)) throws {
        let h = try RegistryHarness()
        var spec = TrainJobSpec(dataset: input.dataset)
        spec.model = input.model
        let reply = try h.control(ControlRequest(op: "train", train: spec))
        #expect(reply.header.status == .badRequest, "\(reply.errorText ?? "")")
        #expect(reply.errorText?.contains(input.words) == true, "\(reply.errorText ?? "")")
        #expect(try h.store.jobs().isEmpty)
        let fine = try h.control(ControlRequest(op: "train", train: TrainJobSpec(dataset: "synthetic:users=50,seed=1")))
        #expect(fine.header.status == .ok, "\(fine.errorText ?? "")")
    }

    @Test(
        "a blob name that is not a SHA-256 never reaches a file: train and catalogue_upload refuse it, nothing moves",
        arguments: ["../recpool.sqlite", "../../etc/passwd", "ABCDEF", String(repeating: "g", count: 64), ""])
    func blobNames(_ name: String) throws {
        let h = try RegistryHarness()
        let database = h.directory + "/recpool.sqlite"
        #expect(FileManager.default.fileExists(atPath: database))
        let train = try h.control(ControlRequest(op: "train", train: TrainJobSpec(dataset: "sha256:" + name)))
        #expect(train.header.status == .badRequest)
        #expect(train.errorText?.contains("64 lowercase hexadecimal digits") == true, "\(train.errorText ?? "")")
        #expect(FileManager.default.fileExists(atPath: database))
        #expect(try h.store.jobs().isEmpty)
        #expect(!h.store.blobs.contains(name))
        #expect(throws: StoreError.missingBlob(name)) { try h.store.blobs.get(name) }
        #expect(h.store.blobs.quarantine(name) == nil)
        #expect(FileManager.default.fileExists(atPath: database))
    }
}

extension RegistryHarness {
    /// Checkpoints that decode (or nearly) but that no scoring replica can serve, with the words the refusal names.
    static let unservable: [(label: String, bytes: [UInt8], reason: String)] = {
        var nan = MLP(inputWidth: 2, hiddenSizes: [3], seed: 1)
        nan.layers[1].bias[0] = .nan
        var wide = MLP(inputWidth: 2, hiddenSizes: [3], seed: 1)
        wide.layers[1] = Dense(
            weight: Matrix(rows: 2, cols: 3, values: [Float](repeating: 0.1, count: 6)), bias: [0, 0],
            activation: .sigmoid)
        let network = QNetwork(stateWidth: 3, form: .actionOutputs(actionCount: 2), hiddenSizes: [4], seed: 1)
        let dqn = DQNModel(network: network, gamma: 0.9)
        let two = MLP(inputWidth: 2, hiddenSizes: [3], seed: 1)
        // A real feature specification, far wider than the 2-wide model it is shipped with.
        guard case .logs(let split, _, _) = try! DatasetResolver(obdDirectory: "").resolve("synthetic:users=50,rows=200,seed=1")
        else { fatalError("synthetic data resolves to logs") }
        let spec = try! FeatureSpec.fit(on: split.train).encoded()
        return [
            ("truncated", Array(checkpoint(1).prefix(20)), "does not decode"),
            ("dqn", Checkpoint(model: .dqn(dqn)).encoded(), "it holds a DQN"),
            ("nan bias", Checkpoint(model: .mlp(nan)).encoded(), "every weight must be finite"),
            ("two outputs", Checkpoint(model: .mlp(wide)).encoded(), "2 outputs per row"),
            (
                "spec that does not decode", Checkpoint(model: .mlp(two), featureSpec: Array("{\"columns\":{".utf8)).encoded(),
                "its feature specification does not decode"
            ),
            ("spec of another width", Checkpoint(model: .mlp(two), featureSpec: spec).encoded(), "features wide, its model 2"),
        ]
    }()
}

/// `upload` with `total_bytes` or `offset` −1 was answered CONFLICT "chunk at offset -1 fails its checksum": a byte
/// count below 0 is a malformed request, named by its key.
@Suite("upload: byte counts")
struct UploadByteCountTests {
    @Test("a negative total_bytes or offset is BAD_REQUEST naming the key", arguments: [
        (-1, 0, "upload.total_bytes must be an integer ≥ 0, got -1"), (4, -1, "upload.offset must be an integer ≥ 0, got -1"),
    ])
    func negative(totalBytes: Int, offset: Int, message: String) throws {
        let h = try RegistryHarness()
        let bytes = Array("a,b\n".utf8)
        var request = ControlRequest(op: "upload")
        request.upload = UploadChunk(
            sha256: BlobStore.digest(bytes), name: "d.csv", totalBytes: totalBytes, offset: offset,
            chunkSha256: BlobStore.digest(bytes))
        let reply = try h.control(request, bytes: bytes)
        #expect(reply.header.status == .badRequest)
        #expect(reply.errorText == message, "\(reply.errorText ?? "")")
    }
}

/// A damaged registry row (a version's metrics `{bad`, a `created_at` of `1e999`) let the broker start; `models`
/// then failed, and `promote` to that version answered INTERNAL after it had stored and rolled out the promotion, so
/// the pool served a version its operator was told was not promoted.
@Suite("A damaged registry row")
struct DamagedRegistryRowTests {
    static func damage(_ h: RegistryHarness, _ sql: String) throws {
        try DatabaseQueue(path: "\(h.directory)/recpool.sqlite").write { db in try db.execute(sql: sql) }
    }

    static let damages: [(sql: String, column: String)] = [
        ("UPDATE models SET metrics = '{bad' WHERE version = 1", "metrics"),
        ("UPDATE models SET hyperparameters = '[1' WHERE version = 1", "hyperparameters"),
        ("UPDATE models SET created_at = 1e999 WHERE version = 1", "created_at"),
    ]

    @Test("stops the start, naming the row and column", arguments: damages)
    func stopsTheStart(damage: (sql: String, column: String)) throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        try Self.damage(h, damage.sql)
        #expect {
            try h.reopen()
        } throws: { error in
            "\(error)".contains("models") && "\(error)".contains(damage.column)
        }
    }

    @Test("fails a promotion with nothing promoted, rolled out or served", arguments: damages)
    func promotionNotApplied(damage: (sql: String, column: String)) throws {
        let h = try RegistryHarness()
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(1))
        _ = try h.control(ControlRequest(op: "import"), bytes: RegistryHarness.checkpoint(2))
        var promote2 = ControlRequest(op: "promote")
        promote2.version = 2
        #expect(try h.control(promote2).header.status == .ok)
        _ = h.takeRollouts()
        try Self.damage(h, damage.sql)
        var promote1 = ControlRequest(op: "promote")
        promote1.version = 1
        let reply = try h.control(promote1)
        #expect(reply.header.status == .internal, "\(reply.errorText ?? "")")
        #expect(try h.store.promotedVersion() == 2)
        #expect(h.takeRollouts().isEmpty)
    }
}
