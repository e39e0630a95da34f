import Foundation
import Testing

@testable import RecWire
import RecTestKit

@Suite("Whole messages")
struct WireMessageTests {
    @Test("frame count and total size are limited for the whole message")
    func limits() {
        let header = Header(command: .score).encoded()
        let limits = WireLimits(maxFrames: 3, maxMessageBytes: 100)
        #expect(throws: WireError.tooManyFrames(count: 4, limit: 3)) {
            try WireMessage(decoding: [header, [], [], []], limits: limits)
        }
        #expect(throws: WireError.messageTooLarge(bytes: 56 + 60, limit: 100)) {
            try WireMessage(decoding: [header, [UInt8](repeating: 0, count: 60)], limits: limits)
        }
        #expect(WireError.tooManyFrames(count: 4, limit: 3).status == .tooLarge)
        #expect(throws: WireError.missingFrames(expected: 1, got: 0)) { try WireMessage(decoding: [[UInt8]]()) }
    }

    @Test("an error reply carries the request id, the status, a retry hint and a message")
    func errorReply() throws {
        let request = Header(command: .score, requestId: 9)
        let reply = WireMessage.errorReply(to: request, status: .busy, message: "queue full", retryAfterMs: 50)
        let decoded = try WireMessage(decoding: reply.frames())
        #expect(decoded.header.isReply && decoded.header.requestId == 9 && decoded.header.status == .busy)
        #expect(decoded.header.retryAfterMs == 50)
        #expect(decoded.errorText == "queue full")
    }

    @Test("seeded random and mutated bytes never crash the decoder")
    func garbage() {
        let seed = FuzzSeed.seeds(count: 1, base: 0x0E1E_0001)[0]
        var random = FuzzRandom(seed: seed)
        let valid = WireMessage(
            header: Header(command: .score, requestId: 5),
            payload: [Tensor(rows: 2, cols: 3, values: [1, 2, 3, 4, 5, 6]).encoded()]
        ).frames()
        var rejected = 0
        for round in 0..<20_000 {
            var frames = valid
            if round % 2 == 0 {
                let count = Int.random(in: 0...80, using: &random.generator)
                frames = [(0..<count).map { _ in UInt8.random(in: 0...255, using: &random.generator) }]
            } else {
                let which = Int.random(in: 0..<frames.count, using: &random.generator)
                if !frames[which].isEmpty {
                    let at = Int.random(in: 0..<frames[which].count, using: &random.generator)
                    frames[which][at] = UInt8.random(in: 0...255, using: &random.generator)
                    if round % 3 == 0 { frames[which] = Array(frames[which].prefix(at)) }
                }
            }
            do {
                let message = try WireMessage(decoding: frames)
                if let first = message.payload.first { _ = try Tensor(decoding: first) }
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 10_000, "seed \(seed)")
    }

    @Test("JSON documents use snake_case keys and report what is wrong")
    func documents() throws {
        let hello = WorkerHello(
            workerId: "w", services: ["SCORE"], slots: 4, inputWidth: 106, modelVersion: 3, host: "h", pid: 1)
        let frame = WireJSON.encode(hello)
        #expect(String(decoding: frame, as: UTF8.self).contains("\"input_width\":106"))
        #expect(try WireJSON.decode(WorkerHello.self, from: frame) == hello)
        #expect(throws: WireError.self) { try WireJSON.decode(WorkerHello.self, from: Array("{\"slots\":1}".utf8)) }
        // An older worker's hello has no model_seed: it decodes, with no seed.
        let older = #"{"worker_id":"w","services":["SCORE"],"slots":4,"input_width":3,"model_version":0,"host":"h","pid":1}"#
        #expect(try WireJSON.decode(WorkerHello.self, from: Array(older.utf8)).modelSeed == nil)
        let seeded = WorkerHello(
            workerId: "w", services: ["SCORE"], slots: 4, inputWidth: 3, modelVersion: 0, host: "h", pid: 1, modelSeed: 9)
        #expect(try WireJSON.decode(WorkerHello.self, from: WireJSON.encode(seeded)).modelSeed == 9)
    }

    /// A 10,000-character worker id became a label in `status` and the metrics endpoint, and a host holding NUL was
    /// shown as `h\u0000x`.
    @Test("READY's worker_id and host are names: at most 256 bytes, no control character; an empty host is allowed")
    func helloNames() {
        func hello(id: String = "w", host: String = "h") -> WorkerHello {
            WorkerHello(workerId: id, services: ["SCORE"], slots: 4, inputWidth: 3, modelVersion: 0, host: host, pid: 1)
        }
        #expect(hello().problem == nil && hello(host: "").problem == nil)
        #expect(hello(id: String(repeating: "w", count: 256)).problem == nil)
        #expect(hello(id: String(repeating: "w", count: 257)).problem == "worker_id must have 1 to 256 bytes, got 257")
        #expect(hello(host: "h\u{0}x").problem == "host holds the control character U+0000, which no name may hold")
        #expect(hello(host: String(repeating: "h", count: 300)).problem == "host must have 1 to 256 bytes, got 300")
    }
}

