import Testing

@testable import RecWire

@Suite("FEEDBACK documents")
struct FeedbackRequestTests {
    @Test("a dwell is 0…1e9 seconds: infinite, NaN, negative or absurd values are named, never summed into inf")
    func dwellBounds() {
        for dwell in [-1, 1e9 + 1, 1.7e308, .infinity, .nan] {
            let problem = FeedbackRequest(impressionId: "i", item: 3, click: 1, dwellSeconds: dwell).problem
            #expect(problem?.hasPrefix("dwell_seconds must be 0…1e9 (seconds), got") == true, "\(dwell)")
        }
        for dwell in [nil, 0, 12.5, 1e9] {
            #expect(FeedbackRequest(impressionId: "i", item: 3, click: 1, dwellSeconds: dwell).problem == nil)
        }
    }
}
