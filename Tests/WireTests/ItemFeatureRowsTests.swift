import Foundation
import RecWire
import Testing

/// Item feature rows from a POLICY document are sized from what the document holds, never from its numbers.
@Suite("Item feature rows from the wire")
struct ItemFeatureRowsTests {
    @Test("rows of unequal lengths hold no values and the spec names the fault; one wide row and many empty ones allocate nothing")
    func irregularRowsAllocateNothing() throws {
        let rows: [[Float]] = [[Float](repeating: 0, count: 100_000)] + [[Float]](repeating: [], count: 1_000_000)
        let irregular = ItemFeatureRows(rows)
        #expect(!irregular.isRegular)
        #expect(irregular.values.isEmpty && irregular.width == 0 && irregular.count == 1_000_001)
        let spec = OnlinePolicySpec(userFeatures: [], itemFeatures: [[1, 2], [3]])
        #expect(spec.problem == "every item needs the same number of features")
        let regular = ItemFeatureRows([[1, 2], [3, 4]])
        #expect(regular.isRegular && regular.values == [1, 2, 3, 4] && regular.width == 2)
        // Decoding from JSON takes the same path.
        let decoded = try JSONDecoder().decode(ItemFeatureRows.self, from: Data("[[1,2,3],[],[4]]".utf8))
        #expect(!decoded.isRegular && decoded.values.isEmpty && decoded.count == 3)
    }

    @Test("items wider than the most a replica projects are refused by the spec, naming the bound")
    func itemWidthBound() {
        let wide = OnlinePolicySpec(
            userFeatures: [], itemFeatures: [[Float](repeating: 0, count: OnlinePolicySpec.maximumItemWidth + 1)])
        #expect(wide.problem?.contains("at most \(OnlinePolicySpec.maximumItemWidth)") == true, "\(wide.problem ?? "")")
        let fits = OnlinePolicySpec(
            userFeatures: [], itemFeatures: [[Float](repeating: 0, count: OnlinePolicySpec.maximumItemWidth)])
        #expect(fits.problem == nil)
    }
}
