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
}
