import Foundation
import RecTestKit
import RecWire
import Testing

/// The broker's catalogue registry on a real pool: `recpool catalogue` upload, add, retire, list and show over a
/// broker with `--state-dir` and two online workers; every change is acknowledged once both replicas confirmed it,
/// a late worker gets the newest version, and the versions survive a broker restart.
@Suite("Catalogue registry", .serialized)
struct CatalogueRegistryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let itemContext = root.appendingPathComponent("data/obd/random/all/item_context.csv").path
    static let ready = FileManager.default.fileExists(atPath: itemContext)

    /// OBD's schema with the catalogue file named absolutely (the test's own folder holds only the schema).
    static func schema(in folder: String) throws -> String {
        let text = """
            [logs]
            timestamp = "timestamp"
            item = "item_id"
            position = "position"
            click = "click"
            propensity = "propensity_score"
            affinity_prefix = "user-item_affinity_"
            ignore = [""]

            [logs.user_features]
            user_feature_0 = "categorical"
            user_feature_1 = "categorical"
            user_feature_2 = "categorical"
            user_feature_3 = "categorical"

            [catalogue]
            file = "\(itemContext)"
            item = "item_id"
            ignore = [""]

            [catalogue.item_features]
            item_feature_0 = "numeric"
            item_feature_1 = "categorical"
            item_feature_2 = "categorical"
            item_feature_3 = "categorical"
            """
        let path = folder + "/obd.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `recpool catalogue ARGS --json` and decodes its output as `T`.
    static func catalogue<T: Decodable>(_ frontend: String, _ arguments: [String], as type: T.Type) throws -> T {
        let run = try runTool("recpool", ["catalogue"] + arguments + ["--broker", frontend, "--json"])
        #expect(run.code == 0, "\(arguments): \(run.stderr)")
        return try WireJSON.decode(T.self, from: Array(run.stdout.utf8))
    }

    @Test(
        "upload, add and retire are acknowledged once both replicas confirmed; errors are typed; versions persist",
        .enabled(if: ready, "needs data/obd (scripts/fetch-obd)"))
    func registry() async throws {
        let folder = try TemporaryDirectory("catalogue-registry")
        defer { folder.remove() }
        let schema = try Self.schema(in: folder.path)
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", folder.path + "/state", "--online"], workers: ["w1", "w2"]
        ) { cluster, _ in
            let frontend = cluster.endpoints.frontend
            let uploaded = try Self.catalogue(frontend, ["upload", "--schema", schema], as: CatalogueView.self)
            #expect(uploaded.version == 1 && uploaded.parent == nil && uploaded.change == "upload")
            #expect(uploaded.items == 80 && uploaded.active == 80 && uploaded.confirmed == true)
            #expect(uploaded.replicas?.map(\.version) == [1, 1], "\(String(describing: uploaded.replicas))")
            #expect(Set(uploaded.replicas?.compactMap(\.sha256) ?? []) == [uploaded.sha256])

            let added = try Self.catalogue(
                frontend,
                ["add", "NEW-1", "--field", "item_feature_0=0.25", "--field", "item_feature_1=e9d15d70c2ca6f1b23fb0bce37c4a179"],
                as: CatalogueView.self)
            #expect(added.version == 2 && added.parent == 1 && added.item == "NEW-1" && added.items == 81)
            #expect(added.confirmed == true)

            let retired = try Self.catalogue(frontend, ["retire", "3"], as: CatalogueView.self)
            #expect(retired.version == 3 && retired.parent == 2 && retired.change == "retire" && retired.active == 80)
            #expect(retired.confirmed == true && retired.replicas?.map(\.version) == [3, 3])

            // Typed refusals, with the exit codes of their statuses.
            let again = try runTool("recpool", ["catalogue", "retire", "3", "--broker", frontend])
            #expect(again.code == 11 && again.stderr.contains("already retired"), "\(again.stderr)")
            let unknown = try runTool("recpool", ["catalogue", "retire", "nope", "--broker", frontend])
            #expect(unknown.code == 20 && unknown.stderr.contains("nope"), "\(unknown.stderr)")
            let missing = try runTool("recpool", ["catalogue", "add", "N2", "--field", "item_feature_1=x", "--broker", frontend])
            #expect(missing.code == 11 && missing.stderr.contains("item_feature_0"), "\(missing.stderr)")
            let usage = try runTool("recpool", ["catalogue", "add", "N3", "--field", "nofield", "--broker", frontend])
            #expect(usage.code == 64, "\(usage.stderr)")

            // A worker that joins later gets the newest version.
            try cluster.startWorker("w3")
            try await eventually(timeoutMs: 30_000, pollMs: 100, "w3 confirms version 3") {
                let show = try Self.catalogue(frontend, ["show", "--items", "0"], as: CatalogueShow.self)
                return show.catalogue.replicas?.first { $0.worker == "w3" }?.version == 3
            }

            // The registry survives a broker restart: every version, its parent chain and its rows.
            try cluster.restartBroker()
            let list = try await eventuallyValue(timeoutMs: 30_000, pollMs: 100, "the restarted broker answers") {
                let run = try runTool("recpool", ["catalogue", "list", "--json", "--broker", frontend])
                return run.code == 0 ? try WireJSON.decode(CatalogueList.self, from: Array(run.stdout.utf8)) : nil
            }
            #expect(list.catalogues.map(\.version) == [1, 2, 3])
            #expect(list.catalogues.map(\.sha256) == [uploaded.sha256, added.sha256, retired.sha256])
            let page = try Self.catalogue(frontend, ["show", "3", "--after", "2", "--items", "1"], as: CatalogueShow.self)
            #expect(page.items == [CatalogueItem(row: 3, id: "3", active: false)])
            let tail = try Self.catalogue(frontend, ["show", "--after", "79", "--items", "5"], as: CatalogueShow.self)
            #expect(tail.items == [CatalogueItem(row: 80, id: "NEW-1", active: true)] && tail.nextAfter == nil)
        }
    }
}
