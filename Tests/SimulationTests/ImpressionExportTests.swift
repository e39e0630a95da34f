import Foundation
import RecData
import RecPolicy
import RecSimulation
import RecTestKit
import RecWire
import Testing

@Suite struct ImpressionExportTests {
    /// A frozen in-process pool after `users` simulated users, and its log.
    func loggedRun(users: Int) async throws -> (LearnerBackend, [LoggedImpression]) {
        let backend = try LearnerBackend(learning: false)
        _ = try await SimulationRunner.run(backend: backend, plan: SimulationPlan(users: users, seed: 13, windows: 1))
        return (backend, backend.impressions)
    }

    func temporaryDirectory() throws -> URL { try TemporaryDirectory("export").url }

    @Test func theExportLoadsWithOBDLoaderRowForShownItem() async throws {
        let (backend, log) = try await loggedRun(users: 400)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataFile = directory.appendingPathComponent("log.csv").path
        let summary = try ImpressionExport.write(log, spec: backend.spec, dataFile: dataFile)
        #expect(summary.itemContextFile == directory.appendingPathComponent("item_context.csv").path)
        #expect(summary.impressions == 400 && summary.rows == 1200 && summary.feedbackRows == 1200)

        let data = try OBDLoader.load(dataFile: dataFile, itemContextFile: summary.itemContextFile, name: "export")
        #expect(data.rows == 1200)
        #expect(data.nActions == backend.spec.itemCount)
        #expect(data.nPositions == backend.spec.slateSize)
        #expect(data.clicks == summary.clicks)
        let shown = log.flatMap { logged in logged.record.slate.enumerated().map { (logged, $0.offset, $0.element) } }
        for (row, (logged, slot, item)) in shown.enumerated() {
            #expect(data.action[row] == item)
            #expect(data.position[row] == slot)
            #expect(data.pscore[row] == logged.record.propensities[slot])
            #expect(data.reward[row] == Double(logged.clicks[String(item)]!))
        }
        #expect((0..<data.rows).allSatisfy { data.isCold($0) })
        // The six noisy topic readings (the simulator catalogue has no item-id column) become item_feature_0 plus
        // five order-preserving rank columns.
        #expect(data.actionContext.rows == backend.spec.itemCount)
        #expect(data.actionContext.columnNames.count == 6)
        let topic0 = backend.spec.itemFeatures.map { Double($0[0]) }
        for item in 0..<data.actionContext.rows {
            #expect(abs(Double(data.actionContext[item, 5]) - topic0[item]) < 1e-5)
        }
        let topic1 = backend.spec.itemFeatures.map { $0[1] }
        for a in 0..<40 {
            for b in 0..<40 where topic1[a] < topic1[b] { #expect(data.actionContext[a, 0] < data.actionContext[b, 0]) }
        }
    }

    @Test func ipwOfTheLoggingPolicyRecoversItsObservedCTR() async throws {
        let (backend, log) = try await loggedRun(users: 1500)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataFile = directory.appendingPathComponent("log.csv").path
        let summary = try ImpressionExport.write(log, spec: backend.spec, dataFile: dataFile)
        let data = try OBDLoader.load(dataFile: dataFile, itemContextFile: summary.itemContextFile, name: "export")

        // π(· | x, slot, items above) of the logging policy, recomputed from its weights for every row.
        let policy = backend.initial
        let n = policy.spec.itemCount
        var probabilities: [Double] = []
        for logged in log {
            let q = try policy.qValues(userFeatures: logged.record.userFeatures)
            var remaining = Array(0..<n)
            for item in logged.record.slate {
                let p = policy.probabilities(remaining.map { q[$0] }, items: remaining)
                var row = [Double](repeating: 0, count: n)
                for (i, candidate) in remaining.enumerated() { row[candidate] = p[i] }
                probabilities += row
                remaining.removeAll { $0 == item }
            }
        }
        let distribution = ActionDistribution(nActions: n, probabilities: probabilities)
        let terms = OPETerms(
            reward: data.reward, action: data.action, pscore: data.pscore, policy: distribution, estimatedRewards: nil)
        #expect(terms.weight.allSatisfy { abs($0 - 1) < 1e-6 }, "exported propensities are the policy's")
        let observed = data.reward.reduce(0, +) / Double(data.rows)
        let ipw = try #require(terms.estimate(.ipw))
        let interval = try #require(Bootstrap.intervals(terms, estimators: [.ipw], resamples: 300)[.ipw])
        #expect(interval.contains(observed), "IPW \(ipw) interval \(interval) observed \(observed)")
        #expect(abs(ipw - observed) < 1e-6)
        #expect(interval.upper - interval.lower < 0.05)
    }

    @Test func feedbackMissingForAnItemExportsAsNoClick() throws {
        let (_, spec) = (0, SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig())))
        let record = ImpressionRecord(
            impressionId: "a-1", createdMs: 1_764_390_000_123, version: 3,
            userFeatures: ["user_feature_1": "u1, \"x\""],
            slate: [5, 9], propensities: [0.9, 0.5], scores: [0.1, 0.2])
        let (text, summary) = try ImpressionExport.dataCSV(
            [LoggedImpression(seq: 1, record: record, clicks: ["9": 1])], spec: spec)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix(",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,"))
        #expect(lines[1].hasPrefix("0,2025-11-29 04:20:00.123000+00:00,5,1,0,0.9,,\"u1, \"\"x\"\"\","))
        #expect(lines[2].hasPrefix("1,2025-11-29 04:20:00.123000+00:00,9,2,1,0.5,"))
        #expect(summary.rows == 2 && summary.feedbackRows == 1 && summary.clicks == 1)
    }

    @Test func itemFeaturesBecomeOneHotLabelsBinaryColumnsAndOrderPreservingRanks() {
        let spec = OnlinePolicySpec(
            userFeatures: [UserFeatureSpec(name: "user_feature_0", kind: .categorical, values: ["a", "b"])],
            itemFeatures: [[1, 0, 0, 0.5, 1, -0.2], [0, 1, 0, 0.1, 0, 0.3], [0, 0, 1, 0.9, 1, 0]])
        let lines = ImpressionExport.itemContextCSV(spec: spec).split(separator: "\n").map(String.init)
        #expect(
            lines == [
                ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3",
                "0,0,0.5,v0,1,r0:-0.200000",
                "1,1,0.1,v1,0,r2:+0.300000",
                "2,2,0.9,v2,1,r1:+0.000000",
            ])
    }

    @Test func badLogsAreTypedErrorsNamingTheImpression() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        #expect(throws: ImpressionExport.ExportError.emptyLog) { try ImpressionExport.dataCSV([], spec: spec) }
        let outside = ImpressionRecord(
            impressionId: "b-2", createdMs: 0, version: 1, userFeatures: [:], slate: [99], propensities: [1],
            scores: [0])
        #expect(
            throws: ImpressionExport.ExportError.malformedImpression(
                id: "b-2", reason: "item 99 is not in the catalogue")
        ) { try ImpressionExport.dataCSV([LoggedImpression(seq: 1, record: outside, clicks: [:])], spec: spec) }
        let stranger = ImpressionRecord(
            impressionId: "c-3", createdMs: 0, version: 1, userFeatures: ["colour": "red"], slate: [1],
            propensities: [1], scores: [0])
        #expect(
            throws: ImpressionExport.ExportError.malformedImpression(id: "c-3", reason: "unknown user feature 'colour'")
        ) { try ImpressionExport.dataCSV([LoggedImpression(seq: 1, record: stranger, clicks: [:])], spec: spec) }
    }

    @Test func aPropensityTooSmallForOffPolicyEvaluationStopsTheExport() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        let tiny = ImpressionRecord(
            impressionId: "t-1", createdMs: 0, version: 1, userFeatures: [:], slate: [1, 2], propensities: [0.5, 1e-160],
            scores: [0, 0])
        #expect(
            throws: ImpressionExport.ExportError.malformedImpression(
                id: "t-1", reason: "propensity 1e-160 is below the smallest usable propensity 1e-100")
        ) { try ImpressionExport.dataCSV([LoggedImpression(seq: 1, record: tiny, clicks: [:])], spec: spec) }
    }
}
