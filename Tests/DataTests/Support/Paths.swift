import Foundation
import RecModel
import Testing

@testable import RecData

/// Paths the tests need, found from this file's location rather than the working directory.
enum Paths {
    /// The repository root (three levels above `Tests/DataTests/Support/Paths.swift`).
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `data/obd`, filled by `scripts/fetch-obd`.
    static let obd = repoRoot + "/data/obd"

    /// Whether the full OBD sample has been fetched.
    static let hasOBD = FileManager.default.fileExists(atPath: obd + "/bts/women/women.csv")

    /// The reason tests that need the full sample give when skipped.
    static let obdMissing: Comment = "data/obd is absent: run scripts/fetch-obd to fetch the Open Bandit Dataset sample"

    /// Committed fixtures.
    static let fixtures = repoRoot + "/Tests/DataTests/Fixtures"
}

/// Each OBD file loaded at most once per test process (parsing is slow in debug builds).
enum OBDCache {
    private static let loaded: [String: Result<BanditDataset, DataError>] = {
        guard Paths.hasOBD else { return [:] }
        var out: [String: Result<BanditDataset, DataError>] = [:]
        for source in OBDSource.all {
            out[source.description] = Result { () throws(DataError) in
                try OBDLoader.load(source, obdDirectory: Paths.obd)
            }
        }
        return out
    }()

    /// The dataset for `random/all` style names.
    static func load(_ source: String) throws -> BanditDataset {
        guard let result = loaded[source] else { throw DataError.file(.unreadable(path: Paths.obd + "/" + source, operation: "open", errno: 2)) }
        return try result.get()
    }
}
