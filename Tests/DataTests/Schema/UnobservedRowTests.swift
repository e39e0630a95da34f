import Foundation
import Testing

@testable import RecData

/// A row marked unobserved (`observed` = 0) is left out of every command, but it is still a shown impression: only its
/// outcome may be blank. A damaged item, slot or propensity on it is refused naming the line and column, as on any row.
@Suite("Unobserved rows are still checked")
struct UnobservedRowTests {
    static func load(unobserved: String) throws -> BanditDataset {
        var log = "ts,item,pos,click,prop,obs,u0\n"
        for i in 0..<6 { log += "\(i),\(i % 2),1,\(i % 3 == 0 ? 1 : 0),0.5,1,a\n" }
        log += unobserved + "\n"
        return try SmallLog.build(
            log, roles: ["observed": "obs"], userFeatures: ["u0": "categorical"], items: 2, name: "obs.csv")
    }

    @Test("an unobserved row with a blank click is left out and counted")
    func blankClick() throws {
        let data = try Self.load(unobserved: "6,1,1,,0.5,0,a")
        #expect(data.rows == 6 && data.unobservedRows == 1)
    }

    @Test(
        "an unobserved row with an unknown item, a slot that is not a number or a propensity outside (0, 1] is refused",
        arguments: [
            ("6,7,1,,0.5,0,a", "column 2 'item'"), ("6,1,x,,0.5,0,a", "column 3 'pos'"),
            ("6,1,1,,0,0,a", "column 5 'prop'"), ("6,1,1,,1.5,0,a", "column 5 'prop'"),
            // An outcome written on an unobserved row must still be one (it was accepted and dropped).
            ("6,1,1,7,0.5,0,a", "column 4 'click'"), ("6,1,1,x,0.5,0,a", "column 4 'click'"),
            ("6,1,1,,0.5,2,a", "column 6 'obs'"), ("6,1,1,,0.5,yes,a", "column 6 'obs'"),
        ])
    func damaged(row: String, names: String) {
        #expect {
            _ = try Self.load(unobserved: row)
        } throws: { error in
            "\(error)".contains("obs.csv:8") && "\(error)".contains(names)
        }
    }

    /// `observed` refused `0.0` while the click accepted `1.0`: both are read as numbers.
    @Test("observed is read as a number, as the click is: 1.0 and 0.0 are 1 and 0; an unobserved click of 0 or 1 is kept out")
    func observedAsNumber() throws {
        #expect(try Self.load(unobserved: "6,1,1,,0.5,0.0,a").unobservedRows == 1)
        #expect(try Self.load(unobserved: "6,1,1,1,0.5,0,a").unobservedRows == 1)
        let kept = try Self.load(unobserved: "6,1,1,1,0.5,1.0,a")
        #expect(kept.rows == 7 && kept.unobservedRows == 0)
    }
}
