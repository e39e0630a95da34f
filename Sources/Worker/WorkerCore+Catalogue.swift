import RecWire

extension WorkerCore {
    /// CATALOGUE: hands the notice and the catalogue's bytes to the online-learning thread, which verifies them
    /// against the notice's SHA-256, decodes them, moves the served policy to a new version and answers
    /// CATALOGUE_STATE (``CatalogueReceiver``), so the broker's acknowledgement means the policy serves it. Nothing
    /// is hashed or decoded here: this thread heartbeats the broker, and a large catalogue takes seconds.
    /// A message without its two frames, or whose notice does not decode, is logged and ignored.
    mutating func installCatalogue(_ message: WireMessage, into actions: inout [WorkerAction]) {
        let notice: CatalogueInstall
        do throws(WireError) {
            guard let first = message.payload.first else { throw .missingFrames(expected: 3, got: 1) }
            notice = try WireJSON.decode(CatalogueInstall.self, from: first)
        } catch {
            actions.append(.log(.error, "malformed CATALOGUE message ignored", ["error": "\(error)"]))
            return
        }
        // The notice reads: the broker is answered either way (CATALOGUE_STATE `installed` false naming why), never
        // left waiting for a version it will not get. No bytes are checked as bytes that hash to nothing.
        guard message.payload.count >= 2 else {
            actions.append(
                .log(.error, "CATALOGUE without its bytes (frame 2)", ["version": "\(notice.version)"]))
            actions.append(.online(.received(notice, bytes: [])))
            return
        }
        actions.append(.online(.received(notice, bytes: message.payload[1])))
    }
}
