import RecIndex
import Testing

@testable import RecData

/// The interest model's retrieval defaults that depend on the catalogue's size: a denser HNSW graph and four times
/// the distillation's sampled users from a million-item scale on, the pool's defaults unchanged below it.
@Suite("Retrieval defaults by catalogue size")
struct CatalogueScaleDefaultsTests {
    @Test("below 500,000 items: M 16, build beams 100 and 300, 128 users; from there M 32, beams 200 and 2,000, 512 users")
    func bySize() {
        let small = CatalogueRetrieval.indexParameters(items: 499_999)
        #expect(small == CatalogueRetrieval.indexParameters)
        #expect(small.m == 16 && small.efConstruction == 100 && small.efSearch == 300 && small.euclideanReduction)
        let large = CatalogueRetrieval.indexParameters(items: 1_000_000)
        #expect(large.m == 32 && large.efConstruction == 200 && large.efSearch == 2_000)
        #expect(large.euclideanReduction && large.seed == small.seed && large.localityOrder)
        #expect(CatalogueRetrieval.indexParameters(items: CatalogueRetrieval.denseGraphFrom) == large)
        #expect(RecommendRetrieval.defaultUsers(items: 100_000) == 128)
        #expect(RecommendRetrieval.defaultUsers(items: 500_000) == 512)
    }
}
