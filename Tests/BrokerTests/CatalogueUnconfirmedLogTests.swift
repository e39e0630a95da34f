import RecWire
import Testing

@testable import Broker

/// The warning a catalogue change acknowledged at its timeout logs names each replica that has not confirmed it and
/// why, never an empty field (it used to log `refusals=` with nothing after it when no worker had refused).
@Suite("Catalogue registry: the unconfirmed replicas of a timed-out acknowledgement")
struct CatalogueUnconfirmedLogTests {
    @Test("a replica still installing is named with the version it serves")
    func installing() {
        let replicas = [
            CatalogueReplica(worker: "w-1", version: 3, sha256: "aa"),
            CatalogueReplica(worker: "w-2", version: 4, sha256: "bb"),
            CatalogueReplica(worker: "w-3", version: nil, sha256: nil),
        ]
        #expect(
            CatalogueCoordinator.unconfirmed(replicas, version: 4)
                == "w-1: serves 3, installing; w-3: serves none, installing")
    }

    @Test("a replica that refused the version is named with its reason")
    func refused() {
        let replicas = [CatalogueReplica(worker: "w-1", version: 3, sha256: "aa", error: "version 4: out of memory")]
        #expect(CatalogueCoordinator.unconfirmed(replicas, version: 4) == "w-1: refused: version 4: out of memory")
    }

    @Test("with every replica confirmed, or none listed, the field says none")
    func none() {
        #expect(CatalogueCoordinator.unconfirmed([], version: 4) == "none")
        #expect(CatalogueCoordinator.unconfirmed([CatalogueReplica(worker: "w-1", version: 5, sha256: "cc")], version: 4) == "none")
    }
}
