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

    /// The export read back the way `--schema FOLDER/schema.toml` reads it: its own schema file, the catalogue it
    /// names next to it.
    func loadBack(_ summary: ImpressionExport.Summary) throws -> BanditDataset {
        let schema = try DataSchema.read(path: summary.schemaFile)
        let folder = URL(fileURLWithPath: summary.schemaFile).deletingLastPathComponent()
        return try LogLoader.load(
            logFile: summary.dataFile, catalogueFile: folder.appendingPathComponent(schema.catalogue.file).path,
            schema: schema, name: "export")
    }

    @Test func theExportLoadsBackWithItsSchemaRowForShownItem() async throws {
        let (backend, log) = try await loggedRun(users: 400)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataFile = directory.appendingPathComponent("log.csv").path
        let summary = try ImpressionExport.write(log, spec: backend.spec, dataFile: dataFile)
        #expect(summary.itemContextFile == directory.appendingPathComponent("item_context.csv").path)
        #expect(summary.schemaFile == directory.appendingPathComponent("schema.toml").path)
        #expect(summary.impressions == 400 && summary.rows == 1200 && summary.feedbackRows == 1200)
        #expect(summary.unobservedRows == 0)

        let data = try loadBack(summary)
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
        // The six noisy topic readings (the simulator catalogue has no item-id column) become six numeric columns,
        // item_feature_0…5, each the reading verbatim: none grows with the number of items.
        #expect(data.actionContext.rows == backend.spec.itemCount)
        #expect(data.actionContext.columnNames == (0..<6).map { "item_feature_\($0)" })
        #expect(data.itemNumericColumns == 6)
        for topic in 0..<6 {
            for item in 0..<data.actionContext.rows {
                #expect(abs(Double(data.actionContext[item, topic]) - Double(backend.spec.itemFeatures[item][topic])) < 1e-6)
            }
        }
    }

    @Test func ipwOfTheLoggingPolicyRecoversItsObservedCTR() async throws {
        let (backend, log) = try await loggedRun(users: 1500)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataFile = directory.appendingPathComponent("log.csv").path
        let summary = try ImpressionExport.write(log, spec: backend.spec, dataFile: dataFile)
        let data = try loadBack(summary)

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

    @Test func anUnreportedItemIsUnobservedNotANonClickAndDwellAndViewsAreKept() throws {
        var spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        spec.itemActive[30] = false
        let record = ImpressionRecord(
            impressionId: "a-1", createdMs: 1_764_390_000_123, version: 3,
            userFeatures: ["user_feature_1": "u1, \"x\""],
            viewed: [ViewedItem(item: 3, seconds: 25), ViewedItem(item: 7, seconds: 4), ViewedItem(item: 3, seconds: 40)],
            slate: [5, 9, 12], propensities: [0.9, 0.5, 0.25], scores: [0.1, 0.2, 0.3])
        let other = ImpressionRecord(
            impressionId: "a-2", createdMs: 1_764_390_001_000, version: 4, userFeatures: ["user_feature_0": "a"],
            slate: [1, 2, 4], propensities: [0.5, 0.5, 0.5], scores: [0, 0, 0])
        let log = [
            LoggedImpression(seq: 1, record: record, clicks: ["9": 1, "12": 0], dwell: ["9": 42.5]),
            LoggedImpression(seq: 2, record: other, clicks: ["4": 0]),
        ]
        let (text, counts) = try ImpressionExport.dataCSV(log, spec: spec)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 7)
        #expect(
            lines[0].hasPrefix(
                ",timestamp,item_id,position,click,observed,dwell,propensity_score,impression_id,policy_version,viewed,"
                    + "score,retrieval,user_feature_0,user_feature_1,"))
        // Item 5 got no feedback: click blank, observed 0; item 9 a click with its dwell; item 12 a reported 0.
        let session = "a-1,3,3:25.0;7:4.0;3:40.0,"
        let user = ",,,\"u1, \"\"x\"\"\","  // score, blank retrieval, blank user_feature_0, user_feature_1
        #expect(lines[1].hasPrefix("0,2025-11-29 04:20:00.123000+00:00,5,1,,0,,0.9," + session + "0.1" + user))
        #expect(lines[2].hasPrefix("1,2025-11-29 04:20:00.123000+00:00,9,2,1,1,42.5,0.5," + session + "0.2" + user))
        #expect(lines[3].hasPrefix("2,2025-11-29 04:20:00.123000+00:00,12,3,0,1,,0.25," + session + "0.3" + user))
        // No column per item: the header is the fixed columns and the user features, whatever the catalogue's size.
        #expect(lines[0].split(separator: ",", omittingEmptySubsequences: false).count == 13 + spec.userFeatures.count)
        #expect(!lines[0].contains("user-item_affinity_"))
        #expect(counts == .init(rows: 6, feedbackRows: 3, unobservedRows: 3, dwellRows: 1, clicks: 1))

        // Loaded back with the export's schema, the unobserved rows are left out (not counted as non-clicks).
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let summary = try ImpressionExport.write(
            log, spec: spec, dataFile: directory.appendingPathComponent("a/b/impressions.csv").path)
        #expect(summary.unobservedRows == 3 && summary.dwellRows == 1 && summary.feedbackRows == 3)
        let data = try loadBack(summary)
        #expect(data.rows == 3 && data.unobservedRows == 3)
        #expect(data.action == [9, 12, 4])
        #expect(data.reward == [1, 0, 0])
        #expect(data.pscore == [0.5, 0.25, 0.5])
        #expect(data.nActions == spec.itemCount)
        // The history is read back from `viewed`: 25 s and 40 s on item 3 count 2.5 + 3 (capped) engagements; 4 s
        // on item 7 is a glance. The other impression viewed nothing.
        #expect(data.affinity.entries(0).map(\.column) == [3] && data.affinity.entries(0).map(\.value) == [5.5])
        #expect(data.affinity.entries(1).map(\.value) == [5.5] && data.affinity.entries(2).isEmpty)
        // The catalogue keeps each row's external id and active flag.
        let items = try String(contentsOfFile: summary.itemContextFile, encoding: .utf8).split(separator: "\n")
        #expect(items[0].hasPrefix(",item_id,item_sku,active,item_feature_0,"))
        #expect(items[31].hasPrefix("30,30,\(spec.itemIds[30]),0,"))
        #expect(items[1].hasPrefix("0,0,\(spec.itemIds[0]),1,"))
    }

    @Test func aDwellOfMinusZeroIsWrittenAsZero() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        let record = ImpressionRecord(
            impressionId: "z-1", createdMs: 1_764_390_000_000, version: 1, userFeatures: [:],
            viewed: [ViewedItem(item: 1, seconds: -0.0)], slate: [5, 9, 12], propensities: [0.5, 0.5, 0.5],
            scores: [0, 0, 0])
        let (text, _) = try ImpressionExport.dataCSV(
            [LoggedImpression(seq: 1, record: record, clicks: ["5": 1], dwell: ["5": -0.0])], spec: spec)
        #expect(!text.contains("-0"), "\(text)")
        #expect(text.split(separator: "\n")[1].contains(",5,1,1,1,0.0,0.5,z-1,1,1:0.0,"), "\(text)")
    }

    @Test func theOutputFolderIsCreatedOrATypedErrorNamesIt() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        let record = ImpressionRecord(
            impressionId: "f-1", createdMs: 0, version: 1, userFeatures: [:], slate: [1], propensities: [1],
            scores: [0])
        let log = [LoggedImpression(seq: 1, record: record, clicks: ["1": 1])]
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let nested = directory.appendingPathComponent("x/y/z/log.csv").path
        let summary = try ImpressionExport.write(log, spec: spec, dataFile: nested)
        #expect(FileManager.default.fileExists(atPath: summary.dataFile))
        #expect(FileManager.default.fileExists(atPath: summary.itemContextFile))
        #expect(try DataSchema.read(path: summary.schemaFile) == ImpressionExport.schema(spec: spec))
        // A file where the folder should be is a typed error naming it, not a crash or a partial export.
        let blocker = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        #expect(
            throws: ImpressionExport.ExportError.cannotCreateFolder(
                path: blocker.path, reason: "a file of that name is in the way")
        ) { try ImpressionExport.write(log, spec: spec, dataFile: blocker.appendingPathComponent("log.csv").path) }
        let under = blocker.appendingPathComponent("deeper/log.csv").path
        #expect {
            try ImpressionExport.write(log, spec: spec, dataFile: under)
        } throws: { error in
            guard case .cannotCreateFolder(let path, let reason) = error as? ImpressionExport.ExportError else { return false }
            // The file in the way is named, not only the folder asked for (it said "NSCocoaErrorDomain error 512").
            return path == blocker.appendingPathComponent("deeper").path
                && reason == "cannot create a folder at \(blocker.path): a file of that name is in the way"
        }
        // A path through a link and .. puts all three files where the system puts the log, and the summary names them
        // (URL tidied `lnk/../q` as text: the log went under the link's target, the other two beside the link).
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("real/deep"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: directory.appendingPathComponent("lnk").path,
            withDestinationPath: directory.appendingPathComponent("real/deep").path)
        let throughLink = try ImpressionExport.write(
            log, spec: spec, dataFile: directory.appendingPathComponent("lnk/../q/z.csv").path)
        for written in [throughLink.dataFile, throughLink.itemContextFile, throughLink.schemaFile] {
            #expect(FileManager.default.fileExists(atPath: written), "\(written)")
        }
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("real/q/item_context.csv").path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("q").path))
        // A folder where item_context.csv or schema.toml goes is refused before the log is written.
        for companion in ["item_context.csv", "schema.toml"] {
            let export = directory.appendingPathComponent("blocked-\(companion)")
            try FileManager.default.createDirectory(
                at: export.appendingPathComponent(companion), withIntermediateDirectories: true)
            #expect {
                try ImpressionExport.write(log, spec: spec, dataFile: export.appendingPathComponent("log.csv").path)
            } throws: { error in
                guard case .cannotWrite(let path, _) = error as? ImpressionExport.ExportError else { return false }
                return path.hasSuffix("blocked-\(companion)/\(companion)")
            }
            #expect(!FileManager.default.fileExists(atPath: export.appendingPathComponent("log.csv").path))
        }
        // A folder given as the log file, or the log named like a file written next to it, is refused by name
        // before anything is written (the companion file would overwrite the log).
        let folder = directory.appendingPathComponent("x").path
        for target in [folder, folder + "/", directory.appendingPathComponent("x/item_context.csv").path,
                       directory.appendingPathComponent("x/schema.toml").path] {
            #expect {
                try ImpressionExport.write(log, spec: spec, dataFile: target)
            } throws: { error in
                guard case .cannotWrite(let path, let reason) = error as? ImpressionExport.ExportError else { return false }
                return path == target && (reason.contains("folder") || reason.contains("next to the log"))
            }
        }
        #expect(try String(contentsOfFile: folder + "/y/z/log.csv", encoding: .utf8) == (try String(
            contentsOfFile: summary.dataFile, encoding: .utf8)))
        // A pipe (or a device: `--out /dev/null` wrote /dev/schema.toml) takes one file, not three: refused, and
        // nothing is written beside it.
        let pipe = directory.appendingPathComponent("pipe").path
        #expect(mkfifo(pipe, 0o600) == 0)
        #expect {
            try ImpressionExport.write(log, spec: spec, dataFile: pipe)
        } throws: { error in
            guard case .cannotWrite(let path, let reason) = error as? ImpressionExport.ExportError else { return false }
            return path == pipe && reason.contains("not a regular file")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("schema.toml").path))
    }

    @Test func itemFeaturesBecomeOneHotLabelsBinaryColumnsAndNumbers() {
        let spec = OnlinePolicySpec(
            userFeatures: [UserFeatureSpec(name: "user_feature_0", kind: .categorical, values: ["a", "b"])],
            itemFeatures: [[1, 0, 0, 0.5, 1, -0.2], [0, 1, 0, 0.1, 0, 0.3], [0, 0, 1, 0.9, 1, 0], [0, 0, 0, 0.7, 0, 0.1]],
            itemIds: ["a", "b", "c", "added"])
        let lines = ImpressionExport.itemContextCSV(spec: spec).split(separator: "\n").map(String.init)
        // The added item's categorical value is outside the vocabulary (no hot column): `none`, still one block.
        #expect(
            lines == [
                ",item_id,item_sku,active,item_feature_0,item_feature_1,item_feature_2,item_feature_3",
                "0,0,a,1,0.5,v0,1,-0.2",
                "1,1,b,1,0.1,v1,0,0.3",
                "2,2,c,1,0.9,v2,1,0.0",
                "3,3,added,1,0.7,none,0,0.1",
            ])
        // A continuous column after the first is numeric, not a category per item (a 100,000-item catalogue's export
        // was 1.38 million features wide, and fit refused it without naming a column).
        #expect(ImpressionExport.schema(spec: spec).catalogue.itemFeatures.map(\.kind) == [.numeric, .categorical, .categorical, .numeric])
    }

    @Test func badLogsAreTypedErrorsNamingTheImpression() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        #expect(throws: ImpressionExport.ExportError.emptyLog) { try ImpressionExport.dataCSV([], spec: spec) }
        let outside = ImpressionRecord(
            impressionId: "b-2", createdMs: 0, version: 1, userFeatures: [:], slate: [99], propensities: [1],
            scores: [0])
        #expect(
            throws: ImpressionExport.ExportError.beyondCatalogue(impressions: 1, items: spec.itemCount)
        ) { try ImpressionExport.dataCSV([LoggedImpression(seq: 1, record: outside, clicks: [:])], spec: spec) }
        let negative = ImpressionRecord(
            impressionId: "n-1", createdMs: 0, version: 1, userFeatures: [:], slate: [-1], propensities: [1],
            scores: [0])
        #expect(
            throws: ImpressionExport.ExportError.malformedImpression(id: "n-1", reason: "the slate shows item -1, below 0")
        ) { try ImpressionExport.dataCSV([LoggedImpression(seq: 1, record: negative, clicks: [:])], spec: spec) }
        let stranger = ImpressionRecord(
            impressionId: "c-3", createdMs: 0, version: 1, userFeatures: ["colour": "red"], slate: [1],
            propensities: [1], scores: [0])
        #expect(
            throws: ImpressionExport.ExportError.malformedImpression(id: "c-3", reason: "unknown user feature 'colour'")
        ) { try ImpressionExport.dataCSV([LoggedImpression(seq: 1, record: stranger, clicks: [:])], spec: spec) }
    }

    /// After a restart onto an older catalogue version, impressions served with a later one (showing, or having
    /// viewed, an added item's row) are left out and counted; the rest export as before.
    @Test func impressionsBeyondTheServedCatalogueAreLeftOutAndCounted() throws {
        let spec = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        let n = spec.itemCount
        func impression(_ id: String, slate: [Int], viewed: [ViewedItem] = []) -> LoggedImpression {
            LoggedImpression(
                seq: 1,
                record: ImpressionRecord(
                    impressionId: id, createdMs: 0, version: 1, userFeatures: [:], viewed: viewed, slate: slate,
                    propensities: slate.map { _ in 0.5 }, scores: slate.map { _ in 0 }),
                clicks: [:])
        }
        let log = [
            impression("in-1", slate: [0, 1]), impression("added-1", slate: [2, n]),
            impression("viewed-1", slate: [3], viewed: [ViewedItem(item: n, seconds: 5)]), impression("in-2", slate: [4]),
        ]
        let (text, counts) = try ImpressionExport.dataCSV(log, spec: spec)
        #expect(counts.skippedImpressions == 2)
        #expect(counts.rows == 3)
        #expect(text.contains(",in-1,") && text.contains(",in-2,") && !text.contains("added-1") && !text.contains("viewed-1"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("export-beyond-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try ImpressionExport.write(log, spec: spec, dataFile: folder.appendingPathComponent("log.csv").path)
        #expect(summary.impressions == 2 && summary.skippedImpressions == 2 && summary.rows == 3)
        let json = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
        #expect(json.contains("\"skipped_impressions\":2"))
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
        // The broker refuses to log what the export would refuse: one floor on both sides.
        #expect(ImpressionRecord.minimumPropensity == BanditDataset.minimumPropensity)
    }
}
