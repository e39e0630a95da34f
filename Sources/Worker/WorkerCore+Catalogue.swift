import RecWire

extension WorkerCore {
    /// CATALOGUE: hands the notice and the catalogue's bytes to the online-learning thread, which verifies them
    /// against the notice's SHA-256, decodes them, moves the served policy to a new version and answers
    /// CATALOGUE_STATE (``CatalogueReceiver``), so the broker's acknowledgement means the policy serves it. Nothing
    /// is hashed or decoded here: this thread heartbeats the broker, and a large catalogue takes seconds.
    /// A message without its two frames, or whose notice does not decode, is logged and ignored.
    mutating func installCatalogue(_ message: WireMessage, into actions: inout [WorkerAction]) {
        guard message.payload.count >= 2, let notice = try? WireJSON.decode(CatalogueInstall.self, from: message.payload[0])
        else {
            actions.append(.log(.error, "malformed CATALOGUE message ignored", [:]))
            return
        }
        actions.append(.online(.received(notice, bytes: message.payload[1])))
    }
}
