import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The exclusive lock one process holds on a state directory while it has it open: a POSIX record lock
/// (`fcntl(F_SETLK)`, a write lock over the whole file) on `<directory>/recpool.lock`. Two brokers on one state
/// directory would both resume its unfinished jobs and register a model version each for the same job, and each would
/// delete the other's partly written blobs at start. The kernel releases the lock when the process exits, however it
/// exits, so a crashed broker never leaves a stale lock. A record lock belongs to the process, not the descriptor, so
/// the same process may open the directory again (a store reopened in place, as the tests restart one); another
/// process cannot.
final class StateDirectoryLock: Sendable {
    /// The lock file's name in the state directory.
    static let fileName = "recpool.lock"

    private let descriptor: Int32

    /// Takes the lock, creating the file if needed, and writes this process's pid into it.
    /// - Throws: ``StoreError/inUse(path:holder:)`` naming the pid that holds it, ``StoreError/io(path:reason:)``
    ///   when the file cannot be opened or locked.
    init(directory: String) throws(StoreError) {
        let path = "\(directory)/\(Self.fileName)"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
        var request = Self.wholeFile(type: F_WRLCK)
        guard fcntl(fd, F_SETLK, &request) == 0 else {
            let reason = errno
            var holder = Self.wholeFile(type: F_WRLCK)
            let known = fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != Int16(F_UNLCK)
            close(fd)
            guard reason == EAGAIN || reason == EACCES else {
                throw .io(path: path, reason: String(cString: strerror(reason)))
            }
            throw .inUse(path: directory, holder: known ? "pid \(holder.l_pid)" : "another process")
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pwrite(fd, pid, pid.count, 0) }
        descriptor = fd
    }

    private static func wholeFile(type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        return lock
    }

    /// Closing the descriptor releases the process's lock on the file.
    deinit { close(descriptor) }
}
