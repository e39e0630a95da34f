#if canImport(Glibc)
    import Glibc
#endif

/// Returning freed heap memory to the operating system.
public enum FreeMemory {
    private typealias TrimFunction = @convention(c) (Int) -> Int32
    private typealias OptionFunction = @convention(c) (Int32, Int32) -> Int32

    /// A C library function looked up at run time by name, as type `F`: `nil` where the C library lacks it.
    private static func function<F>(named name: String, as type: F.Type) -> F? {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
            return unsafeBitCast(symbol, to: type)
        #else
            return nil
        #endif
    }

    /// glibc's `malloc_trim` (it is not in the `Glibc` module map, and other C libraries lack it).
    private static let trimFunction = function(named: "malloc_trim", as: TrimFunction.self)

    /// glibc's `mallopt`.
    private static let optionFunction = function(named: "mallopt", as: OptionFunction.self)

    /// glibc's `M_ARENA_MAX` (malloc.h).
    private static let arenaMaxOption: Int32 = -8

    /// What ``limitArenas(to:environment:)`` did.
    public enum ArenaLimit: Sendable, Equatable {
        /// The limit was set to this many arenas.
        case set(Int)
        /// `MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`, is set in the environment (the
        /// setting, as `NAME=value`): glibc reads it at start-up and it is left in force.
        case environment(String)
        /// The C library has no `mallopt`, or refused the value.
        case unavailable
    }

    /// Caps glibc's malloc arenas at `count` (`mallopt(M_ARENA_MAX, count)`) unless the environment sets
    /// `MALLOC_ARENA_MAX` or the tunable `glibc.malloc.arena_max` in `GLIBC_TUNABLES`, which take precedence. glibc gives each thread that contends for the heap an arena of
    /// its own (up to 8 per core); a replica's threads (serving, online learning, libzmq's I/O) each allocate
    /// catalogue-sized arrays, and freed memory in one arena is not reused by another, so the resident set of a
    /// replica at 100,000 items grew by tens of MB over its working set (docs/BENCHMARKS.md). Call it before the
    /// process starts threads (at the top of `main`): arenas already made are kept, and once glibc has made more
    /// than 8 it no longer reads the limit.
    /// - Parameters:
    ///   - count: the number of arenas, at least 1.
    ///   - environment: the process environment (`ProcessInfo.processInfo.environment`).
    /// - Returns: what was done; ``ArenaLimit/unavailable`` for a count under 1.
    @discardableResult
    public static func limitArenas(to count: Int, environment: [String: String]) -> ArenaLimit {
        if let set = environment["MALLOC_ARENA_MAX"] { return .environment("MALLOC_ARENA_MAX=\(set)") }
        if let tunables = environment["GLIBC_TUNABLES"], tunables.contains("glibc.malloc.arena_max") {
            return .environment("GLIBC_TUNABLES=\(tunables)")
        }
        guard count >= 1, count <= Int(Int32.max), let option = optionFunction else { return .unavailable }
        return option(arenaMaxOption, Int32(count)) == 1 ? .set(count) : .unavailable
    }

    /// Gives the free memory at the top of the heap and in every arena back to the system
    /// (`malloc_trim(0)`). glibc keeps freed blocks for reuse, so after a burst of large
    /// allocations a process's resident set stays at its peak until this is called.
    /// - Returns: whether any memory was released; `false` where the C library cannot trim.
    @discardableResult
    public static func returnToSystem() -> Bool {
        guard let trim = trimFunction else { return false }
        return trim(0) == 1
    }
}