@Suite("Training documents")
struct TrainingDocumentTests {
    @Test("assignments and reports round-trip through the snake_case JSON codec")
    func roundTrip() throws {
        let spec = TrainJobSpec(dataset: "sha256:ab", workers: 2, syncEvery: 5)
        let assignment = RoundAssignment(
            job: "job-1", round: 2, shard: 1, shards: 2, fromStep: 5, steps: 5, spec: spec, stateSHA: "cafe",
            evaluate: true, finalize: false, datasetIncluded: true)
        let frame = WireJSON.encode(assignment)
        #expect(String(decoding: frame, as: UTF8.self).contains("\"state_sha\":\"cafe\""))
        #expect(try WireJSON.decode(RoundAssignment.self, from: frame) == assignment)
        let report = RoundReport(
            job: "job-1", round: 2, shard: 1, samples: 64, loss: 0.5, receivedStateSHA: "cafe", metrics: ["auc": 0.7],
            epoch: 1, step: 10, totalSteps: 30, datasetSHA: "ab", error: nil)
        #expect(try WireJSON.decode(RoundReport.self, from: WireJSON.encode(report)) == report)
        let request = ControlRequest(op: "train", train: spec)
        #expect(try WireJSON.decode(ControlRequest.self, from: WireJSON.encode(request)) == request)
    }

