import Foundation
import RecClient
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
        ) { cluster, client in
            let frontend = cluster.endpoints.frontend
            // A source that is not a SHA-256 never names a file: not the broker's database, not /dev/zero.
            for source in ["sha256:../recpool.sqlite", "sha256:../../../../../../dev/zero", "sha256:abc"] {
                var bad = ControlRequest(op: "catalogue_upload")
                bad.catalogue = CatalogueArguments(sourceSha256: source, schema: "[catalogue]\nitem = \"item_id\"\n")
                do {
                    _ = try await client.control(bad, as: CatalogueView.self)
                    Issue.record("\(source) was accepted")
                } catch let error as ClientError {
                    guard case .server(let status, let message, _) = error else { throw error }
                    #expect(status == .badRequest && message.contains("64 lowercase hexadecimal digits"), "\(message)")
                }
            }
            #expect(FileManager.default.fileExists(atPath: folder.path + "/state/recpool.sqlite"))
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
            // A field the catalogue does not have is refused by name, not dropped; so is a row file naming another id.
            let misspelt = try runTool(
                "recpool",
                ["catalogue", "add", "N4", "--field", "item_feature_0=1", "--field", "colour=red", "--broker", frontend])
            #expect(misspelt.code == 11 && misspelt.stderr.contains("no field 'colour'"), "\(misspelt.stderr)")
            let rowFile = folder.path + "/row.csv"
            try ",item_id,item_feature_0\n0,OTHER,0.5\n".write(toFile: rowFile, atomically: true, encoding: .utf8)
            let otherId = try runTool("recpool", ["catalogue", "add", "N5", "--row-file", rowFile, "--broker", frontend])
            #expect(otherId.code == 11 && otherId.stderr.contains("OTHER"), "\(otherId.stderr)")

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
            // The default --after, given explicitly (a negative value), lists from the first row.
            let head = try Self.catalogue(frontend, ["show", "--after", "-1", "--items", "1"], as: CatalogueShow.self)
            #expect(head.items == [CatalogueItem(row: 0, id: "0", active: true)])
            let negative = try runTool("recpool", ["catalogue", "show", "--items", "-3", "--broker", frontend])
            #expect(negative.code == 64 && negative.stderr.contains("--items must be in 0...10000, got -3"), "\(negative.stderr)")
            let tail = try Self.catalogue(frontend, ["show", "--after", "79", "--items", "5"], as: CatalogueShow.self)
            #expect(tail.items == [CatalogueItem(row: 80, id: "NEW-1", active: true)] && tail.nextAfter == nil)
            // The largest `after` a client can send pages past the end (it once overflowed and stopped the broker).
            let beyond = try Self.catalogue(
                frontend, ["show", "--after", "\(Int64.max)", "--items", "5"], as: CatalogueShow.self)
            #expect(beyond.items.isEmpty && beyond.nextAfter == nil)
            #expect(try Self.catalogue(frontend, ["show", "--items", "1"], as: CatalogueShow.self).items.count == 1)

            // A row file whose id column (and unnamed index) match the item is taken as it is.
            try ",item_id,item_feature_0\n0,N5,0.5\n".write(toFile: rowFile, atomically: true, encoding: .utf8)
            let sameId = try runTool("recpool", ["catalogue", "add", "N5", "--row-file", rowFile, "--broker", frontend])
            #expect(sameId.code == 0 && sameId.stdout.contains("version 4 (add N5"), "\(sameId.stdout) \(sameId.stderr)")
        }
    }

    @Test("a broker whose --online-catalogue cannot be served says why online learning is off")
    func unservableCatalogueIsNamed() async throws {
        let folder = try TemporaryDirectory("catalogue-unservable")
        defer { folder.remove() }
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", folder.path + "/state", "--online", "--online-catalogue", "99"], workers: []
        ) { cluster, _ in
            let status = try runTool("recpool", ["online", "status", "--broker", cluster.endpoints.frontend])
            #expect(
                status.code == 18 && status.stderr.contains("INTERNAL: online learning is off")
                    && status.stderr.contains("--online-catalogue 99")
                    && status.stderr.contains("no catalogue version 99 is registered (the registry holds none)"),
                "\(status.stderr)")
            // The broker's status says so too: it read as a broker started without --online.
            let text = try runTool("recpool", ["status", "--broker", cluster.endpoints.frontend])
            #expect(
                text.code == 0 && text.stdout.contains("online learning is off: --online-catalogue 99 cannot be served"),
                "\(text.stdout)")
            let json = try runTool("recpool", ["status", "--broker", cluster.endpoints.frontend, "--json"])
            #expect(json.stdout.contains("\"online_off\":\"--online-catalogue 99 cannot be served"), "\(json.stdout)")
        }
    }

    /// A two-item catalogue: a schema whose `[catalogue]` names `items.csv` beside it, with one numeric feature.
    static func tinyCatalogue(in folder: String) throws -> String {
        try "sku,price\nA,0.5\nB,0.25\n".write(toFile: folder + "/items.csv", atomically: true, encoding: .utf8)
        let schema = """
            [logs]
            timestamp = "ts"
            item = "sku"
            position = "slot"
            click = "click"
            propensity = "p"
            [logs.user_features]
            device = "categorical"
            [catalogue]
            file = "items.csv"
            item = "sku"
            [catalogue.item_features]
            price = "numeric"
            """
        try schema.write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        return folder + "/shop.toml"
    }

    /// `recpool health --service RECOMMEND` said healthy while the online policy's catalogue had every item retired and
    /// every RECOMMEND was refused CONFLICT; and a broker started on `--online-catalogue 99` with versions 1–3 stored
    /// advised an upload, which would make version 4.
    @Test("health says RECOMMEND is unhealthy when every item of the served catalogue is retired; a missing version names those stored")
    func everyItemRetired() async throws {
        let folder = try TemporaryDirectory("catalogue-all-retired")
        defer { folder.remove() }
        let schema = try Self.tinyCatalogue(in: folder.path)
        let state = folder.path + "/state"
        try await ProcessCluster.withPool(brokerArguments: ["--state-dir", state], workers: []) { cluster, _ in
            // No worker is there to confirm it: said so, not "confirmed by every worker".
            let uploaded = try runTool("recpool", ["catalogue", "upload", "--schema", schema, "--broker", cluster.endpoints.frontend])
            #expect(uploaded.code == 0 && uploaded.stdout.contains("catalogue version 1 (upload): 2 items"), "\(uploaded.stdout)")
            #expect(uploaded.stdout.contains("no worker connected to confirm it"), "\(uploaded.stdout)")
            #expect(!uploaded.stdout.contains("confirmed by every worker"), "\(uploaded.stdout)")
        }
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", state, "--online", "--online-catalogue", "latest"], workers: ["w1"]
        ) { cluster, client in
            let frontend = cluster.endpoints.frontend
            try await eventually(timeoutMs: 60_000, pollMs: 200, "the replica serves the policy") {
                let view = try await client.online()
                return view.replicas.count == 1 && view.catalogueVersion == 1
            }
            let health = ["health", "--service", "RECOMMEND", "--broker", frontend]
            let before = try runTool("recpool", health)
            #expect(before.code == 0, "\(before.stdout) \(before.stderr)")
            _ = try Self.catalogue(frontend, ["retire", "A"], as: CatalogueView.self)
            let last = try Self.catalogue(frontend, ["retire", "B"], as: CatalogueView.self)
            #expect(last.version == 3 && last.active == 0)
            let recommend = try runTool("recpool", ["recommend", "--broker", frontend])
            #expect(recommend.code == 21 && recommend.stderr.contains("no active item"), "\(recommend.stderr)")
            let after = try runTool("recpool", health)
            #expect(
                after.code == 1 && after.stderr.contains("catalogue version 3, whose every item is retired"),
                "\(after.code) \(after.stdout) \(after.stderr)")
            // An earlier version's file gone: `show` names the version and the file (CONFLICT), never NOT_FOUND.
            let first = try Self.catalogue(frontend, ["show", "1"], as: CatalogueShow.self)
            try FileManager.default.removeItem(atPath: "\(state)/blobs/\(first.catalogue.sha256)")
            let gone = try runTool("recpool", ["catalogue", "show", "1", "--broker", frontend])
            #expect(gone.code == 21, "\(gone.code) \(gone.stderr)")
            #expect(gone.stderr.contains("catalogue version 1's stored file is missing from the state directory"), "\(gone.stderr)")
        }
        try await ProcessCluster.withPool(
            brokerArguments: ["--state-dir", state, "--online", "--online-catalogue", "99"], workers: []
        ) { cluster, _ in
            let status = try runTool("recpool", ["online", "status", "--broker", cluster.endpoints.frontend])
            #expect(
                status.code == 18
                    && status.stderr.contains("no catalogue version 99 is registered (the registry holds versions 1 to 3)")
                    && !status.stderr.contains("catalogue upload"),
                "\(status.stderr)")
        }
    }

    /// The user features of the first `count` rows of OBD's random/all log (what a visitor of the shop sends).
    static func visitors(_ count: Int) throws -> [[String: String]] {
        let log = root.appendingPathComponent("data/obd/random/all/all.csv").path
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").prefix(count + 1)
        let header = lines.first!.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let columns = (0..<4).compactMap { header.firstIndex(of: "user_feature_\($0)") }
        return lines.dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Dictionary(uniqueKeysWithValues: columns.map { (header[$0], fields[$0]) })
        }
    }

    @Test(
        "the policy serves the registered catalogue: an added item is shown, a retired one never after the acknowledgement",
        .enabled(if: ready, "needs data/obd (scripts/fetch-obd)"))
    func servesTheCatalogue() async throws {
        let folder = try TemporaryDirectory("catalogue-serving")
        defer { folder.remove() }
        let schema = try Self.schema(in: folder.path)
        let state = folder.path + "/state"
        try await ProcessCluster.withPool(brokerArguments: ["--state-dir", state], workers: ["w1", "w2"]) { cluster, _ in
            let frontend = cluster.endpoints.frontend
            _ = try Self.catalogue(frontend, ["upload", "--schema", schema], as: CatalogueView.self)
            // The broker serves the registered catalogue from its next start on.
            _ = cluster.kill("broker", signal: SIGKILL)
            try cluster.startBroker(
                frontend: frontend, backend: cluster.endpoints.backend,
                extra: ["--state-dir", state, "--online", "--online-catalogue", "latest", "--online-sync-events", "50"])
            let client = try await cluster.client(timeoutMs: 10_000)
            defer { client.close() }
            try await eventually(timeoutMs: 60_000, pollMs: 200, "both replicas serve the policy") {
                let view = try await client.online()
                return view.replicas.count == 2 && view.replicas.allSatisfy { $0.version == view.version }
            }
            let visitors = try Self.visitors(300)
            /// Serves `users`, sends feedback for every shown item (a click on the top one now and then), and
            /// returns every slate (catalogue rows) with the errors met.
            func serve(_ users: ArraySlice<[String: String]>, candidates: [Int]? = nil) async throws -> (
                slates: [[Int]], errors: [String]
            ) {
                var slates: [[Int]] = []
                var errors: [String] = []
                for (n, user) in users.enumerated() {
                    var document: [String: Any] = ["user_features": user, "top": 3]
                    if let candidates { document["candidates"] = candidates }
                    let query = try JSONSerialization.data(withJSONObject: document)
                    do {
                        let slate = try await client.recommendPolicy(document: Array(query))
                        slates.append(slate.items.map(\.item))
                        for item in slate.items {
                            _ = try await client.feedback(
                                impressionId: slate.impressionId, item: item.item,
                                click: item.position == 0 && n % 7 == 0 ? 1 : 0, dwellSeconds: 2)
                        }
                    } catch {
                        errors.append("\(error)")
                    }
                }
                return (slates, errors)
            }
            let before = try await serve(visitors[0..<60])
            #expect(before.errors.isEmpty, "\(before.errors)")
            #expect(before.slates.allSatisfy { $0.count == 3 && $0.allSatisfy { (0..<80).contains($0) } })
            // Retire the item shown most often so far, and add one.
            let counts = Dictionary(before.slates.flatMap { $0 }.map { ($0, 1) }, uniquingKeysWith: +)
            let popular = try #require(counts.max { $0.value < $1.value }?.key)
            let retired = try Self.catalogue(frontend, ["retire", "\(popular)"], as: CatalogueView.self)
            #expect(retired.confirmed == true && retired.active == 79)
            let added = try Self.catalogue(
                frontend,
                ["add", "NEW-1", "--field", "item_feature_0=0.25", "--field", "item_feature_1=e9d15d70c2ca6f1b23fb0bce37c4a179"],
                as: CatalogueView.self)
            #expect(added.confirmed == true && added.items == 81)
            let after = try await serve(visitors[60..<300])
            #expect(after.errors.isEmpty, "\(after.errors)")
            #expect(!after.slates.contains { $0.contains(popular) }, "retired row \(popular) was shown after the acknowledgement")
            // The added item is scored at once: among three candidates it is shown; the retired one never is.
            let others = [0, 1, 2, 4].filter { $0 != popular }.prefix(2)
            let offered = try await serve(visitors[0..<5], candidates: [80] + others)
            #expect(offered.errors.isEmpty, "\(offered.errors)")
            #expect(offered.slates.count == 5 && offered.slates.allSatisfy { $0.contains(80) }, "\(offered.slates)")
            // A slate names each row by the served catalogue's id too: the added row 80 as the shop's NEW-1.
            let named = try runTool(
                "recpool", ["recommend", "--candidates", "80,\(others.first!)", "--top", "2", "--json", "--broker", frontend])
            #expect(named.code == 0, "\(named.stderr)")
            let slate = try WireJSON.decode(PolicyRecommendation.self, from: Array(named.stdout.utf8))
            #expect(
                Set(slate.items.map { "\($0.item)=\($0.id ?? "none")" }) == ["80=NEW-1", "\(others.first!)=\(others.first!)"],
                "\(named.stdout)")
            let text = try runTool("recpool", ["recommend", "--candidates", "80", "--top", "1", "--broker", frontend])
            #expect(text.stdout.contains(". item 80 (NEW-1)  score"), "\(text.stdout)")
            let refused = try await serve(visitors[5..<10], candidates: [popular] + others)
            #expect(!refused.slates.contains { $0.contains(popular) }, "\(refused.slates)")
            let view = try await client.online()
            #expect(view.feedback >= 900, "feedback stored: \(view.feedback)")

            // Uploading the original file again would drop NEW-1's row: the policy could not serve it, so it is
            // refused (CONFLICT, naming the item) and nothing is stored, rather than stored and silently not served.
            let reupload = try runTool("recpool", ["catalogue", "upload", "--schema", schema, "--broker", frontend])
            #expect(reupload.code == 21 && reupload.stderr.contains("NEW-1"), "\(reupload.stderr)")
            let list = try Self.catalogue(frontend, ["list"], as: CatalogueList.self)
            #expect(list.catalogues.map(\.version) == [1, 2, 3], "\(list.catalogues.map(\.version))")
            #expect(try await client.online().catalogueVersion == 3)
        }
    }

    /// A broker serving version 1 of two (`--online-catalogue 1`) sent a registering worker the newest version, which
    /// a replica serves: the POLICY naming version 1 found it missing and was refused before version 1 was sent, and
    /// any later version sent would have moved the replica's policy past the broker's.
    @Test(
        "a fresh worker of a broker serving an earlier catalogue version is sent that version and serves only its rows",
        .enabled(if: ready, "needs data/obd (scripts/fetch-obd)"))
    func servedVersionSentToANewWorker() async throws {
        let folder = try TemporaryDirectory("catalogue-missing")
        defer { folder.remove() }
        let schema = try Self.schema(in: folder.path)
        let state = folder.path + "/state"
        try await ProcessCluster.withPool(brokerArguments: ["--state-dir", state], workers: ["w1"]) { cluster, _ in
            let frontend = cluster.endpoints.frontend
            _ = try Self.catalogue(frontend, ["upload", "--schema", schema], as: CatalogueView.self)
            let added = try Self.catalogue(
                frontend,
                ["add", "NEW-1", "--field", "item_feature_0=0.25", "--field", "item_feature_1=e9d15d70c2ca6f1b23fb0bce37c4a179"],
                as: CatalogueView.self)
            #expect(added.version == 2 && added.items == 81)
            _ = cluster.kill("broker", signal: SIGKILL)
            _ = cluster.kill("w1", signal: SIGKILL)
            let log = URL(fileURLWithPath: folder.path + "/w2.log")
            cluster.workerLogs["w2"] = log
            try cluster.startBroker(
                frontend: frontend, backend: cluster.endpoints.backend,
                extra: ["--state-dir", state, "--online", "--online-catalogue", "1"])
            try cluster.startWorker("w2")
            let client = try await cluster.client(timeoutMs: 10_000)
            defer { client.close() }
            try await eventually(timeoutMs: 60_000, pollMs: 200, "w2 serves the policy over catalogue version 1") {
                let view = try await client.online()
                return view.catalogueVersion == 1 && view.replicas.map(\.worker) == ["w2"]
                    && view.replicas.allSatisfy { $0.version == view.version }
            }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            #expect(!text.contains("refused POLICY") && !text.contains("catalogue not installed"), "\(text.suffix(2_000))")
            #expect(!text.contains("version=2"), "\(text.suffix(2_000))")
            // A change would build on version 2, which this pool does not serve: refused, nothing stored.
            let change = try runTool(
                "recpool", ["catalogue", "add", "NEW-2", "--field", "item_feature_0=0.5", "--broker", frontend])
            #expect(change.code == 21 && change.stderr.contains("not the newest, 2"), "\(change.stderr)")
            let list = try Self.catalogue(frontend, ["list"], as: CatalogueList.self)
            #expect(list.catalogues.map(\.version) == [1, 2] && list.catalogues.map(\.confirmed) == [true, nil])
            // Slates come from version 1's 80 rows: version 2's added row 80 is never shown.
            var shown: [Int] = []
            for user in try Self.visitors(30) {
                let query = try JSONSerialization.data(withJSONObject: ["user_features": user, "top": 3])
                shown += try await client.recommendPolicy(document: Array(query)).items.map(\.item)
            }
            #expect(shown.count == 90 && shown.allSatisfy { (0..<80).contains($0) }, "\(shown)")
        }
    }
}
