import Foundation
import RecTransport
import Testing

@Suite("LockedBox")
struct LockedBoxTests {
    @Test("contended updates from four threads are serialised: none is lost")
    func contendedUpdates() async {
        let box = LockedBox((count: 0, log: [Int]()))
        let perThread = 20_000
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    await DedicatedThread.run(name: "locked-box-\(thread)") {
                        for i in 0..<perThread {
                            box.withLock { state in
                                state.count += 1
                                // Grow and shrink an array under the lock, so a lost exclusion
                                // corrupts more than one integer (and TSan sees the accesses).
                                state.log.append(i)
                                if state.log.count > 64 { state.log.removeAll(keepingCapacity: true) }
                            }
                        }
                    }
                }
            }
        }
        #expect(box.withLock { $0.count } == 4 * perThread)
    }

    @Test("a throwing body leaves the lock free and the value as the body left it")
    func throwingBody() {
        struct Refused: Error {}
        let box = LockedBox(1)
        #expect(throws: Refused.self) {
            try box.withLock { (value: inout Int) throws(Refused) in
                value = 2
                throw Refused()
            }
        }
        #expect(box.withLock { $0 } == 2)
    }
}
