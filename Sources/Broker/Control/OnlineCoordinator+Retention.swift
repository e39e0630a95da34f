import Logging
import Metrics
import RecStore

extension OnlineCoordinator {
    /// Prunes the stored policy versions past the newest `--online-keep-versions` (0 keeps every one), after a version
    /// was stored. A pruning that fails is logged and retried after the next stored version: the pool serves on.
    /// Deletes the blobs of versions pruned earlier that are still on disk (a crash between a pruning's commit and its
    /// deletes), once at start; logged when it frees any.
    func sweepPrunedBlobs() {
        do {
            let swept = try store.sweepPrunedBlobs()
            guard !swept.versions.isEmpty else { return }
            logger.info(
                "weights of pruned online policy versions left on disk were deleted",
                metadata: ["count": "\(swept.versions.count)", "bytes": "\(swept.bytes)"])
        } catch {
            logger.error("cannot read the pruned online policy versions", metadata: ["error": "\(error)"])
        }
    }

    func pruneStoredVersions(nowMs: UInt64) {
        let keep = core.settings.keepVersions
        guard keep > 0 else { return }
        do {
            let pruned = try store.prunePolicyVersions(keepingNewest: keep, nowMs: nowMs)
            guard let first = pruned.versions.first, let last = pruned.versions.last else { return }
            Counter(label: "recpool_broker_policy_versions_pruned_total").increment(by: pruned.versions.count)
            logger.info(
                "online policy versions pruned",
                metadata: [
                    "versions": "\(first == last ? "\(first)" : "\(first)…\(last)")", "count": "\(pruned.versions.count)",
                    "bytes": "\(pruned.bytes)", "keep": "\(keep)",
                ])
        } catch {
            logger.error(
                "cannot prune the stored online policy versions; retried after the next version",
                metadata: ["error": "\(error)"])
        }
    }
}
