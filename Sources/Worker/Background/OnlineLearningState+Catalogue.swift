import RecData

extension OnlineLearningState {
    /// Moves the installed policy to `catalogue`, keeping what it has learnt; `nil` when done, else why not.
    ///
    /// Nothing moves when no policy is installed yet (the next POLICY brings the broker's spec, which already holds
    /// the catalogue) or when the policy serves another catalogue (the simulator world's: other ids or another
    /// feature width), since the registry's versions then only need to be held.
    mutating func moveToCatalogue(_ catalogue: ItemCatalogue) -> String? {
        guard let spec = installedSpec else { return nil }
        let sameLineage = spec.itemWidth == catalogue.width && spec.itemIds.count <= catalogue.count
            && zip(spec.itemIds, catalogue.ids).allSatisfy { $0 == $1 }
        guard sameLineage else { return nil }
        do {
            try learner?.setCatalogue(catalogue)
            try sessionLearner?.setCatalogue(catalogue)
            return nil
        } catch {
            return "\(error)"
        }
    }
}
