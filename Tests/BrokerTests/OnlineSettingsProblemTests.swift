import RecWire
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

    /// A value for the exploration kind not in use is still checked: `--temperature nan` with ε-greedy was accepted.
    @Test("epsilon and temperature are checked whichever exploration kind uses them")
    func explorationValues() {
        for temperature in [Double.nan, .infinity, 0, -1] {
            var settings = OnlineSettings()
            settings.exploration = ExplorationSpec(kind: .epsilonGreedy, epsilon: 0.1, temperature: temperature)
            #expect(settings.problem?.contains("temperature") == true, "\(temperature)")
        }
        for epsilon in [Double.nan, -0.1, 1.5] {
            var settings = OnlineSettings()
            settings.exploration = ExplorationSpec(kind: .softmax, epsilon: epsilon, temperature: 0.05)
            #expect(settings.problem?.contains("epsilon") == true, "\(epsilon)")
        }
        var valid = OnlineSettings()
        valid.exploration = ExplorationSpec(kind: .softmax, epsilon: 0, temperature: 1e-3)
        #expect(valid.problem == nil)
    }
}
