/// Why a policy could not be built, asked, or updated.
public enum PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The spec cannot be served; the text says which field is wrong.
    case invalidSpec(String)
    /// The weights do not fit the spec's model.
    case weightsMismatch(expected: Int, got: Int)
    /// A statistics pack's vectors are not the ones the statistics have (`a`, `g`, `n`, `c`, `s`, `k`): the text names
    /// the one missing, of another length, or unknown.
    case statisticsVectors(String)
    /// The posterior cannot be solved into finite weights.
    case nonFiniteWeights
    /// A learnt statistic in a pack is not finite (a learner whose sums overflowed, or a damaged pack): which vector
    /// (`a`, `g`, `n`, `c`, `s`, `k`), which index, and the value.
    case nonFiniteStatistic(vector: String, index: Int, value: Float)
    /// A statistic in a pack that no learner produces: a bucket's summed weight (`n`) or event count (`k`) below 0, or
    /// a diagonal entry of `a` (a sum of squares) below 0. Such a pack could solve to a finite mean yet fail every
    /// Thompson sample (a negative posterior precision), so every slate would fail after it was served.
    case impossibleStatistic(vector: String, index: Int, value: Float)
    /// A user feature name the spec does not know.
    case unknownUserFeature(String)
    /// A numeric user feature whose value is not a finite number, or lies implausibly far from its mean.
    case invalidUserFeature(name: String, value: String)
    /// A user feature value holding a NUL character (U+0000): the impression log keeps every served value, and no
    /// CSV field (`logs export`, then any loader) may hold one.
    case nulInUserFeature(name: String)
    /// A candidate, viewed or logged item outside the catalogue.
    case unknownItem(Int)
    /// A viewed item's dwell time is negative or not finite.
    case invalidDwell(Double)
    /// The candidate list is empty, repeats an item, or holds only retired items.
    case invalidCandidates(String)
    /// Every item of the catalogue is retired: nothing can be recommended, however the request is written.
    case noActiveItem
    /// `top` is below 1.
    case invalidTop(Int)
    /// A new catalogue does not fit the policy (another feature width, or rows that moved).
    case catalogueMismatch(String)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .invalidSpec(let why): "invalid online policy spec: \(why)"
        case .weightsMismatch(let expected, let got): "the policy weights have \(got) parameters, the spec needs \(expected)"
        case .statisticsVectors(let why): "the policy statistics do not fit the spec: \(why)"
        case .nonFiniteWeights: "the policy weights contain NaN or infinity (the posterior cannot be solved)"
        case .nonFiniteStatistic(let vector, let index, let value):
            "the policy statistics are not finite: \(vector)[\(index)] is \(value) (a learner's sums overflowed); "
                + "they are never served"
        case .impossibleStatistic(let vector, let index, let value):
            "the policy statistics are impossible: \(vector)[\(index)] is \(value), a count or sum of squares below 0 "
                + "(a damaged pack); they are never served"
        case .unknownUserFeature(let name): "unknown user feature '\(name)'"
        case .invalidUserFeature(let name, let value):
            "user feature '\(name)' is numeric: a finite number within 1e15 scales of its mean, got '\(value)'"
        case .nulInUserFeature(let name):
            "user feature '\(name)' holds a NUL character (U+0000), which no logged value may hold"
        case .unknownItem(let item): "unknown item \(item)"
        case .invalidDwell(let seconds): "a viewed item's dwell time must be 0…1e9 seconds, got \(seconds)"
        case .invalidCandidates(let why): "invalid candidates: \(why)"
        case .noActiveItem:
            "the catalogue has no active item: every item is retired (add items, or upload a catalogue, to serve again)"
        case .invalidTop(let top):
            "top must be 1…\(OnlinePolicy.maximumTop) (or up to the policy's slate size, when larger), got \(top)"
        case .catalogueMismatch(let why): "the catalogue does not fit the policy: \(why)"
        }
    }
}
