import RecIndex
import Testing

@testable import RecData

/// The interest model's retrieval defaults that depend on the catalogue's size: a denser HNSW graph and four times
/// the distillation's sampled users from a million-item scale on, the pool's defaults unchanged below it.
@Suite("Retrieval defaults by catalogue size")
struct CatalogueScaleDefaultsTests {
    @Test("below 500,000 items: M 16, build beam 100, 128 users; from there M 32, build beam 200, 512 users")
    func bySize() {
        let small = CatalogueRetrieval.indexParameters(items: 499_999)
        #expect(small == CatalogueRetrieval.indexParameters)
        #expect(small.m == 16 && small.efConstruction == 100 && small.euclideanReduction)
        let large = CatalogueRetrieval.indexParameters(items: 1_000_000)
        #expect(large.m == 32 && large.efConstruction == 200)
        #expect(large.euclideanReduction && large.efSearch == small.efSearch && large.seed == small.seed)
        #expect(CatalogueRetrieval.indexParameters(items: CatalogueRetrieval.denseGraphFrom) == large)
        #expect(RecommendRetrieval.defaultUsers(items: 100_000) == 128)
        #expect(RecommendRetrieval.defaultUsers(items: 500_000) == 512)
    }
}
