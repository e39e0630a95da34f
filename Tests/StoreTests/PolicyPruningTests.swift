import Foundation
import RecTestKit
import Testing

@testable import RecStore

/// Retention of online policy versions (`--online-keep-versions`): older versions lose their weights, keep their rows.
@Suite("Store: pruning online policy versions")
struct PolicyPruningTests {
    @Test("the newest N keep their weights; older rows are marked pruned and a blob no kept row names is deleted")
    func pruneKeepsTheNewest() throws {
        let temporary = try TemporaryDirectory("store-policy-pruning")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        // Versions 1…5; 3 and 4 share their statistics (a restart that carried them on), so one blob.
        let packs: [[UInt8]] = [[1], [2], [3], [3], [5]]
        var shas: [String] = []
        for (index, pack) in packs.enumerated() {
            let sha = try store.blobs.put(pack)
            shas.append(sha)
            try store.savePolicyVersion(
                PolicyVersionRow(version: UInt64(index + 1), weightsSHA: sha, spec: "{}", decision: nil),
                createdMs: UInt64(index))
        }
        let pruned = try store.prunePolicyVersions(keepingNewest: 2, nowMs: 9_000)
        #expect(pruned.versions == [1, 2, 3])
        // Version 3's blob is version 4's too: kept, and not counted.
        #expect(pruned.bytes == 2)
        #expect(!store.blobs.contains(shas[0]) && !store.blobs.contains(shas[1]))
        #expect(store.blobs.contains(shas[2]) && store.blobs.contains(shas[4]))
        #expect(try store.policyVersion(1)?.prunedMs == 9_000 && store.policyVersion(3)?.prunedMs == 9_000)
        #expect(try store.policyVersion(4)?.prunedMs == nil && store.latestPolicyVersion()?.version == 5)
        #expect(try store.latestPolicyVersion()?.prunedMs == nil)
        // Nothing more to prune; a smaller N prunes the rest but the newest, which is never pruned.
        #expect(try store.prunePolicyVersions(keepingNewest: 2, nowMs: 9_500).versions.isEmpty)
        let rest = try store.prunePolicyVersions(keepingNewest: 0, nowMs: 10_000)
        #expect(rest.versions == [4] && rest.bytes == 1 && !store.blobs.contains(shas[2]))
        #expect(try store.latestPolicyVersion()?.prunedMs == nil && store.blobs.contains(shas[4]))
        // The marks survive a reopen.
        let reopened = try RecStore(directory: temporary.path)
        #expect(try reopened.policyVersion(2)?.prunedMs == 9_000 && reopened.policyVersion(4)?.prunedMs == 10_000)
    }

    /// A crash between a pruning's commit and its deletes left the blobs named by no row for good.
    @Test("a pruned version's blob left on disk is deleted by the sweep; a blob a kept row names stays")
    func sweepDeletesLeftovers() throws {
        let temporary = try TemporaryDirectory("store-policy-pruning-sweep")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let old = try store.blobs.put([1, 1])
        let kept = try store.blobs.put([2])
        try store.savePolicyVersion(PolicyVersionRow(version: 1, weightsSHA: old, spec: "{}", decision: nil), createdMs: 1)
        try store.savePolicyVersion(PolicyVersionRow(version: 2, weightsSHA: kept, spec: "{}", decision: nil), createdMs: 2)
        try store.prunePolicyVersions(keepingNewest: 1, nowMs: 3)
        // As if the process died after the commit: the file is back.
        #expect(try store.blobs.put([1, 1]) == old && store.blobs.contains(old))
        let swept = try store.sweepPrunedBlobs()
        #expect(swept.versions == [1] && swept.bytes == 2 && !store.blobs.contains(old) && store.blobs.contains(kept))
        #expect(try store.sweepPrunedBlobs().versions.isEmpty)
    }

    @Test("a blob another table names (a model's checkpoint of the same bytes) is kept")
    func sharedBlobsAreKept() throws {
        let temporary = try TemporaryDirectory("store-policy-pruning-shared")
        defer { temporary.remove() }
        let store = try RecStore(directory: temporary.path)
        let shared = try store.blobs.put([7, 7, 7])
        try store.registerDataset(sha256: shared, name: "d.csv")
        try store.savePolicyVersion(PolicyVersionRow(version: 1, weightsSHA: shared, spec: "{}", decision: nil), createdMs: 1)
        let newest = try store.blobs.put([8])
        try store.savePolicyVersion(PolicyVersionRow(version: 2, weightsSHA: newest, spec: "{}", decision: nil), createdMs: 2)
        let pruned = try store.prunePolicyVersions(keepingNewest: 1, nowMs: 3)
        #expect(pruned.versions == [1] && pruned.bytes == 0 && store.blobs.contains(shared))
    }
}
