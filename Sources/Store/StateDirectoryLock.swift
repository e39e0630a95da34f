import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The exclusive lock one process holds on a state directory while it has it open: a POSIX record lock
/// (`fcntl(F_SETLK)`, a write lock over the whole file) on `<directory>/recpool.lock`. Two brokers on one state
/// directory would both resume its unfinished jobs and register a model version each for the same job, and each would
/// delete the other's partly written blobs at start. The kernel releases the lock when the process exits, however it
/// exits, so a crashed broker never leaves a stale lock.
///
/// A record lock belongs to the process, and closing *any* descriptor of the file releases it, so the process keeps
/// one descriptor per lock file and counts its holders (``held``): the same process may open the directory again (a
/// store reopened in place, as the tests restart one), and the lock is released only when the last holder goes, so
/// closing the first of two stores no longer lets another process in while the second is still open.
///
/// The directory itself is locked too (`flock(2)` on a descriptor of it): a `recpool.lock` deleted under a running
/// broker let a second broker create a new one, lock it and serve the same directory, both numbering model versions in
/// one registry.
final class StateDirectoryLock: Sendable {
    /// The lock file's name in the state directory.
    static let fileName = "recpool.lock"

    /// A lock file by its device and inode (one file however its path is spelt).
    private struct FileIdentity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// This process's locked files: the one descriptor that holds each lock, and how many holders share it; read and
    /// written only under ``heldLock`` (a pthread mutex, which ThreadSanitizer sees, as ARCHITECTURE.md asks).
    nonisolated(unsafe) private static var held: [FileIdentity: (descriptor: Int32, directory: Int32, holders: Int)] = [:]
    private static let heldLock = NSLock()

    private let identity: FileIdentity

    /// Takes the lock, creating the file if needed, and writes this process's pid into it; in a process that holds it
    /// already, shares that hold.
    /// - Throws: ``StoreError/inUse(path:holder:)`` naming the pid that holds it, ``StoreError/io(path:reason:)``
    ///   when the file cannot be opened or locked.
    init(directory: String) throws(StoreError) {
        let path = "\(directory)/\(Self.fileName)"
        let result: Result<FileIdentity, StoreError> = Self.heldLock.withLock {
            // A file this process holds already is found by stat, never opened again: closing a second descriptor
            // of it would release the process's lock.
            var info = stat()
            if stat(path, &info) == 0 {
                let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                if let shared = Self.held[identity] {
                    Self.held[identity] = (shared.descriptor, shared.directory, shared.holders + 1)
                    return .success(identity)
                }
            }
            // Never through a symbolic link: the lock file is written (the holder's pid), and a link put in its place
            // would have a file elsewhere created or overwritten.
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else {
                let reason =
                    errno == ELOOP
                    ? "it is a symbolic link, which the lock never follows (the lock file is written): remove it"
                    : String(cString: strerror(errno))
                return .failure(.io(path: path, reason: reason))
            }
            guard fstat(fd, &info) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                return .failure(.io(path: path, reason: reason))
            }
            let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            var request = Self.wholeFile(type: F_WRLCK)
            guard fcntl(fd, F_SETLK, &request) == 0 else {
                let reason = errno
                var holder = Self.wholeFile(type: F_WRLCK)
                let known = fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != Int16(F_UNLCK)
                close(fd)
                guard reason == EAGAIN || reason == EACCES else {
                    return .failure(.io(path: path, reason: String(cString: strerror(reason))))
                }
                return .failure(.inUse(path: directory, holder: known ? "pid \(holder.l_pid)" : "another process"))
            }
            // The directory's own lock, which deleting the lock file cannot lift.
            // (A directory this user may not read cannot be opened for it: the lock file's record lock alone.)
            let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            var directoryLock = folder
            if folder >= 0, Self.flockDirectory(folder) != 0 {
                let reason = errno
                close(folder)
                directoryLock = -1
                // A file system that cannot flock a directory (NFS emulates it with record locks, which need a
                // descriptor open for writing; some FUSE mounts have none): the lock file's record lock alone, as before.
                if reason == EWOULDBLOCK {
                    close(fd)
                    return .failure(
                        .inUse(path: directory, holder: "another process (its \(Self.fileName) was deleted while it ran)"))
                }
            }
            let pid = Array("\(getpid())\n".utf8)
            if ftruncate(fd, 0) == 0 { _ = pwrite(fd, pid, pid.count, 0) }
            Self.held[identity] = (fd, directoryLock, 1)
            return .success(identity)
        }
        identity = try result.get()
    }

    /// `flock(LOCK_EX | LOCK_NB)` on the directory, tried again for up to 0.5 s while it would block: a `flock` belongs
    /// to the open file, and a child this process is starting on another thread holds a copy of every descriptor until
    /// it executes its program (close-on-exec), so a directory this process closed a moment ago can still be locked
    /// by that copy. (A store opened again right after it was closed was refused as "in use by another process" while
    /// another thread spawned a process.) Another process's lock outlasts the retries. Returns flock's result; errno
    /// is flock's.
    private static func flockDirectory(_ folder: Int32) -> Int32 {
        var result = flock(folder, LOCK_EX | LOCK_NB)
        var tries = 0
        while result != 0 && errno == EWOULDBLOCK && tries < 50 {
            usleep(10_000)
            tries += 1
            result = flock(folder, LOCK_EX | LOCK_NB)
        }
        return result
    }

    private static func wholeFile(type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        return lock
    }

    /// The last holder's going closes the descriptor, which releases the process's lock on the file.
    deinit {
        let identity = identity
        Self.heldLock.withLock {
            guard let shared = Self.held[identity] else { return }
            if shared.holders > 1 {
                Self.held[identity] = (shared.descriptor, shared.directory, shared.holders - 1)
            } else {
                if shared.directory >= 0 { close(shared.directory) }
                close(shared.descriptor)
                Self.held[identity] = nil
            }
        }
    }
}
