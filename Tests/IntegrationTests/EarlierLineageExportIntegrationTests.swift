import Foundation
import RecClient
import RecData
import RecTestKit
import RecWire
import Testing

/// A shop replaces its catalogue (`catalogue upload --replace`, the rows in another order) and restarts its online
/// pool onto it: a new lineage. `logs export` used to label the old lineage's impressions with the new catalogue's
/// SKUs (row 0 was item 0; it became item 79). It now exports only the served lineage's impressions and counts the rest.
@Suite("logs export after a replaced catalogue", .serialized)
struct EarlierLineageExportIntegrationTests {
    /// Sends `count` RECOMMENDs, each logging one impression; returns their slates.
    @discardableResult
    static func recommend(_ client: RecPoolClient, count: Int) async throws -> [PolicyRecommendation] {
        var slates: [PolicyRecommendation] = []
        for i in 0..<count {
            let query = RecommendQuery(userFeatures: ["user_feature_0": "u\(i)"], top: 3)
            let reply = try await client.call(
                WireMessage(header: Header(command: .recommend), payload: [WireJSON.encode(query)]), timeoutMs: 10_000)
            #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
            slates.append(try WireJSON.decode(PolicyRecommendation.self, from: reply.frame(0)))
        }
        return slates
    }

    @Test(
        "the export holds the new lineage's impressions under the served SKUs and counts the earlier lineage's",
        .enabled(if: CatalogueRegistryTests.ready, "needs data/obd (scripts/fetch-obd)"))
    func exportAfterReplace() async throws {
        let folder = try TemporaryDirectory("earlier-lineage-export")
        defer { folder.remove() }
        let schema = try CatalogueRegistryTests.schema(in: folder.path)
        // The same 80 items, rows in reverse order: item 79 at row 0.
        let lines = try String(contentsOfFile: CatalogueRegistryTests.itemContext, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        let reversed = folder.path + "/reversed.csv"
        try ([lines[0]] + lines.dropFirst().reversed()).joined(separator: "\n").appending("\n")
            .write(toFile: reversed, atomically: true, encoding: .utf8)
        let reversedSchema = folder.path + "/reversed.toml"
        try (try String(contentsOfFile: schema, encoding: .utf8))
            .replacingOccurrences(of: CatalogueRegistryTests.itemContext, with: reversed)
            .write(toFile: reversedSchema, atomically: true, encoding: .utf8)
        let state = folder.path + "/state"
        let online = ["--state-dir", state, "--online", "--online-catalogue", "latest"]
        try await ProcessCluster.with { cluster in
            try cluster.startBroker(extra: ["--state-dir", state])
            try cluster.startWorker("w")
            let frontend = cluster.endpoints.frontend
            func catalogue(_ arguments: [String]) throws -> CatalogueView {
                try CatalogueRegistryTests.catalogue(frontend, arguments, as: CatalogueView.self)
            }
            #expect(try catalogue(["upload", "--schema", schema]).version == 1)
            var earlier: [PolicyRecommendation] = []
            try await CatalogueOutlivesRegistryTests.replaceBroker(cluster, extra: online)
            do {
                let client = try await cluster.client()
                defer { client.close() }
                _ = try await OnlinePoolTests.waitForOnline(client) { OnlinePoolTests.converged($0, replicas: 1) }
                earlier = try await Self.recommend(client, count: 3)
                _ = try await OnlinePoolTests.waitForOnline(client) { $0.impressions >= 3 }
            }
            // The replacement: refused while the online policy serves the registry, so made with the pool offline.
            try await CatalogueOutlivesRegistryTests.replaceBroker(cluster, extra: ["--state-dir", state])
            let replaced = try catalogue(["upload", "--schema", reversedSchema, "--replace"])
            #expect(replaced.version == 2 && replaced.items == 80)
            try await CatalogueOutlivesRegistryTests.replaceBroker(cluster, extra: online)
            let client = try await cluster.client()
            defer { client.close() }
            let served = try await OnlinePoolTests.waitForOnline(client) {
                OnlinePoolTests.converged($0, replicas: 1) && $0.catalogueVersion == 2
            }
            let out = folder.path + "/export/impressions.csv"
            // Nothing of this lineage yet: the export says why it has nothing, not that the log is empty.
            let none = try runTool("recpool", ["logs", "export", "--broker", frontend, "--out", out])
            #expect(none.code == 2, "\(none.stderr)")
            #expect(none.stderr.contains("each of the 3 logged impressions was served by an earlier lineage"), "\(none.stderr)")
            // Feedback on an earlier slate would be learnt for whichever item holds its row now: refused.
            let old = try #require(earlier.first)
            let feedback = try runTool(
                "recpool",
                ["feedback", "--broker", frontend, "--impression", old.impressionId, "--item", "\(old.items[0].item)",
                 "--click", "1"])
            #expect(feedback.code == 21, "\(feedback.code) \(feedback.stderr)")
            #expect(feedback.stderr.contains("of an earlier lineage"), "\(feedback.stderr)")

            try await Self.recommend(client, count: 1)
            _ = try await OnlinePoolTests.waitForOnline(client) { $0.impressions >= 4 }

            let export = try runTool("recpool", ["logs", "export", "--broker", frontend, "--out", out, "--json"])
            #expect(export.code == 0, "\(export.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
            #expect(summary["impressions"] as? Int == 1, "\(summary)")
            #expect(summary["earlier_lineage_impressions"] as? Int == 3, "\(summary)")
            let page = try await client.allImpressions(pageSize: 2)
            #expect(page.impressions.count == 1 && page.earlierLineage == 3)
            #expect(page.impressions.allSatisfy { $0.record.version >= served.version })
            let text = try runTool("recpool", ["logs", "export", "--broker", frontend, "--out", out])
            #expect(text.stdout.contains("left out 3 impressions an earlier lineage logged"), "\(text.stdout)")

            // Back onto version 1 (another new lineage): an add changes version 2, the newest, which this pool does not
            // serve. The refusal named version 2 as the served one and advised the restart just made; now it names both.
            try await CatalogueOutlivesRegistryTests.replaceBroker(
                cluster, extra: ["--state-dir", state, "--online", "--online-catalogue", "1"])
            _ = try await OnlinePoolTests.waitForOnline(client) {
                OnlinePoolTests.converged($0, replicas: 1) && $0.catalogueVersion == 1
            }
            // (Item 80: version 2's ids are the integers 0…79 in reverse row order, so only the next number may be
            // added; another id would have logs' numbers read as rows, refused on its own.)
            let add = try runTool(
                "recpool",
                ["catalogue", "add", "80", "--field", "item_feature_0=0.25", "--field",
                 "item_feature_1=e9d15d70c2ca6f1b23fb0bce37c4a179", "--broker", frontend])
            #expect(add.code == 21, "\(add.stderr)")
            #expect(add.stderr.contains("serves catalogue version 1 (--online-catalogue 1), not the newest, 2"), "\(add.stderr)")
            #expect(add.stderr.contains("--online-catalogue latest"), "\(add.stderr)")
        }
    }
}
