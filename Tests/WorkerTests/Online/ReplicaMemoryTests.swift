import Foundation
import RecData
import RecModel
import RecPolicy
import RecTransport
import RecWire
import Testing

@testable import Worker

/// What a serving replica holds per item, structure by structure, built the way a worker builds it: the catalogue
/// version decoded from its canonical bytes (CATALOGUE), the policy spec over it (POLICY naming that version), the
/// served policy (a Thompson sample), and the retrieval (``PolicyRetrieval``: the reduced catalogue and the HNSW
/// index). Each step's cost is the growth of the process's resident set after `malloc_trim(0)`
/// (``FreeMemory/returnToSystem()``), printed per item; the numbers go to docs/BENCHMARKS.md ("Replica memory"),
/// the assertions are about sharing, not sizes. `RECPOOL_MEMORY_ITEMS` sets the catalogue size (default 3,000,
/// just above retrieval's exhaustive threshold).
@Suite("A replica's item memory: one flat row table shared by the catalogue, the spec, the policy and retrieval")
struct ReplicaMemoryTests {
    /// Items in the measured catalogue.
    static var items: Int {
        ProcessInfo.processInfo.environment["RECPOOL_MEMORY_ITEMS"].flatMap { Int($0) } ?? 3_000
    }

    /// Resident bytes of this process after giving freed heap memory back (/proc/self/statm × page size).
    static func residentBytes() -> Int {
        FreeMemory.returnToSystem()
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A catalogue shaped like the simulator world's: ids `item_k`, 6 numeric features.
    static func catalogue(items: Int, width: Int = 6) throws -> ItemCatalogue {
        var rng = SplitMix64(seed: 11)
        let values = (0..<(items * width)).map { _ in Float(rng.normal()) }
        return try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: (0..<width).map { "topic_\($0)" }),
            ids: (0..<items).map { "item_\($0)" }, features: values)
    }

    /// A spec with one categorical user feature (simulator-like) and the given item dims.
    static func spec(itemDims: Int = 16) -> OnlinePolicySpec {
        OnlinePolicySpec(
            userFeatures: [
                UserFeatureSpec(name: "user_feature_0", kind: .categorical, values: (0..<10).map { "u0_\($0)" }, buckets: 1)
            ], itemFeatures: [], itemDims: itemDims)
    }

    @Test("each structure's bytes per item, printed; the served policy and its retrieval are usable")
    func breakdown() throws {
        let n = Self.items
        var steps: [(String, Int)] = []
        var last = Self.residentBytes()
        func mark(_ name: String) {
            let now = Self.residentBytes()
            steps.append((name, now - last))
            last = now
        }
        var bytes = try Self.catalogue(items: n).canonicalBytes()
        mark("canonical bytes (CATALOGUE frame 2)")
        let installed = try ItemCatalogue(canonical: bytes)
        mark("installed catalogue, decoded")
        bytes = []
        mark("canonical bytes released")
        var spec = Self.spec()
        spec.setCatalogue(installed)
        mark("policy spec over the installed catalogue")
        var rng = Xoshiro256(seed: 3)
        let policy = try OnlinePolicy.initial(spec: spec, catalogue: installed)
        mark("policy (posterior mean)")
        let served = try policy.sampled(rng: &rng)
        mark("served policy (Thompson sample)")
        let reduced = try served.reducedCatalogue()
        mark("reduced catalogue")
        let built = try PolicyRetrieval.make(policy: served, catalogue: 1, previous: nil)
        mark("retrieval (its own reduced catalogue + HNSW index)")
        let memory = built?.retrieval.index.memoryBytes ?? 0
        print("replica memory at \(n) items (resident growth after malloc_trim, bytes per item):")
        for (name, delta) in steps {
            print("  \(name): \(delta) B = \(String(format: "%.1f", Double(delta) / Double(n))) B/item")
        }
        print("  hnswlib's own estimate of the index: \(memory) B = \(String(format: "%.1f", Double(memory) / Double(n))) B/item")
        withExtendedLifetime((installed, spec, policy, served, reduced, built)) {}
        // One row buffer: the installed version's, read by the spec, the served policy and retrieval's catalogue.
        func address(_ values: [Float]) -> UnsafeRawPointer? {
            values.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        }
        let rows = address(installed.features)
        #expect(address(spec.itemFeatures.values) == rows)
        #expect(address(served.catalogue.features) == rows)
        #expect(address(reduced.features) == rows)
        if let built { #expect(address(built.reduced.features) == rows) }
        #expect(built != nil || n < RetrievalSettings().exhaustiveBelow)
        let scores = try served.qValues(userFeatures: ["user_feature_0": "u0_1"])
        #expect(scores.count == n && scores.allSatisfy { $0.isFinite })
    }
}
