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
        let report = CatalogueState(version: installed.version, sha256: installed.sha256, installed: error == nil, error: error)
        return [Header(command: .catalogueState).encoded(), WireJSON.encode(report)]
    }
}
