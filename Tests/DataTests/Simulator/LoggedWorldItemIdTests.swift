import Foundation
import Testing

@testable import RecData

/// A world built from a shop's log (`recpool simulate --world shop.csv --world-schema shop.toml`) maps each logged
/// item to the catalogue row the log loader gave it: a shop's SKUs name rows, ids `0..<n` in any file order name
/// numbers. Before, the world looked a logged item up as the id `String(row)`, so every SKU catalogue was refused
/// ("logged item 1 is not in the catalogue"), and a catalogue whose SKUs include the texts of row numbers fitted
/// the clicks of row 0 to the item with id "0".
@Suite struct LoggedWorldItemIdTests {
    /// Writes a catalogue with `ids` (file order) and a log in which only `clicked` is ever clicked, and loads the
    /// world; returns it with the catalogue row of `clicked`.
    func world(ids: [String], clicked: String, shown: [String]? = nil) throws -> (LoggedWorld, Int) {
        let shown = shown ?? ids
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("world-ids-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let items = "item_id,item_feature_0\n" + ids.enumerated().map { "\($1),\($0)" }.joined(separator: "\n") + "\n"
        try Data(items.utf8).write(to: folder.appendingPathComponent("items.csv"))
        var log = "timestamp,item_id,position,click,propensity_score,u\n"
        for t in 0..<120 {
            let id = shown[t % shown.count]
            log += "\(t),\(id),1,\(id == clicked && t % 2 == 0 ? 1 : 0),\(1.0 / Double(ids.count)),u\(t % 3)\n"
        }
        try Data(log.utf8).write(to: folder.appendingPathComponent("log.csv"))
        let schema = ShopLogSchema.toml(itemFeature: "categorical")
        try Data(schema.utf8).write(to: folder.appendingPathComponent("shop.toml"))
        let world = try LoggedWorld.load(
            name: folder.appendingPathComponent("log.csv").path,
            schemaPath: folder.appendingPathComponent("shop.toml").path, obdDirectory: folder.path, clickScale: 1)
        return (world, try #require(world.catalogue.index(of: clicked)))
    }

    /// The clicked item is every visitor's most attractive one.
    func expectClickedIsBest(_ world: LoggedWorld, row: Int) {
        for visitor in world.visitors(count: 20, seed: 3) {
            let best = (0..<world.itemCount).max { visitor.attraction(item: $0, slot: 0) < visitor.attraction(item: $1, slot: 0) }
            #expect(best == row)
        }
    }

    @Test func aShopsSKUsAreItsRows() throws {
        let (world, row) = try world(ids: ["SKU-B", "SKU-A", "SKU-C"], clicked: "SKU-A")
        #expect(world.itemCount == 3 && row == 1)
        expectClickedIsBest(world, row: row)
    }

    @Test func idsZeroToNInAnotherFileOrderAreNumbers() throws {
        let (world, row) = try world(ids: ["2", "0", "1"], clicked: "0")
        #expect(row == 1)
        expectClickedIsBest(world, row: row)
    }
}

extension LoggedWorldItemIdTests {
    @Test func skusThatLookLikeRowNumbersAreStillNames() throws {
        // Not exactly 0..<4, so names: x is row 0. Only x and y are logged; x is clicked.
        let (world, row) = try world(ids: ["x", "y", "1", "0"], clicked: "x", shown: ["x", "y"])
        #expect(row == 0)
        expectClickedIsBest(world, row: row)
    }
}
