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

    /// Why `frame` cannot be forwarded as the ranking of a reply whose header names `headerVersion`, or nil.
    static func problem(_ frame: [UInt8], headerVersion: UInt64) -> String? {
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
        return nil
    }
}
