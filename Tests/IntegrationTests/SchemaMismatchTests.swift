import Foundation
import Testing

/// A model meets data that lacks its features, and a draft schema meets columns it does not recognise: every
/// command refuses by name (exit 2) instead of scoring all-unknown features or writing nothing.
@Suite("A model's features against the data, and drafts with placeholders", .serialized)
struct SchemaMismatchTests {
    @Test("eval, data ope --model and data features --spec refuse data without the model's features, naming them")
    func modelAgainstOtherData() throws {
        let folder = try DatasetVocabularyTests.shop("mismatch")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let shop = [folder + "/logs.csv", "--schema", folder + "/shop.toml"]
        let obd = ["obd:random/men", "--data-dir", DatasetVocabularyTests.fixtures]
        let model = folder + "/shop.ckpt"
        let fit = try runTool(
            "recpool", ["fit", "--dataset"] + shop + ["--epochs", "1", "--hidden", "4", "--out", model])
        #expect(fit.code == 0, "\(fit.stderr)")
        let spec = try runTool(
            "recpool", ["data", "features"] + shop + ["--out", folder + "/f.csv", "--spec-out", folder + "/spec.json"])
        #expect(spec.code == 0, "\(spec.stderr)")
        let eval = try runTool("recpool", ["eval", "--model", model, "--dataset"] + obd + ["--resamples", "20"])
        // The label says the version the checkpoint records (fit writes 1).
        let own = try runTool("recpool", ["eval", "--model", model, "--dataset"] + shop + ["--resamples", "20"])
        #expect(own.code == 0 && own.stdout.contains("shop.ckpt (checkpoint version 1)"), "\(own.stdout)\(own.stderr)")
        let ope = try runTool("recpool", ["data", "ope"] + obd + ["--model", model, "--resamples", "20"])
        let features = try runTool(
            "recpool", ["data", "features"] + obd + ["--spec", folder + "/spec.json", "--out", folder + "/g.csv"])
        for (label, run) in [("eval", eval), ("data ope", ope), ("data features", features)] {
            #expect(run.code == 2, "\(label): exit \(run.code)")
            #expect(
                run.stderr.contains("missing categorical user features device, region")
                    && run.stderr.contains("extra categorical user features user_feature_0, user_feature_1"),
                "\(label): \(run.stderr)")
        }
    }

    @Test("--infer drafts placeholders for unrecognised roles, names the accepted columns, and the loader refuses them")
    func draftWithPlaceholders() throws {
        let folder = try DatasetVocabularyTests.shop("draft")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var text = try String(contentsOfFile: folder + "/logs.csv", encoding: .utf8)
        let header = text.prefix { $0 != "\n" }
        let renamed = header.replacingOccurrences(of: "item_id", with: "product_code")
            .replacingOccurrences(of: "propensity_score", with: "p")
        text = renamed + text.dropFirst(header.count)
        try text.write(toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: folder + "/schemas", withIntermediateDirectories: true)
        let out = folder + "/schemas/shop.toml"
        let draft = try runTool(
            "recpool",
            ["data", "schema", "--infer", folder + "/logs.csv", "--catalogue", folder + "/catalogue.csv", "--out", out])
        #expect(draft.code == 0, "\(draft.stderr)")
        #expect(draft.stderr.contains("item_id, item, itemid, product_id, sku"), "\(draft.stderr)")
        #expect(draft.stderr.contains("propensity_score, propensity, pscore"), "\(draft.stderr)")
        let written = try String(contentsOfFile: out, encoding: .utf8)
        // The catalogue is named relative to the schema's folder, where the loader looks for it.
        #expect(written.contains("file = \"../catalogue.csv\""), "\(written)")
        let describe = try runTool("recpool", ["data", "describe", folder + "/logs.csv", "--schema", out])
        #expect(describe.code == 2, "exit \(describe.code)")
        #expect(describe.stderr.contains("[logs] item = \"EDIT ME: the item column\" is the draft's placeholder"))
    }
}
