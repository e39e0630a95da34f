import GRDB

extension RecStore {
    /// The highest online policy version any logged impression names, or `nil` for an empty log.
    ///
    /// A version number names one policy. When the newest `policy_versions` row is older than this (rows lost in a
    /// restore or an edit), the next version must be numbered past it, or impressions logged under one number
    /// would come from two policies.
    /// - Throws: ``StoreError`` when the database cannot be read.
    public func highestImpressionVersion() throws(StoreError) -> UInt64? {
        try read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM impressions").map { UInt64(clamping: $0) }
        }
    }
}
