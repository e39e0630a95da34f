import Foundation
import Testing

/// `recpool fit` at a learning rate that makes training diverge writes nothing and says so, naming the rate.
@Suite("recpool fit that diverges")
struct FitDivergenceTests {
    @Test("a diverging --lr exits 6 naming the epoch, the loss and the rate, and writes no checkpoint")
    func divergedFitWritesNothing() throws {
        let directory = try TemporaryDirectory("fit-diverges").url
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("m.ckpt").path
        let fit = try runTool(
            "recpool", ["fit", "--dataset", "synthetic:users=300", "--out", out, "--lr", "1e30", "--epochs", "2", "--json"])
        #expect(fit.code == 6, "\(fit.stderr)")
        #expect(fit.stderr.contains("training diverged at learning rate 1e+30") && fit.stderr.contains("not a finite number"))
        #expect(fit.stdout.isEmpty && !FileManager.default.fileExists(atPath: out))
    }
}
