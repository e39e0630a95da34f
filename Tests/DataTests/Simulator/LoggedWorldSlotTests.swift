import Foundation
import Testing

@testable import RecData

/// A world built from a shop's log counts its slots from the top by their value, as `data ope --online` and
/// `policy warmstart` do: it took them by their rank in the file, so a log of slots 2 and 3 made a 2-slot world whose top
/// slot clicked at slot 2's rate, and a log of slot 3 alone a 1-slot world clicking at slot 3's (2–6 × too low).
@Suite("A world's slots from a shop's log")
struct LoggedWorldSlotTests {
    /// Loads a world from a log whose rows are shown in `slots` (in turn), clicked more often in lower slot values.
    func world(slots: [Int]) throws -> LoggedWorld {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("world-slots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let ids = ["A", "B", "C"]
        let items = "item_id,item_feature_0\n" + ids.enumerated().map { "\($1),\($0)" }.joined(separator: "\n") + "\n"
        try Data(items.utf8).write(to: folder.appendingPathComponent("items.csv"))
        var log = "timestamp,item_id,position,click,propensity_score,u\n"
        for t in 0..<600 {
            let slot = slots[t % slots.count]
            // One click in every `slot + 1` impressions: the top slot is clicked most.
            log += "\(t),\(ids[t % 3]),\(slot),\((t / slots.count) % (slot + 1) == 0 ? 1 : 0),0.3333,u\(t % 3)\n"
        }
        try Data(log.utf8).write(to: folder.appendingPathComponent("log.csv"))
        try Data(ShopLogSchema.toml(itemFeature: "categorical").utf8).write(to: folder.appendingPathComponent("shop.toml"))
        return try LoggedWorld.load(
            name: folder.appendingPathComponent("log.csv").path,
            schemaPath: folder.appendingPathComponent("shop.toml").path, obdDirectory: folder.path, clickScale: 1)
    }

    @Test("a log of the lower slots only is refused, naming its slots", arguments: [[2, 3], [3]])
    func lowerSlotsRefused(slots: [Int]) throws {
        let error = #expect(throws: DataError.self) { _ = try world(slots: slots) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("no row was logged in the first slot") && text.contains("the log's slots are"), "\(text)")
    }

    @Test("slots numbered from 1 or from 0 make the same world; a gap keeps the slot's place")
    func numbering() throws {
        let fromOne = try world(slots: [1, 2, 3])
        let fromZero = try world(slots: [0, 1, 2])
        #expect(fromOne.slots == 3 && fromZero.slots == 3)
        let gap = try world(slots: [1, 3])
        #expect(gap.slots == 3)
        // The top slot is the most clicked, in every numbering.
        let visitor = try #require(fromOne.visitors(count: 1, seed: 1).first)
        #expect(visitor.attraction(item: 0, slot: 0) > visitor.attraction(item: 0, slot: 2))
    }
}
