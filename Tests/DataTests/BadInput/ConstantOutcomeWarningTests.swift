import Foundation
import Testing

@testable import RecData
import RecWire

/// `data describe`, `fit` and `train` warned about a log whose training part had no click, but not about one with a
/// click on every row, which teaches a model as little (docs/MODELS.md: "no click, or every row clicked").
@Suite("A training part whose outcome never varies is warned about")
struct ConstantOutcomeWarningTests {
    static func split(clicks: (Int) -> Int) throws -> SplitDataset {
        var text = "ts,item,pos,click,prop,device\n"
        for row in 0..<40 { text += "\(row),\(row % 3),1,\(clicks(row)),0.5,\(row % 2 == 0 ? "ios" : "android")\n" }
        return SplitDataset(try SmallLog.build(text, userFeatures: ["device": "categorical"], items: 3, name: "log.csv"))
    }

    @Test("no click and a click on every row are each named; a log with both has no warning")
    func warnings() throws {
        let none = try Self.split { _ in 0 }.noPositiveWarning(name: "log.csv")
        #expect(none?.contains("has no click; the model cannot learn anything from it") == true, "\(none ?? "")")
        let all = try Self.split { _ in 1 }.noPositiveWarning(name: "log.csv")
        #expect(all?.contains("has a click on every row; the model cannot learn anything from it") == true, "\(all ?? "")")
        #expect(try Self.split { $0 % 4 == 0 ? 1 : 0 }.noPositiveWarning(name: "log.csv") == nil)
    }

    /// A helper's case: `data describe --json` left out the warning its text prints.
    /// Another helper's case: DATA.md said the key is left out when there is nothing to say, but the command's JSON (encoded
    /// through `NullEncoding`, as every command's is) printed `"training_warning": null`; DATA.md now says `null`.
    @Test("data describe's JSON carries the warning its text prints, and null when there is none")
    func describeJSON() throws {
        let none = DatasetDescription(try Self.split { _ in 0 })
        #expect(none.trainingWarning?.contains("has no click; the model cannot learn anything from it") == true)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = String(decoding: try encoder.encode(none), as: UTF8.self)
        #expect(json.contains("\"training_warning\":\"warning: the training part of log.csv"), "\(json)")
        let mixed = String(
            decoding: try encoder.encode(DatasetDescription(try Self.split { $0 % 4 == 0 ? 1 : 0 })), as: UTF8.self)
        #expect(!mixed.contains("training_warning"), "\(mixed)")
        let command = String(
            decoding: try NullEncoding.encode(DatasetDescription(try Self.split { $0 % 4 == 0 ? 1 : 0 }), with: encoder),
            as: UTF8.self)
        #expect(command.contains("\"training_warning\":null"), "\(command)")
    }
}
