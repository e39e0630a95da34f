import Foundation
import Testing

@testable import RecWire

/// docs/PROTOCOL.md, "JSON documents": every key the spec lists is always present; a key with no
/// value is `null`. Swift's synthesized `Encodable` drops `nil` optionals, so these check the
/// documents that have optional keys, as `WireJSON` encodes them.
@Suite("JSON documents keep every key")
struct NullEncodingTests {
    /// The top-level object of `frame`.
    private func object(_ frame: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any])
    }

    @Test("a job with no loss, metrics, version, error, spec, rounds or waiting writes each as null, never metrics {}")
    func jobView() throws {
        let job = JobView(
            job: "j1", state: "queued", model: "mlp", round: 0, totalRounds: 3, epoch: 0, step: 0, loss: nil,
            metrics: [:], modelVersion: nil, error: nil, createdAt: 1, updatedAt: 1, spec: nil, rounds: nil)
        let json = try object(WireJSON.encode(job))
        for key in ["loss", "metrics", "model_version", "error", "spec", "rounds", "waiting"] {
            #expect(json[key] is NSNull, "\(key) should be null")
        }
        #expect(json.count == 16)
    }

    @Test("an MLP spec writes the DQN-only keys and a default hidden as null")
    func trainSpec() throws {
        let json = try object(WireJSON.encode(TrainJobSpec(dataset: "sha256:ab")))
        for key in ["hidden", "gamma", "epsilon_end", "epsilon_decay_steps", "replay_capacity"] {
            #expect(json[key] is NSNull, "\(key) should be null")
        }
        #expect(try WireJSON.decode(TrainJobSpec.self, from: WireJSON.encode(TrainJobSpec(dataset: "x"))).hidden == nil)
    }

    @Test("the last impressions page says next_after null, and a page with no policy says spec null")
    func impressionPage() throws {
        let json = try object(WireJSON.encode(ImpressionPage(impressions: [], nextAfter: nil, spec: nil)))
        #expect(json["next_after"] is NSNull)
        #expect(json["spec"] is NSNull)
        #expect(json["impressions"] as? [Any] != nil)
    }

    @Test("a status document without online learning says online null; nested keys keep their nulls")
    func statusAndOnline() throws {
        let status = StatusDocument(
            protocolVersion: 1, uptimeMs: 1, workers: [], queues: [], inflight: 0, counters: ["replies_ok": 1])
        let json = try object(WireJSON.encode(status))
        #expect(json["online"] is NSNull)
        #expect((json["counters"] as? [String: Any])?["replies_ok"] as? Int == 1)

        let view = OnlineView(
            enabled: true, frozen: false, version: 1, weightsSha256: "ab", syncs: 0, rejected: 0, lastSyncMs: 0,
            syncIntervalMs: 1000, syncEvents: 10, impressions: 0, feedback: 0, duplicates: 0, pendingEvents: 0,
            lastDecision: GuardDecision(
                accepted: false, reason: "no rows", candidateValue: nil, currentValue: nil, margin: 0.01, rows: 0,
                atMs: 5),
            replicas: [])
        let withOnline = StatusDocument(
            protocolVersion: 1, uptimeMs: 1, workers: [], queues: [], inflight: 0, counters: [:], online: view)
        let online = try #require(try object(WireJSON.encode(withOnline))["online"] as? [String: Any])
        let decision = try #require(online["last_decision"] as? [String: Any])
        #expect(decision["candidate_value"] is NSNull)
        #expect(decision["current_value"] is NSNull)
    }

    @Test("dictionary keys are written verbatim, not snake-cased")
    func dictionaryKeys() throws {
        let report = RoundReport(
            job: "j", round: 1, shard: 0, samples: 1, loss: 0.5, receivedStateSHA: "", metrics: ["aucColdStart": 0.5],
            epoch: 0, step: 1, totalSteps: 2, datasetSHA: "d", error: nil)
        let json = try object(WireJSON.encode(report))
        #expect((json["metrics"] as? [String: Any])?["aucColdStart"] != nil)
        #expect(json["error"] is NSNull)
        #expect(json["received_state_sha"] as? String == "")
    }

    @Test("optional keys round-trip: null decodes as no value")
    func roundTrip() throws {
        let feedback = FeedbackRequest(impressionId: "i", item: 3, click: 1, dwellSeconds: nil)
        let json = try object(WireJSON.encode(feedback))
        #expect(json["dwell_seconds"] is NSNull)
        #expect(try WireJSON.decode(FeedbackRequest.self, from: WireJSON.encode(feedback)) == feedback)
        let top = WireJSON.encode(["complete": true])
        #expect(String(decoding: top, as: UTF8.self) == #"{"complete":true}"#)
    }
}

/// Wire documents never hold NaN or an infinity, and never collapse to `{}` (issue 13, "Numbers").
@Suite struct NonFiniteWireNumbersTests {
    struct Metrics: Codable, Equatable {
        var loss: Double?
        var values: [Double?]
        var named: [String: Double?]
    }

    struct Report: Encodable {
        var loss: Double
        var auc: Float
        var values: [Double]
        var named: [String: Double]
        var nested: [String: [Double]]
    }

    @Test func nonFiniteNumbersAreNullOnTheWire() throws {
        let frame = WireJSON.encode(
            Report(
                loss: .nan, auc: .infinity, values: [1, -.infinity], named: ["a": .nan, "b": 2],
                nested: ["x": [1]]))
        let text = String(decoding: frame, as: UTF8.self)
        #expect(text == #"{"auc":null,"loss":null,"named":{"a":null,"b":2},"nested":{"x":[1]},"values":[1,null]}"#)
    }

    @Test func aReceiverThatNeedsTheNumberGetsATypedError() {
        struct Needs: Decodable { var loss: Double }
        let frame = WireJSON.encode(Report(loss: .nan, auc: 1, values: [], named: [:], nested: [:]))
        #expect(throws: WireError.self) { try WireJSON.decode(Needs.self, from: frame) }
    }

    @Test func aBareNonFiniteNumberIsNull() {
        #expect(String(decoding: WireJSON.encode(Double.nan), as: UTF8.self) == "null")
    }

    @Test func theCommandLinePolicyStillRefusesThem() {
        let encoder = JSONEncoder()
        #expect(throws: EncodingError.self) { try NullEncoding.encode(Report(loss: .nan, auc: 1, values: [], named: [:], nested: [:]), with: encoder) }
    }
}
