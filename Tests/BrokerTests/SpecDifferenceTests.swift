import RecData
import RecPolicy
import RecWire
import Testing

@testable import Broker

/// A restart that serves the stored statistics as a new version logged the whole configured spec (about 3 KB of
/// JSON) and named no field: it now names the fields that differ.
@Suite("The fields a configured online policy differs in")
struct SpecDifferenceTests {
    @Test("the fields that differ are named, sorted; the same spec differs in its catalogue only")
    func namesTheFields() {
        let stored = SimulatorCatalog.spec(world: SimulatorWorld(config: SimulatorConfig()))
        var configured = stored
        configured.exploration.epsilon = 0.2
        #expect(OnlineCoordinator.differingFields(stored, configured) == ["exploration"])
        configured.seed = stored.seed &+ 1
        #expect(OnlineCoordinator.differingFields(stored, configured) == ["exploration", "seed"])
        #expect(OnlineCoordinator.differingFields(stored, stored) == ["catalogue"])
    }
}
