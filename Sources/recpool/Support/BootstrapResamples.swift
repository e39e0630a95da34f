import ArgumentParser

/// The one rule for `--resamples` (`data ope`, `eval`, `policy`): 0 (no intervals) or 10…100,000. A percentile
/// interval of fewer resamples can exclude its own estimate.
enum BootstrapResamples {
    /// - Throws: `ValidationError` naming the flag and the rule when `count` breaks it.
    static func validate(_ count: Int) throws {
        guard count == 0 || (10...100_000).contains(count) else {
            throw ValidationError(
                "--resamples must be 0 (no intervals) or 10...100000 (a percentile interval of fewer resamples can "
                    + "exclude its own estimate), got \(count)")
        }
    }
}
