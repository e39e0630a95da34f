import Foundation
import Testing

@testable import RecData

/// A log read with a catalogue whose ids are `0..<n` numbers its items by id, the served catalogue (the online
/// policy's, `policy warmstart`, `data ope --online`) by row: ``BanditDataset/itemsAsCatalogueRows(ids:)`` renumbers
/// the log so that each logged item is the row of its id. Before, `policy warmstart` on a catalogue listing ids
/// `2, 0, 1` trained every click on item "0" into row 0, the item "2".
@Suite struct CatalogueRowsTests {
    @Test func idsOutOfFileOrderAreRenumberedAsRows() throws {
        let (data, catalogue) = try Self.log(ids: ["2", "0", "1"])
        let rows = try data.itemsAsCatalogueRows(ids: catalogue.ids)
        // Every click is on id "0", the catalogue's row 1.
        let clicked = Set((0..<rows.rows).filter { rows.reward[$0] > 0 }.map { rows.action[$0] })
        #expect(clicked == [try #require(catalogue.index(of: "0"))])
        for r in 0..<rows.rows { #expect(catalogue.ids[rows.action[r]] == String(data.action[r])) }
        // The action context follows: row 1's numeric feature is id "0"'s, 0.2.
        let column = rows.actionContext.columns - 1
        #expect(abs(rows.actionContext[1, column] - data.actionContext[0, column]) < 1e-6)
        // A catalogue of SKUs (or in file order) is already numbered by row: unchanged.
        #expect(try data.itemsAsCatalogueRows(ids: ["0", "1", "2"]).action == data.action)
        // A later version (rows never move, one item added) fits too.
        #expect(try data.itemsAsCatalogueRows(ids: catalogue.ids + ["new"]).action == rows.action)
    }

    /// A log of 30 rows over a three-item catalogue whose ids are `ids` in file order (item `t % 3` of the sorted
    /// ids at row t, clicked every third row), read with ``ShopLogSchema``, and that catalogue as served.
    static func log(ids: [String]) throws -> (BanditDataset, ItemCatalogue) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let items = "item_id,item_feature_0\n" + ids.enumerated().map { "\($1),0.\($0 + 1)\n" }.joined()
        try Data(items.utf8).write(to: folder.appendingPathComponent("items.csv"))
        let named = ids.sorted()
        var log = "timestamp,item_id,position,click,propensity_score,u\n"
        for t in 0..<30 { log += "\(t),\(named[t % 3]),1,\(t % 3 == 0 ? 1 : 0),0.33,u\(t % 2)\n" }
        try Data(log.utf8).write(to: folder.appendingPathComponent("log.csv"))
        let schema = ShopLogSchema.toml(itemFeature: "numeric")
        try Data(schema.utf8).write(to: folder.appendingPathComponent("shop.toml"))
        let (split, _) = try DatasetResolver(obdDirectory: folder.path).logs(
            folder.appendingPathComponent("log.csv").path, schemaPath: folder.appendingPathComponent("shop.toml").path)
        let catalogue = try ItemCatalogue.load(
            path: folder.appendingPathComponent("items.csv").path,
            schema: try DataSchema.parse(schema, path: "shop.toml").catalogue)
        return (split.all, catalogue)
    }

    @Test("a log read with another catalogue file than the served one (its SKUs reordered, or other ids) is refused")
    func otherCatalogueFileRefused() throws {
        let data = try Self.log(ids: ["SKU-a", "SKU-b", "SKU-c"]).0
        #expect(data.itemIds == ["SKU-a", "SKU-b", "SKU-c"])
        // The served catalogue in the file's order, or a later version of it: the log is its rows.
        #expect(try data.itemsAsCatalogueRows(ids: ["SKU-a", "SKU-b", "SKU-c"]).action == data.action)
        #expect(try data.itemsAsCatalogueRows(ids: ["SKU-a", "SKU-b", "SKU-c", "SKU-d"]).action == data.action)
        // The same SKUs in another row order: learnt as other items before.
        #expect {
            _ = try data.itemsAsCatalogueRows(ids: ["SKU-c", "SKU-b", "SKU-a"])
        } throws: { error in
            "\(error)".contains("the log's item 0 is SKU-a in its catalogue file but SKU-c in the served catalogue (SKU-a is at row 2")
        }
        // A log numbering its items 0..<n against a shop's named catalogue names other items: refused, unless the
        // catalogue is the simulator world's (read by row).
        let numbered = try Self.log(ids: ["0", "1", "2"]).0
        #expect(try numbered.itemsAsCatalogueRows(ids: ["SKU-a", "SKU-b", "SKU-c"]).action == numbered.action)
        #expect(throws: DataError.self) {
            _ = try numbered.itemsAsCatalogueRows(ids: ["SKU-a", "SKU-b", "SKU-c"], numberedByRow: false)
        }
        // Ids the served catalogue does not hold (numbers, or other names).
        #expect(throws: DataError.self) { _ = try data.itemsAsCatalogueRows(ids: ["item_0", "item_1", "item_2"]) }
        #expect {
            _ = try data.itemsAsCatalogueRows(ids: ["4", "26", "13"])
        } throws: { error in
            "\(error)".contains("(SKU-a is not in the served catalogue)")
        }
    }
}
