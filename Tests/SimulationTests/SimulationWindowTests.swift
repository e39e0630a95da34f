import Foundation
import Testing

@testable import RecSimulation

@Suite("Simulation windows with nobody served")
struct SimulationWindowTests {
    @Test("a window where no user was served has a null CTR in JSON, not 0")
    func undefinedCTR() throws {
        let empty = SimulationWindow(
            users: 100, served: 0, ctr: 0, randomCtr: 0.02, fixedCtr: 0.03, oracleCtr: 0.05, version: nil)
        let object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(empty)) as? [String: Any])
        #expect(object.keys.contains("ctr") && object["ctr"] is NSNull)
        #expect(object.keys.contains("version") && object["version"] is NSNull)
        #expect(object["random_ctr"] as? Double == 0.02)
        #expect(try JSONDecoder().decode(SimulationWindow.self, from: JSONEncoder().encode(empty)) == empty)
        let served = SimulationWindow(
            users: 100, served: 10, ctr: 0, randomCtr: 0.02, fixedCtr: 0.03, oracleCtr: 0.05, version: 3)
        let servedObject = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(served)) as? [String: Any])
        #expect(servedObject["ctr"] as? Double == 0)
        #expect(servedObject["version"] as? Int == 3)
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
        // Each null has its reason beside it; a defined figure's reason is null.
        #expect(object["ctr_first_fifth_undefined"] as? String == "no user of it served")
        #expect(object["ctr_last_fifth_undefined"] is NSNull && object["ctr_undefined"] is NSNull)
        #expect(object["elapsed_ms_undefined"] is NSNull)
        #expect(object["ctr_last_fifth"] as? Double == 0.5)
        #expect(try JSONDecoder().decode(SimulationReport.self, from: Data(report.json().utf8)) == report)
        #expect(report.text.contains("first fifth undefined (no user of it served)"), "\(report.text)")
        #expect(report.html(command: "recpool simulate").contains("first fifth undefined (no user of it served)"))
        // The first window (users 0-4) was served by version 1; the versions are of served users only.
        #expect(report.windows.map(\.version) == [1, 1] && report.firstVersion == 1 && report.lastVersion == 1)
    }

    @Test("the pool's last fifth is divided by the oracle's last fifth, on the same users, not by its whole run")
    func lastFifthAgainstTheOraclesLastFifth() throws {
        // 10 users, every one served; the pool clicks on users 8 and 9 (last fifth 1.0). The oracle clicks on users
        // 0-5 and 8 (CTR 0.7, last fifth 0.5): 1.0 ÷ 0.5 = 2.00, where ÷ its whole run read 1.43.
        let outcomes = (0..<10).map { i in
            SimulationRunner.LiveOutcome(index: i, served: true, click: i >= 8 ? 1 : 0, version: 1)
        }
        let oracle = (0..<10).map { $0 < 6 || $0 == 8 ? 1 : 0 }
        let baselines = Baselines(series: [
            BaselineSeries(name: "random", clicks: Array(repeating: 0, count: 10)),
            BaselineSeries(name: "oracle", clicks: oracle),
        ])
        let report = SimulationReport(
            plan: SimulationPlan(users: 10, seed: 1, windows: 2), world: "simulator", outcomes: outcomes,
            baselines: baselines, fixedVersion: 1, elapsedMs: 0)
        #expect(report.ctrLastFifth == 1 && report.baseline("oracle")?.ctrLastFifth == 0.5)
        #expect(report.text.contains("last fifth 1.0000 (÷ oracle's last fifth 2.00)"), "\(report.text)")
    }

    /// With a quarter of the users' RECOMMENDs expired, the pool's CTR counted the served users and the oracle's and
    /// every baseline's all users, and "÷ oracle" divided the two.
    @Test("baselines are averaged over the served users, the ones the pool's CTR counts; all users without a live part")
    func baselinesOnTheServedUsers() throws {
        // 8 users; users 0-3 served. The pool clicks on users 0 and 1; the oracle on users 0-3 and 6-7.
        let outcomes = (0..<8).map { i in
            SimulationRunner.LiveOutcome(index: i, served: i < 4, click: i < 2 ? 1 : 0, version: 1)
        }
        let baselines = Baselines(series: [
            BaselineSeries(name: "random", clicks: [0, 1, 0, 0, 1, 1, 1, 1]),
            BaselineSeries(name: "oracle", clicks: [1, 1, 1, 1, 0, 0, 1, 1]),
        ])
        let plan = SimulationPlan(users: 8, seed: 1, windows: 2)
        let live = SimulationReport(
            plan: plan, world: "simulator", outcomes: outcomes, baselines: baselines, fixedVersion: 1, elapsedMs: 0)
        #expect(live.ctr == 0.5 && live.oracleCtr == 1 && live.randomCtr == 0.25)
        #expect(live.baseline("oracle")?.ctr == 1 && live.baseline("random")?.ofOracle == 0.25)
        #expect(live.text.contains("pool CTR 0.5000 (÷ oracle 0.50)"), "\(live.text)")
        #expect(live.text.contains("baselines on the same users, the 4 served"), "\(live.text)")
        // The HTML report names the baselines' users as the text does.
        let livePage = live.html(command: "recpool simulate")
        #expect(livePage.contains("On the same users, the 4 served:"))
        // The second window served nobody: its baselines are over all its users.
        #expect(live.windows[0].oracleCtr == 1 && live.windows[1].oracleCtr == 0.5 && live.windows[1].randomCtr == 1)
        let unserved = outcomes.map { SimulationRunner.LiveOutcome(index: $0.index, served: false, click: 0, version: 0) }
        let baselinesOnly = SimulationReport(
            plan: plan, world: "simulator", outcomes: unserved, baselines: baselines, fixedVersion: nil, elapsedMs: nil)
        #expect(baselinesOnly.oracleCtr == 0.75 && baselinesOnly.randomCtr == 0.625)
        #expect(baselinesOnly.text.contains("baselines on the same users (CTR"), "\(baselinesOnly.text)")
        // A live run that served nobody (its only worker dead) headed the baselines over every user "on the same users".
        let failed = SimulationReport(
            plan: plan, world: "simulator", outcomes: unserved, baselines: baselines, fixedVersion: nil, elapsedMs: 40)
        #expect(failed.oracleCtr == 0.75 && failed.text.contains("pool: no user served"))
        #expect(failed.text.contains("baselines on every user, as the pool served none"), "\(failed.text)")
        #expect(!failed.text.contains("same users"), "\(failed.text)")
        let page = failed.html(command: "recpool simulate")
        #expect(page.contains("On every user, as the pool served none:") && !page.contains("On the same users"))
    }

    @Test("a window nobody was served in names no version: null in JSON and - in text, not 0")
    func unservedWindowHasNoVersion() throws {
        // 10 users in 2 windows: the first window got no slate (a failed RECOMMEND leaves the outcome's version 0).
        let outcomes = (0..<10).map { i in
            SimulationRunner.LiveOutcome(index: i, served: i >= 5, click: 0, version: i >= 5 ? 4 : 0)
        }
        let baselines = Baselines(series: [BaselineSeries(name: "random", clicks: Array(repeating: 0, count: 10))])
        let report = SimulationReport(
            plan: SimulationPlan(users: 10, seed: 1, windows: 2), world: "simulator", outcomes: outcomes,
            baselines: baselines, fixedVersion: 4, elapsedMs: 0)
        #expect(report.windows.map(\.version) == [nil, 4])
        #expect(report.firstVersion == 4 && report.lastVersion == 4 && report.fixedVersion == nil)
        // No fixed baseline ran, so fixed_version is null even though the runner knew the version it installed.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(object["fixed_version"] is NSNull && object["first_version"] as? Int == 4)
        let windows = try #require(object["windows"] as? [[String: Any]])
        #expect(windows[0]["ctr"] is NSNull && windows[0]["ctr_undefined"] as? String == "no user of it served")
        #expect(windows[1]["ctr_undefined"] is NSNull)
        let lastLine = try #require(report.text.split(separator: "\n").last)
        #expect(lastLine.hasSuffix("4"))
        let firstWindow = try #require(report.text.split(separator: "\n").dropLast().last)
        #expect(firstWindow.hasSuffix("-"), "\(firstWindow)")
    }
}
