import BrokerCore
import Foundation
import GRDB
import Logging
import RecData
import RecStore
import RecTestKit
import RecWire
import Testing

@testable import Broker

/// Drives a ``CatalogueCoordinator`` over a real store in a temporary folder with one policy-serving worker,
/// capturing what it emits.
final class CatalogueHarness {
    let folder: TemporaryDirectory
    let store: RecStore
    var outputs: [ControlOutput] = []
    var coordinator: CatalogueCoordinator!
    static let worker = TrainingWorker(identity: [9], id: "w-1", trains: false, online: true)
    static let schema = """
        [logs]
        timestamp = "ts"
        item = "sku"
        position = "slot"
        click = "clicked"
        propensity = "p"
        [logs.user_features]
        device = "categorical"
        [catalogue]
        file = "items.csv"
        item = "sku"
        [catalogue.item_features]
        brand = "categorical"
        price = "numeric"
        """
    private var nextId: UInt64 = 1

    init() throws {
        folder = try TemporaryDirectory("catalogue-ack")
        store = try RecStore(directory: folder.path)
        coordinator = try CatalogueCoordinator(
            store: store, logger: Logger(label: "test"), servesRegistry: true, emit: { [unowned self] in
                self.outputs.append($0)
            })
        coordinator.updateWorkers([Self.worker], nowMs: 1_000)
    }

    deinit { folder.remove() }

    /// Replaces the coordinator with one started as a broker restarted with `--online-catalogue VERSION`: its online
    /// policy serves catalogue version `version` of this store, and the worker has registered.
    func restartServing(version: UInt64) throws {
        coordinator = try CatalogueCoordinator(
            store: RecStore(directory: folder.path), logger: Logger(label: "test"), servesRegistry: true,
            emit: { [unowned self] in self.outputs.append($0) })
        coordinator.servedVersion = { version }
        coordinator.rollOut(servedVersion: version)
        coordinator.updateWorkers([Self.worker], nowMs: 3_000)
    }

    /// Sends a catalogue CONTROL request from client `[1]`; returns its request id.
    @discardableResult
    func send(_ request: ControlRequest, nowMs: UInt64 = 2_000) throws -> UInt64 {
        let header = Header(command: .control, requestId: nextId)
        nextId += 1
        let call = try ControlCall(identity: [1], message: WireMessage(header: header, payload: [WireJSON.encode(request)]))
        coordinator.handle(call, nowMs: nowMs)
        return header.requestId
    }

    /// Uploads `csv` with the harness's schema.
    @discardableResult
    func upload(_ csv: String) throws -> UInt64 {
        let sha = try store.blobs.put(Array(csv.utf8))
        return try send(
            ControlRequest(.catalogueUpload, catalogue: CatalogueArguments(sourceSha256: "sha256:" + sha, schema: Self.schema)))
    }

    /// The worker confirms `version` with the SHA-256 the registry holds for it.
    func confirm(_ version: UInt64, nowMs: UInt64 = 2_100) throws {
        let sha = try #require(try store.catalogue(version)).sha256
        confirm(version, sha: sha, nowMs: nowMs)
    }

    /// The worker confirms `version` with `sha`.
    func confirm(_ version: UInt64, sha: String, nowMs: UInt64 = 2_100) {
        let state = CatalogueState(version: version, sha256: sha, installed: true, error: nil)
        coordinator.handleWorker(
            identity: Self.worker.identity,
            message: WireMessage(header: Header(command: .catalogueState), payload: [WireJSON.encode(state)]),
            nowMs: nowMs)
    }

    /// The replies to the client so far, decoded.
    func replies() -> [WireMessage] {
        outputs.compactMap {
            if case .toClient(_, let frames) = $0 { return try? WireMessage(decoding: frames) }
            return nil
        }
    }

    /// Runs `sql` on the store's database from another connection, as the `sqlite3` shell would.
    func damage(_ sql: String) throws {
        try DatabaseQueue(path: "\(folder.path)/recpool.sqlite").write { db in try db.execute(sql: sql) }
    }
}

/// A catalogue change is answered once every serving worker confirmed it, and always answered.
@Suite("Catalogue registry: acknowledgements")
struct CatalogueAcknowledgementTests {
    static let items = "sku,brand,price\na,x,1.5\nb,y,2.5\nc,x,3.5\n"

