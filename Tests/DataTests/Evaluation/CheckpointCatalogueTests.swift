import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

/// A checkpoint scores item `k` with its own feature table: a dataset whose catalogue lists the same shop ids in
/// another row order (or holds other values) is refused, never scored as other items; and only an MLP whose output
/// unit is a sigmoid is an interest model.
@Suite("A checkpoint meets a dataset of its own catalogue and gives probabilities")
struct CheckpointCatalogueTests {
    /// A shop log over items named `SKU-0` … `SKU-4` (so an item is its catalogue row) and its catalogue, written in
    /// the given row order; with `twins`, SKU-0 and SKU-1 have the same features.
    static func shop(in folder: String, order: [Int], twins: Bool = false) throws -> (log: String, schema: String) {
        var log = ["ts,sku,slot,clicked,p,device"]
        for t in 0..<120 {
            log.append("\(t),SKU-\(t % 5),1,\(t % 7 == 0 ? 1 : 0),0.2,\(["ios", "web"][t % 2])")
        }
        let items =
            ["sku,colour,price"]
            + order.map { k in
                let twin = twins && k < 2 ? 0 : k
                return "SKU-\(k),\(["red", "blue", "green"][twin % 3]),\(10 + 3 * twin)"
            }
        let schema = """
            [logs]
            timestamp = "ts"
            item = "sku"
            position = "slot"
            click = "clicked"
            propensity = "p"
            [logs.user_features]
            device = "categorical"
            [catalogue]
            file = "items.csv"
            item = "sku"
            [catalogue.item_features]
            colour = "categorical"
            price = "numeric"
            """
        try log.joined(separator: "\n").write(toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        try items.joined(separator: "\n").write(toFile: folder + "/items.csv", atomically: true, encoding: .utf8)
        try schema.write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        return (folder + "/logs.csv", folder + "/shop.toml")
    }

    static func load(_ files: (log: String, schema: String)) throws -> BanditDataset {
        let folder = URL(fileURLWithPath: files.log).deletingLastPathComponent().path
        return try LogLoader.load(
            logFile: files.log, catalogueFile: folder + "/items.csv",
            schema: DataSchema.parse(String(contentsOfFile: files.schema, encoding: .utf8), path: files.schema),
            name: files.log)
    }

    @Test("the same items in another catalogue row order are refused naming the item; the fitted order passes")
    func reorderedCatalogue() async throws {
        try await withTemporaryDirectory("catalogue-order") { folder in
            let fitted = folder.file("fitted").path
            let reversed = folder.file("reversed").path
            for path in [fitted, reversed] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            let original = try Self.load(Self.shop(in: fitted, order: [0, 1, 2, 3, 4]))
            let spec = try FeatureSpec.fit(on: SplitDataset(original).train)
            try CheckpointEvaluation.check(spec: spec, data: original)
            let other = try Self.load(Self.shop(in: reversed, order: [4, 3, 2, 1, 0]))
            #expect {
                try CheckpointEvaluation.check(spec: spec, data: other)
            } throws: { error in
                guard case .catalogueMismatch(_, let problem) = error as? CheckpointEvaluationError else { return false }
                return problem.contains("row 0 of the catalogue is item SKU-4, the model's row 0 is item SKU-0")
            }
            // A spec without ids (fitted before they were kept) is still checked by the items' features.
            var anonymous = spec
            anonymous.itemIds = nil
            #expect {
                try CheckpointEvaluation.check(spec: anonymous, data: other)
            } throws: { error in
                guard case .catalogueMismatch(_, let problem) = error as? CheckpointEvaluationError else { return false }
                return problem.contains("item SKU-4 (row 0) of the catalogue does not have the features the model was fitted with")
            }
        }
    }

    /// The same catalogue with its `colour` and `size` columns swapped (items, values and schema unchanged) was
    /// refused as "the same items in another row order, or other values": the columns are read in the file's order.
    @Test("swapped categorical columns are refused naming the columns and their order, not the items")
    func swappedColumns() async throws {
        try await withTemporaryDirectory("catalogue-columns") { folder in
            func write(_ name: String, header: [String], pairedSizes: Bool = false, priceStep: Int = 3) throws -> BanditDataset {
                let path = folder.file(name).path
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                let files = try Self.shop(in: path, order: [0, 1, 2, 3, 4])
                let directory = URL(fileURLWithPath: files.log).deletingLastPathComponent().path
                let values: [String: (Int) -> String] = [
                    "sku": { "SKU-\($0)" }, "colour": { ["red", "blue", "green"][$0 % 3] },
                    "size": { pairedSizes ? ["s", "m", "l"][$0 % 3] : ["s", "m"][$0 % 2] }, "price": { "\(10 + priceStep * $0)" },
                ]
                let rows = [header.joined(separator: ",")] + (0..<5).map { k in header.map { values[$0]!(k) }.joined(separator: ",") }
                try rows.joined(separator: "\n").write(toFile: directory + "/items.csv", atomically: true, encoding: .utf8)
                let schema = try String(contentsOfFile: files.schema, encoding: .utf8)
                    .replacingOccurrences(of: "colour = \"categorical\"", with: "colour = \"categorical\"\nsize = \"categorical\"")
                try schema.write(toFile: files.schema, atomically: true, encoding: .utf8)
                return try Self.load(files)
            }
            let original = try write("fitted", header: ["sku", "colour", "size", "price"])
            let spec = try FeatureSpec.fit(on: SplitDataset(original).train)
            try CheckpointEvaluation.check(spec: spec, data: original)
            let swapped = try write("swapped", header: ["sku", "size", "colour", "price"])
            #expect {
                try CheckpointEvaluation.check(spec: spec, data: swapped)
            } throws: { error in
                guard case .catalogueMismatch(_, let problem) = error as? CheckpointEvaluationError else { return false }
                return problem.contains(
                    "the catalogue's categorical item feature columns are in another order than in the catalogue the "
                        + "model was fitted on (the columns are read in the file's order): 'colour' (column 2 here) is the "
                        + "model's column 1, 'size' (column 1 here) is the model's column 2")
            }
            // Columns whose codes pair up one to one (each colour with one size) match swapped too: with them in order
            // and a price changed, the refusal is about the item's features, never about the columns' order.
            let paired = try write("paired", header: ["sku", "colour", "size", "price"], pairedSizes: true)
            let pairedSpec = try FeatureSpec.fit(on: SplitDataset(paired).train)
            let repriced = try write("repriced", header: ["sku", "colour", "size", "price"], pairedSizes: true, priceStep: 4)
            #expect {
                try CheckpointEvaluation.check(spec: pairedSpec, data: repriced)
            } throws: { error in
                guard case .catalogueMismatch(_, let problem) = error as? CheckpointEvaluationError else { return false }
                return !problem.contains("another order") && problem.contains("features")
            }
        }
    }

    /// Two items with the same catalogue features (a shirt in two colours) swapped rows: the feature comparison passed,
    /// and each was scored with the other's popularity, cross rates and id hash.
    @Test("items with the same features in swapped rows are refused by their ids")
    func swappedTwins() async throws {
        try await withTemporaryDirectory("catalogue-twins") { folder in
            let fitted = folder.file("fitted").path
            let swapped = folder.file("swapped").path
            for path in [fitted, swapped] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            let original = try Self.load(Self.shop(in: fitted, order: [0, 1, 2, 3, 4], twins: true))
            let spec = try FeatureSpec.fit(on: SplitDataset(original).train)
            #expect(spec.itemIds == original.itemIds && spec.itemIds != nil)
            try CheckpointEvaluation.check(spec: spec, data: original)
            let other = try Self.load(Self.shop(in: swapped, order: [1, 0, 2, 3, 4], twins: true))
            #expect {
                try CheckpointEvaluation.check(spec: spec, data: other)
            } throws: { error in
                guard case .catalogueMismatch(_, let problem) = error as? CheckpointEvaluationError else { return false }
                return problem.contains("row 0 of the catalogue is item SKU-1, the model's row 0 is item SKU-0")
            }
        }
    }

    @Test("a model fitted on OBD's random logs evaluates on its bts logs: the same items, their categories hashed apart")
    func obdAcrossPolicies() throws {
        guard Paths.hasOBD else { return }
        let random = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.obd)
        let bts = try OBDLoader.load(OBDSource("bts/men")!, obdDirectory: Paths.obd)
        let spec = try FeatureSpec.fit(on: SplitDataset(random).train)
        try CheckpointEvaluation.check(spec: spec, data: bts)
    }

    @Test("an MLP whose output unit is not a sigmoid is no interest model: every reader refuses it", arguments: [Activation.identity, .relu])
    func nonSigmoidOutput(_ activation: Activation) throws {
        let data = try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
        let spec = try FeatureSpec.fit(on: SplitDataset(data).train)
        var mlp = MLP(inputWidth: spec.width, seed: 3)
        #expect(Checkpoint.interestModelProblem(mlp) == nil)
        mlp.layers[mlp.layers.count - 1].activation = activation
        let checkpoint = Checkpoint(model: .mlp(mlp), featureSpec: try spec.encoded())
        #expect(checkpoint.interestModelProblem?.contains("output unit is \(activation.name), not sigmoid") == true)
        #expect {
            _ = try CheckpointEvaluation.load(bytes: checkpoint.encoded())
        } throws: { error in
            "\(error)".contains("its output unit is \(activation.name)")
        }
    }
}
