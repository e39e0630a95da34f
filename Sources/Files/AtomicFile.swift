import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whole-file reads and atomic, durable whole-file writes over swift-system's `FileDescriptor`.
///
/// RecPool's one place that writes a file atomically (checkpoints, ONNX exports, content-addressed
/// blobs). A write goes to `<path>.tmp-<pid>` in the same folder, is fsynced, renamed over `path`
/// (rename(2) is atomic within a file system), and the folder is fsynced so that the rename
/// survives a crash: a reader sees the old file or the whole new one, never half of either.
/// swift-system has no `fsync` or `rename`, so those two calls go to libc directly.
public enum AtomicFile {
    /// The suffix of a write's temporary file, before the writer's pid; a store may delete files
    /// carrying it at start-up (a writer killed between write and rename leaves one behind).
    public static let temporarySuffix = ".tmp-"

    /// Whether a file of this mode is read: a regular file, a FIFO (a pipe: `<(cat log.csv)`, whose writer ends it),
    /// or a folder (whose read fails with EISDIR, reported as such). A character or block device is not: `/dev/zero`
    /// never ends.
    private static func isReadableKind(_ mode: mode_t) -> Bool {
        let kind = mode & S_IFMT
        return kind == S_IFREG || kind == S_IFIFO || kind == S_IFDIR
    }

    /// The ``FileFailure/operation`` of a read refused because the path is not a regular file.
    public static let notRegularOperation = "read: it is a device, not a file (a device such as /dev/zero may never end)"

    /// How long a read waits for a pipe's writer to send something (or to close it) before it fails, by default:
    /// a named FIFO nobody writes to blocked every program that read it, `--help` included.
    public static let defaultPipeWaitMilliseconds: Int32 = 5_000

    /// The ``FileFailure/operation`` of a read of a pipe whose writer sent nothing for the pipe wait: ETIMEDOUT.
    public static func pipeTimeoutOperation(milliseconds: Int32) -> String {
        let wait = milliseconds % 1_000 == 0 ? "\(milliseconds / 1_000) s" : "\(milliseconds) ms"
        return "read: it is a pipe (FIFO) and no writer sent anything or closed it within \(wait)"
    }

    /// The operation of a write into a FIFO that no process opened for reading within `milliseconds`.
    public static func pipeNoReaderOperation(milliseconds: Int32) -> String {
        let wait = milliseconds % 1_000 == 0 ? "\(milliseconds / 1_000) s" : "\(milliseconds) ms"
        return "open: it is a pipe (FIFO) and no process opened it for reading within \(wait)"
    }

    /// Why a read failed, in words for a message: the operation's own words when it says more than the errno (a
    /// device, a pipe nobody writes to), else the operating system's reason ("No such file or directory").
    public static func reason(_ failure: FileFailure) -> String {
        if failure.operation == notRegularOperation { return "it is a device, not a file" }
        if failure.operation.hasPrefix("read: it is a pipe") { return String(failure.operation.dropFirst("read: ".count)) }
        if failure.operation.hasPrefix("open: it is a pipe") { return String(failure.operation.dropFirst("open: ".count)) }
        return "\(failure.errno)"
    }

