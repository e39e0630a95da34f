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

    #if canImport(Glibc)
        @Test("glibc takes the cap")
        func glibc() {
            // The test process already has its arenas; the cap bounds only those made after it, which is harmless
            // here. A count as large as glibc's own default (8 per core) leaves the process as it was.
            #expect(FreeMemory.limitArenas(to: 64, environment: [:]) == .set(64))
        }
    #endif
}
