import Foundation
import SystemPackage
import Testing

@testable import RecFiles

@Suite("Folder creation, parents included")
struct FolderCreationTests {
    @Test("missing parents are created; an existing folder, or a symbolic link to one, is left as it is")
    func creates() throws {
        let root = try AtomicFileTests.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FolderCreation.create(root + "/a/b//c/./d/")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: root + "/a/b/c/d", isDirectory: &isDirectory) && isDirectory.boolValue)
        try FolderCreation.create(root + "/a/b")
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/a")
        try FolderCreation.create(root + "/link/b/e")
        #expect(FileManager.default.fileExists(atPath: root + "/a/b/e"))
        #expect(FolderCreation.prefixes(of: "x/./y//z/") == ["x", "x/y", "x/y/z"])
        #expect(FolderCreation.prefixes(of: "/x/y") == ["/x", "/x/y"])
    }

    @Test("a file in the way is named where it is, however far up; a parent that cannot be written names the errno")
    func failures() throws {
        let root = try AtomicFileTests.folder()
        defer {
            chmod(root + "/locked", 0o755)
            try? FileManager.default.removeItem(atPath: root)
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/blocker"))
        for asked in ["/blocker", "/blocker/sub", "/blocker/sub/deeper"] {
            #expect(throws: FileFailure(operation: FolderCreation.fileInTheWayOperation, path: root + "/blocker", errno: .fileExists)) {
                try FolderCreation.create(root + asked)
            }
        }
        #expect(
            FileFailure(operation: FolderCreation.fileInTheWayOperation, path: "/x/blocker", errno: .fileExists).description
                == "cannot create a folder at /x/blocker: a file of that name is in the way")
        #expect(throws: FileFailure(operation: "create a folder at", path: "", errno: .noSuchFileOrDirectory)) {
            try FolderCreation.create("")
        }
        // A dangling symbolic link is named as one, with its target (it said "File exists").
        try FileManager.default.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: root + "/not-mounted")
        #expect(throws: FileFailure(
            operation: "create a folder at: it is a symbolic link to \(root)/not-mounted, which does not exist",
            path: root + "/dangling", errno: .fileExists)) {
            try FolderCreation.create(root + "/dangling/state")
        }
        // A name past NAME_MAX (255 bytes) is refused by the system, named with its errno.
        let long = root + "/" + String(repeating: "n", count: 300)
        #expect(throws: FileFailure(operation: "inspect", path: long, errno: .fileNameTooLong)) {
            try FolderCreation.create(long + "/below")
        }
        // Root ignores permissions, so only a non-root run can see EACCES.
        guard geteuid() != 0 else { return }
        try FileManager.default.createDirectory(atPath: root + "/locked", withIntermediateDirectories: false)
        chmod(root + "/locked", 0o555)
        #expect(throws: FileFailure(operation: "create a folder at", path: root + "/locked/new", errno: .permissionDenied)) {
            try FolderCreation.create(root + "/locked/new/deeper")
        }
    }
}
