import Foundation
import Testing

@testable import RecModel

@Suite("bench-model's results as JSON")
struct BenchmarkResultTests {
    /// `bench-model --json` without the preloaded counter printed `"allocationsPerCall":null` with no reason.
    @Test("allocations not counted are null with their reason beside them; counted ones have none; both read back")
    func allocationsReason() throws {
        let uncounted = BenchmarkResult(
            operation: "forward", batch: 1, medianMicroseconds: 1.5, repeats: 3, iterations: 10, allocationsPerCall: nil)
        let counted = BenchmarkResult(
            operation: "forward", batch: 1, medianMicroseconds: 1.5, repeats: 3, iterations: 10, allocationsPerCall: 0)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(uncounted), as: UTF8.self)
        #expect(text.contains(#""allocations_per_call":null,"allocations_per_call_undefined":"not counted: no allocation counter"#), "\(text)")
        let countedText = String(decoding: try encoder.encode(counted), as: UTF8.self)
        #expect(countedText.contains(#""allocations_per_call":0,"allocations_per_call_undefined":null"#), "\(countedText)")
        for result in [uncounted, counted] {
            #expect(try JSONDecoder().decode(BenchmarkResult.self, from: try encoder.encode(result)) == result)
        }
    }
}
