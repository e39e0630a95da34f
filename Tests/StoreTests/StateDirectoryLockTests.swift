import Foundation
import Testing

@testable import RecStore

/// A record lock belongs to the process and closing any descriptor of the file releases it: a second store opened on
/// the same directory in one process, closed first, let another process take the directory while the first was
/// still open.
@Suite("The state directory's lock")
struct StateDirectoryLockTests {
    /// Whether another process can take the record lock on `path` now (`lockf`, a non-blocking `F_SETLK`).
    static func anotherProcessCanLock(_ path: String) throws -> Bool {
        try anotherProcessSucceeds(
            "fd = os.open(sys.argv[1], os.O_RDWR)\ntry:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", path)
    }

    /// Whether another process can take `flock(2)` on the directory `path` now.
    static func anotherProcessCanLockDirectory(_ path: String) throws -> Bool {
        try anotherProcessSucceeds(
            "fd = os.open(sys.argv[1], os.O_RDONLY)\ntry:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", path)
    }

    /// Runs `attempt` (Python, an open `try:` block over `sys.argv[1]`) in another process: whether it did not raise.
    static func anotherProcessSucceeds(_ attempt: String, _ path: String) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import fcntl, os, sys\n\(attempt)\nexcept OSError:\n    sys.exit(1)", path]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test("the lock is held while any store of this process has the directory open, and released with the last")
    func heldUntilTheLastStoreCloses() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-lock-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lockFile = directory + "/" + StateDirectoryLock.fileName
        var first: RecStore? = try RecStore(directory: directory)
        var second: RecStore? = try RecStore(directory: directory)
        #expect(try !Self.anotherProcessCanLock(lockFile))
        first = nil
        #expect(try !Self.anotherProcessCanLock(lockFile), "closing the first store released the second's lock")
        #expect(second != nil)
        second = nil
        #expect(try Self.anotherProcessCanLock(lockFile))
        _ = first
    }

    /// Deleting `recpool.lock` under a running broker let a second broker create a new one, lock it and serve the same
    /// directory: both registered model versions in one registry.
    @Test("the directory itself stays locked while a store has it open, even with its lock file deleted")
    func directoryLockOutlivesTheLockFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-dirlock-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var store: RecStore? = try RecStore(directory: directory)
        try FileManager.default.removeItem(atPath: directory + "/" + StateDirectoryLock.fileName)
        #expect(try !Self.anotherProcessCanLockDirectory(directory))
        #expect(store != nil)
        store = nil
        #expect(try Self.anotherProcessCanLockDirectory(directory))
    }

    /// A store opened again right after it was closed was refused "in use by another process (its recpool.lock was
    /// deleted while it ran)" in CI: a child another thread was starting held a copy of the closed directory
    /// descriptor, and with it the directory's `flock`, until it executed its program. A lock released within the wait
    /// is waited for; one held past it (another broker) is still refused.
    @Test("a directory lock a copy of a closed descriptor holds for a moment is waited for; one held on is refused")
    func briefDirectoryLockIsWaitedFor() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-dirlock-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let copy = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        #expect(copy >= 0 && flock(copy, LOCK_EX | LOCK_NB) == 0)
        let released = Thread {
            usleep(100_000)
            close(copy)
        }
        released.start()
        #expect(throws: Never.self) { _ = try RecStore(directory: directory) }
        let held = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(held) }
        #expect(flock(held, LOCK_EX | LOCK_NB) == 0)
        do {
            _ = try RecStore(directory: directory)
            Issue.record("opened while another descriptor held the directory's lock")
        } catch {
            #expect("\(error)".contains("in use by another process"), "\(error)")
        }
    }

    /// A `recpool.lock` that was a symbolic link was followed: the file it named, outside the state directory, was
    /// created or overwritten with the broker's pid.
    @Test("a recpool.lock that is a symbolic link is refused, and the file it names is left untouched")
    func symbolicLinkLockIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-lock-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let victim = directory + "/victim.txt"
        try "keep me\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/" + StateDirectoryLock.fileName, withDestinationPath: victim)
        do {
            _ = try RecStore(directory: directory)
            Issue.record("a symbolic link was taken as the lock file")
        } catch {
            #expect("\(error)".contains("it is a symbolic link, which the lock never follows"), "\(error)")
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me\n")
    }

    @Test("a database path that is a folder is named as such, never SQLite's bare 'unable to open database file'")
    func databaseIsAFolder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-dbdir-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: "\(directory)/recpool.sqlite", withIntermediateDirectories: true)
        #expect(throws: StoreError.io(
            path: "\(directory)/recpool.sqlite", reason: "is a directory, not the state's SQLite database file")) {
            _ = try RecStore(directory: directory)
        }
    }

    /// A helper's cases: `blobs` replaced by a link to itself said "A file with the same name already exists", and
    /// `recpool.sqlite` so replaced "SQLite error 14: unable to open database file", neither naming the loop.
    @Test("a state path that is a symbolic link loop is named as one", arguments: ["blobs", "recpool.sqlite", "recpool.sqlite-wal", ""])
    func symbolicLinkLoop(name: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-loop-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let looped: String
        if name.isEmpty {
            // The state directory itself.
            let parent = directory
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            looped = "\(parent)/state"
        } else {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            looped = "\(directory)/\(name)"
        }
        try FileManager.default.createSymbolicLink(atPath: looped, withDestinationPath: looped)
        #expect(throws: StoreError.io(
            path: looped,
            reason: "is, or lies under, a symbolic link that loops (too many levels of symbolic links): replace it")) {
            _ = try RecStore(directory: name.isEmpty ? looped : directory)
        }
    }

    /// A `-shm` replaced by a folder was reported as "this user may only read it … make the file writable", which a
    /// root-run broker's operator cannot act on.
    @Test("a database's -shm or -wal that is a folder is named as such", arguments: ["-shm", "-wal"])
    func sidecarIsAFolder(suffix: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-side-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do { _ = try RecStore(directory: directory) }
        try? FileManager.default.removeItem(atPath: "\(directory)/recpool.sqlite\(suffix)")
        try FileManager.default.createDirectory(
            atPath: "\(directory)/recpool.sqlite\(suffix)", withIntermediateDirectories: true)
        do {
            _ = try RecStore(directory: directory)
            Issue.record("opened a store whose \(suffix) is a folder")
        } catch {
            let text = "\(error)"
            #expect(text.contains("recpool.sqlite\(suffix)") && text.lowercased().contains("is a directory"), "\(text)")
        }
    }
}
