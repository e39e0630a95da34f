import Testing

@testable import RecTOML

/// toml++ 3.x asserts (SIGABRT; undefined behaviour without assertions) on a table header with no key and on a `}`
/// where an array expects a value. `TOMLDocument.parse` refuses both as syntax errors with their place, and passes
/// every valid document through unchanged.
@Suite("TOML documents that toml++ would abort on")
struct TOMLDocumentTests {
    @Test(
        "a table header without a key, and a '}' inside an array, are syntax errors naming the line",
        arguments: [
            ("[[[", 1), ("[ +", 1), ("x = 1\n[#", 2), ("[\t.", 1), ("[[ {", 1), ("a = [}", 1), ("a = [1, }", 1),
            ("a = [\n  [1],\n  }\n]", 3), ("a = {b = [}]}", 1), ("[\n", 1), ("\r\n[=1", 2),
            // Lines inside multi-line strings count, a backslash that ends one (a line-ending backslash) included.
            ("s = \"\"\"a \\\nb \\\nc\"\"\"\nz = [}", 4), ("s = '''\n\n'''\n[[[", 4),
            // A NUL ended the document for toml++ (TOMLKit passes a C string): `slots = "bad"` after it was not read.
            ("id = \"w1\"\u{0}\nslots = \"bad\"", 1), ("a = 1\n# \u{0}", 2),
        ])
    func refused(text: String, line: Int) {
        #expect(throws: TOMLSyntaxError.self) { try TOMLDocument.parse(text) }
        do {
            _ = try TOMLDocument.parse(text)
        } catch {
            #expect(error.line == line, "\(text.debugDescription): \(error)")
        }
    }

    @Test("valid documents with brackets in strings, nested arrays and headers still parse")
    func valid() throws {
        let text = """
            # a comment [[[
            title = "a [ b } c"
            literal = 'x [[ y'
            multi = \"\"\"
            [[[ not a header
            \"\"\"
            nested = [
              [ [1], [2] ],
              [ "]", '}' ],
            ]
            inline = { a = [1, 2], b = { c = "}" } }

            [ table ]
            key = 1

            [[ "quoted array" ]]
            x = 2
            ['literal key']
            y = 3
            """
        let root = try TOMLDocument.parse(text)
        #expect(root["title"]?.string == "a [ b } c")
        #expect(root["table"]?.table?["key"]?.int == 1)
        #expect(root["nested"]?.array?.count == 2)
        #expect(root["literal key"]?.table?["y"]?.int == 3)
    }

    @Test("a plain syntax error keeps toml++'s description and place")
    func parseError() {
        do {
            _ = try TOMLDocument.parse("a = \n")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 1 && !error.reason.isEmpty)
        }
    }

    @Test(
        "a key or table defined twice is named as the document writes it (toml++ garbled a quoted one)",
        arguments: [
            ("[broker]\n'a' = 1\n\"a\" = 2\n", 3, "`\"a\"` is defined twice"),
            ("[broker]\nslots = 1\nslots = 2\n", 3, "`slots` is defined twice"),
            ("[broker]\n[broker]\n", 2, "`broker` is defined twice"),
        ])
    func redefinition(text: String, line: Int, named: String) {
        do {
            _ = try TOMLDocument.parse(text)
            Issue.record("parsed")
        } catch {
            #expect(error.line == line && error.reason.contains(named), "\(error.reason)")
        }
    }

    /// Random documents of up to 10 tokens over TOML's punctuation (the alphabet that found both assertions): each is
    /// parsed or refused, and the process survives every one (an assertion would abort this test run).
    @Test("random short documents are parsed or refused, never abort")
    func randomDocuments() {
        let tokens = [
            "[", "]", "[[", "]]", ".", "=", "\"", "'", "a", " ", "{", "}", ",", "\n", "#", "1", "\"\"\"", "'''", "\\",
            "\t", "-", "+", ":", "e", "\r", "_",
        ]
        var state: UInt64 = 0x5EED
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var refused = 0
        for _ in 0..<20_000 {
            let text = (0..<(1 + next() % 10)).map { _ in tokens[next() % tokens.count] }.joined()
            do { _ = try TOMLDocument.parse(text) } catch { refused += 1 }
        }
        #expect(refused > 0)
    }
}