    /// Reads a whole file, or its first `limit` bytes.
    ///
    /// A pipe (a FIFO, or `<(cat log.csv)`) is opened without blocking and read as its writer sends; when a named FIFO
    /// shows no writer (no byte, no close) for `pipeWaitMilliseconds` (a FIFO nobody writes to), the read fails with
    /// ETIMEDOUT and ``pipeTimeoutOperation(milliseconds:)`` rather than wait for ever.
    /// - Parameters:
    ///   - limit: The most bytes to read (a file header's size); the whole file by default.
    ///   - pipeWaitMilliseconds: The longest wait for a named FIFO's first sign of a writer (bytes, or its close);
    ///     once it has one, and for an anonymous pipe (`<(cmd)`), the read waits for the writer as long as it takes.
    /// - Returns: its bytes (fewer than `limit` when the file is shorter).
    /// - Throws: ``FileFailure`` for `open` or `read`, with the path and errno; a device (such as `/dev/zero`) is
    ///   refused before reading, with EINVAL and ``notRegularOperation``. A pipe is read to its end.
    public static func read(
        _ path: String, limit: Int = .max, pipeWaitMilliseconds: Int32 = defaultPipeWaitMilliseconds
    ) throws(FileFailure) -> [UInt8] {
        // Checked before open too, so a device is refused without being opened.
        var before = stat()
        let statted = stat(path, &before) == 0
        if statted, !Self.isReadableKind(before.st_mode) {
            throw FileFailure(operation: Self.notRegularOperation, path: path, errno: .invalidArgument)
        }
        // open(2) of a FIFO blocks until a writer opens it: a pipe is opened without blocking, and waited for by poll.
        let isPipe = statted && before.st_mode & S_IFMT == S_IFIFO
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(
                FilePath(path), .readOnly, options: isPipe ? [.nonBlocking] : [], retryOnInterrupt: true)
        } catch {
            throw FileFailure(operation: "open", path: path, errno: Errno(error))
        }
        defer { try? fd.close() }
        // A device never ends (`/dev/zero` grew a reader to gigabytes): only a regular file, a pipe or a folder (whose
        // read fails with EISDIR) is read. EINVAL is read(2)'s "unsuitable for reading".
        var info = stat()
        if fstat(fd.rawValue, &info) == 0, !Self.isReadableKind(info.st_mode) {
            throw FileFailure(operation: Self.notRegularOperation, path: path, errno: .invalidArgument)
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(1 << 16, max(limit, 1)))
        // Only a named FIFO may have no writer at all, and only until its first sign of one (bytes, or a writer that
        // closed it): a process substitution's pipe (`<(cmd)`, `pipe:[…]`) always has its writer, and a writer slow
        // between two sends (a download that stalls) is waited for, as a file being read is.
        var firstWait = isPipe && !Self.isAnonymousPipe(path)
        while out.count < limit {
            if isPipe {
                try waitForPipe(fd, path: path, milliseconds: firstWait ? pipeWaitMilliseconds : -1)
                firstWait = false
            }
            let count: Int
            do {
                let wanted = min(chunk.count, limit - out.count)
                count = try chunk.withUnsafeMutableBytes {
                    try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<wanted]), retryOnInterrupt: true)
                }
            } catch let error as Errno where isPipe && (error == .wouldBlock || error == .resourceTemporarilyUnavailable) {
                continue  // woken with nothing to read yet: wait again
            } catch {
                throw FileFailure(operation: "read", path: path, errno: Errno(error))
            }
            if count == 0 { return out }
            out.append(contentsOf: chunk[0..<count])
        }
        return out
    }

    /// Whether `path` names an anonymous pipe (`/dev/fd/63` of `<(cmd)`, `/dev/stdin` of `cmd |`): its link reads
    /// `pipe:[inode]`; a named FIFO is a path of its own.
    public static func isAnonymousPipe(_ path: String) -> Bool {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return false }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix("pipe:")
    }

    /// Waits until the pipe `fd` has bytes to read or its writer closed it (`milliseconds` -1: for as long as it takes).
    /// - Throws: ``FileFailure`` with ETIMEDOUT and ``pipeTimeoutOperation(milliseconds:)`` when neither happens within
    ///   `milliseconds` (a FIFO no writer has opened: poll(2) reports no hang-up for a writer that never came).
    private static func waitForPipe(_ fd: FileDescriptor, path: String, milliseconds: Int32) throws(FileFailure) {
        var entry = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0, errno == EINTR { continue }
            if ready < 0 { throw FileFailure(operation: "read", path: path, errno: Errno(rawValue: errno)) }
            throw FileFailure(
                operation: pipeTimeoutOperation(milliseconds: milliseconds), path: path, errno: .timedOut)
        }
    }

    /// Writes `bytes` to `path` atomically and durably (temporary file, fsync, rename, fsync of
    /// the folder). On failure the temporary file is removed and `path` is untouched.
    ///
    /// A `path` that names an existing device, pipe or socket (`--out /dev/null`, `--out >(gzip > f.gz)`) is written
    /// into, in place: renaming over it replaced `/dev/null` with a regular file, and reported a write to `/dev/full`
    /// as done. Such a write is not atomic, and its errors are the device's (`ENOSPC` for `/dev/full`). A symbolic
    /// link to an existing file is kept, and the file it resolves to written (in place under `/proc` and `/dev`).
    ///
    /// The file is created with `permissions` (less the umask) from the start; a file no group or other may read (a
    /// secret key, 0600) is created exclusively, so a temporary file someone else made first is never written into.
    /// - Throws: ``FileFailure`` naming the failed step (`create`, `write`, `fsync`, `close`,
    ///   `rename onto`; `open` and `write` into a device) and its errno (`ENOSPC` and `EDQUOT` for a full disk); a
    ///   named FIFO no process opens for reading within `pipeWaitMilliseconds` fails with ETIMEDOUT and
    ///   ``pipeNoReaderOperation(milliseconds:)`` (open(2) for writing blocked for ever).
    public static func write(
        _ bytes: [UInt8], to path: String, permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead],
        pipeWaitMilliseconds: Int32 = defaultPipeWaitMilliseconds
    ) throws(FileFailure) {
        var existing = stat()
        if stat(path, &existing) == 0, [S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].contains(existing.st_mode & S_IFMT) {
            return try writeInPlace(bytes, to: path, pipeWaitMilliseconds: pipeWaitMilliseconds)
        }
        // A symbolic link to an existing file is kept: the file it names is written (atomically), or written into
        // when it is no file a path names (`/dev/stdout` → `/proc/self/fd/1` → a pipe). Renaming over the link
        // replaced it, and `--out /dev/stdout` run as root would have replaced the system's `/dev/stdout`.
        var link = stat()
        if lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK, stat(path, &existing) == 0 {
            guard let resolved = realpath(path, nil) else { return try writeInPlace(bytes, to: path) }
            let target = String(cString: resolved)
            free(resolved)
            if target.hasPrefix("/proc/") || target.hasPrefix("/dev/") { return try writeInPlace(bytes, to: path) }
            return try write(bytes, to: target, permissions: permissions)
        }
        let temporary = "\(path)\(temporarySuffix)\(getpid())"
        do throws(FileFailure) {
            let fd: FileDescriptor
            do {
                let secret = permissions.isDisjoint(with: [.groupReadWriteExecute, .otherReadWriteExecute])
                if secret { unlink(temporary) }  // a leftover of ours; one made by someone else fails the exclusive create
                fd = try FileDescriptor.open(
                    FilePath(temporary), .writeOnly, options: secret ? [.create, .exclusiveCreate] : [.create, .truncate],
                    permissions: permissions, retryOnInterrupt: true)
            } catch {
                throw FileFailure(operation: "create", path: temporary, errno: Errno(error))
            }
            var failure: FileFailure?
            do {
                _ = try fd.writeAll(bytes)
            } catch {
                failure = FileFailure(operation: "write", path: temporary, errno: Errno(error))
            }
            if failure == nil, fsync(fd.rawValue) != 0 {
                failure = FileFailure(operation: "fsync", path: temporary, errno: Errno(rawValue: errno))
            }
            do {
                try fd.close()
            } catch {
                failure = failure ?? FileFailure(operation: "close", path: temporary, errno: Errno(error))
            }
            if let failure { throw failure }
            guard rename(temporary, path) == 0 else {
                throw FileFailure(operation: "rename onto", path: path, errno: Errno(rawValue: errno))
            }
        } catch {
            unlink(temporary)
            throw error
        }
        syncFolder(of: path)
    }

    /// Writes `bytes` into the device or pipe at `path` (opened for writing, never created or renamed over).
    ///
    /// open(2) of a named FIFO for writing blocks until a process opens it for reading: `fit --out fifo` trained, then
    /// hung for ever with no message. It is opened without blocking, retried until a reader comes, and refused with
    /// ETIMEDOUT and ``pipeNoReaderOperation(milliseconds:)`` after `pipeWaitMilliseconds`; the writes then block as
    /// a pipe's do, for as long as the reader takes.
    private static func writeInPlace(
        _ bytes: [UInt8], to path: String, pipeWaitMilliseconds: Int32 = defaultPipeWaitMilliseconds
    ) throws(FileFailure) {
        var info = stat()
        let isFIFO = stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO
        let fd: FileDescriptor
        if isFIFO {
            let start = monotonicMilliseconds()
            while true {
                do {
                    fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.nonBlocking], retryOnInterrupt: true)
                    break
                } catch Errno.noSuchAddressOrDevice {
                    // ENXIO: no reader yet.
                    guard monotonicMilliseconds() - start < Int64(pipeWaitMilliseconds) else {
                        throw FileFailure(
                            operation: pipeNoReaderOperation(milliseconds: pipeWaitMilliseconds), path: path,
                            errno: .timedOut)
                    }
                    usleep(20_000)
                } catch {
                    throw FileFailure(operation: "open", path: path, errno: Errno(error))
                }
            }
            // Blocking again, so a reader slower than the writer is waited for rather than failing with EAGAIN.
            let flags = fcntl(fd.rawValue, F_GETFL)
            if flags >= 0 { _ = fcntl(fd.rawValue, F_SETFL, flags & ~O_NONBLOCK) }
        } else {
            do {
                fd = try FileDescriptor.open(FilePath(path), .writeOnly, retryOnInterrupt: true)
            } catch {
                throw FileFailure(operation: "open", path: path, errno: Errno(error))
            }
        }
        var failure: FileFailure?
        do {
            _ = try fd.writeAll(bytes)
        } catch {
            failure = FileFailure(operation: "write", path: path, errno: Errno(error))
        }
        do {
            try fd.close()
        } catch {
            failure = failure ?? FileFailure(operation: "close", path: path, errno: Errno(error))
        }
        if let failure { throw failure }
    }

    /// The monotonic clock, in ms.
    private static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Fsyncs the folder holding `path`, so that a rename into it survives a crash. Best effort: a
    /// folder that cannot be opened (no permission to read it) is skipped.
    public static func syncFolder(of path: String) {
        let folder = FilePath(path).removingLastComponent()
        let target = folder.isEmpty ? FilePath(".") : folder
        guard let fd = try? FileDescriptor.open(target, .readOnly) else { return }
        fsync(fd.rawValue)
        try? fd.close()
    }
}

extension Errno {
    /// The errno of an error swift-system threw (it throws only `Errno`); `EIO` for anything else.
    fileprivate init(_ error: any Error) {
        self = error as? Errno ?? .ioError
    }
}

extension AtomicFile {
    /// Why an existing file cannot be written, or nil when it can (or does not exist), found without opening it: a
    /// directory in its place (EISDIR), or `access(2)`'s answer for writing, which is EPERM for an immutable file and
    /// EROFS on a read-only mount even for root. Never opened, because closing any descriptor of a file drops every
    /// POSIX lock this process holds on it (SQLite's locks on its database and index: "How To Corrupt An SQLite
    /// Database File", §2.2). The causes a database write that failed with "disk I/O error" does not name.
    public static func writeProblem(_ path: String) -> FileFailure? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        if info.st_mode & S_IFMT == S_IFDIR {
            return FileFailure(operation: "write", path: path, errno: .isDirectory)
        }
        guard access(path, W_OK) != 0 else { return nil }
        return FileFailure(operation: "write", path: path, errno: Errno(rawValue: errno))
    }
}
