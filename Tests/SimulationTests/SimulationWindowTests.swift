import Foundation
import RecSimulation
import Testing

@Suite("Simulation windows with nobody served")
struct SimulationWindowTests {
    @Test("a window where no user was served has a null CTR in JSON, not 0")
    func undefinedCTR() throws {
        let empty = SimulationWindow(
            users: 100, served: 0, ctr: 0, randomCtr: 0.02, fixedCtr: 0.03, oracleCtr: 0.05, version: 0)
        let object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(empty)) as? [String: Any])
        #expect(object.keys.contains("ctr") && object["ctr"] is NSNull)
        #expect(object["random_ctr"] as? Double == 0.02)
        #expect(try JSONDecoder().decode(SimulationWindow.self, from: JSONEncoder().encode(empty)) == empty)
        let served = SimulationWindow(
            users: 100, served: 10, ctr: 0, randomCtr: 0.02, fixedCtr: 0.03, oracleCtr: 0.05, version: 3)
        let servedObject = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(served)) as? [String: Any])
        #expect(servedObject["ctr"] as? Double == 0)
    }
}
