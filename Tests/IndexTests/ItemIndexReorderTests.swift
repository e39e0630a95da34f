import RecIndex
import Testing

/// `ItemIndex.reorderForLocality()`: a renumbering of the graph's memory that changes no answer.
@Suite struct ItemIndexReorderTests {
    /// A deterministic stream of values in [-1, 1].
    struct Stream {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
    }

    /// Two indexes of the same rows built on one thread (so with the same graph), the second renumbered.
    /// `prepare` runs on both before the renumbering.
    static func pair(
        euclidean: Bool, rows n: Int, dimension d: Int, prepare: (ItemIndex) throws -> Void = { _ in }
    ) throws -> (ItemIndex, ItemIndex, [Float]) {
        var stream = Stream(state: 99)
        let vectors = (0..<(n * d)).map { _ in stream.next() }
        let parameters = IndexParameters(euclideanReduction: euclidean)
        let plain = try ItemIndex(dimension: d, version: IndexVersion(embeddings: 0, catalogue: 0), parameters: parameters)
        let reordered = try ItemIndex(dimension: d, version: IndexVersion(embeddings: 0, catalogue: 0), parameters: parameters)
        // Rows out of order, as a catalogue's retirements and appends leave them.
        let rows = (0..<n).map { ($0 * 7_919) % n }
        try plain.add(rows: rows, vectors: vectors)
        try reordered.add(rows: rows, vectors: vectors)
        try prepare(plain)
        try prepare(reordered)
        try reordered.reorderForLocality()
        return (plain, reordered, vectors)
    }

    @Test(arguments: [false, true])
    func everySearchAndEveryRowsLinksAreUnchanged(euclidean: Bool) throws {
        let (plain, reordered, _) = try Self.pair(euclidean: euclidean, rows: 3_000, dimension: 8)
        #expect(reordered.memoryOrder != plain.memoryOrder)
        #expect(Set(reordered.memoryOrder) == Set(plain.memoryOrder))
        var stream = Stream(state: 5)
        for _ in 0..<40 {
            let query = (0..<8).map { _ in stream.next() }
            #expect(try reordered.search(query, k: 50).hits == plain.search(query, k: 50).hits)
        }
        for row in stride(from: 0, to: 3_000, by: 97) {
            #expect(try reordered.neighbours(of: row) == plain.neighbours(of: row))
        }
        #expect(reordered.version == plain.version)
    }

    /// The answers of `queries` random queries of `dimension` values, `k` rows each.
    static func answers(_ index: ItemIndex, queries: Int, dimension: Int, k: Int, seed: UInt64) throws -> [[IndexHit]] {
        var stream = Stream(state: seed)
        return try (0..<queries).map { _ in try index.search((0..<dimension).map { _ in stream.next() }, k: k).hits }
    }

    @Test(arguments: [1, 2])
    func aSearchBeamOfOneFollowsTheSameDescent(insertThreads: Int) throws {
        // With a beam of 1 the answer is wherever the greedy descent through the upper levels lands, so a wrong
        // upper-level link, level or entry point changes it. The same index is searched before and after.
        var stream = Stream(state: 41)
        let n = 4_000
        let d = 6
        let index = try ItemIndex(
            dimension: d, version: IndexVersion(embeddings: 0, catalogue: 0),
            parameters: IndexParameters(efSearch: 1, insertThreads: insertThreads, euclideanReduction: true))
        try index.add(rows: Array(0..<n), vectors: (0..<(n * d)).map { _ in stream.next() })
        let before = try Self.answers(index, queries: 300, dimension: d, k: 1, seed: 8)
        let wide = try Self.answers(index, queries: 20, dimension: d, k: 400, seed: 9)
        let links = try (0..<n).map { try index.neighbours(of: $0) }
        try index.reorderForLocality()
        #expect(try Self.answers(index, queries: 300, dimension: d, k: 1, seed: 8) == before)
        // k above the search beam: the beam is k.
        #expect(try Self.answers(index, queries: 20, dimension: d, k: 400, seed: 9) == wide)
        #expect(try (0..<n).map { try index.neighbours(of: $0) } == links)
    }

