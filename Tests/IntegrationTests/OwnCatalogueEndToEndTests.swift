import Foundation
import RecClient
import RecData
import RecTestKit
import RecWire
import Testing

/// Issue 17's whole loop on a shop's own catalogue, with real processes (a broker and two workers, `recpool`
/// commands): OBD's 80-item catalogue is uploaded with a schema, the broker serves an online policy over it,
/// warm-started from OBD's `random/all` logs (`recpool policy warmstart … --register`), simulated visitors of the OBD-based world (`recpool simulate --world obd:random/all`) make it learn, an item is
/// retired and another added while visitors are being served (the retired item is in no slate received after the
/// acknowledgement, the new one is shown), the log is exported (dwell, unobserved rows, the schema file, a folder
/// that did not exist) and loaded back with its schema by `recpool data describe`, `recpool data ope` and
/// `recpool fit`, which leave the unobserved rows out.
@Suite("A shop's own catalogue, end to end", .serialized)
struct OwnCatalogueEndToEndTests {
    /// The folder holding `obd/`.
    static let data = CatalogueRegistryTests.root.appendingPathComponent("data")

    static func nowMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// Runs a `recpool` command that prints one JSON object and returns it.
    static func json(_ arguments: [String]) throws -> [String: Any] {
        let run = try runTool("recpool", arguments)
        #expect(run.code == 0, "recpool \(arguments.joined(separator: " ")): \(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    /// What the test's own visitors saw: each slate (catalogue rows) with when it was received, and refusals.
    struct Served {
        var slates: [(receivedMs: UInt64, items: [Int])] = []
        var conflicts = 0
        var errors: [String] = []
    }

    @Test(
        "upload, serve and learn from the OBD world, retire and add mid-run, export, load the export back",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func wholeLoop() async throws {
        let folder = try TemporaryDirectory("own-catalogue")
        defer { folder.remove() }
        let schema = try CatalogueRegistryTests.schema(in: folder.path)
        let state = folder.path + "/state"
        try await ProcessCluster.withPool(brokerArguments: ["--state-dir", state], workers: ["w1", "w2"]) { cluster, _ in
            let frontend = cluster.endpoints.frontend
            // 1. The shop's catalogue, registered with its schema.
            let uploaded = try CatalogueRegistryTests.catalogue(
                frontend, ["upload", "--schema", schema], as: CatalogueView.self)
            #expect(uploaded.version == 1 && uploaded.items == 80 && uploaded.confirmed == true)

            // 2. The online policy over it, from the broker's next start.
            _ = cluster.kill("broker", signal: SIGTERM)
            try cluster.startBroker(
                frontend: frontend, backend: cluster.endpoints.backend,
                extra: ["--state-dir", state, "--online", "--online-catalogue", "latest", "--online-sync-events", "60"])
            let client = try await cluster.client(timeoutMs: 10_000)
            defer { client.close() }
            try await eventually(timeoutMs: 60_000, pollMs: 200, "both replicas serve the policy") {
                let view = try await client.online()
                return view.replicas.count == 2 && view.replicas.allSatisfy { $0.version == view.version }
            }

            // 3. A warm start from the shop's logs (OBD's random/all), registered on catalogue version 1.
            let sync = try runTool("recpool", ["online", "sync", "--broker", frontend])
            #expect(sync.code == 0, "\(sync.stderr)")
            let warm = try Self.json([
                "policy", "warmstart", "obd:random/all", "--data-dir", Self.data.path, "--catalogue", "1", "--register",
                "--resamples", "100", "--json", "--broker", frontend,
            ])
            #expect(warm["catalogue_version"] as? Int == 1 && (warm["trained_rows"] as? Int ?? 0) > 0, "\(warm)")
            let registered = try #require(warm["registered_version"] as? Int, "\(warm)")
            try await eventually(timeoutMs: 60_000, pollMs: 200, "both replicas serve the warm-started policy") {
                let view = try await client.online()
                return view.version >= UInt64(registered) && view.replicas.count == 2
                    && view.replicas.allSatisfy { $0.version == view.version }
            }

            // 4. Simulated visitors of the world built from OBD's random/all logs drive the pool and it learns.
            let run = try Self.json([
                "simulate", "--broker", frontend, "--world", "obd:random/all", "--data-dir", Self.data.path,
                "--users", "240", "--seed", "5", "--concurrency", "2", "--windows", "2", "--json", "--quiet",
                "--timeout-ms", "20000",
            ])
            #expect(run["served"] as? Int == 240, "\(run["errors"] ?? "")")
            #expect((run["errors"] as? [String: Int])?.isEmpty == true, "\(run["errors"] ?? "")")
            #expect(run["feedback_sent"] as? Int == 3 * 240)
            try await eventually(timeoutMs: 60_000, pollMs: 200, "a sync was accepted") {
                try await client.online().syncs >= 1
            }

            // 5. The shop's own visitors (contexts from the logs), served while the catalogue changes. Feedback is
            // reported for the top two items (the top one with a dwell time) and never for the third.
            let visitors = try CatalogueRegistryTests.visitors(400)
            func serve(_ users: ArraySlice<[String: String]>, into served: inout Served) async throws {
                for (n, user) in zip(users.indices, users) {
                    let query = try JSONSerialization.data(withJSONObject: ["user_features": user, "top": 3])
                    do {
                        let slate = try await client.recommendPolicy(document: Array(query))
                        served.slates.append((Self.nowMs(), slate.items.map(\.item)))
                        for item in slate.items where item.position < 2 {
                            _ = try await client.feedback(
                                impressionId: slate.impressionId, item: item.item,
                                click: item.position == 0 && n % 5 == 0 ? 1 : 0,
                                dwellSeconds: item.position == 0 ? Double(3 + n % 30) : nil)
                        }
                    } catch ClientError.server(status: .conflict, _, _) {
                        served.conflicts += 1  // a slate drawn before every replica had the retirement: retry
                    } catch {
                        served.errors.append("\(error)")
                    }
                }
            }
            var before = Served()
            try await serve(visitors[0..<40], into: &before)
            #expect(before.errors.isEmpty, "\(before.errors)")
            let counts = Dictionary(before.slates.flatMap(\.items).map { ($0, 1) }, uniquingKeysWith: +)
            let retiredRow = try #require(counts.max { $0.value < $1.value }?.key)

            // Retire the item shown most so far while visitors keep arriving.
            async let retirement: (CatalogueView, UInt64) = {
                let view = try CatalogueRegistryTests.catalogue(
                    frontend, ["retire", "\(retiredRow)"], as: CatalogueView.self)
                return (view, Self.nowMs())
            }()
            var during = Served()
            try await serve(visitors[40..<120], into: &during)
            let (retired, acknowledgedMs) = try await retirement
            #expect(retired.confirmed == true && retired.active == 79)
            #expect(during.errors.isEmpty, "\(during.errors)")
            let late = during.slates.filter { $0.receivedMs > acknowledgedMs && $0.items.contains(retiredRow) }
            #expect(late.isEmpty, "retired row \(retiredRow) was received after the acknowledgement")

            // Add an item: it is scored from its features at once and gets the cold-start share until it is known.
            let added = try CatalogueRegistryTests.catalogue(
                frontend,
                ["add", "NEW-E2E", "--field", "item_feature_0=0.4", "--field", "item_feature_1=e9d15d70c2ca6f1b23fb0bce37c4a179"],
                as: CatalogueView.self)
            #expect(added.confirmed == true && added.items == 81)
            var after = Served()
            try await serve(visitors[120..<400], into: &after)
            #expect(after.errors.isEmpty && after.conflicts == 0, "\(after.errors)")
            #expect(!after.slates.contains { $0.items.contains(retiredRow) }, "the retired row was shown")
            let newShown = after.slates.filter { $0.items.contains(80) }.count
            // After the warm start every old item's id bucket has far more than N = 30 events, so the added item is
            // the only NEW candidate: each slot gives it at least κ = 0.05, a slate at least 1 − 0.95³ ≈ 0.14
            // (about 39 of 280 slates; 10 is five standard deviations below).
            #expect(newShown >= 10, "the added item (row 80) was shown in \(newShown) of \(after.slates.count) slates")

            // 6. The export: a folder that does not exist yet, dwell times, unobserved rows, the schema file.
            let out = folder.url.appendingPathComponent("exports/today/impressions.csv")
            let export = try Self.json(["logs", "export", "--broker", frontend, "--out", out.path, "--json"])
            let own = before.slates.count + during.slates.count + after.slates.count
            let rows = try #require(export["rows"] as? Int)
            let feedbackRows = try #require(export["feedback_rows"] as? Int)
            #expect(rows == 3 * (240 + own))
            #expect(export["unobserved_rows"] as? Int == own, "one unreported item per own visitor")
            #expect(export["dwell_rows"] as? Int == own, "one dwell per own visitor")
            #expect(feedbackRows == rows - own)
            let schemaFile = try #require(export["schema_file"] as? String)
            let itemFile = try #require(export["item_context_file"] as? String)

            // The log itself: no impression drawn after the acknowledgement holds the retired row; the new row is
            // in it; the catalogue keeps both items with their ids and active flags.
            let exportedSchema = try DataSchema.read(path: schemaFile)
            let table = try CSVTable.read(path: out.path)
            let (item, observed, stamp) = (try table.column("item_id"), try table.column("observed"), try table.column("timestamp"))
            let ackStamp = Self.stamp(ms: acknowledgedMs)
            #expect(!table.rows.contains { $0[item] == "\(retiredRow)" && $0[stamp] > ackStamp })
            #expect(table.rows.contains { $0[item] == "80" })
            #expect(table.rows.filter { $0[observed] == "0" }.count == own)
            let items = try CSVTable.read(path: itemFile)
            let sku = try items.column("item_sku")
            let active = try items.column("active")
            #expect(items.rows.count == 81)
            #expect(items.rows[80][sku] == "NEW-E2E" && items.rows[80][active] == "1")
            #expect(items.rows[retiredRow][active] == "0")
            // Read back as a catalogue to upload (the broker's reader), the SKUs and the retirement survive.
            let reloaded = try ItemCatalogue.load(path: itemFile, schema: exportedSchema.catalogue)
            #expect(reloaded.count == 81 && reloaded.ids[80] == "NEW-E2E" && reloaded.index(of: "NEW-E2E") == 80)
            #expect(!reloaded.active[retiredRow] && reloaded.activeCount == 80)
            // OBD's four item features come back as four columns, though the added item lacks two of them.
            #expect(exportedSchema.catalogue.itemFeatures.map(\.name) == (0..<4).map { "item_feature_\($0)" })

            // 7. Loaded back with its schema: unobserved rows are left out, not read as non-clicks.
            let loaded = try LogLoader.load(
                logFile: out.path,
                catalogueFile: URL(fileURLWithPath: schemaFile).deletingLastPathComponent()
                    .appendingPathComponent(exportedSchema.catalogue.file).path,
                schema: exportedSchema, name: "export")
            #expect(loaded.rows == feedbackRows && loaded.nActions == 81)
            let described = try Self.json(["data", "describe", out.path, "--schema", schemaFile, "--json"])
            #expect(described["rows"] as? Int == feedbackRows, "\(described)")
            #expect(described["unobserved_rows"] as? Int == rows - feedbackRows, "\(described)")
            #expect(described["clicks"] as? Int == export["clicks"] as? Int)
            let ope = try Self.json([
                "data", "ope", out.path, "--schema", schemaFile, "--policy", "uniform", "--resamples", "50", "--json",
            ])
            #expect(ope.description.contains("\(feedbackRows)"), "the estimate is over the observed rows: \(ope)")
            print(
                "own-catalogue loop: retired row \(retiredRow), \(during.conflicts) CONFLICT refusals during the retirement, "
                    + "new item shown in \(newShown) of \(after.slates.count) slates; export \(rows) rows, "
                    + "\(feedbackRows) observed; ope: \(ope.keys.sorted())")
            let model = folder.url.appendingPathComponent("exports/model.ckpt").path
            let fit = try Self.json([
                "fit", "--dataset", out.path, "--schema", schemaFile, "--out", model, "--epochs", "1", "--json",
            ])
            #expect(FileManager.default.fileExists(atPath: model), "\(fit)")
        }
    }

    /// The export's timestamp text for ms since the epoch (`YYYY-MM-DD HH:MM:SS.ffffff+00:00`, UTC), which sorts
    /// as time does.
    static func stamp(ms: UInt64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let date = Date(timeIntervalSince1970: Double(ms / 1000))
        return formatter.string(from: date) + String(format: ".%06llu+00:00", (ms % 1000) * 1000)
    }
}
