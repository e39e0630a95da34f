import GRDB

extension RecStore {
    /// The highest online policy version any logged impression names, or `nil` for an empty log.
    ///
    /// A version number names one policy, and a version is stored before it is served. When the newest
    /// `policy_versions` row is older than this (rows lost in a partial restore or an edit), the learnt weights of the
    /// later versions are gone, and the online start refuses to continue (exit 65).
    /// - Throws: ``StoreError`` when the database cannot be read.
    public func highestImpressionVersion() throws(StoreError) -> UInt64? {
        try read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM impressions").map { UInt64(clamping: $0) }
        }
    }

    /// The setting that holds the first policy version of the current lineage.
    public static let lineageStartSetting = "online.lineage_start"

    /// The first online policy version of the current lineage: impressions logged under an earlier version came from
    /// a policy over another catalogue (its rows numbered otherwise) or another user encoding, so an export of the
    /// current lineage leaves them out. `nil` when no new lineage was ever started (every logged version belongs).
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when the stored value is not a version number
    ///   (a damaged setting is named, never read as "no lineage", which would export rows under another catalogue's
    ///   ids); ``StoreError`` when the database cannot be read.
    public func lineageStart() throws(StoreError) -> UInt64? {
        guard let text = try setting(Self.lineageStartSetting) else { return nil }
        guard let version = UInt64(text), version >= 1, version <= UInt64(Int64.max) else {
            throw .corruptColumn(
                table: "settings", row: "name = '\(Self.lineageStartSetting)'", column: "value",
                problem: "'\(text)' is not a policy version (they are numbered from 1)")
        }
        return version
    }

}