    @Test func removingAlmostEveryRowThenEveryRowAnswersAsBefore() throws {
        let (plain, reordered, _) = try Self.pair(euclidean: true, rows: 2_000, dimension: 4)
        for index in [plain, reordered] {
            for row in 0..<2_000 where row % 20 != 0 { try index.remove(row: row) }
        }
        #expect(
            try Self.answers(reordered, queries: 30, dimension: 4, k: 20, seed: 4)
                == Self.answers(plain, queries: 30, dimension: 4, k: 20, seed: 4))
        for index in [plain, reordered] {
            for row in stride(from: 0, to: 2_000, by: 20) { try index.remove(row: row) }
        }
        #expect(try reordered.search([1, 0, 0, 0], k: 5).hits.isEmpty)
        #expect(reordered.liveCount == 0)
        // A few adds into the spare capacity left after the renumbering (no resize).
        try reordered.add(rows: [2_000, 2_001, 2_002], vectors: [0.5, 0, 0, 0, 0, 0.5, 0, 0, 0.9, 0, 0, 0])
        #expect(try reordered.search([1, 0, 0, 0], k: 5).hits.map(\.row) == [2_002, 2_000, 2_001])
    }

    @Test func neighboursInSpaceBecomeNeighboursInMemory() throws {
        // Points on a line, inserted in a scattered order: after the renumbering, consecutive elements in memory
        // are close on the line.
        let n = 4_096
        let rows = (0..<n).map { ($0 * 2_741) % n }
        let index = try ItemIndex(dimension: 2, version: IndexVersion(embeddings: 0, catalogue: 0))
        try index.add(rows: rows, vectors: rows.flatMap { [Float($0) / Float(n), 1] })
        func meanGap(_ order: [Int]) -> Double {
            Double(zip(order, order.dropFirst()).map { abs($0 - $1) }.reduce(0, +)) / Double(order.count - 1)
        }
        let before = meanGap(index.memoryOrder)
        try index.reorderForLocality()
        let after = meanGap(index.memoryOrder)
        #expect(before > 1_000)
        #expect(after < 10)
    }

    @Test(arguments: [false, true])
    func removalsAndAddsAfterTheRenumberingAnswerAsOnTheTwin(euclidean: Bool) throws {
        let (plain, reordered, _) = try Self.pair(euclidean: euclidean, rows: 2_000, dimension: 4)
        for index in [plain, reordered] {
            for row in stride(from: 0, to: 2_000, by: 3) { try index.remove(row: row) }
            try index.add(rows: Array(2_000..<2_300), vectors: (0..<1_200).map { Float(($0 * 37) % 101) / 101 - 0.5 })
            try index.add(row: 0, vector: [1, 1, 1, 1])
        }
        var stream = Stream(state: 11)
        for _ in 0..<40 {
            let query = (0..<4).map { _ in stream.next() }
            let hits = try reordered.search(query, k: 30).hits
            #expect(hits == (try plain.search(query, k: 30).hits))
            #expect(hits.allSatisfy { $0.row == 0 || $0.row % 3 != 0 || $0.row >= 2_000 })
        }
        #expect(try reordered.search([1, 1, 1, 1], k: 1).hits == [IndexHit(row: 0, score: 4)])
        #expect(reordered.liveCount == plain.liveCount)
        #expect(reordered.version == plain.version)
        #expect(Set(reordered.memoryOrder).count == 2_300)
    }

    @Test func aRowRemovedBeforeTheRenumberingStaysRemoved() throws {
        let removed = [7, 8, 250]
        let (plain, reordered, _) = try Self.pair(euclidean: true, rows: 500, dimension: 3) { index in
            for row in removed { try index.remove(row: row) }
        }
        var stream = Stream(state: 3)
        for _ in 0..<30 {
            let query = (0..<3).map { _ in stream.next() }
            let hits = try reordered.search(query, k: 100).hits
            #expect(hits == (try plain.search(query, k: 100).hits))
            #expect(hits.allSatisfy { !removed.contains($0.row) })
        }
        #expect(throws: IndexError.alreadyRemoved(250)) { try reordered.remove(row: 250) }
        #expect(reordered.liveCount == 497)
    }

    @Test func smallIndexesRenumberToThemselves() throws {
        let empty = try ItemIndex(dimension: 3, version: IndexVersion(embeddings: 0, catalogue: 0))
        try empty.reorderForLocality()
        #expect(empty.memoryOrder.isEmpty)
        let one = try ItemIndex(dimension: 3, version: IndexVersion(embeddings: 0, catalogue: 0))
        try one.add(row: 4, vector: [1, 2, 3])
        try one.reorderForLocality()
        #expect(one.memoryOrder == [4])
        #expect(try one.search([1, 0, 0], k: 1).hits == [IndexHit(row: 4, score: 1)])
    }
}
