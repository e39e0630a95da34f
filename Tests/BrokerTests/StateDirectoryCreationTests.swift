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
        let real = try #require(realpath(root, nil).map { String(cString: $0) })
        #expect(creation.createdFolders == [real + "/other/new", real + "/other/new/sub"])
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
        #expect(creation.createdFolders.count == 3)
        try manager.createDirectory(atPath: root + "/a/b/c", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: root + "/a/b/c/recpool.sqlite"))
        creation.undo()
        #expect(!manager.fileExists(atPath: root + "/a"))
        try manager.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        let emptied = StateDirectoryCreation(stateDirectory: root + "/empty")
        try Data().write(to: URL(fileURLWithPath: root + "/empty/recpool.sqlite"))
        emptied.undo()
        #expect(manager.fileExists(atPath: root + "/empty"))
        #expect(try manager.contentsOfDirectory(atPath: root + "/empty").isEmpty)
    }

    /// A failed start in an operator's folder that held other files left the store's database, lock and blob folder
    /// there (only an empty folder was cleaned); `new/..` (the folder holding `new`) and `a/../b` with `a` missing
    /// left `new`, `a` and the store's files.
    @Test(
        "only the store's entries the start added are removed from an existing folder, and every folder it made",
        arguments: ["existing", "existing/new/..", "a/../existing", "existing/./", "x/y/../../existing"])
    func onlyTheStartsEntries(written: String) throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let manager = FileManager.default
        try manager.createDirectory(atPath: root + "/existing", withIntermediateDirectories: true)
        try Data("kept".utf8).write(to: URL(fileURLWithPath: root + "/existing/note"))
        let creation = StateDirectoryCreation(stateDirectory: root + "/" + written)
        let real = try #require(realpath(root, nil).map { String(cString: $0) })
        #expect(creation.resolved == real + "/existing")
        // What a start makes: each folder of the path (mkdir -p's steps), the store's files and blob folder.
        let made = ["existing/new/..": "existing/new", "a/../existing": "a", "x/y/../../existing": "x/y"]
        if let folder = made[written] {
            try manager.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        for file in ["recpool.sqlite", "recpool.sqlite-wal", "recpool.lock"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/existing/" + file))
        }
        try manager.createDirectory(atPath: root + "/existing/blobs/quarantine", withIntermediateDirectories: true)
        creation.undo()
        #expect(try manager.contentsOfDirectory(atPath: root).sorted() == ["existing"])
        #expect(try manager.contentsOfDirectory(atPath: root + "/existing") == ["note"])
    }

    @Test("a database that existed keeps its log and shared memory; a file the start did not make is never removed")
    func existingDatabaseKeepsCompanions() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let manager = FileManager.default
        try Data("db".utf8).write(to: URL(fileURLWithPath: root + "/recpool.sqlite"))
        let creation = StateDirectoryCreation(stateDirectory: root)
        for file in ["recpool.sqlite-wal", "recpool.sqlite-shm", "recpool.lock", "workers.ipc"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/" + file))
        }
        creation.undo()
        #expect(
            try manager.contentsOfDirectory(atPath: root).sorted()
                == ["recpool.sqlite", "recpool.sqlite-shm", "recpool.sqlite-wal", "workers.ipc"])
    }

    @Test("a file in the way, or a folder that exists only as a dangling link, resolves to no state directory")
    func unresolvable() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/file"))
        try FileManager.default.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: root + "/nowhere")
        let real = try #require(realpath(root, nil).map { String(cString: $0) })
        #expect(StateDirectoryCreation.resolve(root + "/file/state").resolved == nil)
        let through = StateDirectoryCreation.resolve(root + "/new/../dangling/state")
        #expect(through.resolved == nil)
        #expect(through.created == [real + "/new"])
        #expect(StateDirectoryCreation.resolve(root + "/new/../new/x").created == [real + "/new", real + "/new/x"])
    }

    /// Two brokers started on one new folder at once: the one that fails must not delete the database of the one that
    /// runs, which holds the directory's lock (a record lock on `recpool.lock`, held here by another process).
    @Test("nothing of the store's is removed while another process holds the state directory's lock")
    func heldByAnotherProcess() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let state = root + "/state"
        let creation = StateDirectoryCreation(stateDirectory: state)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        for file in ["recpool.sqlite", "recpool.lock"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: state + "/" + file))
        }
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = [
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
            state + "/recpool.lock",
        ]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        // SIGKILL: a test process may block SIGTERM, and its children inherit the mask.
        defer {
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }
        #expect(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("held"))
        creation.undo()
        #expect(try FileManager.default.contentsOfDirectory(atPath: state).sorted() == ["recpool.lock", "recpool.sqlite"])
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        creation.undo()
        #expect(!FileManager.default.fileExists(atPath: state))
    }
}
