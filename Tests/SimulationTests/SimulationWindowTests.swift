import Foundation
import Testing

@testable import RecSimulation

@Suite("Simulation windows with nobody served")
struct SimulationWindowTests {
    @Test("a window where no user was served has a null CTR in JSON, not 0")
    func undefinedCTR() throws {
        let empty = SimulationWindow(
            users: 100, served: 0, ctr: 0, randomCtr: 0.02, fixedCtr: 0.03, oracleCtr: 0.05, version: 0)
        let object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(empty)) as? [String: Any])
        #expect(object.keys.contains("ctr") && object["ctr"] is NSNull)
        #expect(object["random_ctr"] as? Double == 0.02)
        #expect(try JSONDecoder().decode(SimulationWindow.self, from: JSONEncoder().encode(empty)) == empty)
        let served = SimulationWindow(
            users: 100, served: 10, ctr: 0, randomCtr: 0.02, fixedCtr: 0.03, oracleCtr: 0.05, version: 3)
        let servedObject = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(served)) as? [String: Any])
        #expect(servedObject["ctr"] as? Double == 0)
    }

    @Test("a fifth of the users where none was served has a null CTR in JSON and undefined in text and HTML, not 0")
    func unservedFifth() throws {
        // 10 users: the first fifth (users 0 and 1) got no slate, the rest were served and every other one clicked.
        let outcomes = (0..<10).map { i in
            SimulationRunner.LiveOutcome(index: i, served: i >= 2, click: i >= 2 && i % 2 == 0 ? 1 : 0, version: 1)
        }
        let baselines = Baselines(series: [BaselineSeries(name: "random", clicks: Array(repeating: 0, count: 10))])
        let report = SimulationReport(
            plan: SimulationPlan(users: 10, seed: 1, windows: 2), world: "simulator", outcomes: outcomes,
            baselines: baselines, fixedVersion: 1, elapsedMs: 0)
        #expect(report.served == 8 && report.ctr == 0.5)
        #expect(report.ctrFirstFifth == nil)
        #expect(report.ctrLastFifth == 0.5)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(object.keys.contains("ctr_first_fifth") && object["ctr_first_fifth"] is NSNull)
        #expect(object["ctr_last_fifth"] as? Double == 0.5)
        #expect(try JSONDecoder().decode(SimulationReport.self, from: Data(report.json().utf8)) == report)
        #expect(report.text.contains("first fifth undefined (no user of it served)"), "\(report.text)")
        #expect(report.html(command: "recpool simulate").contains("first fifth undefined (no user of it served)"))
    }
}
