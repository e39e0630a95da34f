import RecData
import RecPolicy
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

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

/// A worker on an `ipc://` backend was shown at `localhost:0:0:14838`, libzmq's peer credentials read as an address.
@Suite("A worker's address in status")
struct WorkerAddressTests {
    @Test("an ipc peer's credentials show as its pid; a tcp peer's address as it is")
    func ipcPeer() {
        #expect(BrokerCore.displayAddress("localhost:0:0:14838") == "ipc (pid 14838)")
        #expect(BrokerCore.displayAddress("127.0.0.1") == "127.0.0.1")
        #expect(BrokerCore.displayAddress("::1") == "::1")
        #expect(BrokerCore.displayAddress("localhost:a:0:1") == "localhost:a:0:1")
        #expect(BrokerCore.displayAddress(nil) == nil)
    }
}
