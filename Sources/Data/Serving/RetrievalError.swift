import RecIndex

/// Why retrieval refused a call.
public enum RetrievalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Sizes that do not fit (a state, a weight matrix, a distillation sample); the text says which.
    case shape(String)
    /// The item index refused (a typed ``IndexError``).
    case index(IndexError)
    /// The catalogue does not fit the retrieval model (another feature width, or fewer rows than the index holds).
    case catalogue(String)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .shape(let text): return "retrieval: \(text)"
        case .index(let error): return "retrieval: \(error.description)"
        case .catalogue(let text): return "retrieval: \(text)"
        }
    }
}
