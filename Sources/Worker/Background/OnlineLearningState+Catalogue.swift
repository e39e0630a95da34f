import RecData

extension OnlineLearningState {
    /// Moves the installed policy to `catalogue`, keeping what it has learnt; `nil` when done (or when no policy
    /// is installed yet: the next POLICY brings the broker's spec, which already holds the catalogue), else why not.
    mutating func moveToCatalogue(_ catalogue: ItemCatalogue) -> String? {
        nil
    }
}
