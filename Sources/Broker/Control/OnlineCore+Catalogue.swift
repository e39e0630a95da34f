import RecData
import RecPolicy

extension OnlineCore {
    /// Moves the served policy to a new version of the registry's catalogue, keeping its weights: the spec's items
    /// become the catalogue's rows (ids, features, active flags), so a POLICY sent from now on (a sync, a worker
    /// that joins) carries them. Replicas move on their own when they install the CATALOGUE.
    /// - Throws: ``PolicyError/catalogueMismatch(_:)`` when the catalogue is not a later version of the served one.
    mutating func moveToCatalogue(_ catalogue: ItemCatalogue, version catalogueVersion: UInt64? = nil)
        throws(PolicyError)
    {
        let moved = try policy.with(catalogue: catalogue)
        spec = moved.spec
        policy = moved
        if let catalogueVersion { self.catalogueVersion = catalogueVersion }
        viewDirty = true
    }
}

extension OnlineCoordinator {
    /// Why the served policy cannot move to `catalogue` (rows moved or removed, another feature width), or `nil`
    /// when it can or when the policy does not serve the registry. Asked before a version is stored, so a change
    /// the policy cannot take is refused rather than stored and silently not served.
    func refusal(forCatalogue catalogue: ItemCatalogue) -> String? {
        guard core.settings.served != nil else { return nil }
        do {
            _ = try core.policy.with(catalogue: catalogue)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// A new registry version: the policy moves to it when it serves the registry (`--online-catalogue`).
    func moveToCatalogue(_ catalogue: ItemCatalogue, version: UInt64) {
        guard core.settings.served != nil else { return }
        do {
            try core.moveToCatalogue(catalogue, version: version)
            logger.info("online policy moved to catalogue version", metadata: ["catalogue_version": "\(version)"])
        } catch {
            logger.error(
                "online policy cannot serve catalogue version", metadata: ["catalogue_version": "\(version)", "error": "\(error)"])
        }
    }
}
