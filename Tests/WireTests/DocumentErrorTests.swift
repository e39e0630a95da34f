import Foundation
import Testing

@testable import RecWire

/// A document that does not decode is refused naming the key as the sender wrote it (snake_case), never the Swift
/// property's name, and valid JSON whose number is out of range for its key is never called "not valid JSON".
@Suite("Document errors name the wire key")
struct DocumentErrorTests {
    struct Probe: Codable {
        var version: UInt64
        var userFeatures: [String: String]?
        var top: Int?
        var impressionId: String?
    }

    static func message(_ text: String) -> String { message(Probe.self, text) }

    /// The error decoding `text` as `type` gives, or "decoded".
    static func message<T: Decodable>(_ type: T.Type, _ text: String) -> String {
        do {
            _ = try WireJSON.decode(type, from: Array(text.utf8))
            return "decoded"
        } catch {
            return "\(error)"
        }
    }

    /// Each got the same "The given data was not valid JSON.", naming neither the problem nor where it is; a UTF-16
    /// document (with its byte-order mark) and a UTF-8 byte-order mark were decoded, though documents are UTF-8 JSON.
    @Test(
        "text that is not JSON says where it stops being JSON; bytes that are not UTF-8 are named by offset",
        arguments: [
            (Array(#"{"version":1} x"#.utf8), "not valid JSON: 'x' after the document's end at byte 14"),
            (Array(#"{"version":NaN}"#.utf8), "not valid JSON: 'N' where a value belongs at byte 11"),
            (Array(#"{"version":"#.utf8), "not valid JSON: the text ends before the document does at byte 11"),
            (Array(#"{"version":1}{"top":2}"#.utf8), "not valid JSON: '{' after the document's end at byte 13"),
            ([0xEF, 0xBB, 0xBF] + Array(#"{"version":1}"#.utf8), "starts with a byte-order mark"),
            ([0xFF, 0xFE] + Array(#"{"version":1}"#.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }),
                "not UTF-8 text (byte 0 (0xFF))"),
            (Array(#"{"version":1,"impression_id":""#.utf8) + [0x61, 0xC3] + Array(#""}"#.utf8),
                "not UTF-8 text (byte 31 (0xC3))"),
        ] as [([UInt8], String)])
    func notJSON(bytes: [UInt8], expected: String) {
        let message: String
        do {
            _ = try WireJSON.decode(Probe.self, from: bytes)
            message = "decoded"
        } catch {
            message = "\(error)"
        }
        #expect(message.contains(expected), "\(message)")
    }

    @Test(
        "a number out of range for its key names the key",
        arguments: [
            (#"{"version":-1}"#, "version"), (#"{"version":1.5}"#, "version"),
            (#"{"version":18446744073709551616}"#, "version"), (#"{"version":1,"top":1e300}"#, "top"),
            // Two out of range: each alone, the other 0, names the first ("a value is out of range" named none).
            (#"{"version":-1,"top":1e300}"#, "top"), (#"{"version":1.5,"top":1}"#, "version"),
        ])
    func outOfRange(text: String, key: String) {
        let message = Self.message(text)
        #expect(message.contains("\(key): the number is out of range"), "\(message)")
        #expect(!message.contains("not valid JSON"))
    }

    /// `train(seed=-1)` and a candidate of 2**64 were answered "a value is out of range or of the wrong kind for its
    /// key", naming none: the search looked only at the top level.
    @Test(
        "a nested number out of range is named by its path",
        arguments: [("seed", "-1"), ("epochs", "18446744073709551616"), ("round_timeout_ms", "-1")])
    func nestedOutOfRange(key: String, value: String) throws {
        // A whole train request as the client writes it, with one number out of its key's range.
        let valid = String(decoding: WireJSON.encode(ControlRequest(.train, train: TrainJobSpec(dataset: "synthetic:users=10"))), as: UTF8.self)
        let range = try #require(valid.range(of: #""\#(key)":[0-9]+"#, options: .regularExpression), "\(valid)")
        let text = valid.replacingCharacters(in: range, with: #""\#(key)":\#(value)"#)
        let message = Self.message(ControlRequest.self, text)
        #expect(message.contains("train.\(key): the number is out of range"), "\(message)")
    }

    @Test(
        "an unknown CONTROL key is named as the client wrote it, upper case included",
        arguments: [
            (#"{"op":"jobs","OP":"models"}"#, "unknown key `OP`", true),
            (#"{"op":"fetch","VERSION":1}"#, "unknown key `VERSION`", true),
            (#"{"op":"job","Job":"x"}"#, "unknown key `Job`", true),
            (#"{"op":"train","train":{"model":"mlp","Epochs":3}}"#, "unknown key `Epochs`", true),
            (#"{"op":"upload","upload":{"SHA256":"x"}}"#, "unknown key `SHA256`", true),
            (#"{"op":"jobs","foo_bar":1}"#, "unknown key `foo_bar`", false),
        ])
    func unknownControlKeyAsWritten(document: String, named: String, lowerCaseHint: Bool) {
        #expect {
            try WireJSON.decode(ControlRequest.self, from: Array(document.utf8))
        } throws: { error in
            let text = "\(error)"
            return text.contains(named) && text.contains("keys are lower case") == lowerCaseHint
        }
    }

    @Test("a number out of range in an array is named with its position")
    func arrayOutOfRange() {
        struct Candidates: Codable { var candidates: [Int] }
        let message = Self.message(Candidates.self, #"{"candidates":[1,18446744073709551616]}"#)
        #expect(message.contains("candidates[1]: the number is out of range"), "\(message)")
    }

    @Test("a wrong type and a missing key are named as the frame spells them")
    func wireSpelling() {
        let wrong = Self.message(#"{"version":1,"user_features":{"userSegment":3}}"#)
        #expect(wrong.contains("wrong type at user_features.userSegment (expected a string)"), "\(wrong)")
        let missing = Self.message(#"{"top":1}"#)
        #expect(missing.contains("missing key version"), "\(missing)")
        #expect(!missing.contains("CodingKeys"))
        let nested = Self.message(#"{"version":1,"impression_id":5}"#)
        #expect(nested.contains("wrong type at impression_id"), "\(nested)")
    }

    @Test(
        "a number beyond a float's range is named with where it stands, never called not JSON",
        arguments: [
            (#"{"version":1,"top":1e400}"#, "top: the number 1e400 is beyond the range of a 64-bit float"),
            (#"{"version":-2e308}"#, "version: the number -2e308 is beyond"),
            (#"{"version":1,"user_features":{"age":"3"},"top":-9E999}"#, "top: the number -9E999 is beyond"),
        ])
    func beyondDouble(text: String, says: String) {
        let message = Self.message(text)
        #expect(message.contains(says), "\(message)")
        #expect(!message.contains("not valid JSON"))
    }

    /// 1e-400 was read as 0 for a whole-number key (`promote` of version 1e-400 looked up version 0) and refused
    /// for a fractional one naming the first numeric key in sorted order (`round_timeout_ms` for a bad `lr`).
    @Test(
        "a request's number nearer 0 than any float is refused naming where it stands, never read as 0",
        arguments: [
            (#"{"version":1e-400}"#, "version: the number 1e-400 is nearer 0 than the smallest 64-bit float"),
            (#"{"version":1,"top":-5E-999}"#, "top: the number -5E-999 is nearer 0"),
            (#"{"version":1,"user_features":{"a":"1e-400"},"top":0.00001e-330}"#, "top: the number 0.00001e-330"),
        ])
    func belowDouble(text: String, says: String) {
        let message = Self.requestMessage(text)
        #expect(message.contains(says), "\(message)")
    }

    /// What ``WireJSON/decodeRequest(_:from:)`` says of `text` as a ``Probe`` ("decoded" when it takes it).
    static func requestMessage(_ text: String) -> String {
        do {
            _ = try WireJSON.decodeRequest(Probe.self, from: Array(text.utf8))
            return "decoded"
        } catch {
            return "\(error)"
        }
    }

    /// A helper's case: 1e400 was refused under a key the decoder reads, and taken under one it does not know (a
    /// FEEDBACK with `"zz": 1e400` was recorded), where 1e-400 was refused anywhere.
    @Test(
        "a request's number past the largest float is refused wherever it stands, a known key or not",
        arguments: [
            (#"{"version":1,"zz":1e400}"#, "zz: the number 1e400 is beyond the range of a 64-bit float"),
            (#"{"version":1,"user_features":{"a":"x"},"deep":{"x":[1,-2E+309]}}"#, "deep.x[1]: the number -2E+309"),
            (#"{"version":1,"zz":\#(String(repeating: "9", count: 400))}"#, "zz: the number 999"),
            (#"{"version":1,"zz":1\#(String(repeating: "0", count: 250))e60}"#, "zz: the number 1000"),
        ])
    func aboveDouble(text: String, says: String) {
        let message = Self.requestMessage(text)
        #expect(message.contains(says), "\(message)")
    }

    @Test("the overflow pre-check passes only what could hold a number past the largest float")
    func overflowPrecheck() {
        for text in [#"{"a":1e308}"#, #"{"a":1E+400}"#, #"{"a":1e-400}"# + "", String(repeating: "9", count: 309)] {
            #expect(WireJSON.mayOverflow(Array(text.utf8)) == !text.contains("e-"), "\(text)")
        }
        // A reviewer's case: a long mantissa with a two-digit exponent.
        #expect(WireJSON.mayOverflow(Array(("{\"a\":1" + String(repeating: "0", count: 250) + "e60}").utf8)))
        for text in [#"{"a":1e30,"b":"see 12"}"#, #"{"a":12345678}"#, #"{"e":99}"#, #"{"id":"ab3e123","q":"x\"e999"}"#] {
            #expect(!WireJSON.mayOverflow(Array(text.utf8)), "\(text)")
        }
        // Finite at the edge: decoded as before.
        #expect((try? WireJSON.decodeRequest(Probe.self, from: Array(#"{"version":1,"zz":1.7e308}"#.utf8))) != nil)
    }

    /// `[]` gave "wrong type at  (expected Dictionary<String, Any>)" and `null` "missing value at ": no key to name.
    @Test("a document that is no object says what it is instead", arguments: [
        ("[]", "the document is a JSON array, not a JSON object"), ("null", "the document is null, not a JSON object"),
        (#""x""#, "the document is a string, not a JSON object"), ("3", "the document is a number"),
    ])
    func notAnObject(text: String, says: String) {
        let message = Self.message(text)
        #expect(message.contains(says), "\(message)")
        #expect(!message.contains(" at  ") && !message.hasSuffix(" at "), "\(message)")
    }

    /// A key sent as null is an absent one (docs/PROTOCOL.md): `"promote": null` said "wrong type … (expected true or
    /// false)" where `"epochs": null` said "missing value" (the decoder names a null Bool a type mismatch).
    @Test("a required key sent as null is a missing value whatever its type", arguments: ["promote", "epochs", "dataset"])
    func nullIsMissing(key: String) throws {
        var train: [String: Any] = [
            "dataset": "sha256:ab", "epochs": 1, "batch": 32, "lr": 0.01, "workers": 1, "sync_every": 10, "seed": 1,
            "validation": 0.1, "promote": false, "round_timeout_ms": 30_000, "model": "mlp",
        ]
        train[key] = NSNull()
        let frame = try JSONSerialization.data(withJSONObject: ["op": "train", "train": train])
        let message: String
        do {
            _ = try WireJSON.decodeRequest(ControlRequest.self, from: Array(frame))
            message = "decoded"
        } catch {
            message = "\(error)"
        }
        #expect(message.contains("missing value at train.\(key)") || message.contains("missing key train.\(key)"), "\(message)")
        #expect(!message.contains("wrong type"), "\(message)")
    }

    /// `{"op":"jobs",}` was answered OK and `"candidates":[1,2,3,]` served a slate: Foundation takes a trailing comma.
    @Test("a trailing comma in an object or an array is not JSON, named by its byte", arguments: [
        (#"{"version":1,}"#, 12), (#"{"version":1,"candidates":[1,2,3,]}"#, 32), ("{\"version\":1 , \n }", 13),
    ])
    func trailingComma(text: String, offset: Int) {
        let message = Self.message(text)
        #expect(message.contains("not valid JSON: a comma before a closing bracket (a trailing comma) at byte \(offset)"), "\(message)")
        // A comma inside a string is text.
        #expect(Self.message(#"{"version":1,"impression_id":"a,]"}"#) == "decoded")
    }

    @Test("the underflow scan passes zeros, subnormals and strings")
    func underflowScan() {
        func scan(_ text: String) -> String? {
            WireJSON.underflowingNumber(in: Array(text.utf8)).map { "\($0.pathDescription)=\($0.text)" }
        }
        #expect(scan(#"{"a": [0, -0, 0.0, 0e-999, 0.000e5, 1e-320, "1e-400"]}"#) == nil)
        #expect(scan(#"{"train": {"lr": 1e-400, "seed": 1}}"#) == "train.lr=1e-400")
        #expect(scan("[1, 2e-400]") == "[1]=2e-400")
    }

    @Test("the out-of-range scan reads keys and positions, skips strings, and leaves broken JSON alone")
    func outOfRangeScan() {
        func scan(_ text: String) -> String? {
            WireJSON.outOfRangeNumber(in: Array(text.utf8)).map { "\($0.pathDescription)=\($0.text)" }
        }
        #expect(scan(#"{"rows": [[1, 2], [3, 1e400]]}"#) == "rows[1][1]=1e400")
        #expect(scan("[[0.5, -1e309, 1e999]]") == "[0][1]=-1e309")
        #expect(scan(#"{"a\u0062": 1e400}"#) == "ab=1e400")
        #expect(scan(#"{"s": "1e400", "n": 1e308}"#) == nil)
        #expect(scan("1e400") == "=1e400")
        #expect(scan("[[1, 1e400]") == nil)
        #expect(scan("[1, 2]") == nil)
        // Not JSON's number grammar: left for the parser, which calls the text not JSON.
        #expect(scan("[01e400]") == nil && scan("[-.5e999]") == nil && scan("[1e400.]") == nil)
        #expect(WireJSON.isJSONNumber(ArraySlice("-0.5E+10".utf8)) && !WireJSON.isJSONNumber(ArraySlice("1.".utf8)))
    }

    @Test("text that is not JSON is still called so")
    func notJSON() {
        #expect(Self.message("{nope").contains("malformed JSON document"))
        #expect(Self.message(#"{"version":1}"#) == "decoded")
    }

    @Test("a Swift name is spelt as the encoder spells it", arguments: [
        ("userFeatures", "user_features"), ("modelSHA256", "model_sha256"), ("impressionId", "impression_id"),
        ("URLPath", "url_path"), ("sha256Hex", "sha256_hex"), ("top", "top"),
    ])
    func snakeCase(name: String, wire: String) {
        #expect(WireJSON.snakeCase(name) == wire)
    }

    @Test("a large document with a refused number is not searched key by key, and still refused")
    func largeDocumentNotSearched() {
        var text = #"{"version":-1"#
        for i in 0..<1_000 { text += #","k\#(i)":0"# }
        text += "}"
        let message = Self.message(text)
        #expect(message.contains("out of range or of the wrong kind"), "\(message)")
    }

    /// `{"op":"jobs","op":"models"}` was answered as `jobs`: one of two values was kept silently.
    @Test("a key that appears twice in one object is refused naming it; the same key in two objects is not")
    func duplicateKeys() throws {
        for (text, key) in [
            (#"{"op":"jobs","op":"models"}"#, "op"), (#"{"op":"promote","version":1,"version":2}"#, "version"),
            (#"{"op":"x","catalogue":{"item":"a","fields":{},"item":"b"}}"#, "item"),
        ] {
            #expect(WireJSON.duplicateKey(in: Array(text.utf8)) == key, "\(text)")
            do {
                _ = try WireJSON.decode(ControlRequest.self, from: Array(text.utf8))
                Issue.record("\(text) decoded")
            } catch {
                #expect("\(error)".contains("the key `\(key)` appears twice"), "\(error)")
            }
        }
        for text in [
            #"{"a":{"k":1},"b":{"k":2}}"#, #"[{"k":1},{"k":1}]"#, #"{"k":"k","v":["k","k"]}"#, #"{"a\"b":1,"a":2}"#,
            "not json", #"{"unterminated"#,
        ] {
            #expect(WireJSON.duplicateKey(in: Array(text.utf8)) == nil, "\(text)")
        }
    }

    /// `"\u0063lick"` after `"click"` stored the first click silently: the decoder reads keys unescaped and converted
    /// from snake case, so the check compares them that way too.
    @Test("a key written twice in two spellings the decoder reads as one (an escape, snake and camel case) is refused")
    func duplicateKeySpellings() throws {
        for (text, key) in [
            (#"{"impression_id":"i","item":1,"click":0,"\u0063lick":1}"#, #"\u0063lick"#),
            (#"{"top":1,"\u0074op":5}"#, #"\u0074op"#), (#"{"op":"jobs","\u006fp":"models"}"#, #"\u006fp"#),
            (#"{"impression_id":"a","impressionId":"b","item":1,"click":1}"#, "impressionId"),
            (#"{"impressionId":"a","impression_id":"b","item":1,"click":1}"#, "impression_id"),
            (#"{"user_features":{},"USER_FEATURES":{}}"#, "USER_FEATURES"), (#"{"a_b":1,"a__b":2}"#, "a__b"),
        ] {
            #expect(WireJSON.duplicateKey(in: Array(text.utf8)) == key, "\(text)")
        }
        #expect(throws: WireError.self) {
            try WireJSON.decode(FeedbackRequest.self, from: Array(#"{"impression_id":"i","item":1,"click":0,"\u0063lick":1}"#.utf8))
        }
        // Distinct for the decoder: left alone (leading and trailing underscores are kept, a bad escape is the
        // decoder's to name).
        for text in [#"{"_top":1,"top":2}"#, #"{"top_":1,"top":2}"#, #"{"\q":1,"q":2}"#] {
            #expect(WireJSON.duplicateKey(in: Array(text.utf8)) == nil, "\(text)")
        }
        #expect(WireJSON.convertFromSnakeCase("__user_FEATURES_") == "__userFeatures_")
        // A map's keys are data the decoder keeps as written: `sku_1` and `sku1` are two user features, not one
        // (they were refused); an escaped spelling of one key in a map is still the same key.
        for text in [#"{"user_features":{"sku_1":"a","sku1":"b"},"top":2}"#, #"{"user_features":{"Country_Code":"x","country_code":"y"}}"#,
                     #"{"op":"catalogue_add","catalogue":{"item":"a","fields":{"a_b":"1","aB":"2"}}}"#] {
            #expect(WireJSON.duplicateKey(in: Array(text.utf8)) == nil, "\(text)")
        }
        #expect(WireJSON.duplicateKey(in: Array(#"{"user_features":{"ab":"1","\u0061b":"2"}}"#.utf8)) == #"\u0061b"#)
        var record = ImpressionRecord(
            impressionId: "i", createdMs: 1, version: 1, userFeatures: ["sku_1": "a", "sku1": "b"], slate: [0],
            propensities: [1], scores: [0.5])
        record.viewed = []
        #expect(try WireJSON.decode(ImpressionRecord.self, from: WireJSON.encode(record)).userFeatures == ["sku_1": "a", "sku1": "b"])
        // A document that is itself a dictionary keeps its keys as written.
        #expect(WireJSON.duplicateKey(in: Array(#"{"val_loss":1,"valLoss":2}"#.utf8), mapAtTop: true) == nil)
        #expect(try WireJSON.decode([String: Double].self, from: Array(#"{"val_loss":1,"valLoss":2}"#.utf8)).count == 2)
    }

    /// The keys each object holds as Foundation's decoder reads them (its own `convertFromSnakeCase`).
    private struct DecodedKeys: Decodable {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        var keys: [String]
        init(from decoder: any Decoder) throws {
            keys = try decoder.container(keyedBy: Key.self).allKeys.map(\.stringValue)
        }
    }

    @Test("the duplicate check converts keys exactly as Foundation's decoder does, byte by byte for ASCII")
    func snakeCaseAsFoundation() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abAB_z9_".utf8)
        var keys = ["impression_id", "_top", "top_", "__a__b__", "a_b_c", "USER_features", "x", "_", "a_2nd_key", "Ab_cD"]
        for _ in 0..<500 {
            keys.append(String(decoding: (0..<Int.random(in: 1...7, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }, as: UTF8.self))
        }
        for key in keys {
            let foundation = try decoder.decode(DecodedKeys.self, from: Data("{\"\(key)\":1}".utf8)).keys
            #expect(foundation == [WireJSON.convertFromSnakeCase(key)], "\(key)")
            #expect(String(decoding: WireJSON.decodedKey(Array(key.utf8)[...]), as: UTF8.self) == foundation.first, "\(key)")
        }
    }
}
