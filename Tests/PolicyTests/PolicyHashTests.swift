import RecData
import RecModel
import RecWire
import Testing

@testable import RecPolicy

/// The policy hashed an id's and a user category's UTF-8 bytes, while every other reader compares them as Swift does
/// (canonical equivalence): an id re-uploaded as `Cafe` + U+0301 instead of `Café` was one id to the registry and a new
/// id bucket to the policy (its learnt bias and cold-start count lost), and a hashed category sent in NFD took other
/// columns than the same category in NFC.
@Suite("The policy's hash reads a text in its canonical composition")
struct PolicyHashTests {
    let composed = "Caf\u{E9}"
    let decomposed = "Cafe\u{301}"

    @Test("FNV-1a of ASCII is unchanged; both Unicode forms of a text hash alike")
    func forms() {
        // FNV-1a 64 of "a" and of "" (Fowler, Noll and Vo's published test values).
        #expect(PolicyHash.fnv1a("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(PolicyHash.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        #expect(PolicyHash.fnv1a(decomposed) == PolicyHash.fnv1a(composed))
        // The NFC bytes are what is hashed: C a f 0xC3 0xA9.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte: UInt8 in [0x43, 0x61, 0x66, 0xC3, 0xA9] { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        #expect(PolicyHash.fnv1a(decomposed) == hash)
        #expect(PolicyHash.bucket(itemId: decomposed, buckets: 1024) == PolicyHash.bucket(itemId: composed, buckets: 1024))
    }

    @Test("an item id and a hashed user category in either form give the policy the same bucket and columns")
    func policy() throws {
        func catalogue(_ id: String) throws -> ItemCatalogue {
            try ItemCatalogue(
                encoding: ItemEncoding(categorical: [], numeric: ["price"]), ids: ["sku-0", id, "sku-2"],
                features: [1, 2, 3])
        }
        let spec = { (id: String) in
            try OnlinePolicySpec.make(catalogue: try catalogue(id), userFeatures: [.init("city", .categorical)])
        }
        let nfc = try OnlinePolicy.initial(spec: spec(composed))
        let nfd = try OnlinePolicy.initial(spec: spec(decomposed))
        #expect(nfc.bucket(of: 1) == nfd.bucket(of: 1))
        let zurich = "Z\u{FC}rich"
        let zurichDecomposed = "Zu\u{308}rich"
        #expect(try nfc.features.encode(["city": zurich]) == nfc.features.encode(["city": zurichDecomposed]))
    }
}
