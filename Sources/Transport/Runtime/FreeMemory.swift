#if canImport(Glibc)
    import Glibc
#endif

/// Returning freed heap memory to the operating system.
public enum FreeMemory {
    private typealias TrimFunction = @convention(c) (Int) -> Int32

    /// glibc's `malloc_trim`, looked up at run time (it is not in the `Glibc` module map, and
    /// other C libraries lack it): `nil` where it does not exist.
    private static let trimFunction: TrimFunction? = {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: TrimFunction.self)
        #else
            return nil
        #endif
    }()

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
