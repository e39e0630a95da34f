import Logging

extension BrokerService {
    /// Re-reads the allow-lists from `files` and puts them in force (the broker's answer to SIGHUP).
    ///
    /// New connections are judged by the new lists at once. A peer already connected keeps its connection (ZAP runs
    /// once per handshake), but the reactor judges each of its messages by the lists in force, so a revoked client
    /// is answered `UNAUTHORIZED` and a revoked worker's messages are ignored; the log line says how many connected
    /// peers the new lists no longer allow. A list that cannot be read leaves every list as it
    /// was and is logged at `error`; the broker keeps running.
    /// - Returns: the lists now in force, or `nil` when the reload failed or the broker has no CURVE.
    @discardableResult
    public func reloadAllowLists(from files: AllowListFiles, logger: Logger) -> AllowLists? {
        let lists: AllowLists
        do {
            lists = try files.load()
        } catch {
            logger.error(
                "SIGHUP: allow-lists not reloaded; the previous lists stay in force", metadata: ["error": "\(error)"])
            return nil
        }
        guard let stillConnected = replaceAllowLists(lists) else {
            logger.notice("SIGHUP: this broker runs without CURVE keys; there are no allow-lists to reload")
            return nil
        }
        logger.notice(
            "SIGHUP: allow-lists reloaded",
            metadata: [
                "clients": "\(lists.clients.count)", "trainers": "\(lists.trainers.count)",
                "workers": "\(lists.workers.count)", "revoked_still_connected": "\(stillConnected)",
            ])
        return lists
    }
}
