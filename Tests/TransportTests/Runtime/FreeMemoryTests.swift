import RecTransport
import Testing

@Suite("Returning memory to the system")
struct FreeMemoryTests {
    @Test("MALLOC_ARENA_MAX or glibc.malloc.arena_max in the environment takes precedence over the arena cap")
    func environmentFirst() {
        #expect(
            FreeMemory.limitArenas(to: 2, environment: ["MALLOC_ARENA_MAX": "4"]) == .environment("MALLOC_ARENA_MAX=4"))
        #expect(FreeMemory.limitArenas(to: 2, environment: ["MALLOC_ARENA_MAX": ""]) == .environment("MALLOC_ARENA_MAX="))
        let tunables = "glibc.malloc.arena_max=3:glibc.malloc.trim_threshold=0"
        #expect(
            FreeMemory.limitArenas(to: 2, environment: ["GLIBC_TUNABLES": tunables])
                == .environment("GLIBC_TUNABLES=\(tunables)"))
    }

    @Test("a count under one arena is not passed to malloc", arguments: [0, -1, Int.min])
    func badCount(count: Int) {
        #expect(FreeMemory.limitArenas(to: count, environment: [:]) == .unavailable)
    }

    @Test("a trim or mmap threshold in the environment takes precedence over the daemons' heap thresholds", arguments: [
        ("MALLOC_TRIM_THRESHOLD_", "0"), ("MALLOC_MMAP_THRESHOLD_", "65536"),
        ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0"), ("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=1"),
    ])
    func thresholdsFromEnvironment(name: String, value: String) {
        #expect(
            FreeMemory.keepFreedBlocks(trimThreshold: 1 << 20, mmapThreshold: 1 << 20, environment: [name: value])
                == .environment("\(name)=\(value)"))
    }

    @Test("a tunable that names neither threshold leaves them to be set; a threshold under 1 or over Int32 is not passed")
    func thresholdValues() {
        #expect(FreeMemory.keepFreedBlocks(trimThreshold: 0, mmapThreshold: 1 << 20, environment: [:]) == .unavailable)
        #expect(FreeMemory.keepFreedBlocks(trimThreshold: 1 << 20, mmapThreshold: -5, environment: [:]) == .unavailable)
        #expect(
            FreeMemory.keepFreedBlocks(trimThreshold: 1 << 40, mmapThreshold: 1 << 20, environment: [:]) == .unavailable)
        #if canImport(Glibc)
            let tunables = ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"]
            let (trim, mmap) = FreeMemory.daemonThresholds
            #expect(
                FreeMemory.keepFreedBlocks(trimThreshold: trim, mmapThreshold: mmap, environment: tunables)
                    == .set(trim: trim, mmap: mmap))
        #endif
    }

    #if canImport(Glibc)
        @Test("glibc takes the cap")
        func glibc() {
            // The test process already has its arenas; the cap bounds only those made after it, which is harmless
            // here. A count as large as glibc's own default (8 per core) leaves the process as it was.
            #expect(FreeMemory.limitArenas(to: 64, environment: [:]) == .set(64))
        }
    #endif
}
