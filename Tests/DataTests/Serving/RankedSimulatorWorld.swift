import RecModel
@testable import RecData

/// A simulator world seen as a shop for the retrieval tests: its catalogue (`RetrievalWorld.catalogue`) and an
/// item-input MLP ranker fitted to its click probabilities (`RetrievalWorld.ranker`).
struct RankedSimulatorWorld {
    let world: SimulatorWorld
    let catalogue: ItemCatalogue
    let ranker: QNetwork

    /// A world of `items` items and `users` users from `seed`, with a ranker fitted on `samples` pairs for `epochs`.
    init(items: Int, users: Int, seed: UInt64, samples: Int, epochs: Int) {
        var config = SimulatorConfig()
        config.items = items
        config.users = users
        config.seed = seed
        world = SimulatorWorld(config: config)
        catalogue = RetrievalWorld.catalogue(world: world)
        ranker = RetrievalWorld.ranker(world: world, catalogue: catalogue, samples: samples, epochs: epochs)
    }
}
