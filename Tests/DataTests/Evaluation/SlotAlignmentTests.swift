import Testing

@testable import RecData

/// A log read with a schema dense-ranks its own slots: a later log without slot 1 had its slot 2 read as position 0,
/// and a model fitted on the first was evaluated there at the wrong slot, with no warning.
@Suite("A model's positions on another log's slots")
struct SlotAlignmentTests {
    static func log(slots: [Int], rows: Int = 60) throws -> BanditDataset {
        var text = "ts,item,pos,click,prop,device\n"
        for row in 0..<rows {
            text += "\(row),\(row % 3),\(slots[row % slots.count]),\(row % 4 == 0 ? 1 : 0),0.5,\(row % 2 == 0 ? "ios" : "web")\n"
        }
        return try SmallLog.build(text, userFeatures: ["device": "categorical"], items: 3, name: "slots\(slots).csv")
    }

    @Test("the fitted spec keeps the training log's slot values, and another log's slots are read as the model's")
    func renumbered() throws {
        let training = try Self.log(slots: [1, 2, 3])
        #expect(training.positionValues == [1, 2, 3])
        let spec = try FeatureSpec.fit(on: SplitDataset(training).train)
        #expect(spec.positionValues == [1, 2, 3])
        let later = try Self.log(slots: [2, 3])
        #expect(later.positionValues == [2, 3] && later.nPositions == 2)
        #expect(Set(later.position) == [0, 1])
        let aligned = try CheckpointEvaluation.aligned(later, to: spec)
        #expect(aligned.nPositions == 3 && aligned.positionValues == [1, 2, 3])
        // Slot 2 is the model's position 1 and slot 3 its position 2, row for row.
        for row in 0..<later.rows {
            #expect(aligned.position[row] == later.position[row] + 1)
        }
        // The same slots need no renumbering; a spec without slot values (older) leaves the positions as they are.
        #expect(try CheckpointEvaluation.aligned(training, to: spec).position == training.position)
        var older = spec
        older.positionValues = nil
        #expect(try CheckpointEvaluation.aligned(later, to: older).position == later.position)
    }

    @Test("a slot the model was not fitted on is refused, naming it and the model's slots")
    func unknownSlot() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(try Self.log(slots: [1, 2, 3])).train)
        let typo = try Self.log(slots: [1, 2, 99])
        let error = #expect(throws: CheckpointEvaluationError.self) { try CheckpointEvaluation.aligned(typo, to: spec) }
        guard case .unknownSlot(let dataset, let slot, let known)? = error else {
            Issue.record("not unknownSlot: \(String(describing: error))")
            return
        }
        #expect(dataset == "slots[1, 2, 99].csv" && slot == 99 && known == [1, 2, 3])
        #expect("\(error.map { "\($0)" } ?? "")".contains("logs slot 99, which the model was not fitted on (its training log's slots: 1, 2, 3)"))
    }

    /// A shop's case: a catalogue grown by one item said only "the spec knows 27 items but the dataset has 28",
    /// naming neither the log nor (in `eval` and `data ope`) the checkpoint.
    @Test("a log of more items than the model's spec is refused naming the log, both counts and the checkpoint")
    func itemCountNamesTheLog() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(try Self.log(slots: [1, 2, 3])).train)
        var text = "ts,item,pos,click,prop,device\n"
        for row in 0..<60 { text += "\(row),\(row % 4),1,\(row % 4 == 0 ? 1 : 0),0.5,ios\n" }
        let grown = try SmallLog.build(text, userFeatures: ["device": "categorical"], items: 4, name: "grown.csv")
        let error = #expect(throws: CheckpointEvaluationError.self) { try CheckpointEvaluation.check(spec: spec, data: grown) }
        guard case .itemCountMismatch(let known, let logged, let dataset)? = error else {
            Issue.record("not itemCountMismatch: \(String(describing: error))")
            return
        }
        #expect(known == 3 && logged == 4 && dataset == "grown.csv")
        let text2 = error?.description(command: "eval", checkpoint: "model.ckpt") ?? ""
        #expect(text2.hasPrefix("model.ckpt: the model's feature spec knows 3 items, but grown.csv has 4"), "\(text2)")
    }

    /// A split keeps its whole log's slot values: the test split was refused for a slot 3 that only one training row
    /// logged, naming the test split.
    @Test("a slot only another split's rows hold is not refused: the split's own rows are renumbered")
    func slotOfAnotherSplit() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(try Self.log(slots: [1, 2])).train)
        // Row 0 (the oldest, in the training part) in slot 3; every other row in slot 1 or 2.
        var text = "ts,item,pos,click,prop,device\n"
        for row in 0..<60 {
            text += "\(row),\(row % 3),\(row == 0 ? 3 : 1 + row % 2),\(row % 4 == 0 ? 1 : 0),0.5,\(row % 2 == 0 ? "ios" : "web")\n"
        }
        let log = try SmallLog.build(text, userFeatures: ["device": "categorical"], items: 3, name: "slot3.csv")
        #expect(log.positionValues == [1, 2, 3])
        let test = SplitDataset(log).test
        let aligned = try CheckpointEvaluation.aligned(test, to: spec)
        #expect(aligned.positionValues == [1, 2])
        for row in 0..<test.rows {
            #expect(aligned.position[row] == test.position[row])
        }
        // The whole log holds the slot: refused, as before.
        #expect(throws: CheckpointEvaluationError.self) { _ = try CheckpointEvaluation.aligned(log, to: spec) }
    }

    @Test("a spec's slot values survive encoding, and a spec whose slot values do not match its positions is refused")
    func encoded() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(try Self.log(slots: [1, 2, 3])).train)
        #expect(try FeatureSpec.decode(spec.encoded()).positionValues == [1, 2, 3])
        var bad = spec
        bad.positionValues = [3, 2, 1]
        #expect(throws: FeatureSpecError.self) { _ = try bad.encoded() }
    }

    /// `data ope --online` and `policy warmstart` judged the online policy on "the first slot" by dense rank: on a log
    /// of slots 2 and 3 they weighed the second slot's rows (whose propensities are conditional on the item above)
    /// as first-slot rows, and printed an IPW with a narrow interval.
    @Test("the first slot is slot 1 (or 0 when logged), counted by slot value, never the lowest slot of the file",
        arguments: [
            ([1, 2, 3], 1, [0, 1, 2]), ([0, 1, 2], 0, [0, 1, 2]), ([2, 3], 1, [1, 2]), ([3], 1, [2]),
            ([1, 3], 1, [0, 2]),
        ])
    func slotsFromTop(slots: [Int], top: Int, fromTop: [Int]) throws {
        let log = try Self.log(slots: slots, rows: 12)
        #expect(log.topSlotValue == top)
        for row in 0..<log.rows {
            #expect(log.slotFromTop(row) == fromTop[row % slots.count], "row \(row)")
        }
        let first = log.firstSlotRows
        #expect(first == (0..<log.rows).filter { slots[$0 % slots.count] == top })
        if !slots.contains(top) { #expect(first.isEmpty) }
    }

    @Test("generated data's positions are its slots")
    func generated() throws {
        let world = SimulatorWorld(config: SimulatorConfig())
        let data = world.loggedData(rows: 60, policy: .uniform, seed: 3)
        #expect(data.positionValues == nil && data.topSlotValue == nil)
        #expect((0..<data.rows).allSatisfy { data.slotFromTop($0) == data.position[$0] })
    }
}
