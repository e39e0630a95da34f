import BrokerCore
import Foundation
import RecData
import RecStore
import RecWire
import Testing

@testable import Broker

/// A worker's confirmation of a catalogue version whose record the store cannot read is neither counted nor taken
/// for a hash mismatch: it is shown as unchecked, naming the store's failure, and nothing is sent again.
@Suite("Catalogue registry: a confirmation the store cannot check")
struct CatalogueUncheckedConfirmationTests {
    static let items = "sku,brand,price\na,x,1.5\nb,y,2.5\nc,x,3.5\n"

    @Test("a valid confirmation of an older version whose record cannot be read is unchecked, not a mismatch")
    func unreadableOlderVersion() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        let sha1 = try #require(try h.store.catalogue(1)).sha256
        try h.send(ControlRequest(.catalogueAdd, catalogue: CatalogueArguments(item: "d", fields: ["price": "4.5"])))
        let latest = try #require(try h.store.catalogue(nil))
        #expect(latest.version == 2)
        // Version 1's row becomes unreadable; the worker then confirms version 1 with its true SHA-256.
        try h.damage("UPDATE catalogue_versions SET change = 'merge' WHERE version = 1")
        let sent = h.outputs.count
        h.confirm(1, sha: sha1)
        #expect(h.outputs.count == sent, "a confirmation that could not be checked was answered by sending something")
        let replica = try #require(h.coordinator.view(latest, catalogue: h.coordinator.latest?.catalogue).replicas?.first)
        let error = try #require(replica.error)
        #expect(error.contains("version 1 installed but not checked"), "\(error)")
        #expect(error.contains("catalogue_versions") && error.contains("change"), "\(error)")
        #expect(!error.contains("not installed") && !error.contains("confirmed sha256"), "\(error)")
        #expect(replica.version == nil, "an unchecked confirmation was counted")
        // Confirming the newest version with its SHA-256 clears the note.
        try h.confirm(2)
        let after = try #require(h.coordinator.view(latest, catalogue: h.coordinator.latest?.catalogue).replicas?.first)
        #expect(after.error == nil && after.version == 2)
    }

    @Test("a confirmation of a version the registry never held is a mismatch that says so")
    func unregisteredVersion() throws {
        let h = try CatalogueHarness()
        try h.upload(Self.items)
        h.confirm(7, sha: "abc")
        let latest = try #require(try h.store.catalogue(nil))
        let replica = try #require(h.coordinator.view(latest, catalogue: h.coordinator.latest?.catalogue).replicas?.first)
        #expect(replica.error?.contains("the registry holds no version 7") == true, "\(replica.error ?? "")")
    }
}
