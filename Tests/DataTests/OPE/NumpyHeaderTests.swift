import Testing

@testable import RecData

/// A `.npy` file whose magic is right but whose header is damaged is named as such, not as "not a .npy file".
@Suite(".npy headers that lie")
struct NumpyHeaderTests {
    static func file(headerLength: Int, header: String) -> [UInt8] {
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
            + Array(header.utf8)
    }

    @Test("a header length beyond the file is a damaged header")
    func headerTooLong() {
        let bytes = Self.file(headerLength: 5_000, header: "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }")
        #expect(throws: NumpyArrayError.self) { try NumpyArray.decode(bytes, name: "a.npy") }
        do {
            _ = try NumpyArray.decode(bytes, name: "a.npy")
        } catch {
            #expect(error.description.contains("it says it is 5000 bytes long"), "\(error)")
            #expect(!error.description.contains("not a .npy file"))
        }
    }

    @Test("a header without a shape names the missing shape, and wrong magic is still not a .npy file")
    func noShapeAndNoMagic() {
        let header = "{'descr': '<f8', 'fortran_order': False, }"
        do {
            _ = try NumpyArray.decode(Self.file(headerLength: header.utf8.count, header: header), name: "b.npy")
            Issue.record("decoded")
        } catch {
            #expect(error.description.contains("no 'shape'"), "\(error)")
        }
        do {
            _ = try NumpyArray.decode(Array("not numpy at all".utf8), name: "c.npy")
            Issue.record("decoded")
        } catch {
            #expect(error.description.contains("not a .npy file"), "\(error)")
        }
    }
}
