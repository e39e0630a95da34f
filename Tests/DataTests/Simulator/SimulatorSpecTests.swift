import RecData
import Testing

@Suite("Simulator worlds by name (recpool simulate --world simulator:…)")
struct SimulatorSpecTests {
    @Test("simulator alone is the default world; keys change it; a large world gets a small population")
    func parses() throws {
        #expect(try SimulatorConfig.parse(spec: "simulator") == SimulatorConfig())
        let large = try SimulatorConfig.parse(spec: "simulator:items=100000")
        #expect(large.items == 100_000 && large.users == 200 && large.topics == 6 && large.seed == 7)
        let custom = try SimulatorConfig.parse(spec: "simulator:items=500, users=50,topics=4,seed=3")
        #expect(custom.items == 500 && custom.users == 50 && custom.topics == 4 && custom.seed == 3)
    }

    @Test("the catalogue of a named world depends on items, topics and seed, not on the population")
    func catalogueIgnoresUsers() throws {
        let a = SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=300,users=20"))
        let b = SimulatorWorld(config: try SimulatorConfig.parse(spec: "simulator:items=300,users=90"))
        #expect(a.topicVectors == b.topicVectors && a.quality == b.quality)
    }

    @Test(
        "a bad name is refused naming the problem",
        arguments: [
            ("simulator:", "nothing after"), ("simulator:items=1", "items must be"), ("simulator:items=2000001", "items must be"),
            ("simulator:items=10,items=20", "given twice"), ("simulator:colour=red", "unknown key colour"),
            ("simulator:items", "not KEY=VALUE"), ("simulator:seed=-1", "seed must be"), ("simulate", "a simulator world is"),
        ])
    func refuses(text: String, problem: String) {
        do {
            _ = try SimulatorConfig.parse(spec: text)
            Issue.record("\(text) was accepted")
        } catch {
            guard case .invalidSpecification(let why) = error else {
                Issue.record("\(text): \(error)")
                return
            }
            #expect(why.contains(problem), "\(text): \(why)")
        }
    }

    @Test("a factored visitor equals the table it stands for")
    func factoredVisitor() throws {
        let factored = SimulatedVisitor(userFeatures: ["a": "b"], itemAttraction: [0.5, 2], slotBias: [1, 0.5], draw: 0.3)
        let table = SimulatedVisitor(userFeatures: ["a": "b"], slots: 2, attraction: [0.5, 0.25, 2, 1], draw: 0.3)
        #expect(factored == table && factored.items == 2 && factored.attraction == table.attraction)
        #expect(try factored.clicked([1, 0]) == table.clicked([1, 0]))
    }
}
