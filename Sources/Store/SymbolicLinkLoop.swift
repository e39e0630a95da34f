import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A state path that is a symbolic link no lookup can resolve (a loop, `blobs → blobs`): Foundation's directory creation
/// called it "A file with the same name already exists" and SQLite "unable to open database file", neither naming the
/// loop.
enum SymbolicLinkLoop {
    /// Refuses `path` when following it loops (ELOOP: too many levels of symbolic links).
    /// - Throws: ``StoreError/io(path:reason:)`` naming the path as a symbolic link loop.
    static func check(_ path: String) throws(StoreError) {
        var status = stat()
        guard stat(path, &status) != 0, errno == ELOOP else { return }
        throw .io(
            path: path,
            reason: "is, or lies under, a symbolic link that loops (too many levels of symbolic links): replace it")
    }
}
