import Testing

@testable import Broker

/// Online settings that could not work are refused at start, naming the flag.
@Suite("Online settings that cannot work")
struct OnlineSettingsProblemTests {
    @Test("a feedback window under 1 s is refused: every FEEDBACK would be EXPIRED")
    func feedbackWindow() {
        var settings = OnlineSettings()
        #expect(settings.problem == nil)
        settings.feedbackWindowMs = 0
        #expect(settings.problem?.contains("--feedback-window-s") == true)
        settings.feedbackWindowMs = 1_000
        #expect(settings.problem == nil)
    }
}
