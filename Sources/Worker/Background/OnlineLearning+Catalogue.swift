import RecTransport
import RecWire

extension OnlineLearning {
    /// A CATALOGUE as received: hashes and decodes its bytes (outside the state's lock), admits it
    /// (``CatalogueReceiver/admit(_:)``) and returns the CATALOGUE_STATE to send: after moving the served policy to a
    /// new version, or at once for a version served already, an older one held, or one refused (logged, naming why).
    func receiveCatalogue(_ notice: CatalogueInstall, bytes: [UInt8]) -> [[UInt8]] {
        let verified = CatalogueReceiver.verify(notice, bytes: bytes)
        let receipt = state.withLock { $0.receiver.admit(verified) }
        switch receipt {
        case .serve(let installed):
            return installCatalogue(installed)
        case .answer(let report, let hold):
            if let hold { state.withLock { $0.hold(hold) } }
            if let error = report.error {
                logger.warning("catalogue not installed", metadata: ["version": "\(notice.version)", "error": "\(error)"])
            }
            FreeMemory.returnToSystem()
            return [Header(command: .catalogueState).encoded(), WireJSON.encode(report)]
        }
    }

    /// Moves the served policy to a verified catalogue version and returns the CATALOGUE_STATE to send.
    ///
    /// Runs on the online-learning thread, in order with POLICY and LEARN, so a slate served after the reply is
    /// drawn from the new catalogue (a retired item is never in it; an added item can be).
    func installCatalogue(_ installed: InstalledCatalogue) -> [[UInt8]] {
        let error = state.withLock { state in
            let error = state.moveToCatalogue(installed)
            // Not served: a resend of this version is not "the newest, installed" either.
            if error != nil { state.receiver.withdraw(installed) }
            return error
        }
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
