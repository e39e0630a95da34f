import RecIndex
import Testing

@Suite struct ItemIndexTests {
    /// Unit vectors along axis `k` of `d` dimensions, scaled.
    static func axis(_ k: Int, _ d: Int, scale: Float = 1) -> [Float] {
        var v = [Float](repeating: 0, count: d)
        v[k] = scale
        return v
    }

    @Test func searchReturnsTheRowsOfLargestInnerProductBestFirst() throws {
        let index = try ItemIndex(dimension: 4, version: IndexVersion(embeddings: 3, catalogue: 9))
        try index.add(rows: [0, 1, 2, 3], vectors: [1, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0])
        let found = try index.search([1, 0, 0, 0], k: 2)
        #expect(found.hits.map(\.row) == [3, 0])
        #expect(found.hits.map(\.score) == [2, 1])
        #expect(found.version == IndexVersion(embeddings: 3, catalogue: 9, generation: 1))
    }

    @Test func aRemovedRowIsNeverReturnedAndCountsAsRemoved() throws {
        let index = try ItemIndex(dimension: 2, version: IndexVersion(embeddings: 1, catalogue: 1))
        for row in 0..<50 { try index.add(row: row, vector: [Float(row), 1]) }
        try index.remove(row: 49)
        let found = try index.search([1, 0], k: 5)
        #expect(found.hits.map(\.row) == [48, 47, 46, 45, 44])
        #expect(!index.contains(row: 49))
        #expect(index.liveCount == 49)
        #expect(found.version.generation == 51)
        #expect(throws: IndexError.alreadyRemoved(49)) { try index.remove(row: 49) }
        #expect(throws: IndexError.unknownRow(50)) { try index.remove(row: 50) }
    }

    @Test func addingARemovedRowAgainBringsItBackWithItsNewVector() throws {
        let index = try ItemIndex(dimension: 2, version: IndexVersion(embeddings: 1, catalogue: 1))
        try index.add(rows: [0, 1], vectors: [1, 0, 0, 1])
        try index.remove(row: 0)
        try index.add(row: 0, vector: [0, 5])
        #expect(try index.search([0, 1], k: 1).hits == [IndexHit(row: 0, score: 5)])
        #expect(index.liveCount == 2)
    }

    @Test func theIndexGrowsPastItsInitialCapacity() throws {
        let index = try ItemIndex(dimension: 3, version: IndexVersion(embeddings: 0, catalogue: 0), capacity: 4)
        let rows = Array(0..<100)
        try index.add(rows: rows, vectors: rows.flatMap { [Float($0), 0, 1] })
        #expect(index.liveCount == 100)
        #expect(try index.search([1, 0, 0], k: 1).hits.first?.row == 99)
    }

    @Test func aSearchOfMoreRowsThanLiveReturnsEveryLiveRow() throws {
        let index = try ItemIndex(dimension: 2, version: IndexVersion(embeddings: 0, catalogue: 0))
        try index.add(rows: [4, 7], vectors: [1, 0, 0, 1])
        #expect(Set(try index.search([1, 1], k: 10).hits.map(\.row)) == [4, 7])
    }

    @Test func approximateSearchFindsTheExactTopTenOnRandomVectors() throws {
        var state: UInt64 = 12_345
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        let d = 16
        let n = 5_000
        let vectors = (0..<(n * d)).map { _ in next() }
        let index = try ItemIndex(dimension: d, version: IndexVersion(embeddings: 0, catalogue: 0))
        try index.add(rows: Array(0..<n), vectors: vectors)
        var hit = 0
        let queries = 20
        for _ in 0..<queries {
            let q = (0..<d).map { _ in next() }
            let exact = (0..<n).map { row in (row, (0..<d).reduce(Float(0)) { $0 + q[$1] * vectors[row * d + $1] }) }
                .sorted { $0.1 > $1.1 }.prefix(10).map(\.0)
            hit += Set(exact).intersection(try index.search(q, k: 10).hits.map(\.row)).count
        }
        #expect(Double(hit) / Double(queries * 10) >= 0.95)
    }

    @Test func badInputIsATypedError() throws {
        #expect(throws: IndexError.self) { try ItemIndex(dimension: 0, version: IndexVersion(embeddings: 0, catalogue: 0)) }
        let index = try ItemIndex(dimension: 2, version: IndexVersion(embeddings: 0, catalogue: 0))
        #expect(throws: IndexError.dimensionMismatch(expected: 2, got: 3)) { try index.add(row: 0, vector: [1, 2, 3]) }
        #expect(throws: IndexError.nonFinite(row: 1)) { try index.add(row: 1, vector: [.nan, 0]) }
        #expect(throws: IndexError.negativeRow(-1)) { try index.add(row: -1, vector: [0, 0]) }
        #expect(throws: IndexError.nonFinite(row: nil)) { try index.search([.infinity, 0], k: 1) }
        #expect(throws: IndexError.self) { try index.search([1, 0], k: 0) }
        #expect(index.liveCount == 0)
    }

    @Test func followingACatalogueVersionIsRecorded() throws {
        let index = try ItemIndex(dimension: 1, version: IndexVersion(embeddings: 2, catalogue: 1))
        index.follow(catalogue: 5)
        #expect(index.version == IndexVersion(embeddings: 2, catalogue: 5, generation: 0))
        #expect(index.version.description == "e2.c5.g0")
    }
}
