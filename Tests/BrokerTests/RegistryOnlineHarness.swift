import Foundation
import Logging
import RecData
import RecStore
import RecWire

@testable import Broker
@testable import BrokerCore

/// A store in a temporary folder with catalogue versions registered in it, and online coordinators started over
/// them as a broker's start would (`--online-catalogue N`).
final class RegistryOnlineHarness {
    let directory: String
    let store: RecStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-online-\(UUID())").path
        store = try RecStore(directory: directory)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Registers a catalogue of numeric columns `names` (row `i` is `rows[i]`, id `ids[i]`, default `sku-i`).
    func register(
        _ names: [String], _ rows: [[Float]], ids: [String]? = nil, parent: UInt64?, change: CatalogueChange = .upload
    ) throws -> (catalogue: ItemCatalogue, record: CatalogueRecord) {
        let ids = ids ?? rows.indices.map { "sku-\($0)" }
        let catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: names), ids: ids, features: rows.flatMap { $0 })
        let sha = try store.blobs.put(try catalogue.canonicalBytes())
        let record = try store.registerCatalogue(
            CatalogueRecord(
                version: 0, parent: parent, change: change, item: nil, sha256: sha, sourceSHA256: nil, schema: "",
                items: ids.count, active: ids.count, width: names.count, createdMs: 0))
        return (catalogue, record)
    }

    /// A coordinator started over `served`, its outputs handed to `outputs`.
    func start(
        _ served: (catalogue: ItemCatalogue, record: CatalogueRecord),
        userFeatures: [DataSchema.Feature] = [DataSchema.Feature("user_feature_0", .categorical)],
        outputs: @escaping (ControlOutput) -> Void = { _ in }
    ) throws -> OnlineCoordinator {
        var settings = OnlineSettings()
        settings.catalogue = "\(served.record.version)"
        settings.served = (served.catalogue, userFeatures, served.record.version, served.record.sha256)
        let coordinator = try OnlineCoordinator(settings: settings, store: store, logger: Logger(label: "test"), emit: outputs)
        try coordinator.start(nowMs: 1_000)
        return coordinator
    }
}
