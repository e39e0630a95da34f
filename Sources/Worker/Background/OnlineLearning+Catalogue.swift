import RecTransport
import RecWire

extension OnlineLearning {
    /// Moves the served policy to a verified catalogue version and returns the CATALOGUE_STATE to send.
    ///
    /// Runs on the online-learning thread, in order with POLICY and LEARN, so a slate served after the reply is
    /// drawn from the new catalogue (a retired item is never in it; an added item can be).
    func installCatalogue(_ installed: InstalledCatalogue) -> [[UInt8]] {
        let error = state.withLock { $0.moveToCatalogue(installed) }
        if let error {
            logger.warning("catalogue not installed", metadata: ["version": "\(installed.version)", "error": "\(error)"])
        } else {
            logger.info("catalogue installed", metadata: ["version": "\(installed.version)", "sha256": "\(installed.sha256.prefix(12))"])
        }
        if error == nil, let served = state.withLock({ $0.served }) { snapshot.publish(served) }
        // Decoding the version (its canonical JSON) and moving the policy leave freed temporaries several times the
        // catalogue's size: give those pages back, so the replica's resident set is what it holds.
        FreeMemory.returnToSystem()
        let report = CatalogueState(
            version: installed.version, sha256: installed.sha256, installed: error == nil,
            error: error.map { CatalogueRefusalReason.policyCannotMove($0).description })
        return [Header(command: .catalogueState).encoded(), WireJSON.encode(report)]
    }
}
