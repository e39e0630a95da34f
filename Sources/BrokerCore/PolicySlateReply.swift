import RecWire

/// The slate document of an OK RECOMMEND reply drawn by the online policy (the slate, then its impression record;
/// docs/PROTOCOL.md, "Online learning"), as far as the broker checks it against the request before the control plane
/// logs it: its `source` is `policy`, and, for a request document of at most
/// ``RankedItemsReply/requestReadLimitBytes``, it shows at most the request's `top` items, all from its `candidates`
/// when it has them. The control plane then checks the slate against its impression record; an impression logged with
/// items the request excluded would claim propensities for a choice the policy was never offered.
struct PolicySlateReply: Decodable {
    /// One slot of the slate.
    struct Item: Decodable {
        /// The catalogue row.
        var item: Int
    }

    /// The slate, top slot first.
    var items: [Item]
    /// Always `policy`.
    var source: String

    /// Why `frame` cannot be forwarded as the policy's slate for a request whose document is `request`, or nil. A slate
    /// document that does not decode is left to the control plane, which names it against the impression record.
    static func problem(_ frame: [UInt8], request: RecommendDocument) -> String? {
        if let problem = RankedItemsReply.oversized(frame, "slate") { return problem }
        guard let slate = try? WireJSON.decodeRequest(PolicySlateReply.self, from: frame) else { return nil }
        if slate.source != "policy" { return "its slate's source is '\(slate.source)', not 'policy'" }
        let asked: RankedItemsReply.Asked
        switch request {
        case .absent, .notRead: return nil
        case .undecoded: return RankedItemsReply.undecodedRequest
        case .asked(let document): asked = document
        }
        if let top = asked.top, slate.items.count > top {
            return "its slate has \(slate.items.count) items, the request asked for at most \(top)"
        }
        if let candidates = asked.candidates.map(Set.init),
            let outside = slate.items.first(where: { !candidates.contains($0.item) })
        {
            return "its slate shows item \(outside.item), which is not among the request's candidates"
        }
        return nil
    }
}
