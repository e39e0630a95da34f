import Testing

@testable import RecData

/// A blank categorical cell is a missing value (the loader's convention), and a logged row's user context leaves it
/// out, as the request that logged it did: it was sent as "", so a log's extra feature, blank on 90% of its rows, had
/// every row refused by the online policy as carrying an unknown feature.
@Suite("A logged row's user context")
struct BlankUserContextTests {
    @Test("a blank categorical value is left out of the row's context; a value is kept")
    func blankLeftOut() throws {
        let text = "ts,item,pos,click,prop,device,loyalty\n1,0,1,0,0.5,ios,\n2,1,1,1,0.5,web, \n3,2,1,0,0.5,ios,gold\n"
        let log = try SmallLog.build(
            text, userFeatures: ["device": "categorical", "loyalty": "categorical"], items: 3, name: "blank.csv")
        #expect(log.userContext(0) == ["device": "ios"])
        #expect(log.userContext(1) == ["device": "web"])
        #expect(log.userContext(2) == ["device": "ios", "loyalty": "gold"])
    }
}
