/// Why a policy could not be built, asked, or updated.
public enum PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The spec cannot be served; the text says which field is wrong.
    case invalidSpec(String)
    /// The weights do not fit the spec's network.
    case weightsMismatch(expected: Int, got: Int)
    /// The weights are not finite.
    case nonFiniteWeights
    /// A user feature name the spec does not know.
    case unknownUserFeature(String)
    /// A candidate or logged item outside the catalogue.
    case unknownItem(Int)
    /// The candidate list is empty or repeats an item.
    case invalidCandidates(String)
    /// `top` is below 1.
    case invalidTop(Int)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .invalidSpec(let why): "invalid online policy spec: \(why)"
        case .weightsMismatch(let expected, let got): "the policy weights have \(got) parameters, the spec needs \(expected)"
        case .nonFiniteWeights: "the policy weights contain NaN or infinity"
        case .unknownUserFeature(let name): "unknown user feature '\(name)'"
        case .unknownItem(let item): "unknown item \(item)"
        case .invalidCandidates(let why): "invalid candidates: \(why)"
        case .invalidTop(let top): "top must be at least 1, got \(top)"
        }
    }
}
