import Foundation
import Testing

@testable import RecWire

@Suite("Status document")
struct StatusDocumentTests {
    @Test("the model keys are always present, null when they have no value, and the document round-trips")
    func modelKeys() throws {
        let worker = StatusDocument.Worker(
            id: "w1", address: "a", slots: 1, inflight: 0, modelVersion: 0, inputWidth: 3, heartbeatAgeMs: 1,
            services: ["SCORE"], completed: 0, errors: 0, pid: 9, host: "h", modelSource: "seeded")
        let document = StatusDocument(
            protocolVersion: 1, uptimeMs: 5, workers: [worker], queues: [], inflight: 0, counters: [:])
        let text = String(decoding: WireJSON.encode(document), as: UTF8.self)
        #expect(text.contains("\"model_sha256\":null"))
        #expect(text.contains("\"waiting_for_version\":null"))
        #expect(text.contains("\"model_source\":\"seeded\""))
        #expect(text.contains("\"promoted_version\":null"))
        #expect(try WireJSON.decode(StatusDocument.self, from: WireJSON.encode(document)) == document)
    }
}
