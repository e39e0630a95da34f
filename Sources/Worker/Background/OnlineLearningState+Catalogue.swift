import RecData

extension OnlineLearningState {
    /// Holds a verified registry catalogue version and moves the installed policy to it, keeping what it has
    /// learnt; `nil` when done (or when nothing needs to move), else why not.
    ///
    /// Nothing moves when no policy is installed yet (the next POLICY names the broker's catalogue version), when
    /// the policy already serves this version or a later one (a version sent again, or an older one the broker
    /// sends for a POLICY that names it), or when the policy serves another catalogue (the simulator world's:
    /// other ids or another feature width), since the registry's versions then only need to be held.
    /// A version under the number the policy serves but with another SHA-256 (from another registry) is refused,
    /// naming both, and not held: the policy's own rows stay held under their number.
    mutating func moveToCatalogue(_ installed: InstalledCatalogue) -> String? {
        if installedSpec != nil, let served = servedCatalogue, installed.version == served,
            let servedSHA = held[served]?.sha256, servedSHA != installed.sha256
        {
            return "the served policy serves catalogue version \(served) with sha256 \(servedSHA.prefix(12))…, "
                + "not \(installed.sha256.prefix(12))…"
        }
        hold(installed)
        guard let spec = installedSpec else { return nil }
        if let served = servedCatalogue, installed.version <= served { return nil }
        let catalogue = installed.catalogue
        let sameLineage = spec.itemWidth == catalogue.width && spec.itemIds.count <= catalogue.count
            && zip(spec.itemIds, catalogue.ids).allSatisfy { $0 == $1 }
        guard sameLineage else { return nil }
        do {
            try learner?.setCatalogue(catalogue)
            try sessionLearner?.setCatalogue(catalogue)
            if servedCatalogue != nil { moved(to: installed.version) }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
