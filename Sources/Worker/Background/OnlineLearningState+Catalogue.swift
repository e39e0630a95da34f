import RecData

extension OnlineLearningState {
    /// Holds a verified registry catalogue version and moves the installed policy to it, keeping what it has
    /// learnt; `nil` when done (or when nothing needs to move), else why not.
    ///
    /// Nothing moves when no policy is installed yet (the next POLICY names the broker's catalogue version), when
    /// the policy already serves this version or a later one (a version sent again, or an older one the broker
    /// sends for a POLICY that names it), or when the policy serves the simulator world's catalogue, since the
    /// registry's versions then only need to be held. A policy serving a registry version cannot move to a version
    /// whose rows are not its rows in place (another width, fewer items, ids moved): that is said, not confirmed.
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
        guard sameLineage else {
            // A policy over the simulator world's catalogue only holds the registry's versions. One serving a registry
            // version cannot move to rows that are not its rows in place: said, never confirmed as installed (the
            // broker acknowledges a catalogue change once every replica confirms it, and checks slates against it).
            guard let served = servedCatalogue else { return nil }
            let why =
                spec.itemWidth != catalogue.width
                ? "its items have \(catalogue.width) features, the policy's \(spec.itemWidth)"
                : spec.itemIds.count > catalogue.count
                    ? "it has \(catalogue.count) items, fewer than the policy's \(spec.itemIds.count)"
                    : "its rows are not the policy's rows in place (item ids moved or changed)"
            return "the served policy (over catalogue version \(served)) cannot move to catalogue version "
                + "\(installed.version): \(why)"
        }
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
