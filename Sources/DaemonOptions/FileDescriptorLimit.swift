import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The process's open-file limit (`RLIMIT_NOFILE`). Every ZeroMQ connection costs a file
/// descriptor, and many distributions start services with a soft limit of 1,024 (or a shell with
/// `ulimit -n 256`) under a far higher hard limit; past the soft limit `accept(2)` fails with
/// `EMFILE` and clients wait in silence. The daemons raise the soft limit to the hard one at start,
/// as an unprivileged process may (setrlimit(2)).
public enum FileDescriptorLimit {
    /// Below this many descriptors the daemons warn at start.
    public static let lowWatermark: UInt64 = 4096
    /// The cap used when the hard limit is unlimited (Linux refuses more than `fs.nr_open`).
    static let unlimitedCap: UInt64 = 1 << 20

    /// The soft and hard limits before and after ``raiseSoftLimit()``.
    public struct Change: Sendable, Hashable {
        /// The soft limit the process started with.
        public var previous: UInt64
        /// The soft limit now.
        public var current: UInt64
        /// The hard limit (the most the soft limit may be raised to without privilege).
        public var hard: UInt64
    }

    /// Raises the soft limit to the hard limit (or to 2^20 when the hard limit is unlimited).
    /// - Returns: the limits, or `nil` when they cannot be read. A refused raise leaves `current`
    ///   equal to `previous`.
    public static func raiseSoftLimit() -> Change? {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return nil }
        let previous = UInt64(limit.rlim_cur)
        let hard = UInt64(limit.rlim_max)
        let target = limit.rlim_max == rlim_t.max ? unlimitedCap : hard
        guard previous < target else { return Change(previous: previous, current: previous, hard: hard) }
        limit.rlim_cur = rlim_t(target)
        guard setrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else {
            return Change(previous: previous, current: previous, hard: hard)
        }
        return Change(previous: previous, current: target, hard: hard)
    }

    /// Raises the limit and logs what happened: `info` when raised, `warning` when the result is
    /// below ``lowWatermark``.
    public static func raiseAndLog(_ logger: Logger) {
        guard let change = raiseSoftLimit() else { return }
        let metadata: Logger.Metadata = [
            "from": "\(change.previous)", "to": "\(change.current)", "hard": "\(change.hard)",
        ]
        if change.current != change.previous { logger.info("raised the open-file limit", metadata: metadata) }
        if change.current < lowWatermark {
            logger.warning(
                "the open-file limit is low: each connection needs a descriptor; raise the hard limit (LimitNOFILE=)",
                metadata: metadata)
        }
    }

    #if canImport(Glibc)
        private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
    #endif
}
