import RecMetrics
import Testing

/// The once-only signal the broker waits on before it announces its endpoints.
@Suite("Listening signal")
struct ListeningSignalTests {
    @Test("waiters before and after settling get the first value; a later settle changes nothing")
    func settlesOnce() async {
        let signal = ListeningSignal()
        async let early = signal.wait()
        signal.settle(false)
        signal.settle(true)
        #expect(await early == false)
        #expect(await signal.wait() == false)
        let bound = ListeningSignal()
        bound.settle(true)
        bound.settle(false)
        #expect(await bound.wait() == true)
    }
}
