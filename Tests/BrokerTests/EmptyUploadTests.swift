import Foundation
import RecStore
import RecWire
import Testing

@testable import Broker

/// An upload with no row is refused before it is stored, and a stored one (from before the check) is refused when a
/// `train` names it, never acknowledged only for round 1 to fail with "the frame is empty" (docs/PROTOCOL.md, Uploads).
@Suite("Uploads with no row")
struct EmptyUploadTests {
    func upload(_ text: String, in h: RegistryHarness, name: String = "d.csv") throws -> WireMessage {
        let bytes = Array(text.utf8)
        var request = ControlRequest(op: "upload")
        request.upload = UploadChunk(
            sha256: BlobStore.digest(bytes), name: name, totalBytes: bytes.count, offset: 0,
            chunkSha256: BlobStore.digest(bytes))
        return try h.control(request, bytes: bytes)
    }

    @Test(
        "an empty upload, one of white space only, or a header without rows is BAD_REQUEST naming it, and nothing is stored",
        arguments: [
            ("", "upload d.csv is empty (0 bytes): upload a file with rows"),
            (" \n\n", "upload d.csv holds only white space (3 bytes), no row: upload a file with rows"),
            ("a,label\n\n", "upload d.csv holds a header and no row: upload a file with rows"),
            ("a,label\r\r\n", "upload d.csv holds a header and no row: upload a file with rows"),
        ])
    func refusedUpFront(text: String, message: String) throws {
        let h = try RegistryHarness()
        let reply = try upload(text, in: h)
        #expect(reply.header.status == .badRequest)
        #expect(reply.errorText == message, "\(reply.errorText ?? "")")
        #expect(!h.store.blobs.contains(BlobStore.digest(Array(text.utf8))))
    }

    /// A helper's case: lines ending in a lone CR (which `recpool fit` reads) were one line, "a header and no row".
    @Test("an upload with a row is stored and acknowledged complete, whatever its line endings", arguments: ["\n", "\r\n", "\r"])
    func rowsAccepted(ending: String) throws {
        let h = try RegistryHarness()
        let reply = try upload("a,label" + ending + "1,0" + ending, in: h)
        #expect(reply.header.status == .ok, "\(reply.errorText ?? "")")
        #expect(String(decoding: reply.payload.first ?? [], as: UTF8.self).contains("true"))
    }

    @Test("a train naming a stored dataset or catalogue without rows is BAD_REQUEST at submission, and no job is stored")
    func trainRefused() throws {
        let h = try RegistryHarness()
        let empty = try h.store.blobs.put([])
        let reply = try h.control(ControlRequest(op: "train", train: TrainJobSpec(dataset: "sha256:\(empty)")))
        #expect(reply.header.status == .badRequest)
        #expect(reply.errorText == "uploaded dataset sha256:\(empty) is empty (0 bytes): nothing to train on")
        let header = try h.store.blobs.put(Array("a,label\n".utf8))
        let again = try h.control(ControlRequest(op: "train", train: TrainJobSpec(dataset: "sha256:\(header)")))
        #expect(again.errorText == "uploaded dataset sha256:\(header) holds a header and no row: nothing to train on")
        #expect(try h.store.jobs().isEmpty)
    }
}
