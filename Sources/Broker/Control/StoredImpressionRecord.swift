import RecStore
import RecWire

/// Reads the `record` column of a row of the impression log: the record must decode, be well formed
/// (``ImpressionRecord/problem``) and agree with the row's own `id`, `created_ms` and `version` columns, which
/// repeat its `impression_id`, `created_ms` and `version` when the broker stores it. A record that disagrees was
/// damaged or edited after it was stored: it is named as damaged, never exported, learnt from or weighed by the
/// guard under a policy version that did not serve it.
enum StoredImpressionRecord {
    /// The record of the impression row `id`.
    /// - Parameters:
    ///   - text: the `record` column (JSON).
    ///   - id: the row's `id` column.
    ///   - createdMs: the row's `created_ms` column, ms since the Unix epoch.
    ///   - version: the row's `version` column.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` naming the row and what is wrong.
    static func decode(_ text: String, id: String, createdMs: UInt64, version: UInt64) throws(StoreError)
        -> ImpressionRecord
    {
        let row = "id = \(String(reflecting: id))"
        let record = try StoredJSON.decodeValid(
            ImpressionRecord.self, from: text, table: "impressions", row: row, column: "record")
        let disagreement: String? =
            if record.impressionId != id {
                "its impression_id \(String(reflecting: record.impressionId)) is not the row's id"
            } else if record.version != version {
                "its version \(record.version) disagrees with the row's version column (\(version))"
            } else if record.createdMs != createdMs {
                "its created_ms \(record.createdMs) disagrees with the row's created_ms column (\(createdMs))"
            } else {
                nil
            }
        if let disagreement {
            throw .corruptColumn(table: "impressions", row: row, column: "record", problem: disagreement)
        }
        return record
    }

    /// ``decode(_:id:createdMs:version:)`` for a row of the log, whose feedback must name items its slate showed
    /// (FEEDBACK is refused for any other item, so another one is a damaged `feedback` row).
    static func decode(_ row: ImpressionRow) throws(StoreError) -> ImpressionRecord {
        let record = try decode(row.record, id: row.id, createdMs: row.createdMs, version: row.version)
        if let item = row.clicks.keys.sorted().first(where: { !record.slate.contains($0) }) {
            throw .corruptColumn(
                table: "feedback", row: "impression_id = \(String(reflecting: row.id)), item = \(item)", column: "item",
                problem: "the impression's slate \(record.slate) did not show item \(item)")
        }
        return record
    }
    /// ``decode(_:)`` for a pool serving `spec`, `fromRegistry` when its items are a registry catalogue's. A pool
    /// whose items are not (the simulator's world) never grows them, so a record naming an item beyond them is
    /// damaged, not served by a later catalogue version whose rows an export may leave out.
    static func decode(_ row: ImpressionRow, servedUnder spec: OnlinePolicySpec?, fromRegistry: Bool) throws(StoreError)
        -> ImpressionRecord
    {
        let record = try decode(row)
        guard let spec, !fromRegistry else { return record }
        let items = spec.itemCount
        if let item = (record.slate + record.viewed.map(\.item)).first(where: { $0 >= items }) {
            throw .corruptColumn(
                table: "impressions", row: "id = \(String(reflecting: row.id))", column: "record",
                problem: "it names item \(item), beyond the \(items) items of a pool that serves no registry catalogue")
        }
        return record
    }
}
