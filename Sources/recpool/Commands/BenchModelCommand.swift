import ArgumentParser
import Foundation
import RecConfig
import RecModel

/// `recpool bench-model`: times the interest model's forward pass and training step.
struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-model",
        abstract: "Time MLP inference (batch 1, 32, 256, 4096) and one training step at batch 32.",
        discussion: "Pins OpenBLAS to one thread. Build with -c release; scripts/bench-model compares with numpy and onnxruntime.")

    @Option(help: "Input width.") var dIn: Int = 106
    @Option(help: "Timed repeats per case (the median is reported).") var repeats: Int = 7
    @Option(help: "Seconds per repeat, roughly.") var seconds: Double = 0.2
    @Option(help: "Forward-pass batch sizes, comma-separated.") var batches = "1,32,256,4096"
    @Flag(help: "Print JSON.") var json = false

    /// The parsed `--batches`.
    var forwardBatches: [Int] { batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    /// `--config` and `--print-config`: the [client] table of a configuration file, as every command reads it.
    @OptionGroup var configuration: ConfigOptions

    func validate() throws {
        // One message per flag, naming the value given: one message naming all three said neither which nor what.
        guard (1...65_536).contains(dIn) else { throw ValidationError("--d-in must be 1…65536, got \(dIn)") }
        guard (1...1_000).contains(repeats) else { throw ValidationError("--repeats must be 1…1000, got \(repeats)") }
        guard seconds > 0, seconds <= 3_600 else { throw ValidationError("--seconds must be in (0, 3600], got \(seconds)") }
        if let problem = MLP.sizeProblem(inputWidth: dIn, hiddenSizes: nil) {
            throw ValidationError("--d-in \(dIn): \(problem)")
        }
        let parts = batches.split(separator: ",", omittingEmptySubsequences: false)
        guard !parts.isEmpty, forwardBatches.count == parts.count, forwardBatches.allSatisfy({ (1...65_536).contains($0) })
        else {
            throw ValidationError("--batches must be comma-separated batch sizes in 1…65536, got \"\(batches)\"")
        }
    }

    func run() throws {
        setBLASThreadCount(1)
        let results = ModelBenchmark(inputWidth: dIn, forwardBatches: forwardBatches, repeats: repeats, targetSeconds: seconds).run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
        } else {
            print("| operation | batch | median µs | allocations per call |")
            print("|---|---|---|---|")
            for r in results {
                let allocations = r.allocationsPerCall.map { String(format: "%g", $0) } ?? "not counted"
                print("| \(r.operation) | \(r.batch) | \(String(format: "%.2f", r.medianMicroseconds)) | \(allocations) |")
            }
        }
    }
}
