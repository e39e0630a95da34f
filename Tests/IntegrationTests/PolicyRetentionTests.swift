import Foundation
import RecClient
import RecStore
import RecTestKit
import Testing

/// `--online-keep-versions`: the stored online policy versions past the newest N lose their weights (the state
/// directory grew by a version's statistics, MBs, at every sync for ever); their rows stay and name them as pruned.
@Suite("Online policy version retention", .serialized)
struct PolicyRetentionTests {
    @Test("with --online-keep-versions 1, a sync prunes the version before: online_policy names it pruned, its blob is gone")
    func syncPrunesOlderVersions() async throws {
        let dir = try TemporaryDirectory("policy-retention")
        defer { dir.remove() }
        let state = dir.url.appendingPathComponent("state")
        let cluster = ProcessCluster()
        defer { cluster.stop() }
        let client = try await OnlineLearningTests.onlinePool(
            cluster, state: state,
            extra: ["--online-keep-versions", "1", "--online-update-every", "1", "--online-sync-interval-ms", "600000"])
        defer { client.close() }
        let (first, _) = try await client.onlinePolicy()
        #expect(first.version == 1)
        let firstSHA = try #require(first.weightsSha256)
        let blob = state.appendingPathComponent("blobs/\(firstSHA)").path
        #expect(FileManager.default.fileExists(atPath: blob))

        let query = Array(#"{"user_features":{"user_feature_0":"u0_01"},"top":3}"#.utf8)
        for _ in 0..<5 {
            let slate = try await client.recommendPolicy(document: query)
            _ = try await client.feedback(impressionId: slate.impressionId, item: slate.items[0].item, click: 1)
        }
        let synced = try await client.onlineSync()
        #expect(synced.version == 2, "\(synced)")
        // The served version is fetched as before; the pruned one is NOT_FOUND saying so, not "not found".
        let (served, _) = try await client.onlinePolicy(version: 2)
        #expect(served.version == 2)
        await #expect {
            _ = try await client.onlinePolicy(version: 1)
        } throws: { error in
            guard case ClientError.server(.notFound, let message, _) = error else { return false }
            return message.contains("online policy version 1 was pruned: retention (--online-keep-versions)")
                && message.contains("serves version 2")
        }
        await #expect {
            _ = try await client.onlinePolicy(version: 9)
        } throws: { error in
            guard case ClientError.server(.notFound, let message, _) = error else { return false }
            return message.contains("online policy version 9 not found")
        }
        #expect(!FileManager.default.fileExists(atPath: blob), "version 1's weights are deleted")
        #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("blobs/\(served.weightsSha256 ?? "")").path))
    }
}
