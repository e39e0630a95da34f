import Foundation
import Testing

@testable import RecData

@Suite("Dataset specifiers and descriptions")
struct DatasetSpecifierTests {
    @Test(
        "specifiers parse",
        arguments: [
            "obd:random/all", "obd:bts/women", "synthetic:users=100000,seed=7", "synthetic:", "synthetic",
            "synthetic:users=10,items=5,rows=20,policy=egreedy:0.1,warm=0.2", "x/y.csv",
        ])
    func parses(_ text: String) throws {
        _ = try DatasetSpecifier(parsing: text)
    }

    /// A synthetic log's name names every key that decides its rows (before, `warm`, `topics` and `policy` were
    /// left out, so `data describe synthetic:users=50,warm=1,seed=2` printed the name of another log), and parses
    /// back to the same rows.
    @Test(
        "a synthetic log's name parses back to the same log",
        arguments: [
            "synthetic:users=50,warm=1,seed=2", "synthetic:users=40,items=6,topics=3,seed=4",
            "synthetic:users=30,items=5,rows=60,policy=egreedy:0.25,warm=0.5,seed=9", "synthetic:users=20,seed=1",
        ])
    func syntheticNameRoundTrips(_ text: String) throws {
        let data = try DatasetSpecifier(parsing: text).load(obdDirectory: "/nonexistent")
        let again = try DatasetSpecifier(parsing: data.name).load(obdDirectory: "/nonexistent")
        #expect(again.name == data.name)
        #expect(again.reward == data.reward && again.action == data.action && again.pscore == data.pscore)
        #expect(again.affinity == data.affinity)
    }

    @Test(
        "bad specifiers are typed errors",
        arguments: [
            "obd:random", "obd:greedy/all", "synthetic:users=0", "synthetic:color=red", "synthetic:policy=best",
            "whatever",
            // A helper's case: a comma at an end, or two in a row, was taken as though the setting were complete.
            "synthetic:users=200,", "synthetic:,users=200", "synthetic:users=200,,seed=3",
        ])
    func rejects(_ text: String) {
        #expect(throws: DataError.self) { try DatasetSpecifier(parsing: text) }
    }

    /// `synthetic:…,seed=0` was refused ("expected a positive integer") while `simulator:seed=0` is taken: a seed is
    /// any 64-bit number in both.
    @Test("a synthetic log takes every 64-bit seed, 0 and the largest included, as the simulator world does")
    func seedsAreAny64BitNumber() throws {
        for (text, seed) in [("synthetic:users=10,seed=0", UInt64(0)), ("synthetic:users=10,seed=18446744073709551615", .max)] {
            guard case .synthetic(let config, _, _) = try DatasetSpecifier(parsing: text) else {
                Issue.record("\(text) is not synthetic")
                continue
            }
            #expect(config.seed == seed)
            #expect(try SimulatorConfig.parse(spec: "simulator:seed=\(seed)").seed == seed)
        }
        let data = try DatasetSpecifier(parsing: "synthetic:users=10,seed=0").load(obdDirectory: "/nonexistent")
        #expect(data.name.hasSuffix(",seed=0"))
        for bad in ["synthetic:seed=-1", "synthetic:seed=18446744073709551616", "synthetic:seed=x"] {
            #expect {
                try DatasetSpecifier(parsing: bad)
            } throws: { error in
                "\(error)".contains("seed=") && "\(error)".contains("0...18446744073709551615")
            }
        }
    }

    @Test(
        "a size beyond its bound is refused naming the key and the range, never overflowing the world's arithmetic",
        arguments: [
            ("synthetic:items=9223372036854775807", "items"), ("synthetic:topics=9223372036854775807", "topics"),
            ("synthetic:users=9223372036854775807", "users"), ("synthetic:rows=100000001", "rows"),
            ("synthetic:topics=65", "topics"), ("synthetic:items=1", "items"),
        ])
    func sizesAreBounded(_ text: String, _ key: String) {
        #expect {
            try DatasetSpecifier(parsing: text)
        } throws: { error in
            "\(error)".contains("\(key)=") && "\(error)".contains("...")
        }
    }

    @Test("a CSV dataset without item_context.csv beside it says what kind of file it expects")
    func csvNeedsItsCatalogue() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spec-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("plain.csv")
        try Data("a,b,label\n1,2,0\n".utf8).write(to: file)
        do {
            _ = try DatasetSpecifier(parsing: file.path).load(obdDirectory: "/nonexistent")
            Issue.record("a CSV without its catalogue loaded")
        } catch {
            #expect("\(error)".contains("Open Bandit Dataset's layout") && "\(error)".contains("item_context.csv"))
        }
    }

    @Test("a synthetic specifier generates the requested logs")
    func synthetic() throws {
        let data = try DatasetSpecifier(parsing: "synthetic:users=500,items=8,rows=3000,seed=3").load(
            obdDirectory: "/nonexistent")
        let d = DatasetDescription(data)
        #expect(d.rows == 3_000 && d.items == 8 && d.positions == 3 && d.contextWidth == 20)
        #expect(d.trainRows == 1_800 && d.validationRows == 300 && d.testRows == 900 && d.coldStartRows + d.warmRows == 3_000)
    }

    @Test("the fixture CSV describes as OBD does")
    func csv() throws {
        let data = try DatasetSpecifier(parsing: Paths.fixtures + "/obd/random/men/men.csv").load(obdDirectory: "")
        let d = DatasetDescription(data)
        #expect(d.rows == 400 && d.clicks == 5 && d.items == 34)
        #expect(d.pscoreMin == d.pscoreMax && abs(d.pscoreMin - 1.0 / 34) < 1e-12)
    }
}