    @Test("a confirmed upload is acknowledged OK with the stored version")
    func confirmedUpload() throws {
        let h = try CatalogueHarness()
        let request = try h.upload(Self.items)
        #expect(h.replies().isEmpty, "answered before the worker confirmed")
        try h.confirm(1)
        let reply = try #require(h.replies().first { $0.header.requestId == request })
        #expect(reply.header.status == .ok)
        let view = try WireJSON.decode(CatalogueView.self, from: try reply.frame(0))
        #expect(view.version == 1 && view.items == 3 && view.active == 3 && view.confirmed == true)
    }

    /// Three `catalogue add --json` at once: the versions acknowledged after a later one was stored came back with
    /// `feature_names` and `replicas` null, so the operator could not see which worker had not confirmed.
    @Test("an add acknowledged after a later version was stored still lists its replicas and feature names")
    func acknowledgedAfterALaterVersion() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        let first = try h.send(ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "d", fields: ["brand": "x", "price": "4.5"])))
        let second = try h.send(ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "e", fields: ["brand": "y", "price": "5.5"])))
        #expect(try h.store.catalogue(nil)?.version == 3)
        try h.confirm(3)
        for request in [first, second] {
            let reply = try #require(h.replies().first { $0.header.requestId == request })
            #expect(reply.header.status == .ok)
            let view = try WireJSON.decode(CatalogueView.self, from: try reply.frame(0))
            let names = try #require(h.coordinator.latest?.catalogue.encoding.featureNames)
            #expect(!names.isEmpty && view.featureNames == names, "\(view)")
            #expect(view.replicas?.map(\.worker) == ["w-1"], "\(view)")
            #expect(view.confirmed == true)
        }
    }

    @Test(
        "a stored count that is not its catalogue's stops the start naming the column, never shown as stored",
        arguments: [("items", "81", "81, but its stored catalogue holds 3"), ("active", "2", "2, but its stored catalogue holds 3")])
    func countsCheckedAtStart(column: String, value: String, problem: String) throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        try h.damage("UPDATE catalogue_versions SET \(column) = \(value) WHERE version = 1")
        #expect(
            throws: StoreError.corruptColumn(table: "catalogue_versions", row: "version = 1", column: column, problem: problem)
        ) {
            _ = try CatalogueCoordinator(
                store: RecStore(directory: h.folder.path), logger: Logger(label: "test"), servesRegistry: true,
                emit: { _ in })
        }
    }

    @Test("a damaged or missing file of the newest uploaded catalogue is rebuilt from its source at the start, checked by its SHA-256")
    func damagedUploadRebuilt() throws {
        for damage in ["corrupt", "missing"] {
            let h = try CatalogueHarness()
            try h.upload(Self.items)
            try h.confirm(1)
            let record = try #require(try h.store.catalogue(nil))
            let path = h.store.blobs.path(record.sha256)
            if damage == "corrupt" {
                try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
            } else {
                try FileManager.default.removeItem(atPath: path)
            }
            // Before, the start stopped (exit 65), advising an upload a stopped broker cannot take.
            let reopened = try CatalogueCoordinator(
                store: RecStore(directory: h.folder.path), logger: Logger(label: "test"), servesRegistry: true,
                emit: { _ in })
            #expect(reopened.latest?.record.version == 1 && reopened.latest?.catalogue.count == 3)
            #expect(BlobStore.digest(try h.store.blobs.get(record.sha256)) == record.sha256, "\(damage)")
        }
    }

    @Test("a damaged file of a catalogue version that cannot be rebuilt (an add) still stops the start")
    func damagedChangeNotRebuilt() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        try h.send(ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "d", fields: ["brand": "x", "price": "4.5"])))
        try h.confirm(2)
        let record = try #require(try h.store.catalogue(nil))
        #expect(record.version == 2 && record.change == .add)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: h.store.blobs.path(record.sha256)))
        // Named with a repair a broker that cannot start allows: the generic advice (upload the same file again)
        // needs a running broker.
        do {
            _ = try CatalogueCoordinator(
                store: RecStore(directory: h.folder.path), logger: Logger(label: "test"), servesRegistry: true,
                emit: { _ in })
            Issue.record("the start went on over a damaged newest catalogue")
        } catch let error as UnreadableCatalogueVersion {
            let text = "\(error)"
            #expect(text.hasPrefix("catalogue version 2, the newest, cannot be read: its stored file \(record.sha256) is corrupt"))
            #expect(text.contains("it was made by add, whose fields are not stored") && text.contains("restore the state directory"))
            #expect(!text.contains("uploading the same file again"), "\(text)")
        }
    }

    /// `--online-catalogue 1` over a damaged version 1 (not the newest) stopped the start advising an upload, which a
    /// stopped broker cannot take and which would not make version 1 again.
    @Test("a damaged served version that is not the newest stops the start, advising --online-catalogue latest")
    func damagedServedOlderVersion() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        try h.send(ControlRequest(.catalogueRetire, catalogue: CatalogueArguments(item: "b")))
        try h.confirm(2)
        let first = try #require(try h.store.catalogue(1))
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: h.store.blobs.path(first.sha256)))
        let reopened = try CatalogueCoordinator(
            store: RecStore(directory: h.folder.path), logger: Logger(label: "test"), servesRegistry: true,
            emit: { _ in })
        do {
            _ = try reopened.served("1")
            Issue.record("a damaged catalogue version was served")
        } catch let error as UnreadableCatalogueVersion {
            let text = "\(error)"
            #expect(text.hasPrefix("catalogue version 1, which --online-catalogue names, cannot be served"), "\(text)")
            #expect(text.contains("start with --online-catalogue latest"), "\(text)")
        }
        #expect(try reopened.served("latest").version == 2)
    }

    /// A damaged byte of a stored schema (invalid UTF-8 in a feature name) turned online learning off at start, and
    /// RECOMMEND was answered by the model: the start stops instead, naming the row, as for other unreadable state.
    @Test("a stored schema that no longer parses is unreadable state, not a reason to serve without the policy")
    func damagedStoredSchema() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        try h.confirm(1)
        try DatabaseQueue(path: h.folder.path + "/recpool.sqlite").write { db in
            try db.execute(sql: "UPDATE catalogue_versions SET schema = 'not [ toml' WHERE version = 1")
        }
        let reopened = try CatalogueCoordinator(
            store: RecStore(directory: h.folder.path), logger: Logger(label: "test"), servesRegistry: true,
            emit: { _ in })
        do {
            _ = try reopened.served("latest")
            Issue.record("a stored schema that does not parse was served")
        } catch let error as StoreError {
            guard case .corruptColumn(let table, _, let column, let problem) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(table == "catalogue_versions" && column == "schema" && problem.contains("no longer reads"), "\(error)")
        }
    }

    @Test("a change whose record cannot be read back when it is acknowledged gets INTERNAL naming the failure")
    func unreadableRecordIsAnswered() throws {
        let h = try CatalogueHarness()
        let request = try h.upload(Self.items)
        let sha = try #require(try h.store.catalogue(1)).sha256
        // Stored, sent to the worker, waiting for its confirmation; then the row becomes unreadable.
        try h.damage("UPDATE catalogue_versions SET change = 'merge' WHERE version = 1")
        h.confirm(1, sha: sha)
        let replies = h.replies().filter { $0.header.requestId == request }
        #expect(replies.count == 1)
        let reply = try #require(replies.first)
        #expect(reply.header.status == .internal)
        let text = String(decoding: try reply.frame(0), as: UTF8.self)
        #expect(
            text.contains("catalogue version 1 was stored, but its record cannot be read")
                && text.contains("catalogue_versions") && text.contains("change"), "\(text)")
    }

    @Test("a change acknowledged at the timeout whose record is gone gets INTERNAL naming the version")
    func missingRecordAtTimeoutIsAnswered() throws {
        let h = try CatalogueHarness()
        let request = try h.upload(Self.items)
        try h.damage("DELETE FROM catalogue_versions WHERE version = 1")
        h.coordinator.tick(nowMs: 2_000 + 10_000)
        let reply = try #require(h.replies().first { $0.header.requestId == request })
        #expect(reply.header.status == .internal)
        let text = String(decoding: try reply.frame(0), as: UTF8.self)
        #expect(text.contains("no catalogue version 1"), "\(text)")
    }
}