    @Test("a CONTROL request with a key it does not take, at the top or in `train`, `upload` or `catalogue`, is refused naming it")
    func controlRequestUnknownKey() throws {
        let known = Array(#"{"op": "impressions", "job": null, "limit": 3}"#.utf8)
        #expect(try WireJSON.decode(ControlRequest.self, from: known) == ControlRequest(op: "impressions", limit: 3))
        // A key another op takes is no argument of this one (`rollback` with a version rolled back to another): refused
        // naming it and what the op takes; a `null` is an absent argument.
        for (text, says) in [
            (#"{"op": "rollback", "version": 2}"#, "`version` is no argument of rollback (it takes no argument)"),
            (#"{"op": "promote", "version": 2, "job": "job-1"}"#, "`job` is no argument of promote (it takes version)"),
            (#"{"op": "online_policy", "catalogue_version": 99}"#, "`catalogue_version` is no argument of online_policy"),
            (#"{"op": "models", "version": 99}"#, "`version` is no argument of models"),
            (#"{"op": "jobs", "limit": 3}"#, "`limit` is no argument of jobs"),
        ] {
            #expect(throws: WireError.self) { try WireJSON.decode(ControlRequest.self, from: Array(text.utf8)) }
            do {
                _ = try WireJSON.decode(ControlRequest.self, from: Array(text.utf8))
            } catch {
                #expect("\(error)".contains(says), "\(error)")
            }
        }
        #expect(try WireJSON.decode(ControlRequest.self, from: Array(#"{"op": "rollback", "version": null}"#.utf8)).version == nil)
        let cases = [
            (#"{"op": "jobs", "schema": 1}"#, "unknown key `schema` (a CONTROL request takes after, catalogue, catalogue_version, corrupt, job"),
            (#"{"op": "catalogue_add", "catalogue": {"item": "a", "field": {}}}"#, "unknown key `field` (`catalogue` takes"),
            (#"{"op": "models", "min_version": 2}"#, "unknown key `min_version`"),
            (#"{"op": "train", "train": {"model": "dqn", "gama": 0.5}}"#, "unknown key `gama` (`train` takes batch"),
            (#"{"op": "upload", "upload": {"sha256": "ab", "chunk": 1}}"#, "unknown key `chunk` (`upload` takes"),
        ]
        for (document, message) in cases {
            #expect {
                try WireJSON.decode(ControlRequest.self, from: Array(document.utf8))
            } throws: { error in
                guard case WireError.badDocument(let why) = error else { return false }
                return why.contains(message)
            }
        }
    }

    @Test(
        "each catalogue op takes only its own keys of the `catalogue` object: another op's key is refused naming it and the op",
        arguments: [
            (#"{"op": "catalogue_retire", "catalogue": {"item": "b", "fields": {}}}"#, "`catalogue.fields` is no argument of catalogue_retire (its `catalogue` takes item)"),
            (#"{"op": "catalogue_retire", "catalogue": {"item": "b", "replace": true}}"#, "`catalogue.replace` is no argument of catalogue_retire"),
            (#"{"op": "catalogue_add", "catalogue": {"item": "b", "fields": {}, "replace": true}}"#, "`catalogue.replace` is no argument of catalogue_add (its `catalogue` takes fields, item)"),
            (#"{"op": "catalogue_add", "catalogue": {"item": "b", "schema": "[catalogue]"}}"#, "`catalogue.schema` is no argument of catalogue_add"),
            (#"{"op": "catalogue_add", "catalogue": {"item": "b", "sourceSha256": "sha256:ab"}}"#, "`catalogue.source_sha256` is no argument of catalogue_add"),
            (#"{"op": "catalogue_upload", "catalogue": {"source_sha256": "sha256:ab", "schema": "", "item": "b"}}"#, "`catalogue.item` is no argument of catalogue_upload (its `catalogue` takes replace, schema, source_sha256)"),
            (#"{"op": "catalogue_upload", "catalogue": {"source_sha256": "sha256:ab", "schema": "", "fields": {}}}"#, "`catalogue.fields` is no argument of catalogue_upload"),
        ])
    func catalogueKeysPerOperation(document: String, message: String) throws {
        #expect {
            try WireJSON.decode(ControlRequest.self, from: Array(document.utf8))
        } throws: { error in
            guard case WireError.badDocument(let why) = error else { return false }
            return why.contains(message)
        }
    }

    @Test("each catalogue op still takes its own keys, and another op's key sent as null is an absent one")
    func catalogueOwnKeys() throws {
        for document in [
            #"{"op": "catalogue_retire", "catalogue": {"item": "b", "fields": null}}"#,
            #"{"op": "catalogue_add", "catalogue": {"item": "b", "fields": {"price": "1"}}}"#,
            #"{"op": "catalogue_upload", "catalogue": {"source_sha256": "sha256:ab", "schema": "", "replace": true}}"#,
        ] {
            #expect(try WireJSON.decode(ControlRequest.self, from: Array(document.utf8)).catalogue != nil, "\(document)")
        }
    }

    @Test("the keys a CONTROL request accepts in `train` and `upload` are exactly the ones their encoders write")
    func controlRequestKnownKeys() throws {
        func keys(_ frame: [UInt8]) throws -> Set<String> {
            Set((try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any] ?? [:]).keys)
        }
        let spec = TrainJobSpec(dataset: "sha256:ab", workers: 2, syncEvery: 5)
        #expect(try keys(WireJSON.encode(spec)) == ControlRequest.trainKeys)
        let chunk = UploadChunk(sha256: "ab", name: "a.csv", totalBytes: 3, offset: 0, chunkSha256: "cd")
        #expect(try keys(WireJSON.encode(chunk)) == ControlRequest.uploadKeys)
        let request = ControlRequest(op: "upload", upload: chunk)
        #expect(try WireJSON.decode(ControlRequest.self, from: WireJSON.encode(request)) == request)
    }

    @Test("a single pack averages to itself bit for bit; two average by samples")
    func averaging() throws {
        let a = ParameterPack(step: 3, vectors: [.init(name: "params", values: [1, 0.1, -2])])
        let b = ParameterPack(step: 3, vectors: [.init(name: "params", values: [3, 0.3, 2])])
        #expect(try ParameterPack.weightedMean([(a, 7)]) == a)
        let mean = try ParameterPack.weightedMean([(a, 1), (b, 3)])
        #expect(mean["params"] == [2.5, 0.25, 1])
        #expect(try ParameterPack(decoding: mean.encoded()) == mean)
        let other = ParameterPack(step: 3, vectors: [.init(name: "params", values: [1])])
        #expect(throws: WireError.self) { try ParameterPack.weightedMean([(a, 1), (other, 1)]) }
        // A replica's extra vector was dropped unread (the mean walked the first pack's vectors), in either order.
        var extra = b
        extra.vectors.append(.init(name: "zz", values: [1]))
        #expect(throws: WireError.self) { try ParameterPack.weightedMean([(a, 1), (extra, 1)]) }
        #expect(throws: WireError.self) { try ParameterPack.weightedMean([(extra, 1), (a, 1)]) }
        #expect(throws: WireError.self) { try ParameterPack(decoding: Array(mean.encoded().dropLast())) }
        // A second vector under one name was dropped by every reader (which takes the first) while the pack's SHA-256
        // named both: refused, naming it.
        let twice = ParameterPack(step: 1, vectors: [.init(name: "g", values: [1]), .init(name: "g", values: [0.5])])
        #expect(throws: WireError.badPack("vector g appears twice in the parameter pack")) {
            try ParameterPack(decoding: twice.encoded())
        }
    }

    @Test("a pack's step is bounded at 2^53: one past it is refused naming the step, the bound itself decodes")
    func stepBound() throws {
        let at = ParameterPack(step: ParameterPack.maximumStep, vectors: [.init(name: "params", values: [1])])
        #expect(try ParameterPack(decoding: at.encoded()) == at)
        let past = ParameterPack(step: UInt64(Int.max), vectors: [.init(name: "params", values: [1])])
        do {
            _ = try ParameterPack(decoding: past.encoded())
            Issue.record("a step of Int.max decoded")
        } catch {
            #expect(error.description.contains("step 9223372036854775807"), "\(error)")
        }
    }
}

/// A binary parameter pack that does not decode is named as a pack, never as a JSON document.
@Suite("Parameter pack decode errors")
struct ParameterPackErrorTests {
    @Test("bytes without the pack magic, and a head cut short, say so and are not called JSON")
    func namedAsPack() {
        #expect(throws: WireError.badPack("15 bytes that do not start with the pack magic RPK1")) {
            try ParameterPack(decoding: Array(#"{"not":"a pack"}"#.utf8.prefix(15)))
        }
        #expect(throws: WireError.badPack("6 bytes, shorter than a pack's 16-byte head")) {
            try ParameterPack(decoding: ParameterPack.magic + [0, 0])
        }
        let error = WireError.badPack("x")
        #expect(error.description == "malformed parameter pack: x" && error.status == .badRequest)
    }
}
