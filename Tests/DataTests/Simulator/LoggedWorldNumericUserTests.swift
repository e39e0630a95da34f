import Foundation
import Testing

@testable import RecData

/// A shop's log with a numeric user feature: the world dropped it, so `recpool simulate --world` refused every pool
/// built from the same schema ("user features [age, u], the world has [u]"). Visitors now carry it as a request does.
@Suite struct LoggedWorldNumericUserTests {
    @Test("visitors carry the logged numeric user feature, and the world names it with the categorical ones")
    func numericFeatureRidesAlong() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("world-numeric-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("item_id,item_feature_0\nA,a\nB,b\nC,c\n".utf8).write(to: folder.appendingPathComponent("items.csv"))
        var log = "timestamp,item_id,position,click,propensity_score,u,age\n"
        for t in 0..<120 { log += "\(t),\(["A", "B", "C"][t % 3]),1,\(t % 4 == 0 ? 1 : 0),0.3333,u\(t % 3),\(20 + t % 7)\n" }
        try Data(log.utf8).write(to: folder.appendingPathComponent("log.csv"))
        let schema = ShopLogSchema.toml(itemFeature: "categorical")
            .replacingOccurrences(of: "u = \"categorical\"", with: "u = \"categorical\"\nage = \"numeric\"")
        try Data(schema.utf8).write(to: folder.appendingPathComponent("shop.toml"))
        let world = try LoggedWorld.load(
            name: folder.appendingPathComponent("log.csv").path,
            schemaPath: folder.appendingPathComponent("shop.toml").path, obdDirectory: folder.path, clickScale: 1)
        #expect(world.userFeatureNames == ["u", "age"])
        let ages = Set((20..<27).map { "\(Double($0))" })
        for visitor in world.visitors(count: 30, seed: 1) {
            #expect(ages.contains(visitor.userFeatures["age"] ?? "missing"), "\(visitor.userFeatures)")
            #expect(visitor.userFeatures["u"] != nil)
        }
    }
}
