extension BanditDataset {
    /// The slot value of the top slot: a log's slots are numbered from 1 (`recpool logs export`, the Open Bandit
    /// Dataset's files), or from 0 when it holds a slot 0 (from a lower value when it holds one); nil for generated
    /// data, whose positions are the slots counted from 0.
    ///
    /// ``position`` is a slot's dense rank in its own file (obp's convention, which the MLP's position features keep),
    /// so in a log without slot 1 (a file of the second and third slots) position 0 is the second slot; the online
    /// policy, whose position biases and first-slot evaluation are per slot from the top, reads ``slotFromTop(_:)``.
    public var topSlotValue: Int? {
        guard let values = positionValues, let lowest = values.min() else { return nil }
        return min(lowest, 1)
    }

    /// The slot row `row` was shown in, counted from the top (0 is the first slot), whatever slots the log holds:
    /// its slot value less ``topSlotValue``; ``position`` for generated data.
    /// - Precondition: `row` is in `0..<rows`.
    public func slotFromTop(_ row: Int) -> Int {
        let rank = position[row]
        guard let values = positionValues, let top = topSlotValue, values.indices.contains(rank) else { return rank }
        return values[rank] - top
    }

    /// The rows shown in the first slot (``slotFromTop(_:)`` 0), in order.
    public var firstSlotRows: [Int] { (0..<rows).filter { slotFromTop($0) == 0 } }

    /// How a message names position `position`: `slot 7` by the log's own slot value, or `position 2` for generated
    /// data, whose positions are the slots counted from 0. A note that numbered positions by rank said "position 1"
    /// for a log's slot 2.
    public func slotName(_ position: Int) -> String {
        guard let values = positionValues, values.indices.contains(position) else { return "position \(position)" }
        return "slot \(values[position])"
    }

    /// The slot values the log holds, for a message (`2, 3`), or nil for generated data.
    public var slotValuesText: String? { positionValues.map { $0.map(String.init).joined(separator: ", ") } }

    /// The slots a log holds and the numbering rule, for a refusal of a log without the first slot: `the log's slots
    /// are 2, 3; slots are numbered from 1, or from 0 when a slot 0 is logged`.
    public var slotNumberingText: String {
        "the log's slots are \(slotValuesText ?? "other slots"); slots are numbered from 1, or from 0 when a slot 0 is "
            + "logged"
    }
}
