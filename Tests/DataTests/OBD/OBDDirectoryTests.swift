import Foundation
import Testing

@testable import RecData

@Suite("Where the OBD sample is found")
struct OBDDirectoryTests {
    /// A fresh folder under the system's temporary directory, removed by the caller.
    private func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("obd-dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("--data-dir names its obd/ child when there is one, else itself")
    func dataDirectoryWins() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(OBDDirectory.locate(dataDirectory: root.path) == root.path)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("obd"), withIntermediateDirectories: true)
        #expect(OBDDirectory.locate(dataDirectory: root.path) == root.path + "/obd")
    }

    @Test("without --data-dir the nearest data/obd above the current folder is found; none gives the relative default")
    func searchesUpwards() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let nested = root.appendingPathComponent("a/b/c")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        #expect(OBDDirectory.locate(dataDirectory: nil, currentDirectory: nested.path) == "data/obd")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("a/data/obd"), withIntermediateDirectories: true)
        #expect(
            OBDDirectory.locate(dataDirectory: nil, currentDirectory: nested.path)
                == root.appendingPathComponent("a/data/obd").path)
    }
}
