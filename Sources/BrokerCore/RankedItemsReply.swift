import RecWire

/// The document of an OK RECOMMEND reply ranked by the model (one payload frame; docs/PROTOCOL.md, "RECOMMEND"), as
/// the broker checks it before forwarding: JSON keys `items` (objects with `item`, a catalogue row ≥ 0, and `score`,
/// a probability in [0, 1]), `source` and `model_version`, which must be the reply header's. The worker builds it from a
/// model it has checked; the broker still reads it, as it reads a SCORE reply's tensor, so that a client is never
/// forwarded a ranking that does not decode, holds a score that is not finite, or names another version than its
/// header.
struct RankedItemsReply: Decodable {
    /// One ranked item.
    struct Item: Decodable {
        /// The catalogue row.
        var item: Int
        /// The model's score.
        var score: Double
    }

    /// The ranking, best first.
    var items: [Item]
    /// `model` or `cold_start_fallback`.
    var source: String
    /// The version that ranked the items.
    var modelVersion: UInt64

    /// What the RECOMMEND asked for, as far as its ranking is bound by it: `top` (10 when omitted) and `candidates`.
    struct Asked: Decodable {
        var top: Int?
        var candidates: [Int]?
    }

    /// Why `frame` cannot be forwarded as the ranking of a reply whose header names `headerVersion`, or nil. It must be
    /// what PROTOCOL.md says a reply is: best first, each item once, its source `model` or `cold_start_fallback`; and,
    /// with the request's document read (`request`), at most `top` items, from `candidates` when given.
    static func problem(_ frame: [UInt8], headerVersion: UInt64, request: RecommendDocument = .notRead) -> String? {
        if let problem = oversized(frame, "ranking") { return problem }
        let reply: RankedItemsReply
        do {
            reply = try WireJSON.decodeRequest(RankedItemsReply.self, from: frame)
        } catch {
            return "its ranking does not decode: \(error)"
        }
        if let bad = reply.items.first(where: { !$0.score.isFinite }) {
            return "its ranking gives item \(bad.item) a score that is not finite"
        }
        // A model's score is a click probability, the fallback's a popularity prior: both lie in [0, 1].
        if let bad = reply.items.first(where: { !(0...1).contains($0.score) }) {
            return "its ranking gives item \(bad.item) the score \(bad.score), not a probability in [0, 1]"
        }
        if let bad = reply.items.first(where: { $0.item < 0 }) {
            return "its ranking names item \(bad.item), which is no catalogue row"
        }
        if reply.modelVersion != headerVersion {
            return "its ranking names model version \(reply.modelVersion) under header version \(headerVersion)"
        }
        if !Self.sources.contains(reply.source) {
            return "its ranking's source is '\(reply.source)', not one of \(Self.sources.sorted().joined(separator: ", "))"
        }
        var seen = Set<Int>()
        if let repeated = reply.items.first(where: { !seen.insert($0.item).inserted }) {
            return "its ranking names item \(repeated.item) twice"
        }
        if let index = reply.items.indices.dropFirst().first(where: { reply.items[$0].score > reply.items[$0 - 1].score }) {
            return "its ranking is not best first: item \(reply.items[index].item) (\(reply.items[index].score)) after item "
                + "\(reply.items[index - 1].item) (\(reply.items[index - 1].score))"
        }
        let asked: Asked
        switch request {
        case .absent, .notRead: return nil
        case .undecoded: return Self.undecodedRequest
        case .asked(let document): asked = document
        }
        let top = asked.top ?? 10
        if reply.items.count > top { return "its ranking has \(reply.items.count) items, the request asked for at most \(top)" }
        if let candidates = asked.candidates.map(Set.init),
            let outside = reply.items.first(where: { !candidates.contains($0.item) })
        {
            return "its ranking names item \(outside.item), which is not among the request's candidates"
        }
        return nil
    }

    /// The largest ranking or slate document (an OK RECOMMEND reply's first frame) the reactor decodes: 1 MiB, as a
    /// CONTROL document. A ranking of `top`'s largest 1,000 items takes about 50 KiB, a slate of 100 items with their
    /// ids a few more; a worker that sent 15 MiB of white space held the reactor, and every client and heartbeat, for
    /// 2–5 s per reply (a debug build), and healthy workers were expired for the silence.
    static let maximumDocumentBytes = 1 << 20

    /// Why `frame` is too large to decode as a reply's `what` (``maximumDocumentBytes``), or nil.
    static func oversized(_ frame: [UInt8], _ what: String) -> String? {
        guard frame.count > maximumDocumentBytes else { return nil }
        return "its \(what) document has \(frame.count) bytes, more than the \(maximumDocumentBytes) bytes a "
            + "RECOMMEND reply's may hold; it was not read"
    }

    /// The largest RECOMMEND document the reactor reads again to bound its ranking by `top` and `candidates` (16 KiB,
    /// about 2,000 candidates): the reactor's one thread serves every client, and a 1 MiB candidate list decoded per
    /// reply would hold all of them up.
    static let requestReadLimitBytes = 16 << 10

    /// Why an OK reply to a request whose document does not decode is refused: the worker answers such a request
    /// BAD_REQUEST (a `top` or `candidates` of the wrong type, a repeated key, text that is no JSON), so an OK reply
    /// ranked something the request never asked for, unbounded by its `top`.
    static let undecodedRequest =
        "it answers OK a request whose document does not decode (a worker answers such a request BAD_REQUEST), "
        + "so nothing bounds its length"

    /// The sources a model's ranking may name (docs/PROTOCOL.md, "RECOMMEND").
    static let sources: Set<String> = ["model", "cold_start_fallback"]
}
