import Testing

@testable import RecWire

/// Foundation's decoder skipped a value under a key the decoded type does not read without checking it: a FEEDBACK
/// `{"impression_id": …, "item": 6, "click": 1, "note": 01}` was acknowledged and stored, a RECOMMEND with `"x": 1.`
/// queued, and a worker's slate that was not JSON reached its client as an OK reply. Every document is checked
/// against RFC 8259's grammar first.
@Suite("JSON text is checked whole, not only where it is decoded")
struct JSONGrammarTests {
    struct Feedback: Decodable { var click: Int }

    @Test(
        "a value no key reads, or a separator, that is not JSON is refused, naming what and where",
        arguments: [
            ("01", "the number 01 has a leading zero (RFC 8259 §6) at byte 20"),
            ("1.", "the number 1. has no digit after its decimal point"),
            ("-01", "the number -01 has a leading zero"), ("1.e1", "the number 1.e1 has no digit after its decimal point"),
            ("1e", "the number 1e has no digit in its exponent"), ("-", "the number - has no digits"),
            ("--1", "the number --1 does not start with a digit"), ("1.5.5", "the number 1.5.5 does not end where a number does"),
            ("1e5e5", "the number 1e5e5 does not end where a number does"), ("[01]", "the number 01 has a leading zero"),
            ("+1", "'+' where a value belongs at byte 20"), (".5", "'.' where a value belongs"),
            ("NaN", "'N' where a value belongs"), ("tru", "an unknown word where a value belongs"),
            ("nulll", "'l' where ',' or '}' belongs"), ("\"\\x\"", "the escape \\x inside a string"),
            ("\"\\u12G4\"", "\\u not followed by four hexadecimal digits"),
            ("\"a\tb\"", "a control character (U+0009) inside a string"),
            ("[1,]", "a comma before a closing bracket (a trailing comma) at byte 22"),
            ("{\"b\":1,}", "a comma before a closing bracket (a trailing comma) at byte 26"),
            ("{\"b\" 1}", "'1' where ':' belongs after a key"), ("[1 2]", "'2' where ',' or ']' belongs"),
            ("{1:2}", "'1' where an object's key (a string) belongs"), ("\"open", "a string that is not closed"),
            // A lone UTF-16 surrogate was refused by Foundation as "unexpected end of file during string parse".
            ("\"\\ud800\"", "the escape \\ud800 is the first half of a UTF-16 surrogate pair without its second"),
            ("\"a\\uD83Db\"", "the escape \\uD83D is the first half"), ("\"\\uD83D\\u0041\"", "the escape \\uD83D is the first half"),
            ("\"\\uDE00\"", "the escape \\uDE00 is the second half of a UTF-16 surrogate pair without its first"),
        ])
    func refused(value: String, says: String) {
        let text = #"{"click":1,"note":  "# + value + "}"
        let message: String
        do {
            _ = try WireJSON.decode(Feedback.self, from: Array(text.utf8))
            message = "decoded"
        } catch {
            message = "\(error)"
        }
        #expect(message.contains("not valid JSON: " + says.prefix(while: { $0 != "@" })), "\(text): \(message)")
        #expect(message.contains(says), "\(text): \(message)")
    }

    @Test(
        "JSON's whole grammar is accepted: every escape, nesting, white space, each number form",
        arguments: [
            #"{"click":1}"#, " \n\t{ \"click\" : 1 ,\r\n \"n\" : [ ] , \"o\" : { } } ",
            #"{"click":1,"s":"\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00 é"}"#,
            #"{"click":1,"n":[-0,0,0.5,-1.25e-3,1E+2,2e2,10,[[[]]],true,false,null,{"a":{"b":[1]}}]}"#,
        ])
    func accepted(text: String) throws {
        #expect(JSONGrammar.violation(in: Array(text.utf8)) == nil)
        #expect(try WireJSON.decode(Feedback.self, from: Array(text.utf8)).click == 1)
    }

    @Test("top-level values and the ends of a text")
    func edges() {
        for text in ["1", "\"a\"", "null", "[]", " true "] { #expect(JSONGrammar.violation(in: Array(text.utf8)) == nil, "\(text)") }
        #expect(JSONGrammar.violation(in: [])?.reason == "the text is empty")
        #expect(JSONGrammar.violation(in: Array("   ".utf8))?.reason == "the text ends before the document does")
        #expect(JSONGrammar.violation(in: Array("[1".utf8))?.offset == 2)
        #expect(JSONGrammar.violation(in: Array("{\"a\":1}}".utf8))?.reason == "'}' after the document's end")
        // A deep document is checked without recursion, to the depth limit, and refused past it saying so (Foundation
        // refused a text of 513 levels as "too many nested arrays").
        func nested(_ depth: Int) -> [UInt8] {
            Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
        }
        #expect(JSONGrammar.violation(in: nested(JSONGrammar.maximumDepth)) == nil)
        let tooDeep = JSONGrammar.violation(in: nested(JSONGrammar.maximumDepth + 1))
        #expect(tooDeep?.offset == JSONGrammar.maximumDepth && tooDeep?.reason.contains("nested deeper than 256 levels") == true)
        #expect(JSONGrammar.violation(in: nested(100_000))?.offset == JSONGrammar.maximumDepth)
        // A long bad number is named cut short, never echoed whole.
        let long = Array("[0".utf8) + Array(repeating: UInt8(ascii: "1"), count: 100_000) + [UInt8(ascii: "]")]
        #expect(JSONGrammar.violation(in: long).map { $0.reason.count < 120 } == true)
    }

    @Test("a command's JSON file is checked too, and a duplicate key is still named")
    func files() {
        #expect(WireJSON.fileKeyProblem(in: Array(#"{"rows":[[1,2],[3,01]]}"#.utf8))?.contains("leading zero") == true)
        #expect(WireJSON.fileKeyProblem(in: Array(#"{"rows":[[1]],"rows":[[2]]}"#.utf8))?.contains("appears twice") == true)
        #expect(WireJSON.fileKeyProblem(in: Array(#"{"rows":[[1]]}"#.utf8)) == nil)
        // An editor's byte-order mark is skipped, as Foundation's decoder skips it.
        #expect(WireJSON.fileKeyProblem(in: [0xEF, 0xBB, 0xBF] + Array(#"{"rows":[[1]]}"#.utf8)) == nil)
        #expect(WireJSON.fileKeyProblem(in: [0xEF, 0xBB, 0xBF] + Array(#"{"rows":[[01]]}"#.utf8))?.contains("leading zero") == true)
    }
}
