import Foundation
import RecTestKit
import Testing

/// Two small checkpoints of width 3 (`m1.ckpt`, seed 1; `m2.ckpt`, seed 2) fitted by `recpool fit` on a 120-row CSV
/// written into `directory`, for tests that import and promote versions.
enum TwoCheckpoints {
    /// Writes `train.csv`, fits `m1.ckpt` and `m2.ckpt` (one epoch each) into `directory`.
    static func fit(in directory: URL) throws {
        var csv = "a,b,c,label\n"
        for i in 0..<120 { csv += "\(Float(i % 10) / 10),\(Float(i % 7) / 7),\(Float(i % 3) / 3),\(i % 2)\n" }
        let data = directory.appendingPathComponent("train.csv")
        try csv.write(to: data, atomically: true, encoding: .utf8)
        for (name, seed) in [("m1", "1"), ("m2", "2")] {
            let fit = try runTool(
                "recpool",
                ["fit", "--dataset", data.path, "--out", directory.appendingPathComponent("\(name).ckpt").path,
                 "--epochs", "1", "--seed", seed])
            #expect(fit.code == 0, "\(fit.stderr)")
        }
    }
}
