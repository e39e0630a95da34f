import RecWire

/// The RECOMMEND reply a policy worker holds for the log with an impression record: the reply header under the
/// record's version, and the slate document showing the record's items, propensities and scores under its id, as
/// `PolicyRecommendHandler` writes them. The broker refuses a slate that is not the impression its record logs.
enum HeldSlateFixtures {
    /// The reply's frames (header, slate) for `record`, a JSON ``ImpressionRecord`` as a worker sends it.
    static func frames(for record: [UInt8], requestId: UInt64) -> [[UInt8]] {
        guard let decoded = try? WireJSON.decode(ImpressionRecord.self, from: record) else {
            return WireMessage(
                header: Header(command: .recommend, isReply: true, requestId: requestId),
                payload: [Array("{\"items\":[]}".utf8)]
            ).frames()
        }
        return frames(for: decoded, requestId: requestId)
    }

    /// The reply's frames (header, slate) for `record`.
    static func frames(for record: ImpressionRecord, requestId: UInt64) -> [[UInt8]] {
        let items = record.slate.indices.map { slot in
            SlateItem(
                item: record.slate[slot], position: slot,
                score: slot < record.scores.count ? record.scores[slot] : 0,
                propensity: slot < record.propensities.count ? record.propensities[slot] : 1)
        }
        let slate = PolicyRecommendation(
            impressionId: record.impressionId, items: items, modelVersion: record.version,
            exploration: ExplorationSpec())
        return WireMessage(
            header: Header(command: .recommend, isReply: true, requestId: requestId, modelVersion: record.version),
            payload: [WireJSON.encode(slate)]
        ).frames()
    }
}
