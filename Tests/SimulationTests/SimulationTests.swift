import Foundation
import RecData
import RecPolicy
import RecSimulation
import Testing

@Suite struct SimulationTests {
    @Test func aLearningPoolBeatsItsStartAndTheRandomPolicyOnTheSameUsers() async throws {
        let backend = try LearnerBackend()
        let report = try await SimulationRunner.run(
            backend: backend, plan: SimulationPlan(users: 5000, seed: 21, concurrency: 1, windows: 10))
        print("simulation: \((try? report.json()) ?? "not encodable")")
        #expect(report.served == 5000)
        #expect(report.errors.isEmpty)
        #expect(report.feedbackSent == 3 * 5000)
        let lastFifth = try #require(report.ctrLastFifth)
        #expect(lastFifth > (try #require(report.ctrFirstFifth)) + 0.03)
        #expect(lastFifth > report.randomCtr + 0.04)
        #expect(lastFifth > report.fixedCtr + 0.03)
        #expect(report.oracleCtr > report.randomCtr + 0.1)
        #expect(report.windows.count == 10 && report.windows.last?.users == 5000)
    }

    @Test func concurrencyServesTheSameUsersAndTheBaselinesDoNotChange() async throws {
        let plan = SimulationPlan(users: 600, seed: 4, concurrency: 1, windows: 6)
        var wide = plan
        wide.concurrency = 8
        let one = try await SimulationRunner.run(backend: try LearnerBackend(learning: false), plan: plan)
        let eight = try await SimulationRunner.run(backend: try LearnerBackend(learning: false), plan: wide)
        #expect(one.randomCtr == eight.randomCtr && one.fixedCtr == eight.fixedCtr && one.oracleCtr == eight.oracleCtr)
        #expect(eight.served == 600 && eight.feedbackSent == 1800 && eight.errors.isEmpty)
        // A frozen pool serving the start policy and the fixed baseline see the same users with the same policy.
        #expect(abs(one.ctr - one.fixedCtr) < 0.06)
    }

    @Test func theSameSeedGivesTheSameUsers() async throws {
        let plan = SimulationPlan(users: 300, seed: 9, windows: 3)
        let a = try await SimulationRunner.run(backend: try LearnerBackend(learning: false), plan: plan)
        let b = try await SimulationRunner.run(backend: try LearnerBackend(learning: false), plan: plan)
        #expect(a.windows == b.windows && a.ctr == b.ctr)
        var other = plan
        other.seed = 10
        let c = try await SimulationRunner.run(backend: try LearnerBackend(learning: false), plan: other)
        #expect(c.windows.map(\.oracleCtr) != a.windows.map(\.oracleCtr))
    }

    @Test func failedFeedbackIsCountedByStatus() async throws {
        let backend = try LearnerBackend()
        backend.failFeedback(with: .server(status: .expired, message: "too old", retryAfterMs: 0))
        let report = try await SimulationRunner.run(
            backend: backend, plan: SimulationPlan(users: 50, seed: 1, windows: 5))
        #expect(report.feedbackSent == 0)
        #expect(report.errors == ["EXPIRED": 150])
        #expect(report.served == 50)
    }

    @Test func anotherWorldsCatalogueIsRefused() async throws {
        var config = SimulatorConfig()
        config.seed = 8
        let backend = try LearnerBackend(world: SimulatorWorld(config: config))
        await #expect(throws: SimulationError.self) {
            try await SimulationRunner.run(backend: backend, plan: SimulationPlan(users: 10, seed: 1, windows: 1))
        }
        do {
            _ = try await SimulationRunner.run(backend: backend, plan: SimulationPlan(users: 10, seed: 1, windows: 1))
        } catch {
            guard case .catalogueMismatch(let why) = error else {
                Issue.record("expected catalogueMismatch, got \(error)")
                return
            }
            #expect(why.contains("item 0"))
        }
    }

    @Test(arguments: [
        (SimulationPlan(users: 0, seed: 1), "users"),
        (SimulationPlan(users: 10, seed: 1, concurrency: 0), "concurrency"),
        (SimulationPlan(users: 10, seed: 1, windows: 11), "windows"),
    ])
    func badPlansAreTypedErrorsNamingTheField(plan: SimulationPlan, field: String) async throws {
        do {
            _ = try await SimulationRunner.run(backend: try LearnerBackend(), plan: plan)
            Issue.record("accepted \(plan)")
        } catch let error as SimulationError {
            #expect(error.description.contains(field))
        }
    }

    @Test func theReportHasTheDocumentedJSONKeysAndAnSVGChart() async throws {
        let report = try await SimulationRunner.run(
            backend: try LearnerBackend(), plan: SimulationPlan(users: 200, seed: 2, concurrency: 4, windows: 4))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        for key in [
            "users", "seed", "concurrency", "served", "clicks", "ctr", "ctr_first_fifth", "ctr_last_fifth",
            "random_ctr",
            "fixed_ctr", "oracle_ctr", "fixed_version", "first_version", "last_version", "feedback_sent",
            "feedback_duplicates", "errors", "elapsed_ms", "windows",
        ] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let windows = try #require(object["windows"] as? [[String: Any]])
        #expect(windows.count == 4)
        for key in ["users", "served", "ctr", "random_ctr", "fixed_ctr", "oracle_ctr", "version", "baselines"] {
            #expect(windows.allSatisfy { $0[key] != nil }, "missing windows.\(key)")
        }
        let html = report.html(command: "recpool simulate --users 200 <test>")
        #expect(html.contains("<svg") && html.contains("</svg>"))
        // The pool and every baseline (random, fixed, three learners, feature-only, oracle) are lines.
        #expect(report.baselines.count == 7)
        #expect(html.components(separatedBy: "<polyline").count - 1 == 1 + report.baselines.count)
        #expect(html.contains("&lt;test&gt;"))
    }
}
