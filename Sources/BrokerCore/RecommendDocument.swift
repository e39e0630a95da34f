import RecWire

/// A RECOMMEND request's document as far as it bounds an OK reply (docs/PROTOCOL.md, "RECOMMEND"), read once per reply:
/// the model's ranking and the policy's slate are both checked against it, and a held slate carries its `top` to the
/// control plane (``RequestedTop``).
enum RecommendDocument {
    /// The request has no document frame.
    case absent
    /// The document is longer than ``RankedItemsReply/requestReadLimitBytes``: the reactor does not read it again, and
    /// a reply is checked on its own terms.
    case notRead
    /// The document does not decode: a worker answers such a request BAD_REQUEST, so an OK reply to it is refused
    /// (``RankedItemsReply/undecodedRequest``).
    case undecoded
    /// What the document asks: its `top` and `candidates`.
    case asked(RankedItemsReply.Asked)

    /// Reads `frame`, the request's first payload frame (nil when it has none), in one decode.
    init(_ frame: (any PayloadFrame)?) {
        guard let frame else {
            self = .absent
            return
        }
        guard frame.byteCount <= RankedItemsReply.requestReadLimitBytes else {
            self = .notRead
            return
        }
        if let asked = try? WireJSON.decodeRequest(RankedItemsReply.Asked.self, from: frame.bytes) {
            self = .asked(asked)
        } else {
            self = .undecoded
        }
    }

    /// What the request asked of a policy slate's length: its `top`, the policy's slate size when it names none (or
    /// has no document), and ``RequestedTop/notRead`` for a document not read again or one that does not decode (an
    /// OK reply to that is refused before this is asked).
    var requestedTop: RequestedTop {
        switch self {
        case .absent: .slateSize
        case .notRead, .undecoded: .notRead
        case .asked(let asked): asked.top.map(RequestedTop.given) ?? .slateSize
        }
    }
}
