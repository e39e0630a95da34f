import Foundation
import RecFiles
import SystemPackage
import Testing

@Suite("Atomic files")
struct AtomicFileTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recpool-files-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a write replaces the whole file, reads back byte for byte, and leaves no temporary file")
    func roundTrip() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/blob"
        try AtomicFile.write(Array(repeating: 7, count: 200_000), to: path)
        let big = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try AtomicFile.write(big, to: path)
        #expect(try AtomicFile.read(path) == big)
        try AtomicFile.write([], to: path)
        #expect(try AtomicFile.read(path) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["blob"])
    }

    @Test("failures name the step, the path and the errno, and leave nothing behind")
    func failures() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: FileFailure(operation: "open", path: folder + "/missing", errno: .noSuchFileOrDirectory)) {
            try AtomicFile.read(folder + "/missing")
        }
        let nested = folder + "/no/such/folder/file"
        let error = #expect(throws: FileFailure.self) { try AtomicFile.write([1, 2, 3], to: nested) }
        #expect(error?.operation == "create")
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.description.contains("cannot create") == true)
        // Renaming a file over a non-empty folder fails after the write: the temporary file is removed.
        try FileManager.default.createDirectory(atPath: folder + "/taken/inner", withIntermediateDirectories: true)
        let renamed = #expect(throws: FileFailure.self) { try AtomicFile.write([1], to: folder + "/taken") }
        #expect(renamed?.operation == "rename onto")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["taken"])
    }

    /// A catalogue file named `/dev/zero` grew the reader to gigabytes: a device is refused before anything is read.
    /// A pipe with a writer (`<(cat log.csv)`) is read to its end, as before.
    @Test("a device is refused with EINVAL before reading; a pipe is read to its end")
    func devicesAndPipes() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let failure = #expect(throws: FileFailure.self) { try AtomicFile.read("/dev/zero") }
        #expect(failure?.operation == AtomicFile.notRegularOperation && failure?.errno == .invalidArgument)
        let fifo = folder + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Thread {
            let fd = open(fifo, O_WRONLY)
            _ = [UInt8]("a,b\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        writer.start()
        #expect(try AtomicFile.read(fifo) == Array("a,b\n".utf8))
        try AtomicFile.write([1, 2], to: folder + "/file")
        #expect(try AtomicFile.read(folder + "/file") == [1, 2])
    }

    /// `--config FIFO` with no writer blocked every program for ever in open(2), `--help` included: a pipe is opened
    /// without blocking, and a read that hears nothing for the pipe wait fails naming the pipe and the wait.
    @Test("a FIFO no writer opens fails after the pipe wait, naming it; a writer that comes late is still read")
    func pipeWithoutWriter() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/silent"
        #expect(mkfifo(fifo, 0o600) == 0)
        let failure = #expect(throws: FileFailure.self) { try AtomicFile.read(fifo, pipeWaitMilliseconds: 300) }
        #expect(failure?.errno == .timedOut)
        #expect(failure?.path == fifo)
        #expect(failure.map(AtomicFile.reason) == "it is a pipe (FIFO) and no writer sent anything or closed it within 300 ms")
        #expect(AtomicFile.pipeTimeoutOperation(milliseconds: 5_000).hasSuffix("within 5 s"))
        // A writer that opens after the reader, waits, then writes in two parts is read to its end. The waits here are
        // long (10 s) where the test needs the writer in time, as a loaded machine may not run its thread for a while.
        let writer = Thread {
            let fd = open(fifo, O_WRONLY)
            usleep(100_000)
            _ = [UInt8]("a,".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            usleep(100_000)
            _ = [UInt8]("b\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        writer.start()
        #expect(try AtomicFile.read(fifo, pipeWaitMilliseconds: 10_000) == Array("a,b\n".utf8))
        // Once a writer has shown itself, a pause between its sends longer than the pipe wait is waited for (a
        // stalled download, a slow generator): the wait bounds only the wait for a writer. The writer opens the pipe
        // read-write (on Linux that never blocks) and sends its first part before the reader starts, so the reader
        // never waits for it (the read starts once the part is in the pipe); it pauses only once the reader has taken
        // that part out of the pipe.
        let firstPartSent = DispatchSemaphore(value: 0)
        let slow = Thread {
            let fd = open(fifo, O_RDWR)
            _ = [UInt8]("a,".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            firstPartSent.signal()
            var pending: Int32 = 1
            var polls = 0
            while polls < 60_000, ioctl(fd, UInt(FIONREAD), &pending) == 0, pending > 0 {
                usleep(1_000)
                polls += 1
            }
            usleep(700_000)
            _ = [UInt8]("b\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        slow.start()
        firstPartSent.wait()
        #expect(try AtomicFile.read(fifo, pipeWaitMilliseconds: 300) == Array("a,b\n".utf8))
    }

    /// `fit --out FIFO` trained, then blocked for ever in open(2) with no message: a FIFO no process reads.
    @Test("a write into a FIFO no process reads fails after the pipe wait, naming it; a reader that comes late gets it all")
    func pipeWithoutReader() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/unread"
        #expect(mkfifo(fifo, 0o600) == 0)
        let failure = #expect(throws: FileFailure.self) { try AtomicFile.write([1, 2, 3], to: fifo, pipeWaitMilliseconds: 300) }
        #expect(failure?.errno == .timedOut && failure?.path == fifo)
        #expect(failure.map(AtomicFile.reason) == "it is a pipe (FIFO) and no process opened it for reading within 300 ms")
        // A reader that opens late, and reads more slowly than the writer writes, gets every byte.
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        let received = LockedBytes()
        let reader = Thread {
            usleep(100_000)
            let fd = open(fifo, O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while true {
                usleep(200)
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                received.append(buffer[0..<count])
            }
            close(fd)
            received.finish()
        }
        reader.start()
        try AtomicFile.write(payload, to: fifo, pipeWaitMilliseconds: 10_000)
        #expect(received.waitForEnd() == payload)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["unread"])
    }

    @Test("an anonymous pipe (process substitution, a shell pipe) is told from a named FIFO")
    func anonymousPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(AtomicFile.isAnonymousPipe("/proc/self/fd/\(fds[0])"))
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(mkfifo(folder + "/named", 0o600) == 0)
        #expect(!AtomicFile.isAnonymousPipe(folder + "/named"))
        #expect(!AtomicFile.isAnonymousPipe(folder))
    }

    /// `fit --out /dev/null` renamed a regular file over the system's /dev/null, and `--out /dev/full` reported
    /// success: a device or pipe is written into, in place, and its errors are reported.
    @Test("a write to an existing pipe or device goes into it, never renames over it, and reports the device's error")
    func writesIntoDevicesAndPipes() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        let received = ReceivedBytes()
        let reader = Thread {
            let fd = open(fifo, O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 64)
            var got: [UInt8] = []
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                got += buffer[0..<n]
            }
            close(fd)
            received.set(got)
        }
        reader.start()
        try AtomicFile.write([1, 2, 3], to: fifo)
        var info = stat()
        #expect(stat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(received.wait() == [1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["pipe"])
        // Devices of our own (as /dev/null and /dev/full are: character devices 1,3 and 1,7), where the test may
        // make them (root, as on CI); the pipe above covers the same path where it may not.
        let null = folder + "/null"
        let full = folder + "/full"
        // glibc's makedev(1, m) for m < 256 is 0x100 | m (a macro Swift does not import).
        guard mknod(null, S_IFCHR | 0o666, dev_t(0x103)) == 0, mknod(full, S_IFCHR | 0o666, dev_t(0x107)) == 0 else {
            return
        }
        try AtomicFile.write([1, 2, 3], to: null)
        #expect(stat(null, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        let failure = #expect(throws: FileFailure.self) { try AtomicFile.write([1, 2, 3], to: full) }
        #expect(failure?.errno == .noSpace && failure?.operation == "write" && failure?.path == full)
        #expect(stat(full, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["full", "null", "pipe"])
    }
}

extension AtomicFileTests {
    /// A write through a symbolic link renamed a regular file over the link (`--out /dev/stdout`, as root, would have
    /// replaced the system's `/dev/stdout`): the link is kept and the file it names is written.
    @Test("a symbolic link is kept: the regular file it names is written atomically, a pipe it names is written into")
    func writesThroughSymbolicLinks() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.write([9], to: folder + "/target")
        #expect(symlink(folder + "/target", folder + "/link") == 0)
        try AtomicFile.write([1, 2], to: folder + "/link")
        var info = stat()
        #expect(lstat(folder + "/link", &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(try AtomicFile.read(folder + "/target") == [1, 2])
        // A link to a pipe (as /dev/stdout is, through /proc/self/fd/1): written into, the link kept.
        let fifo = folder + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(symlink(fifo, folder + "/out") == 0)
        let received = ReceivedBytes()
        let reader = Thread {
            let fd = open(fifo, O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            close(fd)
            received.set(Array(buffer.prefix(max(n, 0))))
        }
        reader.start()
        try AtomicFile.write([7], to: folder + "/out")
        #expect(received.wait() == [7])
        #expect(lstat(folder + "/out", &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["link", "out", "pipe", "target"])
    }
}

/// Bytes handed from a reader thread to the test, once.
final class ReceivedBytes: @unchecked Sendable {
    private let condition = NSCondition()
    private var bytes: [UInt8]?

    func set(_ value: [UInt8]) {
        condition.lock()
        bytes = value
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while bytes == nil { condition.wait() }
        return bytes ?? []
    }
}

/// Bytes a reader thread collects, and a wait for it to finish.
private final class LockedBytes: @unchecked Sendable {
    private let condition = NSCondition()
    private var bytes: [UInt8] = []
    private var ended = false

    func append(_ chunk: ArraySlice<UInt8>) {
        condition.lock()
        bytes += chunk
        condition.unlock()
    }

    func finish() {
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    func waitForEnd() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while !ended { condition.wait() }
        return bytes
    }
}
