import Foundation

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

    /// glibc's `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` (malloc.h).
    private static let trimThresholdOption: Int32 = -1
    private static let mmapThresholdOption: Int32 = -3

    /// What ``keepFreedBlocks(trimThreshold:mmapThreshold:environment:)`` did.
    public enum HeapThresholds: Sendable, Equatable {
        /// Both thresholds were set, in bytes.
        case set(trim: Int, mmap: Int)
        /// The environment sets one of them (the setting, as `NAME=value`): glibc reads it at start-up and it is
        /// left in force.
        case environment(String)
        /// The C library has no `mallopt`, or refused a value.
        case unavailable
    }

    /// Keeps up to `trimThreshold` bytes of freed memory at the top of the heap instead of giving it back at
    /// once (`mallopt(M_TRIM_THRESHOLD)`), and serves allocations below `mmapThreshold` bytes from the heap
    /// (`mallopt(M_MMAP_THRESHOLD)`), unless the environment sets either (`MALLOC_TRIM_THRESHOLD_`,
    /// `MALLOC_MMAP_THRESHOLD_`, or `glibc.malloc.trim_threshold` / `glibc.malloc.mmap_threshold` in
    /// `GLIBC_TUNABLES`), which take precedence.
    ///
    /// Why: libzmq allocates each received message of more than a few hundred bytes with `malloc` and frees it once
    /// it is sent on or scored. With glibc's default trim threshold (128 KiB, moved by its own heuristics) the heap
    /// top shrank after nearly every 108 KB request of 256 rows and grew again for the next, so every request
    /// paid page faults and page zeroing in the kernel: at batch 256 that was 15–18% of the broker's and of the
    /// workers' CPU per request (docs/BENCHMARKS.md, "Heap thresholds"). Memory above `mmapThreshold` (a flood of
    /// 16 MiB requests) is still mapped and unmapped per allocation, so it goes back to the system when freed, and
    /// `returnToSystem()` still gives back the whole free heap after a burst.
    /// - Parameters:
    ///   - trimThreshold: bytes of free heap top kept, at least 1.
    ///   - mmapThreshold: the smallest allocation mapped on its own, in bytes, at least 1.
    ///   - environment: the process environment (`ProcessInfo.processInfo.environment`).
    /// - Returns: what was done.
    @discardableResult
    public static func keepFreedBlocks(trimThreshold: Int, mmapThreshold: Int, environment: [String: String])
        -> HeapThresholds
    {
        for name in ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"] {
            if let set = environment[name] { return .environment("\(name)=\(set)") }
        }
        if let tunables = environment["GLIBC_TUNABLES"],
            tunables.contains("glibc.malloc.trim_threshold") || tunables.contains("glibc.malloc.mmap_threshold")
        {
            return .environment("GLIBC_TUNABLES=\(tunables)")
        }
        guard (1...Int(Int32.max)).contains(trimThreshold), (1...Int(Int32.max)).contains(mmapThreshold),
            let option = optionFunction,
            option(trimThresholdOption, Int32(trimThreshold)) == 1,
            option(mmapThresholdOption, Int32(mmapThreshold)) == 1
        else { return .unavailable }
        return .set(trim: trimThreshold, mmap: mmapThreshold)
    }

    /// The thresholds the broker and the worker set at start-up: 16 MiB of free heap top kept, allocations from
    /// 4 MiB up mapped on their own. Bounded well below the resident-set margins the flood and fuzz tests keep
    /// (30–64 MiB), and well above a 256-row request (108 KB) or a 4,096-row one (1.7 MB).
    public static let daemonThresholds = (trim: 16 << 20, mmap: 4 << 20)

    /// ``daemonThresholds`` applied to this process under its environment, once, on first read: `recpool-broker` and
    /// `recpool-worker` read it at the top of `main`, before their threads allocate, and log the value.
    public static let daemonHeapThresholds = keepFreedBlocks(
        trimThreshold: daemonThresholds.trim, mmapThreshold: daemonThresholds.mmap,
        environment: ProcessInfo.processInfo.environment)

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
