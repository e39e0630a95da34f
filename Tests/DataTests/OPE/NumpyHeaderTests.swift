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

    /// A header numpy reads otherwise: `'shape'` twice was read as its first value (numpy takes the last), `[` for
    /// `{` and an extra key were taken (numpy refuses both), and `"descr"` in double quotes, which numpy reads, was
    /// refused as "dtype missing".
    @Test(
        "the header is numpy's dict: its three keys once each, either quote, nothing else",
        arguments: [
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), 'shape': (1, 1), }", "'shape' appears twice"),
            ("['descr': '<f8', 'fortran_order': False, 'shape': (1,), ]", "expected '{' opening the header's dict"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'zz': 1, }", "it has the key 'zz'"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1), }", "shape (1) is a number, not a tuple"),
            ("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", "fortran_order is '0', not True or False"),
            ("{'descr': '<f8', 'fortran_order': False, }", "it has no 'shape'"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } x", "text after the header's dict"),
            ("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", "dtype '<i8' (expected '<f8' or '<f4')"),
        ])
    func strictHeader(header: String, says: String) {
        let padded = header + String(repeating: " ", count: 3) + "\n"
        let bytes = Self.file(headerLength: padded.utf8.count, header: padded) + [UInt8](repeating: 0, count: 16)
        do {
            _ = try NumpyArray.decode(bytes, name: "h.npy")
            Issue.record("decoded: \(header)")
        } catch {
            #expect(error.description.contains(says), "\(error)")
        }
    }

    @Test("double quotes, no trailing comma, a 0-d and an empty shape are read as numpy reads them")
    func numpyVariants() throws {
        func decode(_ header: String, values: Int) throws -> NumpyArray {
            let padded = header + "\n"
            return try NumpyArray.decode(
                Self.file(headerLength: padded.utf8.count, header: padded) + [UInt8](repeating: 0, count: 8 * values), name: "v.npy")
        }
        #expect(try decode(#"{"descr": "<f8", "fortran_order": False, "shape": (2, 1)}"#, values: 2).shape == [2, 1])
        #expect(try decode("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", values: 3).shape == [3])
        #expect(try decode("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", values: 1).shape == [])
        #expect(try decode("{'descr':'<f8','fortran_order':False,'shape':(0, 4),}", values: 0).shape == [0, 4])
    }
}
