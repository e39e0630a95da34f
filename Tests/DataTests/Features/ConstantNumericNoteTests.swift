import Testing

@testable import RecData

/// A helper's case: a numeric user feature alternating between 0 and 1e-40 was fitted as constant (its spread is
/// below a 32-bit float's smallest normal number) and every value encoded as 0, with no word from `data features`
/// or `fit`.
@Suite("Feature specification: numeric features read as constant are named")
struct ConstantNumericNoteTests {
    static func spec(_ values: (Int) -> String) throws -> FeatureSpec {
        var log = "ts,item,pos,click,prop,age,tenure\n"
        for i in 0..<40 { log += "\(i),\(i % 3),1,\(i % 4 == 0 ? 1 : 0),0.5,\(values(i)),\(i)\n" }
        let data = try SmallLog.build(
            log, userFeatures: ["age": "numeric", "tenure": "numeric"], items: 3, name: "constant.csv")
        return try FeatureSpec.fit(on: data)
    }

    @Test("a feature with no spread, or one below 1.2e-38, is named; one that varies is not", arguments: ["0", "1e-40", "7"])
    func tinySpread(other: String) throws {
        let spec = try Self.spec { $0 % 2 == 0 ? "0" : other }
        if other == "7" {
            #expect(spec.constantNumericNote == nil)
        } else {
            let note = try #require(spec.constantNumericNote)
            #expect(note.contains("'age'") && !note.contains("tenure") && note.contains("encodes as 0"), "\(note)")
        }
    }

    @Test("two constant features are both named")
    func two() throws {
        var log = "ts,item,pos,click,prop,age,tenure\n"
        for i in 0..<20 { log += "\(i),\(i % 3),1,\(i % 4 == 0 ? 1 : 0),0.5,5,3\n" }
        let data = try SmallLog.build(
            log, userFeatures: ["age": "numeric", "tenure": "numeric"], items: 3, name: "constant.csv")
        let note = try #require(try FeatureSpec.fit(on: data).constantNumericNote)
        #expect(note.hasPrefix("note: numeric user features 'age', 'tenure' do not vary"), "\(note)")
    }
}
