import RecWire

extension BrokerCore {
    /// Decodes a message's frames (routing identity already removed) with exactly the checks and errors of
    /// `WireMessage(decoding:limits:)`, in the same order: no frames, too many frames, too many bytes, then
    /// the header.
    ///
    /// `WireMessage(decoding:)` is generic over any `Collection` of frames and lives in another module, so
    /// the broker's call ran it unspecialised: every message paid for witness-table calls and runtime
    /// generic metadata (`dropFirst`'s `Slice` type) on the hot path. This is the same decode for the
    /// array the reactor hands over, compiled for that type (issue 19's profile).
    /// - Throws: ``WireError`` naming the problem.
    static func decodeMessage(_ frames: [[UInt8]], limits: WireLimits) throws(WireError) -> WireMessage {
        guard let first = frames.first else { throw .missingFrames(expected: 1, got: 0) }
        guard frames.count <= limits.maxFrames else {
            throw .tooManyFrames(count: frames.count, limit: limits.maxFrames)
        }
        var total = 0
        for frame in frames { total += frame.count }
        guard total <= limits.maxMessageBytes else {
            throw .messageTooLarge(bytes: total, limit: limits.maxMessageBytes)
        }
        let header = try Header(decoding: first)
        return WireMessage(header: header, payload: frames.count == 1 ? [] : Array(frames[1...]))
    }
}
