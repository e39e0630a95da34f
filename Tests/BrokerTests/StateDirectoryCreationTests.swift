import Foundation
import Testing

@testable import Broker

/// A start that fails undoes only what it created: a reviewer's case, a `--state-dir` that was a dangling symbolic link
/// (a disk not mounted under it), or a looping one, was read as missing, recorded as the start's, and deleted.
@Suite("What a failed broker start removes")
struct StateDirectoryCreationTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-sdc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a dangling or looping symbolic link at the state directory, or above it, is never removed")
    func linksAreKept() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: root + "/not-mounted")
        try manager.createSymbolicLink(atPath: root + "/loop1", withDestinationPath: root + "/loop2")
        try manager.createSymbolicLink(atPath: root + "/loop2", withDestinationPath: root + "/loop1")
        for stateDirectory in [
            root + "/dangling", root + "/dangling/state", root + "/loop1", root + "/loop1/state", root + "/dangling/",
            root + "/dangling/.", root + "/dangling/x/..", root + "/loop1/",
        ] {
            let creation = StateDirectoryCreation(stateDirectory: stateDirectory)
            creation.undo()
            #expect((try? manager.destinationOfSymbolicLink(atPath: root + "/dangling")) == root + "/not-mounted")
            #expect((try? manager.destinationOfSymbolicLink(atPath: root + "/loop1")) == root + "/loop2")
        }
    }

    /// A reviewer's case: `link/../new/sub`, tidied as text, was `./new/sub`: a failed start removed the operator's
    /// `new/sub` and left what it created beside the link's target.
    @Test("a path through a link and .. is read as the system reads it: the start's own folder is removed, no other")
    func dotDotThroughALink() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let manager = FileManager.default
        try manager.createDirectory(atPath: root + "/other/deep", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: root + "/new/sub", withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: root + "/new/sub/data.txt"))
        try manager.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/other/deep")
        let creation = StateDirectoryCreation(stateDirectory: root + "/link/../new/sub")
        #expect(creation.createdRoot == root + "/link/../new")
        try manager.createDirectory(atPath: root + "/other/new/sub", withIntermediateDirectories: true)
        creation.undo()
        #expect(manager.fileExists(atPath: root + "/new/sub/data.txt"))
        #expect(!manager.fileExists(atPath: root + "/other/new"))
        #expect(manager.fileExists(atPath: root + "/other/deep"))
    }

    @Test("a missing path is removed from its outermost created folder; an existing empty one is emptied, not removed")
    func createdIsRemoved() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let manager = FileManager.default
        let creation = StateDirectoryCreation(stateDirectory: root + "/a/b/c")
        #expect(creation.createdRoot == root + "/a")
        try manager.createDirectory(atPath: root + "/a/b/c", withIntermediateDirectories: true)
        creation.undo()
        #expect(!manager.fileExists(atPath: root + "/a"))
        try manager.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        let emptied = StateDirectoryCreation(stateDirectory: root + "/empty")
        try Data().write(to: URL(fileURLWithPath: root + "/empty/recpool.sqlite"))
        emptied.undo()
        #expect(manager.fileExists(atPath: root + "/empty"))
        #expect(try manager.contentsOfDirectory(atPath: root + "/empty").isEmpty)
    }
}
