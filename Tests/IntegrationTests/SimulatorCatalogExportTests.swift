import Foundation
import RecData
import RecTestKit
import Testing

/// `recpool simulate --export-catalogue`: the schema it writes declares each user feature's values, as the built-in
/// world's policy knows them, so an uploaded world's policy gives every value a column of its own.
@Suite("Simulator catalogue export")
struct SimulatorCatalogExportTests {
    @Test("the exported schema lists every user feature's values, and reads back")
    func userFeatureValues() throws {
        let folder = try TemporaryDirectory("simulator-catalogue-export")
        defer { folder.remove() }
        let export = try runTool("recpool", ["simulate", "--world", "simulator:items=50", "--export-catalogue", folder.path])
        #expect(export.code == 0, "\(export.stderr)")
        let schema = try DataSchema.read(path: folder.path + "/schema.toml")
        let world = SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=50"))
        #expect(schema.logs.userFeatures.map(\.name) == (0..<4).map { "user_feature_\($0)" })
        for (j, feature) in schema.logs.userFeatures.enumerated() {
            let cardinality = world.config.userFeatureCardinalities[j]
            #expect(feature.values == (0..<cardinality).map { SimulatorWorld.categoryName(feature: j, code: $0) })
        }
    }

    /// A helper's case: a folder that cannot be created exited 1, where `keygen --out` exits 2 for the same path, as
    /// docs/OPERATIONS.md gives every file that cannot be written.
    @Test("a folder that cannot be created is exit 2, naming it")
    func unwritableFolder() throws {
        let folder = try TemporaryDirectory("simulator-catalogue-export")
        defer { folder.remove() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder.path + "/blocker"))
        for path in ["/dev/null", folder.path + "/blocker/sub"] {
            let export = try runTool("recpool", ["simulate", "--export-catalogue", path])
            #expect(export.code == 2 && export.stderr.contains("cannot write the catalogue into \(path)"), "\(export.stderr)")
        }
    }
}
