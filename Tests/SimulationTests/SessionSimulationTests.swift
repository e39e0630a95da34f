import Foundation
import RecClient
import RecData
import RecPolicy
import RecWire
import Testing

@testable import RecSimulation

@Suite("recpool simulate --sessions: clicks per session")
struct SessionSimulationTests {
    @Test("whole sessions spend their budget, and clicks per session are the clicks over the completed sessions")
    func clicksPerSession() async throws {
        let backend = try LearnerBackend()
        let plan = SimulationPlan(users: 12, seed: 21, concurrency: 3, windows: 1)
        let report = try await SessionSimulation.run(backend: backend, plan: plan)
        #expect(report.sessions == 12 && report.completed == 12 && report.errors.isEmpty)
        #expect(report.learner == "contextual_bandit" && report.gamma == 0)
        // Budget 30, each step costs 1, each click gives back 0.5.
        #expect(report.steps >= 12 * 30 && report.steps <= 12 * 30 + report.clicks)
        #expect(report.clicks > 0)
        #expect(abs(try #require(report.clicksPerSession) - Double(report.clicks) / 12) < 1e-12)
        #expect(abs(try #require(report.ctrPerStep) - Double(report.clicks) / Double(report.steps)) < 1e-12)
        #expect(abs(try #require(report.stepsPerSession) - Double(report.steps) / 12) < 1e-12)
        #expect(report.clicksPerSessionSd != nil)
        // Three FEEDBACKs per step reached the backend's log, one impression per step.
        #expect(backend.impressions.count == report.steps)
        #expect(backend.impressions.allSatisfy { $0.clicks.count == 3 })
        // The references ran on the same users: the myopic oracle beats random by far on this world.
        #expect(try #require(report.oracleClicksPerSession) > #require(report.randomClicksPerSession) + 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(json["clicks_per_session"] as? Double == report.clicksPerSession)
        #expect(json["random_clicks_per_session"] as? Double == report.randomClicksPerSession)
        #expect(report.text.contains("clicks per session"))
    }

    @Test("the same seed gives the same users and references; another seed other users")
    func sameUsers() async throws {
        let plan = SimulationPlan(users: 6, seed: 4, windows: 1)
        let a = try await SessionSimulation.run(backend: try LearnerBackend(learning: false), plan: plan)
        let b = try await SessionSimulation.run(backend: try LearnerBackend(learning: false), plan: plan)
        #expect(a.randomClicksPerSession == b.randomClicksPerSession)
        #expect(a.oracleClicksPerSession == b.oracleClicksPerSession)
        #expect(a.clicks == b.clicks && a.steps == b.steps, "a frozen backend with one seed serves the same slates")
        var other = plan
        other.seed = 5
        let c = try await SessionSimulation.run(backend: try LearnerBackend(learning: false), plan: other)
        #expect(c.oracleClicksPerSession != a.oracleClicksPerSession || c.randomClicksPerSession != a.randomClicksPerSession)
    }

    @Test("a deterministic plan is refused: sessions run over many lanes")
    func deterministicRefused() async throws {
        var plan = SimulationPlan(users: 2, seed: 1, windows: 1)
        plan.deterministic = true
        await #expect(throws: SimulationError.self) {
            _ = try await SessionSimulation.run(backend: try LearnerBackend(), plan: plan)
        }
    }

    @Test("with no completed session the per-session figures are null and undefined in text, never 0")
    func noSessionCompleted() throws {
        let failed = (0..<5).map {
            SessionOutcome(index: $0, steps: 0, clicks: 0, completed: false, errors: ["TIMEOUT": 1])
        }
        let report = SessionReport(
            plan: SimulationPlan(users: 5, seed: 3, windows: 1), outcomes: failed, random: [1, 2, 1, 0, 1],
            oracle: [3, 4, 3, 3, 4], learner: "contextual_bandit", gamma: 0, elapsedMs: 1)
        #expect(report.completed == 0)
        #expect(report.clicksPerSession == nil && report.clicksPerSessionSd == nil)
        #expect(report.clicksPerSessionFirstFifth == nil && report.clicksPerSessionLastFifth == nil)
        #expect(report.stepsPerSession == nil && report.ctrPerStep == nil)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        for key in [
            "clicks_per_session", "clicks_per_session_sd", "clicks_per_session_first_fifth",
            "clicks_per_session_last_fifth", "steps_per_session", "ctr_per_step",
        ] {
            #expect(json[key] is NSNull, "\(key): \(String(describing: json[key]))")
        }
        // The references of users the pool never served are no comparison: null, with the reason.
        #expect(json["random_clicks_per_session"] is NSNull && json["oracle_clicks_per_session"] is NSNull)
        #expect(json["random_clicks_per_session_undefined"] as? String == "no session completed")
        #expect(report.text.contains("clicks per session undefined (no session completed)"), "\(report.text)")
        #expect(report.text.contains("steps per session undefined (no session completed)"))
        #expect(!report.text.contains("0.000"), "\(report.text)")
    }

    /// The pool's mean was over its completed sessions and the references' over every session, both labelled "same
    /// users": with half the sessions failed, the references were the healthy run's.
    @Test("the references are averaged over the sessions the pool completed, as its own figure is")
    func referencesOverCompletedSessions() throws {
        let outcomes = (0..<4).map {
            SessionOutcome(index: $0, steps: $0 < 2 ? 31 : 0, clicks: $0 < 2 ? 2 : 0, completed: $0 < 2)
        }
        let report = SessionReport(
            plan: SimulationPlan(users: 4, seed: 3, windows: 1), outcomes: outcomes, random: [1, 3, 10, 10],
            oracle: [5, 7, 20, 20], learner: "contextual_bandit", gamma: 0, elapsedMs: 1)
        #expect(report.randomClicksPerSession == 2 && report.oracleClicksPerSession == 6)
        #expect(report.text.contains("same users (the sessions completed): random 2.000, myopic oracle 6.000"))
    }

    @Test("one completed session has a mean but no standard deviation (it needs two)")
    func oneSessionHasNoSD() throws {
        var outcomes = [SessionOutcome(index: 0, steps: 31, clicks: 2, completed: true)]
        outcomes.append(SessionOutcome(index: 1, steps: 3, clicks: 0, completed: false))
        let report = SessionReport(
            plan: SimulationPlan(users: 2, seed: 3, windows: 1), outcomes: outcomes, random: [1, 1], oracle: [3, 3],
            learner: "contextual_bandit", gamma: 0, elapsedMs: 1)
        #expect(report.clicksPerSession == 2 && report.stepsPerSession == 31)
        #expect(report.clicksPerSessionSd == nil)
        #expect(report.clicksPerSessionFirstFifth == 2 && report.clicksPerSessionLastFifth == nil)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(json["clicks_per_session"] as? Double == 2)
        #expect(json["clicks_per_session_sd"] is NSNull)
        #expect(report.text.contains("2.000 ± undefined (fewer than 2 sessions completed)"), "\(report.text)")
    }
}
